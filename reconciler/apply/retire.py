"""A rotation in an apply: its record before its successor's create, and its predecessor's
retirement only once the successor is created and delivered.

The order keeps every step safe to cut off: the record (`State.rotating`) is journalled before
the create is sent, so a run killed there finds its successor by name and age next time (never
the predecessor); the successor is bound once the list shows it (the applier's usual create);
its sinks are owed from before the create and delivered after it, as any created key's
(`apply.deliveries`); a rotation whose successor owes no delivery is delivered
(`State.delivered`); a retirement (`Change.after`) is sent only then, in a pass after every
other change, so a predecessor is never deleted before its successor exists and reached its
sinks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from reconciler.core.changes import Action, Change, retiring_address
from reconciler.core.durations import Duration
from reconciler.core.keys import DesiredKey, LiveKey
from reconciler.core.outcomes import Outcome, Result
from reconciler.core.plan import Plan
from reconciler.planning import alone
from reconciler.planning.planner import Desired
from reconciler.state import snapshots
from reconciler.state.deliveries import unreached
from reconciler.state.store import State


def asked(wanted: Desired, now: bool, overlap: Duration | None, only: bool = False) -> Desired:
    """`ehkeys rotate`: the targeted keys rotated now (with `overlap` instead of their own);
    `only`: rotations alone, whose successors copy their live keys (no manifest edit rides along)."""
    wanted = replace(wanted, rotation_only=only)
    return replace(wanted, rotate_now=wanted.targets, overlap=overlap) if now else wanted


def only(plan: Plan, asked: frozenset[str] = frozenset()) -> Plan:
    """The plan's rotations and retirements alone (`planning.alone`: the planner made it so
    already for a Desired with rotation_only), without unmanaged keys or notes."""
    return replace(plan, changes=alone.only(plan.changes, plan.rotations, asked), unmanaged=[], notes=[])


def begin(state: State, plan: Plan, chosen: Sequence[Change]) -> None:
    """Each chosen rotation's record, journalled before anything is sent."""
    begun = {s.address: s.begins for s in plan.rotations if s.begins is not None}
    for change in chosen:
        record = begun.get(change.address)
        if change.action is Action.ROTATE and record is not None:
            state.bind(change.address, record.predecessor, journal=True)  # the key it replaces
            state.rotating(change.address, record.data())
            _first_seen(state, change.seen)


def _first_seen(state: State, old: LiveKey | None) -> None:
    """The predecessor as this rotation found it, when no apply recorded it before (a key
    rotated on its first apply): drift compares it with the account during the overlap."""
    if old is not None and old.fingerprint not in state.snapshots:
        state.remember(old.fingerprint, snapshots.taken(old))  # its own journal line, before the create


def settle(state: State, plan: Plan) -> None:
    """Rotations whose predecessor is gone from the account (a run cut off after deleting it,
    before recording it) are over: said in the journal as the delete's own line would have."""
    for status in plan.rotations:
        record = state.rotations.get(status.address)
        if status.over and record is not None:
            gone = str(record["predecessor"])
            state.vanished(retiring_address(gone), gone)


def held(chosen: Sequence[Change]) -> list[Change]:
    """The retirements: sent after every other change, once their successor is delivered."""
    return [c for c in chosen if c.after]


def abandon(state: State, results: Sequence[Result]) -> None:
    """The rotations whose create failed and made no key (the list after the wave says so): no
    successor will come of them, so their records go (the next plan rotates again if due)."""
    for result in results:
        address = result.change.address
        record = state.rotations.get(address)
        if result.change.action is not Action.ROTATE or result.outcome is not Outcome.FAILED or not record:
            continue
        if result.unseen:  # its create may have landed: the next list says
            continue
        if state.bindings.get(address) in (None, record["predecessor"]):
            state.abandoned(address)


def delivered(state: State, keys: Sequence[DesiredKey]) -> None:
    """Each rotation whose successor holds its address and whose sinks owe nothing (it has none,
    or every one took it) is delivered: its predecessor may go. A sink its key has now that the
    successor never reached (one fixed after its owed delivery was dropped) keeps it waiting."""
    sinks = {key.address: [sink.ident for sink in key.deliver] for key in keys}
    for address, record in list(state.rotations.items()):
        bound = state.bindings.get(address)
        if record.get("delivered") or bound in (None, record["predecessor"]):
            continue
        owed = state.deliveries.get(address) or unreached(state.reached, address, sinks.get(address, ()))
        if not owed:
            state.delivered(address)


def ready(state: State, late: Sequence[Change]) -> tuple[list[Change], list[Result]]:
    """The retirements whose successor is created and delivered, and the others, skipped."""
    go, skipped = [], []
    for change in late:
        why, then = _waits(state, change)
        if why:
            message = f"not deleted: {why}; the old key stays ({then})"
            skipped.append(Result(change, Outcome.SKIPPED, message))
        else:
            go.append(change)
    return go, skipped


def _waits(state: State, change: Change) -> tuple[str, str]:
    """Why the retirement waits ('' when it need not), and what lets it go ahead."""
    record = state.rotations.get(change.after)
    predecessor = change.target.fingerprint if change.target else None
    if record is None or record["predecessor"] != predecessor:
        return f"the rotation of {change.after} made no successor", "plan again"
    if state.bindings.get(change.after) in (None, predecessor):
        return f"the successor of {change.after} was not created", "plan again"
    if not record.get("delivered"):
        return (
            f"the successor of {change.after} was not delivered",
            "ehkeys deliver sends it to the key's sinks, then the next apply deletes the old key",
        )
    return "", ""
