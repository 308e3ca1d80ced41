"""The two changes of a rotation: the rotate (create the successor with the key's settings, a
debit now) and the retirement of its predecessor (a delete, its unused allocation refunded),
which waits for the successor to be created and delivered (`Change.after`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from reconciler.core import operations as ops
from reconciler.core.changes import Action, Change, Credit, FieldChange, retiring_address
from reconciler.core.durations import DAY, Duration
from reconciler.core.keys import CREATE_DEFAULTS, DesiredKey, LiveKey, parse_network
from reconciler.core.times import iso
from reconciler.planning.keyplan import diff, target_values, update_body


def rotate(
    index: int, key: DesiredKey, live: LiveKey, recorded: Mapping[str, Any] | None, why: str, now: int
) -> Change:
    """The successor: the key's settings (the manifest's, the live key's where it manages none),
    created now; `why` says what made the rotation (the schedule, `ehkeys rotate`)."""
    values = live.values()
    fields = diff(key, live, recorded, values)
    target = target_values(key, live, values)
    active = live.is_active if key.is_active is None else key.is_active
    base = Change(key.address, Action.ROTATE, key.name, index, target=live.proxy_key, seen=live)
    problem = _cannot(target, now)
    if problem:
        return Change(**{**vars(base), "action": Action.ERROR, "error": problem})
    full = update_body(target)
    body = {k: v for k, v in full.items() if k != "limit_type"}
    follow: list[ops.Operation] = []
    if full["limit_type"] != CREATE_DEFAULTS["limit_type"]:
        follow.append(ops.Update(full))  # create takes no limit_type: set right after, as a create's
    if not active:
        follow.append(ops.Toggle(False))
    toggled = (FieldChange("is_active", live.is_active, active),) if active != live.is_active else ()
    return Change(
        **{
            **vars(base),
            "fields": fields + toggled,
            "operations": (ops.Create(body), *follow),
            "credit": Credit.created(body["allocated_ammount"]),
            "reason": why,
            "unchanged": len(key.managed) - len(fields),
            "deliver": tuple(sink.describe() for sink in key.deliver),  # where the successor goes
        }
    )


def copy(key: DesiredKey, live: LiveKey, recorded: Mapping[str, Any] | None) -> DesiredKey:
    """The key as a rotation alone makes its successor: the live key's settings, and its
    write-only limit_type as recorded (else the manifest's: the API never says it)."""
    known = recorded.get("limit_type") if recorded and not recorded.get("pending") else None
    limit_type = str(known) if known else key.limit_type
    return replace(
        key,
        name=live.name,
        limit_type=limit_type,
        expires_at=None,
        allocated_ammount=None,
        model_whitelist=None,
        ip_whitelist=None,
        is_active=None,
    )


def sent(key: DesiredKey, made: Change) -> DesiredKey:
    """The key as its rotate creates the successor: what is sent (the create's body, then the
    update and toggle after it), every field set, for the key rules to judge."""
    body: dict[str, Any] = {"limit_type": CREATE_DEFAULTS["limit_type"], "is_active": True}
    for operation in made.operations:
        if isinstance(operation, (ops.Create, ops.Update)):
            body.update(operation.body)
        elif isinstance(operation, ops.Toggle):
            body["is_active"] = operation.to
    return replace(
        key,
        name=str(body["name"]),
        limit_type=str(body["limit_type"]),
        expires_at=int(body["expires_at"]),
        allocated_ammount=Decimal(str(body["allocated_ammount"])),
        model_whitelist=frozenset(body["model_whitelist"]),
        ip_whitelist=frozenset(parse_network(ip) for ip in body["ip_whitelist"]),
        is_active=bool(body["is_active"]),
    )


def waiting(made: Change, key: DesiredKey, copied: DesiredKey, live: LiveKey, recorded: Any) -> Change:
    """The rotate, saying which of the manifest's edits a rotation alone left for an apply."""
    if copied is key:
        return made
    edits = diff(key, live, recorded)
    left = [f.field for f in edits if f.field != "limit_type" or copied.limit_type != key.limit_type]
    if key.is_active is not None and key.is_active != live.is_active:
        left.append("is_active")
    if not left:
        return made
    said = (
        f"not applied by this rotation (the successor copies the live key): {', '.join(left)}; "
        "an apply of the manifest applies them"
    )
    return replace(made, warnings=(*made.warnings, said))


def _cannot(target: Mapping[str, Any], now: int) -> str:
    if target["allocated_ammount"] <= 0:
        return "cannot be rotated: a successor needs allocated_ammount above 0 (create needs a positive one)"
    expires = target["expires_at"]
    if expires != -1 and expires <= now:
        return "cannot be rotated: its expires_at is past, and a successor needs a future expiry, or never"
    return ""


def retire(index: int, address: str, old: LiveKey, why: str) -> Change:
    """The predecessor deleted (its unused allocation refunded), sent only once the successor of
    `address` is created and delivered."""
    return Change(
        retiring_address(old.fingerprint),
        Action.DELETE,
        old.name,
        index,
        target=old.proxy_key,
        seen=old,
        operations=(ops.Remove(),),
        credit=Credit.deleted(old.allocated_ammount, old.used_ammount),
        reason=why,
        after=address,
    )


def scheduled(every: Duration, created_at: int, overlap: Duration, now: int) -> str:
    age = (now - created_at) // DAY
    return f"rotate every {every}: created {iso(created_at)}, {age} days ago; {_then(overlap)}"


def forced(overlap: Duration) -> str:
    return f"rotated now (ehkeys rotate); {_then(overlap)}"


def resumed(overlap: Duration) -> str:
    return f"a rotation begun earlier made no successor yet: rotated again; {_then(overlap)}"


def lost(overlap: Duration) -> str:
    return (
        "its successor is gone from the account (deleted outside ehkeys during the overlap): this "
        f"key holds its address again, and is rotated again; {_then(overlap)}"
    )


def _then(overlap: Duration) -> str:
    if not overlap.seconds:
        return "overlap 0: the old key is deleted in this apply, once its successor is delivered"
    return f"the old key stays active for {overlap} after its successor is created, then is deleted"


def retiring(address: str, successor: LiveKey, until: int) -> str:
    return (
        f"retired: {address} was rotated to {successor.proxy_key.display}, and its overlap ended at "
        f"{iso(until)}; deleted once the successor is delivered"
    )


def replaced(address: str) -> str:
    return (
        f"retired with overlap 0: deleted in this apply once the successor of {address} is created "
        "and delivered"
    )


def retired_now(address: str, successor: LiveKey) -> str:
    return (
        f"retired now (ehkeys rotate --overlap 0): {address} was rotated to "
        f"{successor.proxy_key.display}; deleted once the successor is delivered"
    )
