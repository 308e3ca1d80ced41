"""A rotation alone (`ehkeys rotate`, the rotate job): the plan's rotations and retirements, and
why a key being rotated cannot be; never another change. The planner keeps only these before it
checks the account (the key cap, the policy, the budgets), so that a manifest edit left for an
apply never counts against, or refuses, a rotation."""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.core.changes import Action, Change
from reconciler.core.rotation import Status


def only(changes: Sequence[Change], statuses: Sequence[Status], asked: frozenset[str]) -> list[Change]:
    """The rotations, retirements, and errors of keys being rotated (or `asked` to be). A
    rotating key's other change is kept as its key only (nothing sent), so that its deliveries
    still owed are made."""
    rotating = {s.address for s in statuses} | asked
    kept = []
    for c in changes:
        if c.action is Action.ROTATE or c.after or (c.action is Action.ERROR and c.address in rotating):
            kept.append(c)
        elif c.address in rotating and c.target is not None:
            kept.append(Change(c.address, Action.NO_OP, c.name, c.index, target=c.target, seen=c.seen))
    return kept
