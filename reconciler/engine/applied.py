"""What one account's apply did (`Applied`), also when the run stopped part-way: the results
that landed before it stopped, and the sentence its report opens with (`part_way`), saying why
(`stop_reason`: the error's own message, which names no secret) and what to do next."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.apply.reviewed import Review
from reconciler.core.changes import Action
from reconciler.core.errors import EhkeysError
from reconciler.core.exitcodes import ExitCode
from reconciler.core.outcomes import Outcome, Report, Result
from reconciler.core.plan import Plan

INTERRUPTED = "interrupted (Ctrl-C, or a signal that stops it: SIGTERM, SIGHUP, a cancelled CI job)"


@dataclass(frozen=True)
class Applied:
    """One account's apply: its plan, what happened, the review against a saved plan."""

    plan: Plan
    report: Report  # empty when there was nothing to apply
    review: Review | None  # against the saved plan, when one was applied
    exit_code: ExitCode
    stopped: str = ""  # the report's sentence: why this account was not applied (in full), or stopped


def unplanned(plan: Plan, said: Sequence[Result] = ()) -> list[Result]:
    """The plan's keys in error (`!`), as results: not planned, so nothing was sent to them; each
    says why (its plan's error). A key `said` already names is left out: a reviewed change that
    cannot be planned now is skipped, and says why; listed twice it was counted twice."""
    named = {r.change.address for r in said}
    return [
        Result(c, Outcome.NOT_PLANNED, c.error or "")
        for c in plan.changes
        if c.action is Action.ERROR and c.address not in named
    ]


def stop_reason(exc: BaseException) -> str:
    """Why a run stopped, for its report: an error's own message (said on stderr too), never a
    bug's (which could hold anything: --debug shows it)."""
    if isinstance(exc, (KeyboardInterrupt, asyncio.CancelledError)):
        return INTERRUPTED
    if isinstance(exc, EhkeysError):
        return str(exc)
    return f"internal error ({type(exc).__name__}); run again with --debug for its details"


def part_way(why: str, landed: bool, unchecked: Sequence[str] = ()) -> str:
    """The sentence a report of an account stopped part-way opens with; `landed`: some result
    is listed after it; `unchecked`: what to say of the writes it never saw through (its own, of
    an account cut off while others went on: a run's are listed after every account)."""
    said = (
        "The results below are what it knew before it stopped"
        if landed
        else "No change was seen to land before it stopped"
    )
    writes = "".join(f" {line[:1].upper()}{line[1:]}." for line in unchecked)
    return (
        f"Stopped part-way: {why.rstrip('.')}. {said}; nothing more was sent.{writes} Writes sent "
        "before may have reached the API (the journal lists them, and the next apply replays it): "
        "plan again to see where each key is, then apply what is left."
    )
