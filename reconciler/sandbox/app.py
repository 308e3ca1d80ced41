"""The sandbox's ASGI app: the ElectronHub proxy-key API as documented in shared/electronhub-api.

Order of checks, as a FastAPI service behind an edge would do them: auth (401), then the
request shape (422), then ownership (404/403), then values (400), then money (402).
"""

from __future__ import annotations

import ipaddress
import json
import re
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.sandbox.gate import Gate, error_body
from reconciler.sandbox.seed import Faults, RateLimit
from reconciler.sandbox.store import InsufficientBalance, Store

LIMIT_TYPES = ("daily", "weekly", "monthly")
_JWT = re.compile(r"^eyJ[\w-]*\.[\w-]+\.[\w-]*$")
_KINDS = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_balance",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    422: "invalid_request_error",
}


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error_response(status: int, message: str) -> Response:
    body = error_body(status, message, _KINDS.get(status, "server_error"))
    return Response(body, status, media_type="application/json")


def _money(value: Decimal) -> float:
    return float(value)  # JSON serialisation only; the store keeps exact decimals


def _lookup_view(key: dict[str, Any]) -> dict[str, Any]:
    """Exactly the documented lookup fields (no limit_type)."""
    return {
        "name": key["name"],
        "key": key["key"],
        "user_id": key["user_id"],
        "expires_at": key["expires_at"],
        "allocated_ammount": _money(key["allocated_ammount"]),
        "used_ammount": _money(key["used_ammount"]),
        "is_active": key["is_active"],
        "model_whitelist": key["model_whitelist"],
        "ip_whitelist": key["ip_whitelist"],
        "enabled_thinking": key["enabled_thinking"],
        "created_at": key["created_at"],
        "last_used": key["last_used"],
    }


def _list_view(key: dict[str, Any]) -> dict[str, Any]:
    view = _lookup_view(key)
    del view["user_id"], view["enabled_thinking"]
    return view


class Api:
    def __init__(self, store: Store) -> None:
        self.store = store

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
        try:
            data = json.loads(await request.body(), parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(422, "Request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise ApiError(422, "Request body must be a JSON object")
        return data

    def owned_key(self, account: dict[str, Any], proxy_key: Any) -> dict[str, Any]:
        if not isinstance(proxy_key, str) or not 1 <= len(proxy_key) <= 256:
            raise ApiError(422, "proxy_key is required and must be 1 to 256 characters")
        key = self.store.key(proxy_key)
        if key is None:
            raise ApiError(404, "Proxy key not found")
        if key["user_id"] != account["user_id"]:
            raise ApiError(403, "You do not own this proxy key")
        return key

    # --- endpoints ---------------------------------------------------------------------------

    async def lookup(self, request: Request) -> Response:
        account = self.account(request)
        proxy_key = (await self.body(request)).get("proxy_key")
        return JSONResponse(_lookup_view(self.owned_key(account, proxy_key)))

    async def legacy_lookup(self, request: Request) -> Response:
        account = self.account(request)
        return JSONResponse(_lookup_view(self.owned_key(account, request.path_params["key"])))

    async def update(self, request: Request) -> Response:
        account = self.account(request)
        body = await self.body(request)
        return self._update(account, body.get("proxy_key"), body)

    async def legacy_update(self, request: Request) -> Response:
        account = self.account(request)
        return self._update(account, request.path_params["key"], await self.body(request))

    def _update(self, account: dict[str, Any], proxy_key: Any, body: dict[str, Any]) -> Response:
        missing = [f for f in ("name", "expires_at", "allocated_ammount") if f not in body]
        if not isinstance(proxy_key, str) or not 1 <= len(proxy_key) <= 256 or missing:
            what = ", ".join(missing) or "proxy_key (1 to 256 characters)"
            raise ApiError(422, f"Field required: {what}")
        self.owned_key(account, proxy_key)
        fields = validate_update(body, account["per_key_cap"])
        try:
            self.store.update(proxy_key, fields)
        except InsufficientBalance as exc:
            raise ApiError(402, str(exc)) from None
        return JSONResponse({"message": "Proxy key updated"})

    async def list_keys(self, request: Request) -> Response:
        account = self.account(request)
        return JSONResponse([_list_view(k) for k in self.store.keys_of(account["user_id"])])

    async def me(self, request: Request) -> Response:
        account = self.account(request)
        keys = self.store.keys_of(account["user_id"])
        used = sum((k["used_ammount"] for k in keys), Decimal(0))
        return JSONResponse(
            {
                "subscription": {"tier": "sandbox", "per_key_cap": _money(account["per_key_cap"])},
                "credits": _money(account["balance"]),
                "usage": {"proxy_keys": len(keys), "total_used": _money(used)},
                "history": [],
                "endpoints": {},
            }
        )


def validate_update(body: dict[str, Any], cap: Decimal) -> dict[str, Any]:
    """The fields an update sets, with documented defaults; ApiError(400) for bad values."""
    name = body["name"]
    if not isinstance(name, str) or not 1 <= len(name) <= 25:
        raise ApiError(400, "name must be a string of 1 to 25 characters")
    expires = body["expires_at"]
    if isinstance(expires, bool) or not isinstance(expires, int) or expires < -1:
        raise ApiError(400, "expires_at must be an integer timestamp, or -1 for no expiration")
    amount = body["allocated_ammount"]
    if isinstance(amount, bool) or not isinstance(amount, (int, Decimal)):
        raise ApiError(400, "allocated_ammount must be a number")
    amount = Decimal(amount)
    if not amount.is_finite() or amount < 0:
        raise ApiError(400, "allocated_ammount must be a positive number")
    if amount > cap:
        raise ApiError(400, f"allocated_ammount exceeds your tier's per-key cap of {cap}")
    limit_type = body.get("limit_type") or "daily"
    if limit_type not in LIMIT_TYPES:
        raise ApiError(400, "limit_type must be one of daily, weekly, monthly")
    return {
        "name": name,
        "expires_at": expires,
        "allocated_ammount": amount,
        "limit_type": limit_type,
        "model_whitelist": _string_list(body, "model_whitelist"),
        "ip_whitelist": _ip_list(_string_list(body, "ip_whitelist")),
    }


def _string_list(body: dict[str, Any], field: str) -> list[str]:
    value = body.get(field)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(400, f"{field} must be a list of strings")
    return value


def _ip_list(entries: list[str]) -> list[str]:
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ApiError(400, f"Invalid IP address or CIDR block: {entry[:64]}") from None
    return entries


async def _on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _error_response(exc.status, exc.message)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _error_response(exc.status_code, str(exc.detail))


def create_app(
    store: Store,
    rate: RateLimit | None = None,
    faults: Faults | None = None,
    clock: Callable[[], float] = time.time,
) -> Gate:
    """The sandbox API behind its rate limit and fault injection."""
    api = Api(store)
    routes = [
        Route("/v1/auth/proxy/lookup", api.lookup, methods=["POST"]),
        Route("/v1/auth/proxy/update", api.update, methods=["POST"]),
        Route("/v1/auth/proxy/update/{key}", api.legacy_update, methods=["POST"]),
        Route("/v1/auth/proxy", api.list_keys, methods=["GET"]),
        Route("/v1/auth/proxy/{key}", api.legacy_lookup, methods=["GET"]),
        Route("/v1/user/me", api.me, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={ApiError: _on_api_error, HTTPException: _on_http_error},
    )
    return Gate(app, rate or RateLimit(), faults or Faults(), clock)
