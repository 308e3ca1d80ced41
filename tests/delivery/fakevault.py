"""A fake of HashiCorp Vault's KV v2 secrets engine (a Starlette app), served for real: what the
`vault` sink calls, as Vault's API documents it. `PATCH /v1/{mount}/data/{path}` is a JSON merge
patch of an existing secret (its other fields kept; 404 when there is none, 415 without the
merge-patch content type), `POST` writes a whole new version (`options.cas: 0`: only if there is
none, else 400), `GET` reads the latest. Errors are Vault's `{"errors": [...]}`.

Tokens and their policies, as Vault's ACLs: `TOKEN` is a root token (every capability on every
path); each token in `policies` holds the capabilities its rules give (`{"secret/data/apps/*":
["patch", "create"]}`); any other token is refused, 403 "permission denied", on every route. A
request needs the capability its operation does: `read` for GET, `patch` for PATCH, `create` for
a POST to a secret that does not exist and `update` for one that does (Vault's existence check).
`POST /v1/sys/capabilities-self` answers the token's capabilities on each of `paths`: `["root"]`
for a root token, `["deny"]` where no rule grants any."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..served import serving

TOKEN = "hvs.fake-vault-token"  # a root token
CAS_MISMATCH = "check-and-set parameter did not match the current version"
DENIED = "permission denied"


def _errors(status: int, *errors: str) -> JSONResponse:
    return JSONResponse({"errors": list(errors)}, status_code=status)


def granted(rules: dict[str, list[str]], path: str) -> list[str]:
    """The capabilities `rules` (one policy's paths) give on `path`, as Vault decides: an exact
    rule wins, else the longest `prefix*` rule that matches; `deny` in it, or no rule, is
    `["deny"]`."""
    if path in rules:
        found = rules[path]
    else:
        globs = [p for p in rules if p.endswith("*") and path.startswith(p[:-1])]
        found = rules[max(globs, key=len)] if globs else ["deny"]
    return ["deny"] if "deny" in found or not found else sorted(found)


@dataclass
class FakeVault:
    secrets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (mount, path) -> data
    versions: dict[tuple[str, str], int] = field(default_factory=dict)
    mounts: set[str] = field(default_factory=lambda: {"secret"})
    policies: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # token -> {path rule: caps}
    failing: int = 0  # how many writes are answered 500 (Vault's storage unavailable), unserved
    reads_failing: bool = False  # every read answered 500 (its storage unavailable), the rest served
    calls: list[str] = field(default_factory=list)
    answer: Response | None = None  # every request answered so (a proxy in front, a standby's redirect)
    namespaces: list[str] = field(default_factory=list)  # each request's X-Vault-Namespace, if any

    def app(self) -> Starlette:
        route = "/v1/{mount}/data/{path:path}"
        return Starlette(
            routes=[
                Route("/v1/sys/capabilities-self", self.capabilities_self, methods=["POST"]),
                Route(route, self.data, methods=["GET", "POST", "PATCH"]),
            ]
        )

    def capabilities(self, token: str | None, path: str) -> list[str]:
        """What `token` may do on `path` (Vault's own path, `secret/data/apps/api`)."""
        if token == TOKEN:
            return ["root"]
        return granted(self.policies.get(token or "", {}), path)

    async def capabilities_self(self, request: Request) -> Response:
        self.calls.append("POST sys/capabilities-self")
        if self.answer is not None:
            return self.answer
        token = self._known(request)
        if token is None:
            return _errors(403, DENIED)
        paths = (await request.json()).get("paths")
        if not isinstance(paths, list) or not paths:
            return _errors(400, "paths must be supplied")
        data: dict[str, Any] = {str(p): self.capabilities(token, str(p)) for p in paths}
        if len(paths) == 1:
            data["capabilities"] = data[str(paths[0])]  # kept by Vault for older clients
        envelope = {"request_id": "fake", "lease_id": "", "renewable": False, "lease_duration": 0}
        return JSONResponse({**data, **envelope, "data": data, "wrap_info": None, "warnings": None})

    async def data(self, request: Request) -> Response:
        mount, path = request.path_params["mount"], request.path_params["path"]
        self.calls.append(f"{request.method} {mount}/{path}")
        if self.answer is not None:
            return self.answer
        token = self._known(request)
        if token is None:
            return _errors(403, DENIED)
        needs = {"GET": "read", "PATCH": "patch"}.get(request.method)
        needs = needs or ("update" if (mount, path) in self.secrets else "create")
        allowed = self.capabilities(token, f"{mount}/data/{path}")
        if "root" not in allowed and needs not in allowed:  # the ACL first, then the route
            return _errors(403, "1 error occurred:\n\t* permission denied\n\n")
        if mount not in self.mounts:
            return _errors(404, f'no handler for route "{mount}/data/{path}". route entry not found.')
        return await self._served(request, (mount, path))

    def _known(self, request: Request) -> str | None:
        """The request's token, if Vault knows it (else None: 403 on every route)."""
        if request.headers.get("x-vault-namespace"):
            self.namespaces.append(request.headers["x-vault-namespace"])
        token = request.headers.get("x-vault-token")
        return token if token == TOKEN or token in self.policies else None

    async def _served(self, request: Request, where: tuple[str, str]) -> Response:
        if request.method == "GET":
            return _errors(500, "internal error") if self.reads_failing else self._read(where)
        if self.failing > 0:
            self.failing -= 1
            return _errors(500, "local node not active but active cluster node not found")
        if request.method == "PATCH":
            return await self._patch(request, where)
        return await self._write(request, where)

    def _read(self, where: tuple[str, str]) -> Response:
        if where not in self.secrets:
            return _errors(404)
        return JSONResponse({"data": {"data": self.secrets[where], "metadata": self._metadata(where)}})

    async def _patch(self, request: Request, where: tuple[str, str]) -> Response:
        if request.headers.get("content-type") != "application/merge-patch+json":
            return _errors(415, "Unsupported Media Type")
        if where not in self.secrets:
            return _errors(404)
        merged = {**self.secrets[where], **(await request.json())["data"]}
        return self._stored(where, {k: v for k, v in merged.items() if v is not None})

    async def _write(self, request: Request, where: tuple[str, str]) -> Response:
        body = await request.json()
        cas = (body.get("options") or {}).get("cas")
        if cas is not None and cas != self.versions.get(where, 0):
            return _errors(400, CAS_MISMATCH)
        return self._stored(where, dict(body["data"]))

    def _stored(self, where: tuple[str, str], data: dict[str, Any]) -> Response:
        self.secrets[where] = data
        self.versions[where] = self.versions.get(where, 0) + 1
        return JSONResponse({"data": self._metadata(where)})

    def _metadata(self, where: tuple[str, str]) -> dict[str, Any]:
        return {
            "created_time": "2026-11-22T10:00:00Z",
            "deletion_time": "",
            "destroyed": False,
            "version": self.versions[where],
        }


@contextlib.contextmanager
def serve(fake: FakeVault) -> Iterator[str]:
    """The fake on a free loopback port; yields VAULT_ADDR."""
    with serving(fake.app()) as (url,):
        yield url
