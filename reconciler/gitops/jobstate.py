"""The state a GitOps job works on: pulled from its branch before the job, pushed back after it.

Every job that reads or records state (plan, apply, drift, rotate, deliver) runs inside
`on_branch`, so the branch's rules hold for all of them: what changed is pushed also when the
job fails (a partial apply recorded bindings), a push error never hides the job's own, a
runner's signal waits for the push's end, and a state the branch does not hold is read from the
checkout for its bindings only (`state_branch.committed`).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from reconciler.core.errors import EhkeysError, StateError
from reconciler.engine.workspace import legacy_state, state_path, state_paths
from reconciler.gitops import cancel
from reconciler.gitops.context import RunContext
from reconciler.gitops.hub import GitHub
from reconciler.gitops.settings import Job
from reconciler.gitops.state_branch import Committed, StateBranch, committed
from reconciler.state.paths import JOURNAL_FILE, STATE_FILE
from reconciler.state.store import State

KEPT = (STATE_FILE, JOURNAL_FILE)  # a state's own files: never pushed as the checkout holds them


@contextlib.contextmanager
def on_branch(
    job: Job, ctx: RunContext, hub: GitHub, push: tuple[str, ...], told: bool = False
) -> Iterator[Committed]:
    """The state pulled from its branch before the body, and what changed pushed after it,
    also when the body fails (a partial apply recorded bindings), unless what it pushes says
    that the body told someone (`told`: the drift issue) and the body failed; a push error never
    hides the body's own error. Where earlier versions kept the state (or the manifest's, before it
    declared accounts) is pulled when the new place is empty (the run then moves it, `statemigrate`).
    Yields the states read from the checkout instead, for their bindings only (`committed`): the
    body opens them so (`Committed.over`), and they are pushed only once it changed them."""
    branch, states = StateBranch(hub, ctx.workspace, job.state_branch), state_paths(job.workspace)
    legacy = legacy_state(job.workspace) if len(states) == 1 else None
    undeclared = state_path(job.workspace)  # the state from before the manifest declared accounts
    pulled = [name for state in states for name in branch.pull(state)]
    pulled = pulled or (branch.pull(undeclared) if undeclared not in states else [])
    pulled = pulled or (branch.pull(legacy) if legacy else [])
    print(f"state: {', '.join(pulled) or 'nothing yet'} from branch {branch.branch}", file=sys.stderr)
    checkout = committed(branch, states, [undeclared, *([legacy] if legacy else [])])
    failed = False
    try:
        yield checkout
    except BaseException:
        failed = True
        raise
    finally:
        try:
            with cancel.held():  # a runner's signal now waits for the push's end, never cuts it
                _push_all(branch, states, () if failed and told else push, ctx.run_id, checkout)
        except EhkeysError as exc:
            if not failed:
                raise
            print(f"ehkeys: error: {exc}", file=sys.stderr)
        if cancel.take() and not failed:
            raise KeyboardInterrupt


def _push_all(
    branch: StateBranch, states: list[Path], push: tuple[str, ...], run_id: str, checkout: Committed
) -> None:
    """Every account's state pushed, also when another's could not be (kept aside: the first
    such error is raised once all are tried); one read from the checkout only once the run
    changed it (an apply recorded something): as read, it is no verified apply's."""
    written: list[str] = []
    errors: list[EhkeysError] = []
    for state in states:
        own = tuple(n for n in push if n not in KEPT) if checkout.unchanged(state) else push
        try:
            written += _push(branch, state, own, run_id)
        except EhkeysError as exc:
            errors.append(exc)
    print(f"state: {', '.join(written) or 'nothing new'} to branch {branch.branch}", file=sys.stderr)
    for also in errors[1:]:
        print(f"ehkeys: error: {also}", file=sys.stderr)
    if errors:
        raise _unsaved(errors[0], branch.branch) from errors[0]


def _unsaved(error: EhkeysError, branch: str) -> EhkeysError:
    """A push that failed, saying what is lost and what to do (one kept aside says so itself)."""
    if isinstance(error, StateError):
        return error
    return StateError(
        f"{error}: this run's state was not written to the branch {branch}, so what it recorded is "
        "lost: the next plan binds the keys again by name, as after a lost state; run the deliver job "
        "if a key this run created was not delivered"
    )


def _push(branch: StateBranch, state: Path, push: tuple[str, ...], run_id: str) -> list[str]:
    """One account's state back to its branch, its journal folded in first (it stays small)."""
    if JOURNAL_FILE in push and (state.parent / JOURNAL_FILE).exists():
        State(state).compact()
    return branch.push(state, push, run_id) if push else []
