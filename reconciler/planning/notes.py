"""What the plan says of a key it leaves alone or cannot plan: removed from the manifest, kept
for a namesake, listed twice by the API, or an account a prune over no keys would empty."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from reconciler.core.changes import Action, Change
from reconciler.core.keys import LiveKey


def namesake(bound: Change, prune: bool) -> str:
    """A key the state does not know, named as a key the plan binds: most likely a successor that
    a rotation run with another copy of the state made (`ehkeys rotate` by hand while CI keeps
    the state on its branch), already handed to the application. Never pruned on that guess."""
    told = (
        f"named as {bound.address!r}, which this plan binds to {bound.key}: if it is a successor "
        "rotated with another copy of the state, plan with that copy (CI's is on its state branch), "
        f"or delete {bound.key} by hand once the application uses this key (it is then adopted by name)"
    )
    return f"not pruned: {told}" if prune else told


def removed(address: str | None, elsewhere: str | None = None, protected: bool = False) -> str:
    """`elsewhere`: the other account of the manifest whose keys now hold this id; `protected`:
    the state remembers the key protected (made absent at once, it is refused)."""
    if address is None:
        return ""
    if elsewhere is not None:
        return (
            f"removed from this account (it was {address!r}), which the manifest now has in account "
            f"{elsewhere}: ehkeys leaves it alone. If it moved there, delete it here: put it back in "
            "this account with absent: true"
        )
    delete = (
        "it was protected when last applied: to delete it, put it back without protect and apply that, "
        "then give it absent: true"
        if protected
        else "to delete it, put it back with absent: true"
    )
    return (
        f"removed from the manifest (it was {address!r}): ehkeys leaves it alone. If you renamed its "
        f"id, give the renamed key `id: {scalar(address)}` and it stays this key; {delete}"
    )


def empty_prune(changes: Sequence[Change], elsewhere: Mapping[str, str]) -> str:
    """Why a prune over no manifest keys is refused; `elsewhere`: the manifest's ids in other
    accounts (the keys moving out are deleted here by their move, which needs no prune)."""
    said = "prune: true over a manifest with no keys would delete every key of the account: refused"
    moved = sorted(c.address for c in changes if c.action is Action.DELETE and c.address in elsewhere)
    if not moved:
        return said
    named = ", ".join(moved[:3]) + (f" and {len(moved) - 3} more" if len(moved) > 3 else "")
    return (
        f"{said}. Its last keys move to another account ({named}), which needs no prune: apply "
        "once with prune: false, then turn it back on"
    )


def listed_twice(live: LiveKey) -> str:
    return (
        f"the account's key list (GET /auth/proxy) gives this key ({live.proxy_key.display}) more than "
        "once, and the entries may disagree: nothing is planned for it until the list gives it once"
    )


def scalar(text: str) -> str:
    """An id as YAML reads it back: plain when it is plain, else quoted."""
    return text if re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9 ._-]*[A-Za-z0-9._-])?", text) else json.dumps(text)
