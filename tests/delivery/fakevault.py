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
A rule's path may end in `*` (a prefix) and hold `+` segments (any one segment); where several
match, the one Vault's documented priority puts first wins (`granted`).
`POST /v1/sys/capabilities-self` answers the token's capabilities on each of `paths`: `["root"]`
for a root token, `["deny"]` where no rule grants any.

The mount table (`mounts`): each engine's type and options, as `vault secrets enable` makes them
(KV v2: type `kv`, `options.version` "2"; KV v1: no version; the builtin `cubbyhole/`, `identity/`
and `sys/`). Only KV v2 serves the data routes above; a KV v1 mount or another engine answers a
PATCH 405, as the router answers an operation its backend lacks. `GET
/v1/sys/internal/ui/mounts/{path}` (`pathInternalUIMountRead` in Vault's `logical_system.go`)
answers the mount holding `path` (the longest mounted prefix, `path` with a trailing `/`): its
`type`, `options` and `path` under `data`, in Vault's envelope. It answers 403 "preflight
capability check returned 403, ..." both where no mount holds the path ("so this path cannot be
used to brute force a list of mounts") and where the token's policies grant nothing under the
mount (`hasMountAccess`: the capabilities on the mount's own path, else an exact or `*` rule
under it granting create, delete, list, read, sudo or update: never one reached through `+`);
a token Vault does not know on an existing mount: 403 "permission denied".

KV v2's check-and-set (`validateCheckAndSetOption` in vault-plugin-secrets-kv's `path_data.go`):
a POST or PATCH naming `options.cas` is refused (400) unless it is the secret's current version
(0: none); one without it is refused (400, "check-and-set parameter required for this call") where
the mount's config (`cas_required` on its `Mount`, read at `GET /v1/{mount}/config`, which needs
`read` there) or the secret's metadata (`cas_required` here) requires it. A PATCH of a secret
that does not exist is 404 before any of that."""

from __future__ import annotations

import contextlib
import re
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
CAS_REQUIRED = "check-and-set parameter required for this call"
DENIED = "permission denied"
UNSUPPORTED = "1 error occurred:\n\t* unsupported operation\n\n"
SEES_MOUNT = ("create", "delete", "list", "read", "sudo", "update")  # what hasMountAccess counts


def _errors(status: int, *errors: str) -> JSONResponse:
    return JSONResponse({"errors": list(errors)}, status_code=status)


def granted(rules: dict[str, list[str]], path: str) -> list[str]:
    """The capabilities `rules` (one policy's paths) give on `path`, as Vault decides: an exact
    rule wins, else the matching `*` or `+` rule of highest priority (`_priority`); `deny` in
    it, or no rule, is `["deny"]`."""
    if path in rules:
        found = rules[path]
    else:
        matching = [p for p in rules if _matches(p, path)]
        found = rules[max(matching, key=_priority)] if matching else ["deny"]
    return ["deny"] if "deny" in found or not found else sorted(found)


def _matches(rule: str, path: str) -> bool:
    """A rule with `*` at its end (any rest) or `+` segments (any one segment) matches `path`."""
    if not rule.endswith("*") and "+" not in rule.split("/"):
        return False  # an exact rule: matched as such
    parts = ["[^/]+" if part == "+" else re.escape(part) for part in rule.removesuffix("*").split("/")]
    return re.fullmatch("/".join(parts) + (".*" if rule.endswith("*") else ""), path) is not None


def _priority(rule: str) -> tuple[int, bool, int, int, str]:
    """Vault's documented priority of two matching rules, higher last: the first `+` or `*`
    later, not ending in `*`, fewer `+` segments, longer, then lexically greater."""
    wild = [i for i, c in enumerate(rule) if c == "*" or (c == "+" and rule[i - 1 : i] in ("", "/"))]
    return (
        min(wild, default=len(rule)),
        not rule.endswith("*"),
        -rule.split("/").count("+"),
        len(rule),
        rule,
    )


@dataclass
class Mount:
    """One secrets engine of the mount table: its type, KV's `options.version` ("2"; None: a KV
    v1 mount, or an engine without options), and a KV v2 mount's `cas_required` config."""

    type: str = "kv"
    version: str | None = "2"
    cas_required: bool = False

    @property
    def kv2(self) -> bool:
        return self.type == "kv" and self.version == "2"

    def info(self, path: str) -> dict[str, Any]:
        """What `sys/internal/ui/mounts/{path}` says of it (`mountInfo`, and its `path`)."""
        return {
            "type": self.type,
            "description": "",
            "accessor": f"{self.type}_0a1b2c3d",
            "local": False,
            "seal_wrap": False,
            "external_entropy_access": False,
            "options": None if self.version is None else {"version": self.version},
            "uuid": "8074a73f-6921-c0cd-589a-016405dc46ec",
            "config": {"default_lease_ttl": 0, "max_lease_ttl": 0, "force_no_cache": False},
            "path": path,
        }


def _builtin() -> dict[str, Mount]:
    """`secret/` (KV v2, as a dev server mounts it) and the mounts every Vault has."""
    return {
        "secret": Mount(),
        "cubbyhole": Mount("cubbyhole", None),
        "identity": Mount("identity", None),
        "sys": Mount("system", None),
    }


def _envelope(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "request_id": "fake",
        "lease_id": "",
        "renewable": False,
        "lease_duration": 0,
        "data": data,
        "wrap_info": None,
        "warnings": None,
        "auth": None,
    }


@dataclass
class FakeVault:
    secrets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (mount, path) -> data
    versions: dict[tuple[str, str], int] = field(default_factory=dict)
    mounts: dict[str, Mount] = field(default_factory=_builtin)  # path (no trailing /) -> engine
    cas_required: set[tuple[str, str]] = field(default_factory=set)  # secrets whose metadata requires it
    policies: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # token -> {path rule: caps}
    failing: int = 0  # how many writes are answered 500 (Vault's storage unavailable), unserved
    reads_failing: bool = False  # every read answered 500 (its storage unavailable), the rest served
    calls: list[str] = field(default_factory=list)
    answer: Response | None = None  # every request answered so (a proxy in front, a standby's redirect)
    faults: dict[str, Response] = field(default_factory=dict)  # one call (as `calls` names it) answered so
    namespaces: list[str] = field(default_factory=list)  # each request's X-Vault-Namespace, if any

    def app(self) -> Starlette:
        route = "/v1/{mount}/data/{path:path}"
        return Starlette(
            routes=[
                Route("/v1/sys/capabilities-self", self.capabilities_self, methods=["POST"]),
                Route("/v1/sys/internal/ui/mounts/{path:path}", self.ui_mount, methods=["GET"]),
                Route("/v1/{mount}/config", self.config, methods=["GET"]),
                Route(route, self.data, methods=["GET", "POST", "PATCH"]),
            ]
        )

    def capabilities(self, token: str | None, path: str) -> list[str]:
        """What `token` may do on `path` (Vault's own path, `secret/data/apps/api`)."""
        if token == TOKEN:
            return ["root"]
        return granted(self.policies.get(token or "", {}), path)

    def _called(self, call: str) -> Response | None:
        """Logs the call; the answer set for it (`answer`, `faults`), if any."""
        self.calls.append(call)
        return self.answer if self.answer is not None else self.faults.get(call)

    async def capabilities_self(self, request: Request) -> Response:
        forced = self._called("POST sys/capabilities-self")
        if forced is not None:
            return forced
        token = self._known(request)
        if token is None:
            return _errors(403, DENIED)
        paths = (await request.json()).get("paths")
        if not isinstance(paths, list) or not paths:
            return _errors(400, "paths must be supplied")
        data: dict[str, Any] = {str(p): self.capabilities(token, str(p)) for p in paths}
        if len(paths) == 1:
            data["capabilities"] = data[str(paths[0])]  # kept by Vault for older clients
        return JSONResponse({**data, **_envelope(data)})

    async def ui_mount(self, request: Request) -> Response:
        """The mount holding `path`, as `pathInternalUIMountRead` answers (see the module's doc)."""
        asked = request.path_params["path"]
        forced = self._called(f"GET sys/internal/ui/mounts/{asked}")
        if forced is not None:
            return forced
        path = (asked if asked.endswith("/") else asked + "/").removeprefix("/")  # sanitizeMountPath
        denied = _errors(
            403,
            f"preflight capability check returned 403, please ensure client's "
            f'policies grant access to path "{path}"',
        )
        mount = max((m for m in self.mounts if path.startswith(m + "/")), key=len, default=None)
        if mount is None:
            return denied  # asked before the token: no mount is told apart from a forbidden one
        token = self._known(request)
        if token is None:
            return _errors(403, DENIED)
        if not self._sees(token, mount + "/"):
            return denied
        return JSONResponse(_envelope(self.mounts[mount].info(mount + "/")))

    def _sees(self, token: str, mount: str) -> bool:
        """Vault's `hasMountAccess`: whether the token's policies grant anything under `mount`."""
        if "deny" not in self.capabilities(token, mount):
            return True
        rules = self.policies.get(token, {})
        return any(
            rule.removesuffix("*").startswith(mount) and "deny" not in caps and set(caps) & set(SEES_MOUNT)
            for rule, caps in rules.items()
            if "+" not in rule.split("/")
        )

    async def config(self, request: Request) -> Response:
        """A KV v2 mount's config (`GET {mount}/config`: `read` there)."""
        mount = request.path_params["mount"]
        forced = self._called(f"GET {mount}/config")
        if forced is not None:
            return forced
        token = self._known(request)
        allowed = self.capabilities(token, f"{mount}/config")
        if token is None or ("root" not in allowed and "read" not in allowed):
            return _errors(403, "1 error occurred:\n\t* permission denied\n\n")
        engine = self.mounts.get(mount)
        if engine is None or not engine.kv2:
            return _errors(404, f'no handler for route "{mount}/config". route entry not found.')
        config = {"cas_required": engine.cas_required, "delete_version_after": "0s", "max_versions": 0}
        return JSONResponse(_envelope(config))

    async def data(self, request: Request) -> Response:
        mount, path = request.path_params["mount"], request.path_params["path"]
        forced = self._called(f"{request.method} {mount}/{path}")
        if forced is not None:
            return forced
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
        if not self.mounts[mount].kv2:  # KV v1 holds `data/...` as any key, and has no PATCH
            return _errors(405, UNSUPPORTED) if request.method == "PATCH" else _errors(404)
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
        body = await request.json()
        refused = self._check_and_set(where, body)
        if refused is not None:
            return refused
        merged = {**self.secrets[where], **body["data"]}
        return self._stored(where, {k: v for k, v in merged.items() if v is not None})

    async def _write(self, request: Request, where: tuple[str, str]) -> Response:
        body = await request.json()
        return self._check_and_set(where, body) or self._stored(where, dict(body["data"]))

    def _check_and_set(self, where: tuple[str, str], body: dict[str, Any]) -> Response | None:
        """Vault's `validateCheckAndSetOption`: None when the write may go ahead."""
        options = body.get("options") or {}
        if "cas" in options:
            return None if options["cas"] == self.versions.get(where, 0) else _errors(400, CAS_MISMATCH)
        if self.mounts[where[0]].cas_required or where in self.cas_required:
            return _errors(400, CAS_REQUIRED)
        return None

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
