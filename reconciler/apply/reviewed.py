"""Reviewed net vs charged net, after `ehkeys apply --plan FILE`.

The reviewed net is the saved plan's (what the PR comment showed); the charged net is the sum
of the credit nets of the changes that were applied; the balance moved is what `GET /user/me`
said before and after. When the first two differ, each key that makes the difference is named,
with why: skipped because its live state moved (which values, from what to what), nothing to
do any more, failed (the error), or sent but not verified.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from reconciler.core.changes import Change
from reconciler.core.money import ZERO, money
from reconciler.core.outcomes import Outcome, Report, Result
from reconciler.core.printable import printable
from reconciler.state.saved_plan import SavedPlan

UNSHOWN = "but the reviewed plan does not show it"
TRIED = (Outcome.APPLIED, Outcome.UNVERIFIED, Outcome.FAILED)  # something was, or may have been, sent


@dataclass(frozen=True)
class Difference:
    """One key whose charge is not what the reviewed plan said (or that it did not show), and why."""

    change: Change  # as reviewed; as applied for a key the reviewed plan did not show
    reviewed: Decimal
    charged: Decimal
    why: str

    def line(self) -> str:
        c = self.change
        key = "a new key" if c.new else c.key
        return (
            f"{printable(c.name)} ({key}): reviewed {money(self.reviewed, sign=True)}, "
            f"charged {money(self.charged, sign=True)}: {printable(self.why)}"
        )


@dataclass(frozen=True)
class Review:
    reviewed: Decimal
    charged: Decimal
    moved: Decimal | None  # what the balance did (None: not read)
    differences: tuple[Difference, ...]

    @property
    def as_reviewed(self) -> bool:
        return self.charged == self.reviewed and not self.differences

    @property
    def headline(self) -> str:
        charged = f"Charged net {money(self.charged, sign=True)}"
        if self.as_reviewed:
            return f"{charged}, as reviewed."
        if self.charged == self.reviewed:
            return f"{charged}, the reviewed net, but not key by key, because of:"
        gap = money(self.charged - self.reviewed, sign=True)
        return f"{charged}, not the reviewed {money(self.reviewed, sign=True)} ({gap}), because of:"

    @property
    def balance(self) -> str:
        if self.moved is None:
            return "The balance could not be read after the apply: what it moved is unknown."
        if self.moved == self.charged:
            return f"The balance moved {money(self.moved, sign=True)}, as charged."
        return (
            f"The balance moved {money(self.moved, sign=True)}, not {money(self.charged, sign=True)}: "
            "refunds are estimates (a key's usage until its deletion is kept), "
            "or the account changed meanwhile."
        )

    def lines(self) -> list[str]:
        return [self.headline, *(f"  {d.line()}" for d in self.differences), self.balance]


def compare(saved: SavedPlan, report: Report) -> Review:
    """The saved plan's net against what this apply charged, key by key: every reviewed key
    charged otherwise, and every key changed that the reviewed plan did not show, so that a
    net other than the reviewed one always names the keys that make the gap."""
    by_key = _by_key(report.results)
    differences = [d for c in saved.plan.changes if (d := _reviewed_key(c, by_key.pop(c.address, [])))]
    differences += [_unshown(results) for results in by_key.values() if _tried(results)]
    charged = sum((_charged(r) for r in report.results), ZERO)
    return Review(saved.plan.net, charged, report.moved, tuple(differences))


def _by_key(results: list[Result]) -> dict[str, list[Result]]:
    """Each key's results, in order (a skip before an error)."""
    found: dict[str, list[Result]] = {}
    for result in results:
        found.setdefault(result.change.address, []).append(result)
    return found


def _reviewed_key(change: Change, results: list[Result]) -> Difference | None:
    charged = sum((_charged(r) for r in results), ZERO)
    if charged == change.credit.net:
        return None
    return Difference(change, change.credit.net, charged, _why(results[0] if results else None))


def _unshown(results: list[Result]) -> Difference:
    charged = sum((_charged(r) for r in results), ZERO)
    return Difference(results[0].change, ZERO, charged, f"{results[0].said}, {UNSHOWN}")


def _tried(results: list[Result]) -> bool:
    """Something was (or may have been) sent for the key, or it was charged."""
    return any(_charged(r) or (r.change.action.changes_something and r.outcome in TRIED) for r in results)


def _charged(result: Result | None) -> Decimal:
    applied = result is not None and result.outcome is Outcome.APPLIED
    return result.change.credit.net if applied and result is not None else ZERO


def _why(result: Result | None) -> str:
    if result is None:
        return "not applied (not in this apply)"
    if result.outcome is Outcome.APPLIED:
        return f"{result.said} with another credit than reviewed"
    return f"{result.said}: {result.message}" if result.message else result.said
