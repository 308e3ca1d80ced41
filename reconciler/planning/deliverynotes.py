"""What a plan notes about deliveries: values still owed to a sink (a delivery failed or was cut
short), and sinks a kept key's value never reached (added since it was delivered). Read from the
state alone: the plan says what apply or `ehkeys deliver` will do, without the sinks' machinery.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.core.accounts import Account
from reconciler.core.changes import Action
from reconciler.core.keys import DesiredKey
from reconciler.core.plan import Plan
from reconciler.state.store import State


def owed_notes(state: State, keys: Sequence[DesiredKey], account: Account) -> list[str]:
    """A note per key whose delivery is still owed (failed, or cut short), for the plan."""
    notes = []
    for key in (k for k in keys if not k.absent):
        owed, shown = state.deliveries.get(key.address, {}), account.address(key.address)
        named = [s.describe() for s in key.deliver if s.ident in owed]
        if named:
            notes.append(
                f"{shown}: its value is still to be delivered to {', '.join(named)} "
                "(a delivery failed or was cut short): the next apply, or `ehkeys deliver`, delivers it"
            )
        gone = [ident for ident in owed if ident not in {s.ident for s in key.deliver}]
        if gone:
            notes.append(
                f"{shown}: its value was still owed to {', '.join(gone)}, no longer in the manifest: the "
                "next apply drops that delivery, and delivers to no other sink; `ehkeys deliver` sends the "
                "value to the sinks the key has now"
            )
    return notes


KEPT = (Action.NO_OP, Action.UPDATE, Action.ENABLE, Action.DISABLE)  # the key stays: its value too


def unreached_notes(state: State, keys: Sequence[DesiredKey], account: Account, plan: Plan) -> list[str]:
    """A note per key the plan keeps with a sink its value never reached (one added since it was
    delivered, or since it was created): apply delivers only the value of a key it creates."""
    notes = []
    for key in (k for k in keys if k.deliver and not k.absent):
        change = plan.change(key.address)
        if change is None or change.action not in KEPT or change.target is None:
            continue
        known = {*state.deliveries.get(key.address, {}), *state.reached.get(key.address, [])}
        never = [s.describe() for s in key.deliver if s.ident not in known]
        if never:
            notes.append(
                f"{account.address(key.address)}: {', '.join(never)} never received this key's value: "
                "`ehkeys deliver` (or the deliver workflow) delivers it; apply delivers a value only "
                "when it creates the key"
            )
    return notes
