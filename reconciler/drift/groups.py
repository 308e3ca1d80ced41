"""The drift report per group (`groups:`, a key's `group:`): how a team's keys stand in one
account. For each group with keys in the account's plan, in the manifest's order: how many keys
it has there, how many of them drifted (a finding of groups 1-4), how many in each way, and the
health warnings on them. Unmanaged keys belong to no group."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reconciler.core.plan import Plan

if TYPE_CHECKING:
    from reconciler.drift.report import DriftReport

KINDS = ("changed_outside", "not_applied", "never_applied", "health")


@dataclass(frozen=True)
class GroupDrift:
    name: str
    keys: int  # the group's keys in this account's plan
    drifted: int  # of them, those with drift (changed outside, not applied, never applied)
    changed_outside: int = 0
    not_applied: int = 0
    never_applied: int = 0
    health: int = 0  # health warnings on its keys (never drift)

    def data(self) -> dict[str, Any]:
        return {"keys": self.keys, "drifted": self.drifted, **{kind: getattr(self, kind) for kind in KINDS}}


def rolled_up(found: DriftReport, plan: Plan, groups: Mapping[str, str]) -> tuple[GroupDrift, ...]:
    """`groups`: each manifest address's group (keys without one left out)."""
    if not groups or not plan.groups:
        return ()
    found_in = {
        "changed_outside": [c.address for c in found.changed_outside],
        "not_applied": [n.change.address for n in found.not_applied],
        "never_applied": [c.address for c in found.never_applied],
        "health": [h.subject for h in found.health],
    }
    counts = {kind: _per_group(addresses, groups) for kind, addresses in found_in.items()}
    drifted = _per_group(
        set(found_in["changed_outside"] + found_in["not_applied"] + found_in["never_applied"]), groups
    )
    return tuple(
        GroupDrift(g.name, g.keys, drifted[g.name], *(counts[kind][g.name] for kind in KINDS))
        for g in plan.groups
    )


def _per_group(addresses: Iterable[str], groups: Mapping[str, str]) -> Counter[str]:
    return Counter(groups[a] for a in addresses if a in groups)
