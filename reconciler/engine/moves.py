"""Keys the manifest moved between accounts: an id that the state of one account binds, that
this account's keys no longer hold, and that exactly one other account's keys now hold (and its
state does not bind yet). It is planned as a delete there and a create here (`planner`)."""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.core.plans import Move
from reconciler.engine.workspace import Opened


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
