"""Request bodies, checked as the docs say; every refusal is an ApiError with its status.

Statuses, as the pages the project started from (proxy-update.txt, proxy-lookup.txt) give
them: a body that is not a JSON object, a required field missing, or a proxy_key outside
1..256 characters is 422; a field present with a bad value is 400 ("invalid input data or
validation failed"). (CHANGELOG 2026-07-07 moves the 422s to 400; clients handle both.)
"""

from __future__ import annotations

import ipaddress
import json
from decimal import Decimal
from typing import Any

LIMIT_TYPES = ("daily", "weekly", "monthly")
UPDATE_REQUIRED = ("name", "expires_at", "allocated_ammount")
CREATE_REQUIRED = ("name", "expires_at", "allocated_ammount")
MAX_EPOCH = 2**63 - 1


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, numbers with a fraction as exact Decimals."""
    try:
        data = json.loads(raw, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(422, "Request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(422, "Request body must be a JSON object")
    return data


def proxy_key(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 256:
        raise ApiError(422, "proxy_key is required and must be 1 to 256 characters")
    return value


def require(body: dict[str, Any], fields: tuple[str, ...]) -> None:
    missing = [f for f in fields if f not in body]
    if missing:
        raise ApiError(422, f"Field required: {', '.join(missing)}")


def update_fields(body: dict[str, Any], cap: Decimal) -> dict[str, Any]:
    """The fields an update sets, with documented defaults (a whitelist left out is [], a
    limit_type left out is daily). The allocation may be 0: that empties a key."""
    fields = _fields(body, cap, now=None, positive=False)
    limit_type = body.get("limit_type", "daily")  # left out: daily; null is not a window
    if limit_type not in LIMIT_TYPES:
        raise ApiError(400, "limit_type must be one of daily, weekly, monthly")
    return {**fields, "limit_type": limit_type}


def create_fields(body: dict[str, Any], cap: Decimal, now: int) -> dict[str, Any]:
    """The fields a create sets (proxy-create.mdx): expires_at in the future or -1, an
    allocation above 0. Fields it does not take (limit_type among them) are ignored."""
    return _fields(body, cap, now=now, positive=True)


def _fields(body: dict[str, Any], cap: Decimal, *, now: int | None, positive: bool) -> dict[str, Any]:
    return {
        "name": _name(body["name"]),
        "expires_at": _expiry(body["expires_at"], now),
        "allocated_ammount": _amount(body["allocated_ammount"], cap, positive=positive),
        "model_whitelist": _string_list(body, "model_whitelist"),
        "ip_whitelist": _ip_list(_string_list(body, "ip_whitelist")),
    }


def _name(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 25:
        raise ApiError(400, "name must be a string of 1 to 25 characters")
    return value


def _expiry(value: Any, now: int | None) -> int:
    """Epoch seconds (what SQLite's INTEGER holds) or -1; with `now`, a time still to come."""
    if isinstance(value, bool) or not isinstance(value, int) or not -1 <= value <= MAX_EPOCH:
        raise ApiError(400, "expires_at must be an integer timestamp, or -1 for no expiration")
    if now is not None and value != -1 and value <= now:
        raise ApiError(400, "expires_at must be in the future, or -1 for no expiration")
    return value


def _amount(value: Any, cap: Decimal, *, positive: bool) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise ApiError(400, "allocated_ammount must be a number")
    amount = Decimal(value)
    if not amount.is_finite() or amount < 0 or (positive and amount == 0):
        raise ApiError(400, "allocated_ammount must be a positive number")
    if amount > cap:
        raise ApiError(400, f"allocated_ammount exceeds your tier's per-key cap of {cap}")
    return amount


def _string_list(body: dict[str, Any], field: str) -> list[str]:
    if field not in body:  # left out: [] (all); null is not a list
        return []
    value = body[field]
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
