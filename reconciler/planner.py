"""The planner: (desired keys, live keys, recorded write-only values) -> Plan. No I/O.

Values are compared normalised (whitelists as sets, IPs as networks, money as Decimal).
An unmanaged field keeps its live value in the update body, because the API's update
replaces every field: a whitelist left out would open the key to everything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from reconciler.model import FIELDS, DesiredKey, LiveKey, gc_paused, sorted_networks, to_json_value
from reconciler.plan import ERROR, NO_OP, UPDATE, Credit, Failure, FieldChange, KeyPlan, Plan

WEEK = 7 * 24 * 3600
OPEN_NETWORKS = ("0.0.0.0/0", "::/0")


def make_plan(
    desired: Sequence[DesiredKey],
    live: Sequence[LiveKey | Failure],
    recorded: Mapping[str, Mapping[str, Any]],
    now: int,
    balance: Decimal | None = None,
) -> Plan:
    with gc_paused():
        keys = [
            plan_key(i, want, have, recorded.get(want.proxy_key.fingerprint), now)
            for i, (want, have) in enumerate(zip(desired, live, strict=True))
        ]
    plan = Plan(keys, balance)
    if plan.uncovered:
        plan.notes.append(
            f"the debits ({plan.account_debit}) exceed the account balance ({balance}) plus "
            f"the refunds ({plan.account_refund}): updates would fail with 402 (Insufficient Balance)"
        )
    return plan


def plan_key(
    index: int,
    want: DesiredKey,
    have: LiveKey | Failure,
    recorded: Mapping[str, Any] | None,
    now: int,
) -> KeyPlan:
    base = KeyPlan(index=index, name=want.name, proxy_key=want.proxy_key, action=ERROR)
    if isinstance(have, Failure):
        return replace(base, error=have)
    changes, unverified = diff(want, have, recorded)
    target = target_values(want, have)
    credit = Credit.between(have.allocated_ammount, target["allocated_ammount"], have.used_ammount)
    notes = [_unverified(name, target[name], bool(changes)) for name in unverified]
    if recorded and recorded.get("pending"):
        notes.append("an earlier apply was cut off after sending this key's update: it is sent again")
    return replace(
        base,
        action=UPDATE if changes else NO_OP,
        changes=changes,
        credit=credit if changes else Credit(),
        warnings=tuple(notes + warnings(changes, target, have, now)),
        unchanged=len(want.managed) - len(changes) - len(unverified),
        body=body(target),
        live=snapshot(have),
    )


def _unverified(name: str, value: Any, updating: bool) -> str:
    text = f"{name} is unverified: the API never reports it and no apply has recorded it"
    return text + (f"; this update sets it to {value!r}" if updating else "")


def diff(
    want: DesiredKey, have: LiveKey, recorded: Mapping[str, Any] | None
) -> tuple[tuple[FieldChange, ...], list[str]]:
    """Changed managed fields, and the write-only fields that were never recorded."""
    live = have.values()
    changes, unverified = [], []
    for name in want.managed:
        wanted = getattr(want, name)
        if name in live:
            current = live[name]
        elif recorded and recorded.get("pending"):
            current = None  # an earlier apply was cut off after sending: unknown, send again
        elif recorded and name in recorded:
            current = recorded[name]
        else:
            unverified.append(name)
            continue
        if current != wanted:
            changes.append(FieldChange(name, current, wanted))
    return tuple(changes), unverified


def target_values(want: DesiredKey, have: LiveKey) -> dict[str, Any]:
    """What the key will be after the update: desired where managed, live elsewhere."""
    live = have.values()
    return {name: getattr(want, name) if getattr(want, name) is not None else live[name] for name in FIELDS}


def body(target: Mapping[str, Any]) -> dict[str, Any]:
    """The complete update body (less the proxy key): every field, limit_type explicitly."""
    return {
        "name": target["name"],
        "expires_at": target["expires_at"],
        "allocated_ammount": target["allocated_ammount"],
        "limit_type": target["limit_type"],
        "model_whitelist": sorted(target["model_whitelist"]),
        "ip_whitelist": sorted_networks(target["ip_whitelist"]),
    }


def snapshot(have: LiveKey) -> dict[str, Any]:
    """The live state as plain JSON values: what a saved plan compares against later."""
    return {name: to_json_value(v) for name, v in have.values().items()}


def warnings(changes: Sequence[FieldChange], target: Mapping[str, Any], have: LiveKey, now: int) -> list[str]:
    found: list[str] = []
    changed = {c.field: c for c in changes}
    allocation = target["allocated_ammount"]
    if "allocated_ammount" in changed and allocation < have.used_ammount:
        found.append(
            f"allocation {allocation:.2f} is below what the key has already used "
            f"({have.used_ammount:.2f}): the key is exhausted at once"
        )
    expires = target["expires_at"]
    if expires != -1 and expires <= now:
        found.append("the key is expired")
    elif expires != -1 and expires - now < WEEK:
        found.append("the key expires within 7 days")
    if not have.is_active:
        found.append("the key is inactive; an update cannot re-activate it")
    found.extend(_widened(changed))
    return found


def _widened(changed: Mapping[str, FieldChange]) -> list[str]:
    found = []
    models = changed.get("model_whitelist")
    if models and not models.after:
        found.append("model_whitelist becomes empty: every model will be allowed")
    ips = changed.get("ip_whitelist")
    if ips and not ips.after:
        found.append("ip_whitelist becomes empty: every IP address will be allowed")
    elif ips:
        opened = [net for net in ips.added if net in OPEN_NETWORKS]
        found.extend(f"ip_whitelist gains {net}: every IP address will be allowed" for net in opened)
    return found
