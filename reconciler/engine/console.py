"""What an engine job tells its caller while it runs. The engine says it here and returns its
values; the caller shows them (`render.console.Log` prints them as ehkeys always has)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, TextIO

from reconciler.core.accounts import Account
from reconciler.core.outcomes import Report, Result
from reconciler.core.plan import Plan
from reconciler.core.plans import Plans
from reconciler.manifest.diagnostics import Diagnostic

if TYPE_CHECKING:
    from reconciler.apply.reviewed import Review


class Console(Protocol):
    def diagnostics(self, found: Sequence[Diagnostic]) -> None:
        """The manifest's warnings and errors, before anything is asked of the API."""

    def warning(self, text: str) -> None:
        """Something the user should know that does not stop the job."""

    def notice(self, text: str) -> None:
        """What the job wrote besides its answer (import's manifest and bindings)."""


class ApplyConsole(Console, Protocol):
    """An apply's moments, in order: approvable (when there is work), planned (every account),
    approve (once), then per account (`scoped`): applying, landed per change (or stopped), then
    nothing, or handed_over and applied; last (on the run's console) reported, when any account
    sent, skipped or stopped, or the run stopped part-way once it began sending (`engine.stopreport`)."""

    def refused(self, text: str) -> None:
        """An account the run leaves out (its guards, its key): an error (the run exits 1),
        though the other accounts go on."""

    def planned(self, plans: Plans) -> None:
        """Every account's plan, before the one question."""

    def scoped(self, account: Account) -> ApplyConsole:
        """Where one account's apply says its moments (each line names the account, where
        the manifest declares accounts)."""

    def approvable(self) -> None:
        """Before the plan is shown, when there is something to apply: raise `Refused` when
        `approve` could not ask (nobody to answer), so no plan is printed only to be refused."""

    def approve(self) -> None:
        """Return to go on; raise `Refused` to stop before anything is sent."""

    def applying(self, recorded: str, skipped: Sequence[Result]) -> None: ...

    def landed(self, result: Result) -> None: ...

    def stopped(self) -> None:
        """The run failed part-way: writes sent before may have landed."""

    def nothing(self, plan: Plan, recorded: str) -> None: ...

    def handed_over(self, created: Sequence[str], unwritten: Sequence[str] = ()) -> None:
        """The manifest addresses of the keys this apply created (their values are not here);
        `unwritten`: those whose value `--secrets-out` could not take (in the account only)."""

    def applied(self, report: Report, review: Review | None) -> None: ...

    def ended(self, line: str) -> None:
        """A run over several accounts, once each is done: every account's results counted
        together, the accounts left out named (`render.apply.overall`)."""

    def reported(self, write: Callable[[TextIO], object]) -> None:
        """Once every account is done (some sent, skipped or stopped), or the run stopped
        part-way, the run's Markdown report, every account's, as `--report-out` has it: `write`
        puts it on a stream (a job summary)."""
