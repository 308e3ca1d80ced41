"""Which live key is which manifest key: by proxy key, else by the state, else by name.

A pure function of the manifest's keys, the account's keys and the state's record of
address -> fingerprint. Routes, in order:

1. the manifest key's `proxy_key` (compared by fingerprint);
2. the state's record of which key this address was bound to;
3. exactly one live key of the same name that no other manifest key holds ("adopted by
   name", said in the plan). Two such keys are an error naming both: never a guess.

Live keys bound to no manifest key are *unmanaged*.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reconciler.core.keys import DesiredKey, LiveKey

BY_PROXY_KEY, BY_STATE, BY_NAME = "proxy_key", "state", "name"


@dataclass(frozen=True)
class Bound:
    live: LiveKey
    route: str


@dataclass(frozen=True)
class Unbound:
    """No live key: to create, or (with `problem`) an error on the manifest key."""

    problem: str | None = None
    note: str = ""
    candidates: frozenset[str] = frozenset()  # live keys it could be: never unmanaged, never pruned


Binding = Bound | Unbound


@dataclass(frozen=True)
class Bindings:
    by_address: dict[str, Binding]
    unmanaged: tuple[LiveKey, ...]  # held by no manifest key, and claimed by none either


def bind(
    desired: Sequence[DesiredKey],
    live: Sequence[LiveKey],
    recorded: Mapping[str, str],
    held: frozenset[str] = frozenset(),
) -> Bindings:
    """`held`: fingerprints of keys no manifest key may take by name, never unmanaged either (the
    predecessors of rotations under way, which only their retirement deletes)."""
    by_fingerprint = {k.fingerprint: k for k in live}
    claimed: dict[str, str] = {}  # fingerprint -> address
    found: dict[str, Binding] = {}
    for key in desired:  # the proxy key first: it outranks whatever the state remembers
        if key.proxy_key is not None:
            found[key.address] = _by_secret(key, key.proxy_key.fingerprint, by_fingerprint, claimed)
    for key in desired:
        live_key = by_fingerprint.get(recorded.get(key.address, ""))
        if key.address not in found and live_key and live_key.fingerprint not in claimed:
            claimed[live_key.fingerprint] = key.address
            found[key.address] = Bound(live_key, BY_STATE)
    addresses = {k.address for k in desired}
    held_elsewhere = {fp for address, fp in recorded.items() if address in addresses} | held
    shared = {name for name, n in Counter(k.name for k in desired).items() if n > 1}
    named: dict[str, list[LiveKey]] = {}  # name -> the live keys of that name, in the account's order
    for live_key in live:
        named.setdefault(live_key.name, []).append(live_key)
    for key in desired:
        if key.address in found:
            continue
        if key.name in shared:  # two manifest keys of one name: never guess which is which
            found[key.address] = Unbound(note="its name is shared in the manifest: never bound by name")
        else:
            found[key.address] = _by_name(key, named.get(key.name, []), claimed, held_elsewhere, recorded)
    contested = held_elsewhere | {fp for b in found.values() if isinstance(b, Unbound) for fp in b.candidates}
    unmanaged = tuple(k for k in live if k.fingerprint not in claimed and k.fingerprint not in contested)
    return Bindings({k.address: found[k.address] for k in desired}, unmanaged)


def _by_secret(
    key: DesiredKey, fingerprint: str, by_fingerprint: Mapping[str, LiveKey], claimed: dict[str, str]
) -> Binding:
    live = by_fingerprint.get(fingerprint)
    if live is None:
        return Unbound(_NO_SUCH_KEY)
    other = claimed.setdefault(fingerprint, key.address)
    if other != key.address:
        return Unbound(f"the same live key as {other!r} ({live.proxy_key.display})")
    return Bound(live, BY_PROXY_KEY)


def _by_name(
    key: DesiredKey,
    named: Sequence[LiveKey],
    claimed: dict[str, str],
    held_elsewhere: set[str],
    recorded: Mapping[str, str],
) -> Binding:
    """`named`: the live keys of the key's name (looked up, not searched for: a search per key
    made binding 10,000 keys without proxy_key by name take minutes)."""
    free = [k for k in named if k.fingerprint not in claimed and k.fingerprint not in held_elsewhere]
    gone = "the key this address was bound to is gone from the account" if key.address in recorded else ""
    if len(free) > 1:
        names = " and ".join(k.proxy_key.display for k in free)
        candidates = frozenset(k.fingerprint for k in free)
        return Unbound(
            f"{len(free)} live keys are named {key.name!r} ({names}): {_AMBIGUOUS}", candidates=candidates
        )
    if not free:
        return Unbound(note=gone)
    claimed[free[0].fingerprint] = key.address
    return Bound(free[0], BY_NAME)


_NO_SUCH_KEY = (
    "not found in the account: no live key has this proxy_key (a typo, or a key deleted "
    "outside ehkeys; drop proxy_key to have ehkeys create a new key)"
)
_AMBIGUOUS = "give this manifest key its proxy_key, or rename one of them, so that ehkeys need not guess"
