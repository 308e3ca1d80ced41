"""What one manifest key's fields say together: protect with absent, is_active and expiry,
a name that is also the key's id, rotate with a pinned proxy_key. The schema checks each
field alone; this, the pairs."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from reconciler.core.times import iso
from reconciler.manifest.diagnostics import ERROR, WARNING

Problem = tuple[tuple[Any, ...], str, str]  # path, message, severity


def problems(index: int, raw: Mapping[str, Any], values: Mapping[str, Any], now: int | None) -> list[Problem]:
    """Every problem of the key at keys[index]; `values` are its normalised fields (defaults in)."""
    at = ("keys", index)
    found: list[Problem] = []
    if raw.get("protect") is True:
        pairs = _protected(raw, values, now)
        found.extend(((*at, "protect"), message, severity) for message, severity in pairs)
    if "id" not in raw and "/" in values["name"]:
        found.append(((*at, "name"), _SLASHED_NAME, ERROR))
    rotation = values.get("rotate")
    # an every of 0 is the schema's error already: no second one about the overlap
    if rotation is not None and rotation.every.seconds and rotation.overlap >= rotation.every:
        where = (*at, "rotate") if "rotate" in raw else (*at, "name")
        found.append((where, _OVERLONG.format(rotation.overlap, rotation.every), ERROR))
    if rotation is not None and "proxy_key" in raw:
        source = "rotate:" if "rotate" in raw else "rotate: (from defaults)"  # a key cannot opt out
        found.append(((*at, "rotate" if "rotate" in raw else "proxy_key"), _PINNED.format(source), ERROR))
    return found


def _protected(raw: Mapping[str, Any], values: Mapping[str, Any], now: int | None) -> list[tuple[str, str]]:
    found = []
    if raw.get("absent") is True:
        found.append(("protect: true and absent: true: a protected key is never deleted", ERROR))
    if values.get("is_active") is False:
        source = "" if "is_active" in raw else " (from defaults)"
        message = f"protect: true and is_active: false{source}: a protected key is never disabled"
        found.append((message, ERROR))
    expires = values.get("expires_at")
    current = int(time.time()) if now is None else now
    if expires is not None and expires != -1 and expires <= current:
        found.append((_expired(expires), WARNING))
    return found


def _expired(expires: int) -> str:
    return (
        f"a protected key that expired on {iso(expires)}: protect keeps it from being deleted or "
        "disabled, not from expiring; set a later expires_at (or drop protect)"
    )


_SLASHED_NAME = (
    "this name is also the key's id, and an id may not contain '/' (it will separate an account "
    "from an id): give the key an id: without '/'"
)

_PINNED = (
    "{} on a key pinned by proxy_key: a rotation gives the key a new value, which the pinned "
    "proxy_key would never match, so every run would make another successor; drop proxy_key "
    "(ehkeys then tracks the key by its state and name), or write rotate: on the keys that "
    "rotate rather than in defaults"
)
_OVERLONG = (
    "overlap {} is not shorter than every {}: the key falls due again before its old "
    "key retires, and no rotation starts while one is under way, so it would stop rotating"
)
