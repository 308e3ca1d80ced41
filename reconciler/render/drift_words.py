"""The words of a drift report: its headline, each moved field and what the next apply does
to it, whom a health warning is about, and the digest of its stable findings.

The digest hashes what a reader cares about (which keys are in which group, the field
changes as shown, the warning kinds per key), never a volatile number (usage, balance,
times): the drift issue is edited only when it changes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from reconciler.core.changes import Change
from reconciler.core.printable import printable
from reconciler.core.secrets import scrub
from reconciler.drift.report import DriftReport, FieldDrift, GroupDrift, Health, NextApply
from reconciler.render.view import show, shown_pair

NEXT_APPLY = {
    NextApply.REVERTS: "reverts it",
    NextApply.MATCHES: "nothing: it now matches the manifest",
    NextApply.UNMANAGED: "nothing: the manifest leaves it unmanaged",
    NextApply.RETIRES: "nothing: this old key of a rotation is deleted once its overlap ends",
}


ELSEWHERE = "Managed by other manifest roots"
NOT_DRIFT = "in the account, their drift, not this manifest's"


def unread(why: str) -> str:
    """What a report says when whose its unmanaged keys are cannot be told."""
    return (
        f"whether another manifest root manages any of these cannot be told: its state cannot be read "
        f"({why}); each counts as unmanaged here until it can be read"
    )


def headline(found: DriftReport) -> str:
    if not found.drifted and not found.errors:
        warned = f" ({len(found.health)} health warning(s))" if found.health else ""
        return f"In sync: the account's keys match the manifest{warned}."
    parts = _headline_parts(found)
    if found.errors:
        parts.append(f"{len(found.errors)} error(s): what cannot be planned cannot be checked")
    return ("Drift: " if found.drifted else "Not checked: ") + "; ".join(parts) + "."


def _headline_parts(found: DriftReport) -> list[str]:
    parts = []
    if found.changed_outside:
        names = sorted({f.field for c in found.changed_outside for f in c.fields})
        deleted = sum(bool(c.deleted) for c in found.changed_outside)
        what = ", ".join(names + ([f"{deleted} deleted"] if deleted else []))
        parts.append(f"{len(found.changed_outside)} key(s) changed outside ehkeys ({what})")
    if found.not_applied:
        parts.append(f"{len(found.not_applied)} manifest change(s) not applied yet")
    if found.unmanaged:
        new = sum(u.new for u in found.unmanaged)
        parts.append(f"{len(found.unmanaged)} unmanaged key(s) in the account ({new} new)")
    if found.never_applied:
        parts.append(f"{len(found.never_applied)} key(s) with write-only values never applied (limit_type)")
    return parts


def moved(f: FieldDrift) -> str:
    """`field: before -> after`, or a whitelist's members as `+added, -removed`."""
    if isinstance(f.before, list) and isinstance(f.after, list):
        return f"{f.field}: " + ", ".join([f"+{m}" for m in f.added] + [f"-{m}" for m in f.removed])
    return f"{f.field}: {_shown(f.field, f.before)} -> {_shown(f.field, f.after)}"


def next_apply(f: FieldDrift) -> str:
    if f.next_apply is NextApply.SETS:
        return f"sets {_shown(f.field, f.sets)}"
    return NEXT_APPLY[f.next_apply]


GROUP_KINDS = (
    ("changed_outside", "changed outside ehkeys"),
    ("not_applied", "not applied yet"),
    ("never_applied", "with write-only values never applied"),
)


def group_line(group: GroupDrift) -> str:
    """`ml: 3 keys, 2 with drift (1 changed outside ehkeys, 1 not applied yet); 1 health warning`."""
    keys = f"{group.keys} key{'s' if group.keys != 1 else ''}"
    kinds = ", ".join(f"{n} {words}" for kind, words in GROUP_KINDS if (n := getattr(group, kind)))
    said = f"{keys}, {group.drifted} with drift ({kinds})" if group.drifted else f"{keys}, in sync"
    warned = f"; {group.health} health warning{'s' if group.health != 1 else ''}" if group.health else ""
    return printable(f"{group.name}: {said}{warned}")


def who(warning: Health) -> str:
    return f"{printable(scrub(warning.name))} ({warning.key})" if warning.key else "the account"


def findings(found: DriftReport) -> dict[str, Any]:
    """The stable findings: which keys are in which group, the field changes, the warning
    kinds per key; never a volatile number (usage, balance, times)."""
    return {
        "changed_outside": [
            [c.address, c.deleted, [[f.field, f.before, f.after, next_apply(f)] for f in c.fields]]
            for c in found.changed_outside
        ],
        "not_applied": [
            [n.change.address, n.change.action.label, _fields(n.change)] for n in found.not_applied
        ],
        "unmanaged": sorted(u.fingerprint for u in found.unmanaged),
        "never_applied": [c.address for c in found.never_applied],
        "health": sorted([h.kind, h.subject] for h in found.health),
        "errors": list(found.errors),
    }


def digest(found: DriftReport) -> str:
    """sha256 of the stable findings: equal when nothing a reader cares about changed."""
    text = json.dumps(findings(found), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _fields(change: Change) -> list[list[str]]:
    return [[f.field, *shown_pair(f.field, f.before, f.after)] for f in change.fields]


def _shown(name: str, value: Any) -> str:
    if name == "created_at" and isinstance(value, int):
        return show("expires_at", value)
    return show(name, value)
