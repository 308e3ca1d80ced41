"""Whether the live keys no manifest key holds may be pruned now, and which of them another
manifest root holds.

With `prune: true` a manifest deletes the live keys of its account that none of its keys binds.
Another manifest root on the same account (`keys/search/` beside `keys/payments/`, a matrix job
each) binds its own keys in its own state: those are never pruned here, as Argo CD prunes only
what its application tracks and Terraform deletes only what its state holds. They show as
unmanaged, saying whose they are. The other roots' states (`OtherStates`: the checkout's on the
command line, the state branch's in the GitOps jobs) are read only when a key would be pruned,
once a run; one that cannot be read prunes nothing (closed, never open), and says why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from reconciler.core.changes import Action
from reconciler.core.keys import LiveKey
from reconciler.core.plan import Plan


@dataclass(frozen=True)
class Others:
    """What the other manifest roots' states hold: fingerprint -> whose it is (`keys/search (its
    state binds it: …)`); `unknown`: which state could not be read, and why ('' when all were)."""

    owners: Mapping[str, str] = field(default_factory=dict)
    unknown: str = ""


NOBODY = Others()


class OtherStates(Protocol):
    """Where the other manifest roots' states are; read once, when a plan first asks."""

    def read(self) -> Others: ...


def nobody() -> Others:
    """No other root holds anything (a plan that was not given where their states are)."""
    return NOBODY


def managed_elsewhere(owner: str) -> str:
    return f"not pruned: managed by {owner}"


def why_not_prune(plan: Plan, keys: Sequence[LiveKey], bound: bool, others: Others) -> str:
    """Why these keys must not be pruned now ('' when they may be); `bound`: the state records a
    binding. A lost state is a problem; another root's state unread, a note on the whole plan."""
    creates = [c.name for c in plan.changes if c.action is Action.CREATE]
    if keys and creates and not bound:
        plan.problems.append(prune_without_state(creates, keys))
        return "the state records no binding (see the error)"
    if plan.has_errors:
        return "the plan has errors (a key may be one of these)"
    if keys and others.unknown:
        plan.notes.append(unread(others.unknown))
        return "another manifest root's state cannot be read (the plan's warning says which, and why)"
    return ""


def unread(why: str) -> str:
    return (
        f"nothing is pruned: another manifest root's state cannot be read ({why}), and it may bind "
        "any of the keys this plan would prune. Repair it for that root; if it is moved aside "
        "instead, apply that root before this one: until its state binds its keys again, a prune "
        "here deletes them"
    )


def prune_without_state(creates: Sequence[str], keys: Sequence[LiveKey]) -> str:
    made = ", ".join(repr(name) for name in creates[:5]) + (" …" if len(creates) > 5 else "")
    gone = ", ".join(f"{k.name!r} ({k.proxy_key.display})" for k in keys[:5]) + (
        " …" if len(keys) > 5 else ""
    )
    return (
        f"prune: true, but the state records no binding (a first apply, or a lost .ehkeys/), and the "
        f"plan would create {made} while deleting {gone}: a manifest key renamed outside ehkeys "
        "would be deleted and created anew. Refused. If one of those is a manifest key, give that "
        "key its proxy_key or its live name; else apply once with prune: false (it records which "
        "live key each manifest key is), then set prune: true again"
    )
