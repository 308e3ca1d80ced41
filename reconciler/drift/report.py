"""What `ehkeys drift` found, in groups: a pure function of the plan, the state, the live keys.

1. **changed outside ehkeys** since the last apply: the live key against the snapshot the
   last verified write recorded (`snapshots.py`), field by field, computed with DeepDiff;
   a key the state binds, with a snapshot, that is gone from the account was deleted outside.
2. **manifest not applied yet**: the plan changes a key whose live state did not move since
   its snapshot (or that has none), or creates one.
3. **unmanaged keys**, those the last drift run did not see called out as new. A key another
   manifest root's state binds (or may: `planning.pruning`) is listed apart, as that root's
   (`elsewhere`): not drift here, as Argo CD shows a resource another app tracks.
4. **never applied**: only write-only values (limit_type) no apply ever recorded.
5. **health warnings** (`health.py`), which never make drift fail.

Values only: the headline, the digest of the findings and every line are `render.drift`'s.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from deepdiff import DeepDiff

from reconciler.core.changes import Action, Change, FieldChange, is_unmanaged
from reconciler.core.jsonvalue import to_json_value
from reconciler.core.keys import WRITE_ONLY, LiveKey
from reconciler.core.money import money_text
from reconciler.core.plan import Plan
from reconciler.drift.groups import GroupDrift, rolled_up
from reconciler.drift.health import Health, Options, health
from reconciler.state import snapshots

__all__ = [
    "DriftReport",
    "ElsewhereKey",
    "FieldDrift",
    "GroupDrift",
    "Health",
    "NextApply",
    "Options",
    "Past",
    "report",
]


@dataclass(frozen=True)
class Past:
    """What earlier runs left: the state's bindings and snapshots, the unmanaged keys the
    last drift run saw (fingerprint -> when first seen), and the deliveries still owed
    (address -> the sinks, described: `health.owed_sinks`)."""

    bindings: Mapping[str, str] = field(default_factory=dict)
    snapshots: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    seen: Mapping[str, str] = field(default_factory=dict)
    owed: Mapping[str, Sequence[str]] = field(default_factory=dict)
    retiring: Mapping[str, str] = field(default_factory=dict)  # address -> its rotation's old key, live


class NextApply(enum.Enum):
    """What the next apply does to a field that moved outside ehkeys."""

    REVERTS = enum.auto()  # sets it back to the snapshot's value
    SETS = enum.auto()  # sets another value, the manifest's (`FieldDrift.sets`)
    MATCHES = enum.auto()  # nothing: it now matches the manifest
    UNMANAGED = enum.auto()  # nothing: the manifest leaves it unmanaged
    RETIRES = enum.auto()  # nothing: a rotated key's old one, deleted once its overlap ends


@dataclass(frozen=True)
class FieldDrift(FieldChange):
    """One field that moved since the snapshot, before and after as snapshots hold them
    (JSON: money as text, whitelists as sorted lists), and what the next apply does to it."""

    next_apply: NextApply = NextApply.UNMANAGED
    sets: Any = None  # with NextApply.SETS: the value it sets, as a snapshot holds it


@dataclass(frozen=True)
class ChangedOutside:
    address: str
    name: str
    key: str  # redacted
    recorded_at: str
    fields: tuple[FieldDrift, ...] = ()
    deleted: str = ""  # deleted outside ehkeys: what the next apply does about it
    also: tuple[FieldChange, ...] = ()  # what the next apply changes besides (the manifest moved)


@dataclass(frozen=True)
class NotApplied:
    change: Change
    no_snapshot: bool  # no verified apply recorded for this key


@dataclass(frozen=True)
class UnmanagedKey:
    live: LiveKey
    new: bool  # the last drift run did not see it
    first_seen: str
    note: str = ""

    @property
    def fingerprint(self) -> str:
        return self.live.fingerprint


@dataclass(frozen=True)
class ElsewhereKey:
    """A live key another manifest root manages (or may): its drift is that root's."""

    live: LiveKey
    managed_by: str  # the root, as a reviewer knows it (keys/search)
    note: str  # the plan's: managed by keys/search (its state binds it: …)

    @property
    def fingerprint(self) -> str:
        return self.live.fingerprint


@dataclass(frozen=True)
class DriftReport:
    changed_outside: tuple[ChangedOutside, ...] = ()
    not_applied: tuple[NotApplied, ...] = ()
    unmanaged: tuple[UnmanagedKey, ...] = ()
    never_applied: tuple[Change, ...] = ()
    health: tuple[Health, ...] = ()
    errors: tuple[str, ...] = ()  # keys that could not be planned, and plan-wide problems
    by_group: tuple[GroupDrift, ...] = ()  # the findings per group (`groups:`), in the manifest's order
    elsewhere: tuple[ElsewhereKey, ...] = ()  # another manifest root's keys: never drift here
    others_unread: str = ""  # why it cannot be told whether the unmanaged keys are another root's

    @property
    def drifted(self) -> bool:
        return bool(self.changed_outside or self.not_applied or self.unmanaged or self.never_applied)


def report(
    plan: Plan,
    live: Sequence[LiveKey],
    past: Past,
    managed: Mapping[str, frozenset[str]],
    options: Options,
    groups: Mapping[str, str] | None = None,
) -> DriftReport:
    """`managed`: per manifest address, the fields its manifest key sets (is_active included);
    `groups`: per manifest address, its key's group (for the roll-up per group)."""
    by_fp = {k.fingerprint: k for k in live}
    outside, not_applied, never = [], [], []
    for change in plan.changes:
        if is_unmanaged(change.address):
            continue  # pruned: an unmanaged key (group 3)
        if change.after:
            continue  # a retirement: the schedule's, said by the health warnings
        moved = _moved(change, by_fp, past, managed.get(change.address, frozenset()))
        if moved is not None:  # a key due to rotate may have been changed by hand too
            outside.append(moved)
        elif change.action is Action.ROTATE and not change.fields:
            continue  # a rotation due and nothing else: the health warnings say it
        elif change.action.changes_something and never_applied(change):
            never.append(change)
        elif change.action.changes_something:
            fp = change.target.fingerprint if change.target else ""
            no_snapshot = change.action is not Action.CREATE and fp not in past.snapshots
            not_applied.append(NotApplied(change, no_snapshot))
    outside += _retiring_moved(by_fp, past)
    found = DriftReport(
        tuple(outside),
        tuple(not_applied),
        tuple(_unmanaged(plan, by_fp, past.seen, options.now_iso)),
        tuple(never),
        health(plan, by_fp, options, past.owed),
        _errors(plan),
    )
    elsewhere = tuple(_elsewhere(plan))
    rolled = rolled_up(found, plan, groups or {})
    return replace(found, by_group=rolled, elsewhere=elsewhere, others_unread=plan.others_unread)


def never_applied(change: Change) -> bool:
    """Only write-only fields differ, and none was ever recorded (shown as unknown)."""
    return bool(change.fields) and all(f.field in WRITE_ONLY and f.before is None for f in change.fields)


def _moved(
    change: Change, live: Mapping[str, LiveKey], past: Past, managed: frozenset[str]
) -> ChangedOutside | None:
    """The key's changes since its snapshot, its deletion outside ehkeys, or None."""
    key = live.get(change.target.fingerprint) if change.target else None
    if key is None:
        return _deleted(change, live, past)
    snapshot = past.snapshots.get(key.fingerprint)
    if snapshot is None:
        return None
    fields = differences(snapshot, snapshots.values(key))
    if not fields:
        return None
    drifted = tuple(FieldDrift(f, b, a, *_next_apply(change, f, b, managed)) for f, b, a in fields)
    also = tuple(fc for fc in change.fields if fc.field not in {f for f, _, _ in fields})
    at = str(snapshot.get(snapshots.RECORDED_AT, ""))
    return ChangedOutside(change.address, change.name, change.key, at, drifted, also=also)


def _retiring_moved(live: Mapping[str, LiveKey], past: Past) -> list[ChangedOutside]:
    """The old keys of rotations under way changed by hand during their overlap (still live, often
    the key that leaked): under their key's address, as the plan shows them."""
    found = []
    for address, fingerprint in past.retiring.items():
        key, snapshot = live.get(fingerprint), past.snapshots.get(fingerprint)
        fields = differences(snapshot, snapshots.values(key)) if key and snapshot else []
        if key and snapshot and fields:
            drifted = tuple(FieldDrift(f, b, a, NextApply.RETIRES) for f, b, a in fields)
            at = str(snapshot.get(snapshots.RECORDED_AT, ""))
            found.append(ChangedOutside(address, key.name, key.proxy_key.display, at, drifted))
    return found


def _deleted(change: Change, live: Mapping[str, LiveKey], past: Past) -> ChangedOutside | None:
    fingerprint = change.target.fingerprint if change.target else past.bindings.get(change.address)
    if fingerprint is None or fingerprint in live or change.action is Action.NO_OP:
        return None
    snapshot = past.snapshots.get(fingerprint)
    if snapshot is None:
        return None
    if change.action is Action.CREATE:
        then = "creates it again (a new key, with a new value to hand over)"
    else:
        then = (
            "nothing until the manifest says what to do (see the errors)"
            if change.error
            else change.action.label
        )
    at = str(snapshot.get(snapshots.RECORDED_AT, ""))
    key = "(deleted)"
    return ChangedOutside(change.address, change.name, key, at, deleted=then)


def differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """(field, before, after) for each field that differs, in display order; whitelists are
    compared as sets; the fields that move by themselves are never compared."""
    old, new = snapshots.without_time(before), snapshots.without_time(after)
    moving = [f"root['{name}']" for name in snapshots.MOVING]
    diff = DeepDiff(old, new, ignore_order=True, exclude_paths=moving)
    order = {name: i for i, name in enumerate(snapshots.SNAPSHOTTED)}
    changed = sorted(diff.affected_root_keys, key=lambda f: (order.get(str(f), len(order)), str(f)))
    return [(str(f), old.get(str(f)), new.get(str(f))) for f in changed]


def _next_apply(change: Change, name: str, before: Any, managed: frozenset[str]) -> tuple[NextApply, Any]:
    planned = next((fc for fc in change.fields if fc.field == name), None)
    if planned is not None:
        after = to_json_value(planned.after, money_text)  # as snapshots hold it
        return (NextApply.REVERTS, None) if after == before else (NextApply.SETS, after)
    return (NextApply.MATCHES if name in managed else NextApply.UNMANAGED), None


def _unmanaged(
    plan: Plan, live: Mapping[str, LiveKey], seen: Mapping[str, str], now: str
) -> list[UnmanagedKey]:
    keys = plan.unmanaged_here
    for change in plan.changes:
        pruned = is_unmanaged(change.address) and change.action is Action.DELETE
        key = live.get(change.target.fingerprint) if change.target else None
        if pruned and key is not None:
            keys.append((key, f"prune: the next apply deletes it ({change.reason})"))
    return [
        UnmanagedKey(key, key.fingerprint not in seen, seen.get(key.fingerprint, now), note)
        for key, note in keys
    ]


def _elsewhere(plan: Plan) -> list[ElsewhereKey]:
    found = [(u, u.live) for u in plan.unmanaged if u.managed_by]
    return [ElsewhereKey(live, u.managed_by, u.note) for u, live in found if isinstance(live, LiveKey)]


def _errors(plan: Plan) -> tuple[str, ...]:
    keys = [f"{c.address}: {c.error}" for c in plan.changes if c.action is Action.ERROR]
    return tuple(keys + list(plan.problems))
