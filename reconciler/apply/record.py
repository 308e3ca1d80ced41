"""What an apply records besides its writes: which live key each manifest key is, and which
keys are protected.

An apply binds every key it found, also one it sends nothing to: a key adopted by name is
bound from then on, so renaming it later is an update of that key, never a second one. And
it remembers, per live key, whether the manifest protects it: a protected key dropped from
a manifest with `prune: true`, or given `absent: true` in the same change that removes its
`protect`, is refused; only an apply that still lists the key, its `protect` removed, lets a
later one delete it. Both are recorded only by an apply that goes ahead (approved, or with
nothing to send) on a plan without problems.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.core.changes import Action, is_unmanaged
from reconciler.core.keys import DesiredKey
from reconciler.core.plan import Plan
from reconciler.state.store import State


def bindings(state: State, plan: Plan) -> list[str]:
    """Bind each key the plan found in sync (by proxy_key, the state or its name); the
    addresses newly recorded. The keys the apply changes are bound once verified."""
    recorded = []
    for change in plan.changes:
        if change.action is not Action.NO_OP or change.target is None or is_unmanaged(change.address):
            continue
        if state.bind(change.address, change.target.fingerprint, journal=True):
            recorded.append(change.address)
    return recorded


def protections(state: State, plan: Plan, keys: Sequence[DesiredKey]) -> None:
    """Per planned manifest key that the state binds and that stays: protected or not. Its
    protect removed, the key it rotated from (in its overlap) is no longer protected either:
    else nothing the manifest can say would ever let that key go but its overlap's end."""
    planned = {c.address for c in plan.changes}
    for key in keys:
        fingerprint = state.bindings.get(key.address)
        if fingerprint is not None and key.address in planned and not key.absent:
            state.protect(fingerprint, key.address, key.protect)
            predecessor = state.rotations.get(key.address, {}).get("predecessor")
            if predecessor and not key.protect:
                state.protect(str(predecessor), key.address, False)


def said(addresses: Sequence[str], state: State) -> str:
    """The line that says which bindings an apply recorded ('' for none)."""
    if not addresses:
        return ""
    shown = ", ".join(addresses[:5]) + (f" and {len(addresses) - 5} more" if len(addresses) > 5 else "")
    plural = "binding" if len(addresses) == 1 else "bindings"
    return f"Bindings: recorded {len(addresses)} {plural} in {state.path} ({shown}), of keys found in sync."
