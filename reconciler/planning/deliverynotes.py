"""What a plan notes about deliveries: values still owed to a sink (a delivery failed or was cut
short), sinks a kept key's value never reached (added since it was delivered), a new value that
goes nowhere while its old key is deleted (`unhanded_notes`), and one that goes to a file on a
runner thrown away with its job (`throwaway_notes`). Read from the state and the plan alone: the
plan says what apply or `ehkeys deliver` will do, without the sinks' machinery.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reconciler.core.accounts import Account
from reconciler.core.changes import Action
from reconciler.core.keys import DesiredKey
from reconciler.core.plan import Plan
from reconciler.core.secrets import scrub
from reconciler.core.sinks import FileSink
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
        kept = {s.ident for s in key.deliver}
        gone = [scrub(ident) for ident in owed if ident not in kept]  # the state's words, a token hidden
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


def unhanded_notes(keys: Sequence[DesiredKey], account: Account, plan: Plan) -> list[str]:
    """A note per key without sinks that this apply rotates with overlap 0: its successor's value
    goes nowhere, and its old key, the one the application holds, is deleted in the same apply."""
    rotated = {c.address for c in plan.changes if c.action is Action.ROTATE}
    rotated &= {c.after for c in plan.changes if c.action is Action.DELETE and c.after}  # retired now
    instead = (
        "rotate with an overlap (`ehkeys rotate --overlap 7d`, or `rotate.overlap`) and hand the new "
        "value over during it"
    )
    return [
        handed_nowhere(account.address(k.address), "its old key (overlap 0)", "the account", instead)
        for k in keys
        if not k.deliver and k.address in rotated
    ]


def handed_nowhere(shown: str, old: str, where: str, instead: str) -> str:
    """A new value handed to no sink while `old`, the key the application holds, is deleted in
    the same apply; `where` the new value is then, and what to do `instead`."""
    return (
        f"{shown}: its new value is delivered nowhere (no `deliver:`), and {old} is deleted in this "
        f"apply: whatever holds the old value stops working now, and the new value is in {where} "
        "only (`ehkeys reveal` prints it). Add a `deliver:` sink (the old key is then deleted only "
        f"once the new value reached it), or {instead}"
    )


def throwaway_notes(
    keys: Sequence[DesiredKey], account: Account, plan: Plan, moved_in: Mapping[str, str]
) -> list[str]:
    """A note per key whose new value this apply writes to a `file:` sink on a runner thrown away
    with its job (a GitOps job's): the file goes with the runner, yet counts as delivered, and a
    rotation's or a move's old key is then deleted. `moved_in`: each key the plan moves here, from
    which account."""
    made = {c.address: c.action for c in plan.changes if c.action in (Action.CREATE, Action.ROTATE)}
    notes = []
    for key in (k for k in keys if k.address in made and not k.absent):
        files = [s.describe() for s in key.deliver if isinstance(s, FileSink)]
        if not files:
            continue
        then = _then(made[key.address], moved_in.get(key.address))
        notes.append(
            f"{account.address(key.address)}: its new value goes to {', '.join(files)} on the runner "
            "of the job that applies this plan, whose disk is thrown away when the job ends: the file "
            f"lasts only until then, yet counts as delivered{then}; a later step of the job must carry "
            "it somewhere lasting, else deliver through github_secret, vault or a command"
        )
    return notes


def _then(action: Action, source: str | None) -> str:
    """What a delivery counted as made lets go of: a rotation's or a move's old key."""
    if action is Action.ROTATE:
        return ", so the old key is deleted after its overlap with the application never given the new value"
    if source:
        return f", so the old key in account {source} is deleted in this apply"
    return ""
