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

    @property
    def drifted(self) -> bool:
        return bool(self.differ or self.never_applied or self.unmanaged)

    @property
    def headline(self) -> str:
        if not self.drifted:
            return "In sync: the account's keys match the manifest."
        parts = []
        if self.differ:
            fields = sorted({f.field for c in self.differ for f in c.fields})
            parts.append(f"{len(self.differ)} key(s) differ from the manifest ({', '.join(fields)})")
        if self.never_applied:
            parts.append(
                f"{len(self.never_applied)} key(s) with write-only values never applied (limit_type)"
            )
        if self.unmanaged:
            parts.append(f"{self.unmanaged} unmanaged key(s) in the account")
        return "Drift: " + "; ".join(parts) + "."


def never_applied(change: Change) -> bool:
    """Only write-only fields differ, and none was ever recorded (shown as unknown)."""
    return bool(change.fields) and all(f.field in WRITE_ONLY and f.before is None for f in change.fields)


def report(plan: Plan) -> DriftReport:
    changing = [c for c in plan.changes if c.action.changes_something]
    quiet = [c for c in changing if c.action is Action.UPDATE and never_applied(c)]
    quiet_ids = {id(c) for c in quiet}
    return DriftReport([c for c in changing if id(c) not in quiet_ids], quiet, len(plan.unmanaged))
