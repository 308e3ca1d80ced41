"""The bindings of a state no verified apply stands behind that the account contradicts.

The GitOps jobs read the state committed in the checkout when the state branch holds none (the
branch deleted, or no apply recorded one yet): kept for its bindings only (`state.unverified`).
Those may be stale: a rotation since has made a successor that holds the address, the old key
still live through its overlap, and the committed state knows only the old one. Taken as it is,
the plan would send every reviewed change to the old key, deliver the old key's value over the
successor's, and leave the successor (the key the application uses) unmanaged for good.

So a binding of such a state is doubted when another live key of the bound key's name (or the
manifest key's) is one the state does not know, is no older than the bound key, and no manifest
key pins by its proxy_key: that key may be the one. Never a guess: the caller plans nothing for
that account until the key is told (`proxy_key`), or the key it is not is deleted.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from reconciler.core.keys import DesiredKey, LiveKey


@dataclass(frozen=True)
class Doubt:
    """A binding the account contradicts: `address` bound to `bound`, `rivals` possibly it."""

    address: str
    bound: LiveKey
    rivals: tuple[LiveKey, ...]

    def said(self) -> str:
        rivals = " and ".join(k.proxy_key.display for k in self.rivals)
        are = "is a key" if len(self.rivals) == 1 else "are keys"
        return (
            f"it binds {self.address} to {self.bound.proxy_key.display}, but {rivals}, of that key's "
            f"name and no older, {are} it does not know"
        )


def doubted(
    desired: Sequence[DesiredKey],
    live: Sequence[LiveKey],
    bindings: Mapping[str, str],
    known: Collection[str],
) -> list[Doubt]:
    """Each binding of `bindings` that a live key may contradict; `known`: the fingerprints the
    state knows (bound, a rotation's predecessor, a move's key)."""
    by_fingerprint = {k.fingerprint: k for k in live}
    pinned = {k.proxy_key.fingerprint for k in desired if k.proxy_key is not None}
    named: dict[str, list[LiveKey]] = {}
    for each in live:
        named.setdefault(each.name, []).append(each)
    found: list[Doubt] = []
    for key in desired:
        bound = by_fingerprint.get(bindings.get(key.address, ""))
        if key.proxy_key is not None or bound is None:
            continue  # its proxy_key binds it (the state's word is not asked), or no live key
        candidates = [k for name in dict.fromkeys((bound.name, key.name)) for k in named.get(name, ())]
        rivals = [
            k
            for k in candidates
            if k.fingerprint not in known and k.fingerprint not in pinned and _not_older(k, bound)
        ]
        if rivals:
            found.append(Doubt(key.address, bound, tuple(rivals)))
    return found


def _not_older(key: LiveKey, than: LiveKey) -> bool:
    """`key` may have been made after `than` (created since, or either's age unknown)."""
    return key.created_at is None or than.created_at is None or key.created_at >= than.created_at


def refusal(path: object, doubts: Sequence[Doubt]) -> str:
    """Why nothing is planned (or delivered) in an account whose state `doubts` contradict."""
    shown = "; ".join(d.said() for d in doubts[:3]) + (
        f"; and {len(doubts) - 3} more" if len(doubts) > 3 else ""
    )
    first = doubts[0].address
    return (
        f"{path}: this state is no verified apply's (read from the checkout, for its bindings only: the "
        f"state branch holds none), and the account contradicts it: {shown} (a rotation's successor, "
        "made after the state was committed?). Nothing is planned, applied or delivered in this account "
        f"until {first} is told, never guessed: give {first} the proxy_key of the key it is (the one its "
        "application uses), or delete by hand the key it is not, then run again"
    )
