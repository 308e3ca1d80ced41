"""A run as ehkeys shows it on a terminal or in a job's log: the plan and each result on stdout
as they come, the manifest's diagnostics and warnings on stderr. The command line and the
GitOps jobs both hand it to the engine (`engine.console`); the command line adds the prompt."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TextIO

from reconciler.core.accounts import Account
from reconciler.core.changes import Action
from reconciler.core.outcomes import Report, Result
from reconciler.core.plan import Plan
from reconciler.core.plans import Plans
from reconciler.manifest import diagnostics
from reconciler.render import apply as applyrender
from reconciler.render import plans as render
from reconciler.render.summary import step_summary

if TYPE_CHECKING:
    from reconciler.apply.reviewed import Review

STOPPED = (
    "ehkeys: apply stopped part-way: writes sent before this may have reached the API "
    "(the journal lists them); run `ehkeys plan` to see where each key is"
)


class Log:
    """`manifests`, `secrets_out` and `options` (where the account is: --sandbox, --base-url,
    --state): the run's, for where a created key's value is and the command that prints it."""

    def __init__(
        self, manifests: Sequence[str] = (), secrets_out: str | None = None, options: Sequence[str] = ()
    ) -> None:
        self.manifests, self.secrets_out = tuple(manifests), secrets_out
        self.options = tuple(options)

    def diagnostics(self, found: Sequence[diagnostics.Diagnostic]) -> None:
        diagnostics.render(found, "text", sys.stderr)

    def warning(self, text: str) -> None:
        print(f"ehkeys: warning: {text}", file=sys.stderr)

    def notice(self, text: str) -> None:
        print(text, file=sys.stderr)

    def refused(self, text: str) -> None:
        print(f"ehkeys: error: {text}", file=sys.stderr)

    def planned(self, plans: Plans) -> None:
        render.text(plans, sys.stdout)

    def scoped(self, account: Account) -> Log:
        return AccountLog(self, account) if account.declared else self

    def approvable(self) -> None:
        """A log asks nobody: the caller approved by running it."""

    def approve(self) -> None:
        """A log has nobody to ask: the caller approved by running it."""

    def applying(self, recorded: str, skipped: Sequence[Result]) -> None:
        print("\n" + "\n".join(filter(None, [recorded, "Applying:"])))
        for result in skipped:
            self.landed(result)

    def landed(self, result: Result) -> None:
        print(applyrender.line(result), flush=True)

    def stopped(self) -> None:
        print(STOPPED, file=sys.stderr, flush=True)

    def nothing(self, plan: Plan, recorded: str) -> None:
        errors = plan.count(Action.ERROR) + len(plan.problems)
        print("\nNothing to apply" + (f": {errors} error(s) above." if errors else "."))
        if recorded:
            print(recorded)

    def handed_over(self, created: Sequence[str], unwritten: Sequence[str] = ()) -> None:
        said = self._handed_over(created, unwritten)
        if said:
            print("\n" + "\n".join(said))

    def _handed_over(self, created: Sequence[str], unwritten: Sequence[str]) -> list[str]:
        command = (*_paths(self.manifests), *self.options)
        said = [handed_over(created, command, self.secrets_out)] if created else []
        return said + ([handed_over(unwritten, command, None, self.secrets_out)] if unwritten else [])

    def applied(self, report: Report, review: Review | None) -> None:
        print("\n" + "\n".join(applyrender.totals(report) + (review.lines() if review else [])))

    def ended(self, line: str) -> None:
        print("\n" + line)

    def reported(self, write: Callable[[TextIO], object]) -> None:
        """The run's report in the job summary (every account's in one, each named)."""
        step_summary(write)


class AccountLog(Log):
    """One account's moments, in a run over several: every line names the account (`[prod]`),
    since the accounts apply at the same time and their lines interleave."""

    def __init__(self, log: Log, account: Account) -> None:
        super().__init__(log.manifests, log.secrets_out, log.options)
        self.name = account.name

    def said(self, lines: Sequence[str]) -> None:
        """A group of the account's lines, after a blank line, each naming the account."""
        print("\n" + "\n".join(f"[{self.name}] {line}" for line in lines if line), flush=True)

    def applying(self, recorded: str, skipped: Sequence[Result]) -> None:
        self.said([recorded, "Applying:"])
        for result in skipped:
            self.landed(result)

    def landed(self, result: Result) -> None:
        print(f"[{self.name}]" + applyrender.line(result), flush=True)

    def nothing(self, plan: Plan, recorded: str) -> None:
        errors = plan.count(Action.ERROR) + len(plan.problems)
        self.said(["Nothing to apply" + (f": {errors} error(s) above." if errors else "."), recorded])

    def handed_over(self, created: Sequence[str], unwritten: Sequence[str] = ()) -> None:
        said = self._handed_over(created, unwritten)
        if said:
            self.said(said)

    def applied(self, report: Report, review: Review | None) -> None:
        self.said(applyrender.totals(report) + (review.lines() if review else []))


def _paths(manifests: Sequence[str]) -> list[str]:
    """The manifests as a command line names them: one starting with '-' as ./-name (else reveal
    takes it for an option)."""
    return [f"./{m}" if m.startswith("-") else m for m in manifests]


def handed_over(
    created: Sequence[str], command: Sequence[str], secrets_out: str | None, missed: str | None = None
) -> str:
    """Where a created key's value is: the secrets file, else only the account (reveal, with the
    run's manifests and where its account is: `command`); `missed`: the secrets file that could
    not take them."""
    if secrets_out:
        return f"The new keys' values ({', '.join(created)}) were appended to {secrets_out} (0600)."
    where = f"{missed} could not take the new values of {', '.join(created)}: they are" if missed else ""
    return (
        where or "The new keys' values are"
    ) + f" in the account only: `{shlex.join(['ehkeys', 'reveal', *command, created[0]])}` prints one."
