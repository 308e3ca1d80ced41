"""What `ehkeys drift` found, in classes: keys that differ, values never applied, unmanaged keys."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.changes import Action, Change
from reconciler.model import WRITE_ONLY
from reconciler.plan import Plan


@dataclass(frozen=True)
class DriftReport:
    differ: list[Change]  # the account and the manifest disagree on something visible
    never_applied: list[Change]  # only write-only values no apply ever recorded
    unmanaged: int
    errors: int = 0  # keys (or plan-wide problems) that could not be planned

    @property
    def drifted(self) -> bool:
        return bool(self.differ or self.never_applied or self.unmanaged)

    @property
    def headline(self) -> str:
        if not self.drifted and not self.errors:
            return "In sync: the account's keys match the manifest."
        parts = [_differ(kind, changes) for kind, changes in _by_action(self.differ)]
        if self.never_applied:
            parts.append(
                f"{len(self.never_applied)} key(s) with write-only values never applied (limit_type)"
            )
        if self.unmanaged:
            parts.append(f"{self.unmanaged} unmanaged key(s) in the account")
        if self.errors:
            parts.append(f"{self.errors} error(s): what cannot be planned cannot be checked")
        return ("Drift: " if self.drifted else "Not checked: ") + "; ".join(parts) + "."


def _by_action(changes: list[Change]) -> list[tuple[Action, list[Change]]]:
    order = [Action.CREATE, Action.UPDATE, Action.ENABLE, Action.DISABLE, Action.DELETE]
    return [(a, [c for c in changes if c.action is a]) for a in order if any(c.action is a for c in changes)]


def _differ(action: Action, changes: list[Change]) -> str:
    n = len(changes)
    if action is Action.CREATE:
        return f"{n} key(s) missing from the account (to create)"
    if action is Action.DELETE:
        return f"{n} key(s) to delete ({'; '.join(sorted({c.reason for c in changes}))})"
    fields = sorted({f.field for c in changes for f in c.fields})
    return f"{n} key(s) to {action.label} ({', '.join(fields)})"


def never_applied(change: Change) -> bool:
    """Only write-only fields differ, and none was ever recorded (shown as unknown)."""
    return bool(change.fields) and all(f.field in WRITE_ONLY and f.before is None for f in change.fields)


def report(plan: Plan) -> DriftReport:
    changing = [c for c in plan.changes if c.action.changes_something]
    quiet = [c for c in changing if c.action is Action.UPDATE and never_applied(c)]
    quiet_ids = {id(c) for c in quiet}
    errors = plan.count(Action.ERROR) + len(plan.problems)
    return DriftReport([c for c in changing if id(c) not in quiet_ids], quiet, len(plan.unmanaged), errors)
