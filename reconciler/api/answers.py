"""The API's answers as typed values: a key of the account's list, or of a lookup.

Anything off the documented shape is a BadResponse naming the field, never a crash and
never a guess. Numbers arrive as Decimal (the client parses JSON floats that way).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from decimal import Decimal
from typing import Any

from reconciler.api.errors import BadResponse
from reconciler.core.keys import IPNetwork, LiveKey
from reconciler.core.secrets import ProxyKey

# What a key can hold (printable ASCII, no space): a value a sink writes into a line of an env
# file or a command's input, where a newline or a quote from a hostile answer would be another line.
_KEY_TEXT = re.compile(r"ek-proxy-[!-~]+")


def live_key(data: Any, asked: ProxyKey | None = None) -> LiveKey:
    """A LiveKey from one key object; a lookup's answer must be the key that was asked."""
    if not isinstance(data, dict):
        raise BadResponse("key answer is not a JSON object")
    secret = _secret(data, asked)
    try:
        return LiveKey(
            proxy_key=secret,
            name=_typed(data, "name", str),
            expires_at=_typed(data, "expires_at", int),
            allocated_ammount=_amount(data, "allocated_ammount"),
            used_ammount=_amount(data, "used_ammount"),
            is_active=_typed(data, "is_active", bool),
            model_whitelist=_names(tuple(_strings(data, "model_whitelist"))),
            ip_whitelist=_networks(tuple(_strings(data, "ip_whitelist"))),
            created_at=_optional_int(data, "created_at"),
            last_used=_optional_int(data, "last_used"),
        )
    except ValueError as exc:
        raise BadResponse(f"key answer has an invalid ip_whitelist entry ({exc})") from None


def live_keys(data: Any) -> list[LiveKey]:
    """The account's list (`GET /auth/proxy`): every entry must carry its key."""
    if not isinstance(data, list):
        raise BadResponse("key list answer is not a JSON array of keys")
    return [live_key(entry) for entry in data]


# An account's keys share a few whitelists: each distinct one is made once (and its networks
# hashed once), not once per key.
@functools.lru_cache(maxsize=4096)
def _names(texts: tuple[str, ...]) -> frozenset[str]:
    return frozenset(texts)


@functools.lru_cache(maxsize=4096)
def _networks(texts: tuple[str, ...]) -> frozenset[IPNetwork]:
    return frozenset(_network(text) for text in texts)


@functools.lru_cache(maxsize=4096)
def _network(text: str) -> IPNetwork:
    """An account's keys repeat a few networks: each text is parsed once (ValueError if bad)."""
    return ipaddress.ip_network(text, strict=False)


def _secret(data: dict[str, Any], asked: ProxyKey | None) -> ProxyKey:
    value = data.get("key")
    if value is None and asked is not None:
        return asked  # a lookup answer that leaves the key out: it is the one asked
    if not isinstance(value, str) or not value.startswith("ek-proxy-"):
        raise BadResponse("key answer: key is missing or not a proxy key")
    if not _KEY_TEXT.fullmatch(value):
        raise BadResponse("key answer: key holds characters no proxy key has (a space, a control character)")
    secret = ProxyKey(value)
    if asked is not None and secret != asked:
        raise BadResponse(f"lookup answer is for another key ({secret.display}, not {asked.display})")
    return secret


def _typed(data: dict[str, Any], field: str, kind: type) -> Any:
    value = data.get(field)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadResponse(f"key answer: {field} is missing or not {kind.__name__}")
    return value


def _optional_int(data: dict[str, Any], field: str) -> int | None:
    value = data.get(field)
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    raise BadResponse(f"key answer: {field} is not a timestamp")


def _amount(data: dict[str, Any], field: str) -> Decimal:
    value = data.get(field)
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise BadResponse(f"key answer: {field} is missing or not a number")
    amount = Decimal(value)
    if not amount.is_finite():
        raise BadResponse(f"key answer: {field} is not finite")
    return amount


def _strings(data: dict[str, Any], field: str) -> list[str]:
    value = data.get(field)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadResponse(f"key answer: {field} is not a list of strings")
    return value
