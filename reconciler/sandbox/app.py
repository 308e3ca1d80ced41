"""The sandbox's ASGI app: the ElectronHub proxy-key API as documented in shared/electronhub-api.

Order of checks, as a FastAPI service behind an edge would do them: auth (401), then the
request shape (422), then ownership (404/403), then values (400), then the tier's key cap
on create (403), then money (402). Request bodies are checked in `validation`, answers
shaped in `views`, and every write is one transaction of the `store`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.sandbox import validation as check
from reconciler.sandbox.gate import Gate
from reconciler.sandbox.seed import Faults, RateLimit
from reconciler.sandbox.store import InsufficientBalance, KeyCapReached, KeyGone, Store
from reconciler.sandbox.validation import ApiError
from reconciler.sandbox.views import error_response, list_view, lookup_view, me_view

__all__ = ["ApiError", "create_app"]

_JWT = re.compile(r"^eyJ[\w-]*\.[\w-]+\.[\w-]*$")


class Api:
    def __init__(self, store: Store, now: Callable[[], int]) -> None:
        self.store = store
        self.now = now

    # --- checks shared by every endpoint ----------------------------------------------------

    def account(self, request: Request) -> dict[str, Any]:
        header = request.headers.get("authorization")
        if not header:
            raise ApiError(401, "Missing Authorization header")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "Malformed Authorization header: expected 'Bearer ek-...'")
        if _JWT.match(token):
            raise ApiError(401, "JWT tokens are not accepted on this endpoint; use an API key")
        if token.startswith("ek-proxy-"):
            raise ApiError(401, "Proxy keys cannot call this endpoint; use your account API key")
        account = self.store.account_by_api_key(token) if token.startswith("ek-") else None
        if account is None:
            raise ApiError(401, "Invalid API key")
        return account

    @staticmethod
    async def body(request: Request) -> dict[str, Any]:
        return check.json_object(await request.body())

    def owned_key(self, account: dict[str, Any], proxy_key: Any) -> dict[str, Any]:
        key = self.store.key(check.proxy_key(proxy_key))
        if key is None:
            raise ApiError(404, "Proxy key not found")
        if key["user_id"] != account["user_id"]:
            raise ApiError(403, "You do not own this proxy key")
        return key

    async def key_in_body(self, request: Request) -> dict[str, Any]:
        """The caller's own key named by the body's proxy_key (lookup, toggle, remove)."""
        account = self.account(request)
        return self.owned_key(account, (await self.body(request)).get("proxy_key"))

    def key_in_path(self, request: Request) -> dict[str, Any]:
        """The caller's own key named in the URL (the legacy routes)."""
        return self.owned_key(self.account(request), request.path_params["key"])

    # --- reads -------------------------------------------------------------------------------

    async def lookup(self, request: Request) -> Response:
        return JSONResponse(lookup_view(await self.key_in_body(request)))

    async def legacy_lookup(self, request: Request) -> Response:
        return JSONResponse(lookup_view(self.key_in_path(request)))

    async def list_keys(self, request: Request) -> Response:
        account = self.account(request)
        return JSONResponse([list_view(k) for k in self.store.keys_of(account["user_id"])])

    async def me(self, request: Request) -> Response:
        account = self.account(request)
        return JSONResponse(me_view(account, self.store.count_of(account["user_id"])))

    # --- writes ------------------------------------------------------------------------------

    async def create(self, request: Request) -> Response:
        account = self.account(request)
        body = await self.body(request)
        check.require(body, check.CREATE_REQUIRED)
        now = self.now()
        fields = check.create_fields(body, account["per_key_cap"], now)
        key = _writing(self.store.create, account["user_id"], fields, now)
        return JSONResponse(list_view(key), status_code=201)

    async def update(self, request: Request) -> Response:
        account = self.account(request)
        body = await self.body(request)
        return self._update(account, body.get("proxy_key"), body)

    async def legacy_update(self, request: Request) -> Response:
        account = self.account(request)
        return self._update(account, request.path_params["key"], await self.body(request))

    def _update(self, account: dict[str, Any], proxy_key: Any, body: dict[str, Any]) -> Response:
        check.require(body, check.UPDATE_REQUIRED)
        key = self.owned_key(account, proxy_key)
        fields = check.update_fields(body, account["per_key_cap"])
        _writing(self.store.update, key["key"], fields)
        return JSONResponse({"message": "Proxy key updated"})

    async def toggle(self, request: Request) -> Response:
        return _toggled(_writing(self.store.toggle, (await self.key_in_body(request))["key"]))

    async def legacy_toggle(self, request: Request) -> Response:
        return _toggled(_writing(self.store.toggle, self.key_in_path(request)["key"]))

    async def remove(self, request: Request) -> Response:
        _writing(self.store.remove, (await self.key_in_body(request))["key"])
        return JSONResponse({"message": "Proxy key deleted"})

    async def legacy_remove(self, request: Request) -> Response:
        _writing(self.store.remove, self.key_in_path(request)["key"])
        return JSONResponse({"message": "Proxy key deleted"})

    async def remove_all(self, request: Request) -> Response:
        _writing(self.store.remove_all, self.account(request)["user_id"])
        return JSONResponse({"message": "Proxy keys deleted"})  # with no keys too


def _toggled(status: bool) -> Response:
    return JSONResponse({"message": "Proxy key status updated", "status": status})


def _writing(write: Callable[..., Any], *args: Any) -> Any:
    """A store write, its refusals as the documented answers."""
    try:
        return write(*args)
    except KeyGone as exc:  # another request removed it first
        raise ApiError(404, str(exc)) from None
    except KeyCapReached as exc:
        raise ApiError(403, str(exc)) from None
    except InsufficientBalance as exc:
        raise ApiError(402, str(exc)) from None


def keys_clock(start: int | None, clock: Callable[[], float] = time.time) -> Callable[[], int]:
    """The API's time in epoch seconds: real, or from `start` on (a seed's clock.start)."""
    if start is None:
        return lambda: int(clock())
    origin = clock()
    return lambda: start + int(clock() - origin)


async def _on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, str(exc.detail), exc.headers)  # 405 keeps its Allow


async def _on_crash(request: Request, exc: Exception) -> Response:
    return error_response(500, "Internal server error")  # the traceback goes to the server log


def routes(api: Api) -> list[Route]:
    """The static routes first; the legacy ones take the key in the URL."""
    return [
        Route("/v1/auth/proxy", api.list_keys, methods=["GET"]),
        Route("/v1/auth/proxy/create", api.create, methods=["POST"]),
        Route("/v1/auth/proxy/lookup", api.lookup, methods=["POST"]),
        Route("/v1/auth/proxy/update", api.update, methods=["POST"]),
        Route("/v1/auth/proxy/toggle", api.toggle, methods=["POST"]),
        Route("/v1/auth/proxy/remove", api.remove, methods=["POST"]),
        Route("/v1/auth/proxy/delete", api.remove_all, methods=["DELETE"]),
        Route("/v1/auth/proxy/update/{key}", api.legacy_update, methods=["POST"]),
        Route("/v1/auth/proxy/toggle/{key}", api.legacy_toggle, methods=["POST"]),
        Route("/v1/auth/proxy/delete/{key}", api.legacy_remove, methods=["DELETE"]),
        Route("/v1/auth/proxy/{key}", api.legacy_lookup, methods=["GET"]),
        Route("/v1/user/me", api.me, methods=["GET"]),
    ]


def create_app(
    store: Store,
    rate: RateLimit | None = None,
    faults: Faults | None = None,
    clock: Callable[[], float] = time.time,
    clock_start: int | None = None,
    own_rates: Mapping[str, RateLimit] | None = None,
) -> Gate:
    """The sandbox API behind its rate limit (`own_rates`: by account key, the accounts' own
    rules) and fault injection."""
    now = keys_clock(clock_start, clock)  # one clock: created_at and each answer's Date agree
    app = Starlette(
        routes=routes(Api(store, now)),
        exception_handlers={ApiError: _on_api_error, HTTPException: _on_http_error, Exception: _on_crash},
    )
    return Gate(app, rate or RateLimit(), faults or Faults(), clock, own_rates, now)
