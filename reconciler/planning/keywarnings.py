"""What a reviewer should know about one key's change: exhaustion, expiry, opened whitelists."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from reconciler.core.changes import FieldChange
from reconciler.core.keys import DesiredKey, LiveKey

WEEK = 7 * 24 * 3600
OPEN_NETWORKS = ("0.0.0.0/0", "::/0")


def update_warnings(
    changes: Sequence[FieldChange], body: Mapping[str, Any], have: LiveKey, is_active: bool | None, now: int
) -> list[str]:
    found: list[str] = []
    changed = {c.field: c for c in changes}
    allocation = body["allocated_ammount"]
    if "allocated_ammount" in changed and allocation < have.used_ammount:
        found.append(
            f"allocation {allocation:.2f} is below what the key has already used "
            f"({have.used_ammount:.2f}): the key is exhausted at once"
        )
    found.extend(_expiry(body["expires_at"], now))
    if not have.is_active and is_active is None:
        found.append("the key is inactive (is_active is not managed here; set is_active: true to enable it)")
    found.extend(_widened(changed))
    return found


def creation_warnings(key: DesiredKey, now: int) -> list[str]:
    found = list(_expiry(-1 if key.expires_at is None else key.expires_at, now))
    if not key.model_whitelist:
        found.append("the new key allows every model (model_whitelist is empty or not set)")
    if not key.ip_whitelist:
        found.append("the new key allows every IP address (ip_whitelist is empty or not set)")
    return found


def _expiry(expires: int, now: int) -> Iterator[str]:
    if expires != -1 and expires <= now:
        yield "the key is expired"
    elif expires != -1 and expires - now < WEEK:
        yield "the key expires within 7 days"


def _widened(changed: Mapping[str, FieldChange]) -> Iterator[str]:
    models = changed.get("model_whitelist")
    if models and not models.after:
        yield "model_whitelist becomes empty: every model will be allowed"
    ips = changed.get("ip_whitelist")
    if ips and not ips.after:
        yield "ip_whitelist becomes empty: every IP address will be allowed"
    elif ips:
        for net in ips.added:
            if net in OPEN_NETWORKS:
                yield f"ip_whitelist gains {net}: every IP address will be allowed"
