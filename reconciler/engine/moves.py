"""Keys the manifest moved between accounts: an id that the state of one account binds, that
this account's keys no longer hold, and that exactly one other account's keys now hold (and its
state does not bind yet). It is planned as a delete there and a create here (`planner`).

A move goes ahead whole or not at all (`hold`): when one side cannot (its account is refused or
cannot be read, or its own change is an error: a protected key, a create over the key cap),
the other side waits too. Else a key moved into a full account would be deleted and never
created (lost), or a protected key created anew while the old one stays (two allocations).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reconciler.core.changes import Action, Change
from reconciler.core.plan import Plan
from reconciler.core.plans import Move
from reconciler.engine.workspace import Opened
from reconciler.planning import keyplan


def find(opened: Sequence[Opened]) -> tuple[Move, ...]:
    """Every move among the run's accounts (an account outside the run takes part in none)."""
    held = {o.account.name: {k.address for k in o.keys} for o in opened}
    found: list[Move] = []
    for source in opened:
        for address in sorted(source.state.bindings.keys() - held[source.account.name]):
            targets = [
                o.account.name
                for o in opened
                if o is not source and address in held[o.account.name] and address not in o.state.bindings
            ]
            if len(targets) == 1:
                found.append(Move(address, source.account.name, targets[0]))
    return tuple(found)


def hold(plans: Sequence[Plan], found: Sequence[Move], refused: Mapping[str, str] | None = None) -> set[str]:
    """Each move whose one side cannot go ahead has its other side made an error (in place).
    `refused`: why an account is left out of an apply as a whole (an account of the run with no
    plan is one). Returns the names of the accounts whose plan changed."""
    by_name = {p.account.name: p for p in plans}
    refused = refused or {}
    changed: set[str] = set()
    for move in found:
        source, target = by_name.get(move.source), by_name.get(move.target)
        gone, made = _change(source, move.address), _change(target, move.address)
        not_gone = _blocked(source, gone, refused.get(move.source, ""))
        not_made = _blocked(target, made, refused.get(move.target, ""))
        if not_made and _waits(source, gone, Action.DELETE, refused.get(move.source, "")):
            why = (
                f"moves to account {move.target}, where it cannot be created now ({not_made}): it is "
                f"not deleted here until it can be created there, so the key is never lost"
            )
            _replace(source, gone, why)
            changed.add(move.source)
        if not_gone and _waits(target, made, Action.CREATE, refused.get(move.target, "")):
            why = (
                f"moves from account {move.source}, where it cannot be deleted now ({not_gone}): it "
                f"is not created here until it can be deleted there, so it never holds two allocations"
            )
            _replace(target, made, why)
            changed.add(move.target)
    return changed


def _change(plan: Plan | None, address: str) -> Change | None:
    return next((c for c in plan.changes if c.address == address), None) if plan else None


def _blocked(plan: Plan | None, change: Change | None, refused: str) -> str:
    """Why this side of a move cannot go ahead, or ''."""
    if refused:
        return refused
    if plan is None:
        return "its account was not read"
    if plan.problems:
        return plan.problems[0]
    if change is not None and change.action is Action.ERROR:
        return change.error or "it cannot be planned"
    return ""


def _waits(plan: Plan | None, change: Change | None, action: Action, refused: str) -> bool:
    """This side is planned to go ahead (an account that sends nothing is left as it shows)."""
    ready = plan is not None and not refused and not plan.problems
    return ready and change is not None and change.action is action


def _replace(plan: Plan | None, change: Change | None, why: str) -> None:
    assert plan is not None and change is not None
    plan.changes = [keyplan.held(c, why) if c is change else c for c in plan.changes]
