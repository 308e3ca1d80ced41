"""What an apply did, per change and in all: outcomes, the report, its exit code."""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from reconciler.core.changes import Change
from reconciler.core.errors import StateError
from reconciler.core.exitcodes import ExitCode
from reconciler.render.view import printable


class Outcome(str, enum.Enum):
    APPLIED = "applied"
    UNVERIFIED = "sent, not verified"
    FAILED = "failed"
    SKIPPED = "skipped"
    IN_SYNC = "already as planned"  # a saved plan's change that an earlier run (or a hand) made

    @property
    def mark(self) -> str:
        marks = {"applied": "✓", "sent, not verified": "?", "failed": "✗", "skipped": "-"}
        return marks.get(self.value, "=")

    @property
    def done(self) -> bool:
        """The key is as the plan wanted it."""
        return self in (Outcome.APPLIED, Outcome.IN_SYNC)


@dataclass(frozen=True)
class Result:
    change: Change
    outcome: Outcome
    message: str = ""
    key: str = ""  # the redacted key it ended on (a created key's, once known)

    @property
    def shown_key(self) -> str:
        return self.key or (self.change.key if self.change.target else "a new key")

    def line(self) -> str:
        text = f"  {self.outcome.mark} {printable(self.change.name)} ({self.shown_key}): {self.outcome.value}"
        return text + (f": {self.message}" if self.message.strip() else "")


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)
    balance_before: Decimal | None = None
    balance_after: Decimal | None = None
    state_error: StateError | None = None  # the snapshot could not be written (the journal was)

    @property
    def counts(self) -> Counter[Outcome]:
        return Counter(r.outcome for r in self.results)

    @property
    def exit_code(self) -> ExitCode:
        """0 every key is as planned; 3 some failed, were skipped or could not be verified."""
        return ExitCode.OK if all(r.outcome.done for r in self.results) else ExitCode.INCOMPLETE

    @property
    def moved(self) -> Decimal | None:
        """What the account's balance actually did (after - before), when both were read."""
        if self.balance_before is None or self.balance_after is None:
            return None
        return self.balance_after - self.balance_before

    def totals(self) -> list[str]:
        counts = self.counts
        parts = [f"{counts[o]} {o.value}" for o in Outcome if counts[o] or o is Outcome.APPLIED]
        lines = [f"Apply complete: {', '.join(parts)}."]
        if self.moved is not None and self.balance_before is not None and self.balance_after is not None:
            lines.append(
                f"Credits moved: {self.moved:+,.2f} (balance {self.balance_before:,.2f} -> "
                f"{self.balance_after:,.2f})"
            )
        return lines
