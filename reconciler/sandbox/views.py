"""What the sandbox answers: the documented JSON shapes of keys and the account, and errors."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from starlette.responses import Response

from reconciler.sandbox.gate import error_body

_KINDS = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_balance",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    422: "invalid_request_error",
}


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """The envelope of errors.mdx: {"error": {"message", "type", "param", "code"}}."""
    body = error_body(status, message, _KINDS.get(status, "server_error"))
    return Response(body, status, headers=headers, media_type="application/json")


def money(value: Decimal) -> float:
    return float(value)  # JSON serialisation only; the store keeps exact decimals


def lookup_view(key: dict[str, Any]) -> dict[str, Any]:
    """Exactly the documented lookup fields (no limit_type)."""
    return {
        "name": key["name"],
        "key": key["key"],
        "user_id": key["user_id"],
        "expires_at": key["expires_at"],
        "allocated_ammount": money(key["allocated_ammount"]),
        "used_ammount": money(key["used_ammount"]),
        "is_active": key["is_active"],
        "model_whitelist": key["model_whitelist"],
        "ip_whitelist": key["ip_whitelist"],
        "enabled_thinking": key["enabled_thinking"],
        "created_at": key["created_at"],
        "last_used": key["last_used"],
    }


def list_view(key: dict[str, Any]) -> dict[str, Any]:
    """A key as the list (and create) show it: no user_id, enabled_thinking or limit_type."""
    view = lookup_view(key)
    del view["user_id"], view["enabled_thinking"]
    return view


def me_view(account: dict[str, Any], keys: int) -> dict[str, Any]:
    """GET /user/me as usage.mdx shows it; `limits` is the sandbox's own addition (the
    service reports no caps), for a client or a person trying the sandbox to read."""
    return {
        "subscription": account["tier"],
        "credits": money(account["balance"]),
        "usage": {"input_tokens": 0, "output_tokens": 0},  # the sandbox serves no models
        "history": [],
        "endpoints": {},
        "limits": {
            "proxy_keys": keys,
            "key_cap": account["key_cap"],
            "per_key_cap": money(account["per_key_cap"]),
        },
    }
