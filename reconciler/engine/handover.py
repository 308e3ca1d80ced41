"""What a run's plans say about handing over the values they make, once every move is held
whole or not at all (`moves.hold`): the names a move leaves holding the old value, a new value
handed to no sink while the key the application holds is deleted in the same apply (a move, a
rotation with overlap 0), and a value written to a file on a runner thrown away with its job
(`Workspace.throwaway_runner`: a GitOps job's). `plan` and `apply` both add them to their plans."""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.core.plan import Plan
from reconciler.core.plans import Move
from reconciler.engine import moved_sinks
from reconciler.engine.workspace import Opened
from reconciler.planning.deliverynotes import throwaway_notes, unhanded_notes


def add_notes(
    opened: Sequence[Opened], plans: Sequence[Plan], found: Sequence[Move], throwaway: bool
) -> None:
    """Each plan's notes about its keys' values, in place (`plans`: those the run could make)."""
    said = moved_sinks.renamed_variables(opened, found)
    for account, notes in moved_sinks.unhanded(opened, plans, found).items():
        said.setdefault(account, []).extend(notes)
    by_name = {o.account.name: o for o in opened}
    for plan in plans:
        plan.notes.extend(said.get(plan.account.name, ()))
        one = by_name.get(plan.account.name)
        if one is None:
            continue
        plan.notes.extend(unhanded_notes(one.keys, one.account, plan))
        if throwaway:
            moved_in = {m.address: m.source for m in found if m.target == plan.account.name}
            plan.notes.extend(throwaway_notes(one.keys, one.account, plan, moved_in))
