"""A fake of HashiCorp Vault's KV v2 secrets engine (a Starlette app), served for real: what the
`vault` sink calls, as Vault's API documents it. `PATCH /v1/{mount}/data/{path}` is a JSON merge
patch of an existing secret (its other fields kept; 404 when there is none, 415 without the
merge-patch content type), `POST` writes a whole new version (`options.cas: 0`: only if there is
none, else 400), `GET` reads the latest. Errors are Vault's `{"errors": [...]}`."""

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

TOKEN = "hvs.fake-vault-token"
CAS_MISMATCH = "check-and-set parameter did not match the current version"


def _errors(status: int, *errors: str) -> JSONResponse:
    return JSONResponse({"errors": list(errors)}, status_code=status)


@dataclass
class FakeVault:
    secrets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (mount, path) -> data
    versions: dict[tuple[str, str], int] = field(default_factory=dict)
    mounts: set[str] = field(default_factory=lambda: {"secret"})
    failing: int = 0  # how many writes are answered 500 (Vault's storage unavailable), unserved
    calls: list[str] = field(default_factory=list)
    answer: Response | None = None  # every request answered so (a proxy in front, a standby's redirect)

    def app(self) -> Starlette:
        route = "/v1/{mount}/data/{path:path}"
        return Starlette(routes=[Route(route, self.data, methods=["GET", "POST", "PATCH"])])

    async def data(self, request: Request) -> Response:
        mount, path = request.path_params["mount"], request.path_params["path"]
        self.calls.append(f"{request.method} {mount}/{path}")
        if self.answer is not None:
            return self.answer
        if request.headers.get("x-vault-token") != TOKEN:
            return _errors(403, "permission denied")
        if mount not in self.mounts:
            return _errors(404, f'no handler for route "{mount}/data/{path}". route entry not found.')
        if request.method == "GET":
            return self._read((mount, path))
        if self.failing > 0:
            self.failing -= 1
            return _errors(500, "local node not active but active cluster node not found")
        if request.method == "PATCH":
            return await self._patch(request, (mount, path))
        return await self._write(request, (mount, path))

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
