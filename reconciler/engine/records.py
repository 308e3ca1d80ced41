"""What an apply writes to the state besides its journal: the keys found in sync, the
bindings and protections it learnt, and the journal folded in once it is done."""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.api.inventory import Inventory
from reconciler.apply import record as applyrecord
from reconciler.apply import retire
from reconciler.core.changes import Action
from reconciler.core.errors import StateError
from reconciler.core.keys import DesiredKey
from reconciler.core.plan import Plan
from reconciler.engine.console import Console
from reconciler.state import snapshots
from reconciler.state.store import State


def fold_journal(state: State, console: Console) -> None:
    """Once an apply finished, its journal folded into the state file (`State.compact`): it
    keeps only the writes whose outcome never came, so it does not grow with every apply."""
    if not state.journal_path.exists():
        return
    try:
        state.compact()
    except StateError as exc:  # nothing is lost: the journal still holds every record
        console.warning(str(exc))


def recorded(state: State, plan: Plan, keys: Sequence[DesiredKey], account: Inventory) -> str:
    """Bindings of the keys found in sync and every key's protection (`applyrecord`), and the
    rotations and moves whose old key is gone ended, saved before anything is sent; the line
    that says what was recorded ('' for nothing)."""
    bound = applyrecord.bindings(state, plan)
    applyrecord.protections(state, plan, keys)
    retire.settle(state, plan)  # rotations whose old key is gone already
    moves_over(state, account)
    state.flush()
    return applyrecord.said(bound, state)


def moves_over(state: State, account: Inventory) -> None:
    """Moves whose old key is gone from the account's list (a run cut off after its delete was
    answered, before its line; a key deleted by hand) are over: said in the journal as the
    delete's own line would have. Never from lookups, which do not see every key."""
    if not state.moves or not account.complete:
        return  # most applies: no move under way, no set of every live key made
    live = {k.fingerprint for k in account.keys}
    for address, move in [(a, m) for a, m in state.moves.items() if m["key"] not in live]:
        if state.bindings.get(address) != move["key"]:
            state.gone(move["key"])  # a record of no bound key (edited by hand): the binding stays
            continue
        state.vanished(address, move["key"])


def saved(state: State, console: Console) -> StateError | None:
    """The state once an apply is done: its journal folded into the file (`State.compact`,
    which writes the snapshot as it folds); when it cannot fold, the snapshot alone (the
    journal keeps every line: a warning), or why the snapshot cannot be written."""
    if not state.journal_path.exists():
        return flushed(state)
    try:
        state.compact()
    except StateError as exc:
        unfolded = exc
    else:
        return None
    error = flushed(state)
    if error is None:
        console.warning(str(unfolded))
    return error


def flushed(state: State) -> StateError | None:
    try:
        state.flush()
    except StateError as exc:
        return exc
    return None


def snapshot_in_sync(state: State, plan: Plan, account: Inventory) -> None:
    """Every managed key the plan leaves as it is, as this apply read it: so that drift's
    "since the last apply" covers every managed key. A snapshot that did not change is kept
    as it is (its time too): an apply with nothing to do then rewrites no state."""
    live = {k.fingerprint: k for k in account.keys}
    for change in plan.changes:
        key = live.get(change.target.fingerprint) if change.target else None
        in_sync = change.action is Action.NO_OP and key is not None
        if in_sync and key and not snapshots.unchanged(state.snapshots.get(key.fingerprint), key):
            state.remember(key.fingerprint, snapshots.taken(key))
