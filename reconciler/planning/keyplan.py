"""One key's Change: a create, a delete, or the updates and enable/disable a live key needs.

Values are compared normalised (whitelists as sets, IPs as networks, money as Decimal).
An unmanaged field keeps its live value in the update body, because the API's update
replaces every field: a whitelist left out would open the key to everything.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from reconciler.core import operations as ops
from reconciler.core.changes import ZERO_CREDIT, Action, Change, Credit, FieldChange, unmanaged_address
from reconciler.core.keys import (
    CREATE_DEFAULTS,
    UNKNOWN_WINDOW,
    UPDATABLE,
    DesiredKey,
    LiveKey,
    Location,
    sorted_networks,
)
from reconciler.planning.binding import BY_NAME, Bound
from reconciler.planning.keywarnings import creation_warnings, update_warnings

UNDECIDED = (
    "limit_type is unknown (the API never reports it): choose daily, weekly or monthly in the "
    "manifest; until then nothing is sent to this key, as any update would send a window"
)

FORGOTTEN = (
    "limit_type is unknown: the key was updated outside ehkeys since the last apply, which resets "
    "the window to daily unless the update names one, and the API never reports it; the manifest's "
    "window is sent again (no credit moves)"
)
ADOPTED = "adopted by name (the next apply records it)"
PROTECTED = "protected (protect: true), but the plan would delete it"
UNPROTECTED = (
    "protect removed: once this is applied, a later apply may delete this key (absent: true, or prune)"
)


def existing(
    index: int,
    key: DesiredKey,
    binding: Bound,
    recorded: Mapping[str, Any] | None,
    now: int,
    was_protected: bool = False,
    forgotten: bool = False,
) -> Change:
    """`was_protected`: the state remembers this key applied with `protect: true`; `forgotten`:
    it recorded write-only values that an update outside ehkeys made unknown."""
    live = binding.live
    unprotected = (UNPROTECTED,) if was_protected and not key.protect else ()
    made = _maker(index, key, binding, unprotected)
    if key.absent:
        at = f"absent: true at {key.location.file}:{key.location.line}"
        refusal = PROTECTED if key.protect else _was(was_protected, key.address)
        return _delete(made(warnings=()), live, at, refusal)
    values = live.values()  # once: the diff and the update body both read them
    fields = diff(key, live, recorded, values)
    if key.limit_type == UNKNOWN_WINDOW:  # any write would send a window: none is planned
        return _undecided(made(), key, fields)
    toggle = key.is_active is not None and key.is_active != live.is_active
    if toggle and not key.is_active and key.protect:
        return made(action=Action.ERROR, error="protected (protect: true), but the plan would disable it")
    body = update_body(target_values(key, live, values))
    warnings = _pending(recorded) + _forgotten(forgotten, fields)
    warnings += update_warnings(fields, body, live, key.is_active, now)
    to = key.is_active if toggle else None
    return _updated(made, key, live, fields, body, to, unprotected + tuple(warnings))


def _maker(index: int, key: DesiredKey, binding: Bound, warnings: tuple[str, ...]) -> Callable[..., Change]:
    """The key's Change, made once what it does is known: the keywords given then complete it
    (made once, not made and then copied with its action)."""
    live = binding.live
    return functools.partial(
        Change,
        address=key.address,
        action=Action.NO_OP,
        name=key.name,
        index=index,
        target=live.proxy_key,
        seen=live,
        reason=ADOPTED if binding.route == BY_NAME else "",
        warnings=warnings,
    )


def _updated(
    made: Callable[..., Change],
    key: DesiredKey,
    live: LiveKey,
    fields: tuple[FieldChange, ...],
    body: dict[str, Any],
    to: bool | None,
    warnings: tuple[str, ...],
) -> Change:
    """The update (when a field changes) and the toggle to `to` (when not None) of a live key."""
    credit = Credit.between(live.allocated_ammount, body["allocated_ammount"], live.used_ammount)
    return made(
        action=_action(fields, to),
        fields=fields + ((FieldChange("is_active", live.is_active, to),) if to is not None else ()),
        operations=_update_operations(fields, body, to),
        credit=credit if fields else ZERO_CREDIT,
        warnings=warnings,
        unchanged=len(key.managed) - len(fields),
    )


def _undecided(base: Change, key: DesiredKey, fields: tuple[FieldChange, ...]) -> Change:
    """Its changes shown as ever, the window as a choice to make; an error, so nothing is sent."""
    unchanged = len(key.managed) - len(fields)
    return _with(base, action=Action.ERROR, error=UNDECIDED, fields=fields, unchanged=unchanged)


def _action(fields: Sequence[FieldChange], to: bool | None) -> Action:
    if to is not None:
        return Action.ENABLE if to else Action.DISABLE
    return Action.UPDATE if fields else Action.NO_OP


def _update_operations(
    fields: Sequence[FieldChange], body: dict[str, Any], to: bool | None
) -> tuple[ops.Operation, ...]:
    """A key to stop stops first; a key to start starts once its new settings are in."""
    update = (ops.Update(body),) if fields else ()
    if to is None:
        return update
    return (*update, ops.Toggle(True)) if to else (ops.Toggle(False), *update)


def missing(index: int, key: DesiredKey, note: str, now: int) -> Change:
    """No live key is bound: a create (or, with `absent: true`, nothing to do)."""
    base = Change(key.address, Action.CREATE, key.name, index, reason=note)
    if key.absent:
        return _with(base, action=Action.NO_OP, reason="absent: true, and no such key exists")
    problem = _cannot_create(key, now)
    if problem:
        return _with(base, action=Action.ERROR, error=problem)
    body = create_body(key)
    full = {**body, "limit_type": key.limit_type}
    follow: list[ops.Operation] = []
    if key.limit_type and key.limit_type != CREATE_DEFAULTS["limit_type"]:
        follow.append(ops.Update(full))  # create takes no limit_type: set it right after
    if key.is_active is False:
        follow.append(ops.Toggle(False))
    shown = {**body, "limit_type": key.limit_type, **({"is_active": False} if key.is_active is False else {})}
    return _with(
        base,
        fields=tuple(FieldChange(name, None, value) for name, value in shown.items() if value is not None),
        operations=(ops.Create(body), *follow),
        credit=Credit.created(body["allocated_ammount"]),
        warnings=tuple(creation_warnings(key, now)),
        deliver=tuple(sink.describe() for sink in key.deliver),
    )


def _cannot_create(key: DesiredKey, now: int) -> str:
    if key.limit_type == UNKNOWN_WINDOW:
        return "not in the account, and limit_type is unknown: choose daily, weekly or monthly to create it"
    if key.allocated_ammount is None or key.allocated_ammount <= 0:
        return (
            "not in the account, and a new key needs allocated_ammount above 0 (create needs a positive one)"
        )
    if key.expires_at is not None and key.expires_at != -1 and key.expires_at <= now:
        return "not in the account, and expires_at is in the past: a new key needs a future expiry, or never"
    return ""


def pruned(
    index: int, live: LiveKey, was: str | None, protected: str | None = None, at: Location | None = None
) -> Change:
    """`protected`: the address under which the state remembers the key protected; `at`: where
    prune was turned on."""
    base = Change(unmanaged_address(live.fingerprint), Action.DELETE, live.name, index, target=live.proxy_key)
    on = f"prune: true at {at.file}:{at.line}" if at else "prune is on"
    why = f"not in the manifest; {on}" + (f" (it was {was!r})" if was else "")
    guard = _was(protected is not None, protected or "")
    return _delete(_with(base, seen=live), live, why, guard)


def moved_away(index: int, address: str, live: LiveKey, to: str, protected: bool) -> Change:
    """The key the manifest moved to account `to`: credits do not transfer between accounts, so
    it is deleted here (its unused allocation refunded) once it is there: created by this apply,
    or by an earlier one cut off before this delete."""
    base = Change(address, Action.DELETE, live.name, index, target=live.proxy_key, seen=live)
    why = f"moved to account {to}: credits do not transfer, so it is deleted here once it is there"
    return _delete(base, live, why, _was(protected, address))


def held(change: Change, why: str) -> Change:
    """One side of a move held back because its other side cannot go ahead: an error that
    sends nothing and moves no credit (`engine.moves.hold`)."""
    return _with(change, action=Action.ERROR, error=why, operations=(), credit=Credit(), fields=(), reason="")


def _was(protected: bool, address: str) -> str:
    """The error for a delete of a key the state remembers protected ('' when it does not)."""
    if not protected:
        return ""
    return (
        f"protected when last applied (as {address!r}), but the plan would delete it: a protected key "
        f"is deleted only after an apply that still lists {address!r}, its protect removed"
    )


def _delete(base: Change, live: LiveKey, why: str, refusal: str) -> Change:
    """A delete, or with a `refusal` (the key is protected) that error."""
    if refusal:
        return _with(base, action=Action.ERROR, error=refusal)
    credit = Credit.deleted(live.allocated_ammount, live.used_ammount)
    return _with(base, action=Action.DELETE, operations=(ops.Remove(),), credit=credit, reason=why)


def _with(change: Change, **fields: Any) -> Change:
    """`dataclasses.replace`, without its walk over the fields (a plan makes one per key)."""
    return Change(**{**vars(change), **fields})


def _forgotten(forgotten: bool, fields: tuple[FieldChange, ...]) -> list[str]:
    if forgotten and any(f.field == "limit_type" and f.before is None for f in fields):
        return [FORGOTTEN]
    return []


def _pending(recorded: Mapping[str, Any] | None) -> list[str]:
    if recorded and recorded.get("pending"):
        return ["an earlier apply was cut off after sending this key's update: it is sent again"]
    return []


def diff(
    want: DesiredKey, have: LiveKey, recorded: Mapping[str, Any] | None, live: Mapping[str, Any] | None = None
) -> tuple[FieldChange, ...]:
    """Changed managed fields; a write-only value never recorded is a change from unknown (None).
    `live`: `have.values()`, when the caller has them already."""
    live = have.values() if live is None else live
    changes = []
    for name in UPDATABLE:  # the managed ones, in their order
        wanted = getattr(want, name)
        if wanted is None:
            continue
        if name in live:
            current = live[name]
        elif recorded and not recorded.get("pending"):
            current = recorded.get(name)  # None when no apply recorded it
        else:
            current = None  # an earlier apply was cut off after sending: unknown, send again
        if current != wanted:
            changes.append(FieldChange(name, current, wanted))
    return tuple(changes)


def target_values(want: DesiredKey, have: LiveKey, live: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What the key will be after the update: desired where managed, live elsewhere."""
    live = have.values() if live is None else live
    return {name: live.get(name) if (value := getattr(want, name)) is None else value for name in UPDATABLE}


def update_body(target: Mapping[str, Any]) -> dict[str, Any]:
    """The complete update body (less the proxy key): every field, limit_type explicitly."""
    return {
        "name": target["name"],
        "expires_at": target["expires_at"],
        "allocated_ammount": target["allocated_ammount"],
        "limit_type": target["limit_type"],
        "model_whitelist": sorted(target["model_whitelist"]),
        "ip_whitelist": sorted_networks(target["ip_whitelist"]),
    }


def create_body(want: DesiredKey) -> dict[str, Any]:
    """Create's body: no limit_type (create takes none); an unset expiry is never."""
    return {
        "name": want.name,
        "expires_at": -1 if want.expires_at is None else want.expires_at,
        "allocated_ammount": want.allocated_ammount,
        "model_whitelist": sorted(want.model_whitelist or ()),
        "ip_whitelist": sorted_networks(want.ip_whitelist or frozenset()),
    }
