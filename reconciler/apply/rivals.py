"""Keys another run made at the same time: adopted before a create, reported after it.

Two checkouts (two states) applying to one account share no lock. So the applier reads the
account's list right before its create wave: a live key of a planned create's name that did
not exist when the plan was made, and that no address of this state holds, was created since
by another run, and is adopted instead of created (and debited) a second time. Two runs that
both read the list before either created still make two keys of one name: after the wave, the
list shows more new keys of a name than this run created, and each such change is reported,
naming every key of that name, never a silent success.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence

from reconciler.core.changes import Change
from reconciler.core.keys import LiveKey
from reconciler.core.operations import Create

ADOPTED = "adopted {name}, created since the plan by another run"


def created_name(change: Change) -> str | None:
    """The name a change creates a key with, if it creates one."""
    creates = [op for op in change.operations if isinstance(op, Create)]
    return str(creates[0].body["name"]) if creates else None


def adoptable(name: str, listed: Iterable[LiveKey], taken: Collection[str]) -> list[LiveKey]:
    """Live keys of `name` that no plan knew and no address holds (`taken`: fingerprints)."""
    return [k for k in listed if k.name == name and k.fingerprint not in taken]


def by_name(listing: Mapping[str, LiveKey] | None) -> dict[str, list[LiveKey]]:
    """The listed keys by name, in the list's order."""
    named: dict[str, list[LiveKey]] = {}
    for key in (listing or {}).values():
        named.setdefault(key.name, []).append(key)
    return named


def too_many(name: str, found: Sequence[LiveKey]) -> str:
    shown = ", ".join(k.proxy_key.display for k in found)
    return (
        f"{len(found)} keys named {name!r} were created since the plan by other runs ({shown}): "
        "not created a third time; give the manifest key the proxy_key of the one to keep"
    )


def duplicates(
    changes: Sequence[Change], listing: Mapping[str, LiveKey], planned: Collection[str]
) -> dict[str, str]:
    """Per address, why its create is not a success: more keys of its name appeared since the
    plan (`planned`: the fingerprints the plan saw) than this run's changes made or adopted."""
    ours = Counter(name for name in map(created_name, changes) if name is not None)
    found: dict[str, list[LiveKey]] = {}
    for key in listing.values():
        if key.name in ours and key.fingerprint not in planned:
            found.setdefault(key.name, []).append(key)
    return {
        change.address: _duplicate(name, found[name])
        for change in changes
        if (name := created_name(change)) is not None and len(found.get(name, ())) > ours[name]
    }


def _duplicate(name: str, keys: Sequence[LiveKey]) -> str:
    shown = ", ".join(sorted(k.proxy_key.display for k in keys))
    return (
        f"{len(keys)} live keys are named {name!r} ({shown}): another run created one at the same "
        "time, and both were debited; keep one: delete the other, and give the manifest key the "
        "proxy_key of the one kept. A sink both runs delivered to holds whichever value came last: "
        "keep the key whose last 4 characters it ends with"
    )
