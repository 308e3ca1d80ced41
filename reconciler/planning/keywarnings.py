"""What a reviewer should know about one key's change: exhaustion, expiry, opened whitelists."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from reconciler.core import risks
from reconciler.core.changes import FieldChange
from reconciler.core.keys import DesiredKey, LiveKey

WEEK = 7 * 24 * 3600


def update_warnings(
    changes: Sequence[FieldChange], body: Mapping[str, Any], have: LiveKey, is_active: bool | None, now: int
) -> list[str]:
    found: list[str] = []
    changed = {c.field: c for c in changes}
    allocation = body["allocated_ammount"]
    if "allocated_ammount" in changed and allocation < have.used_ammount:
        found.append(risks.exhausted(allocation, have.used_ammount))
    found.extend(_expiry(body["expires_at"], now))
    if not have.is_active and is_active is None:
        found.append("the key is inactive (is_active is not managed here; set is_active: true to enable it)")
    found.extend(_widened(changed))
    return found


def creation_warnings(key: DesiredKey, now: int) -> list[str]:
    found = list(_expiry(-1 if key.expires_at is None else key.expires_at, now))
    return found + list(risks.opened(key.model_whitelist or (), key.ip_whitelist or ()))


def _expiry(expires: int, now: int) -> Iterator[str]:
    if expires != -1 and expires <= now:
        yield "the key is expired"
    elif expires != -1 and expires - now < WEEK:
        yield "the key expires within 7 days"


def _widened(changed: Mapping[str, FieldChange]) -> Iterator[str]:
    models, ips = changed.get("model_whitelist"), changed.get("ip_whitelist")
    added = ips.added if ips else []
    return risks.widened(models.after if models else None, ips.after if ips else None, added)
