"""What an apply did, per change and in all: outcomes, the report, its exit code.

An Outcome's value is its label on screen (`render.apply`), but for a change that landed, which
says what it did (`Result.said`: `deleted`, `created`); the journal has words of its own
(`state.journal.JournalResult`), so a label can change without touching a journal."""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from reconciler.core.changes import Change
from reconciler.core.errors import StateError
from reconciler.core.exitcodes import ExitCode
from reconciler.core.sinks import Delivered


class Outcome(str, enum.Enum):
    APPLIED = "applied"
    UNVERIFIED = "sent, not verified"
    FAILED = "failed"
    SKIPPED = "skipped"
    IN_SYNC = "already as planned"  # a saved plan's change that an earlier run (or a hand) made
    NOT_PLANNED = "not planned"  # its plan has an error (`!`): nothing was sent for the key

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
    unseen: bool = False  # failed, but no list could check it: what it sent may have landed

    @property
    def said(self) -> str:
        """How the result reads: a change that landed says what it did (`deleted`, `updated`,
        its action's `done`), so a deleted key never reads as changed; any other its outcome."""
        if self.outcome is Outcome.APPLIED and self.change.action.done:
            return self.change.action.done
        return self.outcome.value


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)
    balance_before: Decimal | None = None
    balance_after: Decimal | None = None
    state_error: StateError | None = None  # the snapshot could not be written (the journal was)
    deliveries: list[Delivered] = field(default_factory=list)  # the values delivered, or not, after

    @property
    def counts(self) -> Counter[Outcome]:
        return Counter(r.outcome for r in self.results)

    @property
    def complete(self) -> bool:
        """Every change is as planned (applied, or found so): none failed, was skipped, could not
        be planned or verified."""
        return all(r.outcome.done for r in self.results)

    @property
    def exit_code(self) -> ExitCode:
        """0 every key is as planned and its value delivered; 3 some failed, were skipped, could
        not be planned or verified, or a delivery failed."""
        done = self.complete and all(d.ok for d in self.deliveries)
        return ExitCode.OK if done else ExitCode.INCOMPLETE

    @property
    def moved(self) -> Decimal | None:
        """What the account's balance actually did (after - before), when both were read."""
        if self.balance_before is None or self.balance_after is None:
            return None
        return self.balance_after - self.balance_before
