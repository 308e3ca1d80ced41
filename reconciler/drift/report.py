"""What `ehkeys drift` found, in groups: a pure function of the plan, the state, the live keys.

1. **changed outside ehkeys** since the last apply: the live key against the snapshot the
   last verified write recorded (`snapshots.py`), field by field, computed with DeepDiff;
   a key the state binds, with a snapshot, that is gone from the account was deleted outside.
2. **manifest not applied yet**: the plan changes a key whose live state did not move since
   its snapshot (or that has none), or creates one.
3. **unmanaged keys**, those the last drift run did not see called out as new.
4. **never applied**: only write-only values (limit_type) no apply ever recorded.
5. **health warnings** (`drifthealth.py`), which never make drift fail.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from deepdiff import DeepDiff

from reconciler.core.changes import Action, Change, FieldChange, is_unmanaged
from reconciler.core.jsonvalue import to_json_value
from reconciler.core.keys import WRITE_ONLY, LiveKey
from reconciler.core.money import money_text
from reconciler.core.plan import Plan
from reconciler.drift.health import Health, Options, health
from reconciler.render.view import show
from reconciler.state import snapshots

__all__ = ["DriftReport", "Health", "Options", "Past", "report"]


@dataclass(frozen=True)
class Past:
    """What earlier runs left: the state's bindings and snapshots, and the unmanaged keys the
    last drift run saw (fingerprint -> when first seen)."""

    bindings: Mapping[str, str] = field(default_factory=dict)
    snapshots: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    seen: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FieldDrift:
    """One field that moved since the snapshot (JSON values, as snapshots hold them)."""

    field: str
    before: Any
    after: Any
    next_apply: str  # what the next apply does to it

    @property
    def added(self) -> list[str]:
        return _members(self.after, self.before)

    @property
    def removed(self) -> list[str]:
        return _members(self.before, self.after)

    @property
    def text(self) -> str:
        if isinstance(self.before, list) and isinstance(self.after, list):
            return f"{self.field}: " + ", ".join(
                [f"+{m}" for m in self.added] + [f"-{m}" for m in self.removed]
            )
        return f"{self.field}: {_shown(self.field, self.before)} -> {_shown(self.field, self.after)}"


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
class DriftReport:
    changed_outside: tuple[ChangedOutside, ...] = ()
    not_applied: tuple[NotApplied, ...] = ()
    unmanaged: tuple[UnmanagedKey, ...] = ()
    never_applied: tuple[Change, ...] = ()
    health: tuple[Health, ...] = ()
    errors: tuple[str, ...] = ()  # keys that could not be planned, and plan-wide problems

    @property
    def drifted(self) -> bool:
        return bool(self.changed_outside or self.not_applied or self.unmanaged or self.never_applied)

    @property
    def headline(self) -> str:
        if not self.drifted and not self.errors:
            warned = f" ({len(self.health)} health warning(s))" if self.health else ""
            return f"In sync: the account's keys match the manifest{warned}."
        parts = _headline_parts(self)
        if self.errors:
            parts.append(f"{len(self.errors)} error(s): what cannot be planned cannot be checked")
        return ("Drift: " if self.drifted else "Not checked: ") + "; ".join(parts) + "."

    def findings(self) -> dict[str, Any]:
        """The stable findings: which keys are in which group, the field changes, the warning
        kinds per key; never a volatile number (usage, balance, times)."""
        return {
            "changed_outside": [
                [c.address, c.deleted, [[f.field, f.before, f.after, f.next_apply] for f in c.fields]]
                for c in self.changed_outside
            ],
            "not_applied": [
                [n.change.address, n.change.action.label, _fields(n.change)] for n in self.not_applied
            ],
            "unmanaged": sorted(u.fingerprint for u in self.unmanaged),
            "never_applied": [c.address for c in self.never_applied],
            "health": sorted([h.kind, h.subject] for h in self.health),
            "errors": list(self.errors),
        }

    @property
    def digest(self) -> str:
        """sha256 of the stable findings: equal when nothing a reader cares about changed."""
        text = json.dumps(self.findings(), sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


def _headline_parts(found: DriftReport) -> list[str]:
    parts = []
    if found.changed_outside:
        names = sorted({f.field for c in found.changed_outside for f in c.fields})
        deleted = sum(bool(c.deleted) for c in found.changed_outside)
        what = ", ".join(names + ([f"{deleted} deleted"] if deleted else []))
        parts.append(f"{len(found.changed_outside)} key(s) changed outside ehkeys ({what})")
    if found.not_applied:
        parts.append(f"{len(found.not_applied)} manifest change(s) not applied yet")
    if found.unmanaged:
        new = sum(u.new for u in found.unmanaged)
        parts.append(f"{len(found.unmanaged)} unmanaged key(s) in the account ({new} new)")
    if found.never_applied:
        parts.append(f"{len(found.never_applied)} key(s) with write-only values never applied (limit_type)")
    return parts


def report(
    plan: Plan,
    live: Sequence[LiveKey],
    past: Past,
    managed: Mapping[str, frozenset[str]],
    options: Options,
) -> DriftReport:
    """`managed`: per manifest address, the fields its manifest key sets (is_active included)."""
    by_fp = {k.fingerprint: k for k in live}
    outside, not_applied, never = [], [], []
    for change in plan.changes:
        if is_unmanaged(change.address):
            continue  # pruned: an unmanaged key (group 3)
        moved = _moved(change, by_fp, past, managed.get(change.address, frozenset()))
        if moved is not None:
            outside.append(moved)
        elif change.action.changes_something and never_applied(change):
            never.append(change)
        elif change.action.changes_something:
            fp = change.target.fingerprint if change.target else ""
            no_snapshot = change.action is not Action.CREATE and fp not in past.snapshots
            not_applied.append(NotApplied(change, no_snapshot))
    return DriftReport(
        tuple(outside),
        tuple(not_applied),
        tuple(_unmanaged(plan, by_fp, past.seen, options.now_iso)),
        tuple(never),
        health(plan, by_fp, options),
        _errors(plan),
    )


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
    drifted = tuple(FieldDrift(f, b, a, _next_apply(change, f, b, managed)) for f, b, a in fields)
    also = tuple(fc for fc in change.fields if fc.field not in {f for f, _, _ in fields})
    at = str(snapshot.get(snapshots.RECORDED_AT, ""))
    return ChangedOutside(change.address, change.name, change.key, at, drifted, also=also)


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


def _next_apply(change: Change, name: str, before: Any, managed: frozenset[str]) -> str:
    planned = next((fc for fc in change.fields if fc.field == name), None)
    if planned is not None:
        after = _as_snapshot(planned.after)
        return "reverts it" if after == before else f"sets {_shown(name, after)}"
    if name in managed:
        return "nothing: it now matches the manifest"
    return "nothing: the manifest leaves it unmanaged"


def _unmanaged(
    plan: Plan, live: Mapping[str, LiveKey], seen: Mapping[str, str], now: str
) -> list[UnmanagedKey]:
    keys = [(u.live, u.note) for u in plan.unmanaged]
    for change in plan.changes:
        pruned = is_unmanaged(change.address) and change.action is Action.DELETE
        key = live.get(change.target.fingerprint) if change.target else None
        if pruned and key is not None:
            keys.append((key, f"prune: the next apply deletes it ({change.reason})"))
    return [
        UnmanagedKey(key, key.fingerprint not in seen, seen.get(key.fingerprint, now), note)
        for key, note in keys
    ]


def _errors(plan: Plan) -> tuple[str, ...]:
    keys = [f"{c.address}: {c.error}" for c in plan.changes if c.action is Action.ERROR]
    return tuple(keys + list(plan.problems))


def _fields(change: Change) -> list[list[str]]:
    return [[f.field, show(f.field, f.before), show(f.field, f.after)] for f in change.fields]


def _as_snapshot(value: Any) -> Any:
    """A planned (model) value as snapshots hold it."""
    return to_json_value(value, money_text)


def _shown(name: str, value: Any) -> str:
    if name == "created_at" and isinstance(value, int):
        return show("expires_at", value)
    return show(name, value)


def _members(these: Any, less: Any) -> list[str]:
    if not isinstance(these, list):
        return []
    gone = set(less) if isinstance(less, list) else set()
    return [str(m) for m in these if m not in gone]
