"""The rules and budgets that need the account, checked on every plan (and again by apply):
the account's total allocation after the plan, unmanaged keys included (`max_total_allocation`,
`max_allocated`), and what the plan debits net of its refunds (`max_net_debit`, and
`warn_net_debit`, a warning); a group's, over its keys in the account. With the key rules the
manifest broke (`manifest.policy`) and the exceptions in force, they make the plan's Policy
section. A rotation alone's successors copy their live keys, never the manifest's values: the
key rules judge what each is created with (`successors`). `rolled_up`: the plan per group."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

from reconciler.api.inventory import Inventory
from reconciler.core.changes import Action, Change
from reconciler.core.keys import DesiredKey, Location
from reconciler.core.money import ZERO, money
from reconciler.core.plan import Plan
from reconciler.core.policy import Budget, Checked, Group, GroupTotal, KeyRules, Policy, Violation
from reconciler.manifest.policy import check_key
from reconciler.planning import successor

if TYPE_CHECKING:
    from reconciler.planning.planner import Desired

ACCOUNT = "the account's keys"
COPIED = (
    " (a rotation alone copies the live key, so the manifest's value is not applied by it: "
    "run ehkeys apply first)"
)


def check(
    plan: Plan,
    desired: Desired,
    inventory: Inventory,
    left_out: Mapping[str, Decimal] | None = None,
    clock: int | None = None,
) -> Checked:
    """`left_out`: the live allocation of each key --target leaves out of the plan (it stays as
    it is, and a group's total counts it); `clock`: the API's time, that max_lifetime counts from."""
    policy, budget = desired.policy, desired.budget
    broken = [*desired.violations, *successors(plan, desired, clock)]
    found = Checked((*policy.stated, *budget.stated), broken, list(desired.waivers))
    if policy.max_total_allocation is not None or budget.max_allocated is not None:
        _totals(found, policy, budget, allocated_after(plan, inventory), ACCOUNT)
    _net(found, budget, plan.account_debit, plan.account_refund, "")
    kept = left_out or {}
    for group in desired.groups:
        held = sum((kept.get(k.address, ZERO) for k in desired.keys if k.group == group.name), ZERO)
        _group(found, group, members(plan, desired, group.name), held)
    return found


def successors(plan: Plan, desired: Desired, clock: int | None) -> list[Violation]:
    """What the successors of a rotation alone break of their keys' rules (`manifest.policy`,
    as a manifest key is judged at load): judged on what each is created with, the live key's
    copy. A value the manifest's violation names already is not said again. In an apply, a
    successor is made of the manifest's values: their violations are the manifest's."""
    if not desired.rotation_only or not desired.rules:
        return []
    keys = {k.address: k for k in desired.keys}
    said = {(v.address, v.rule, v.value) for v in desired.violations}
    found = []
    for change in plan.changes:
        rules = desired.rules.get(change.address)
        if change.action is Action.ROTATE and rules is not None:
            broken = _successor(keys[change.address], change, rules, clock)
            found += [v for v in broken if (v.address, v.rule, v.value) not in said]
    return found


def _successor(key: DesiredKey, change: Change, rules: KeyRules, clock: int | None) -> list[Violation]:
    def locate(_: tuple[str, ...]) -> tuple[Location, str, bool]:
        return key.location, "", True  # the key's place: the value is the live key's

    judged = check_key(successor.sent(key, change), rules, clock, locate)
    return [replace(v, message=f"the successor's {v.message}{COPIED}") for v in judged.violations]


def allocated_after(plan: Plan, inventory: Inventory) -> Decimal | None:
    """What the account's keys are allocated together once the plan is applied (ignored and
    unmanaged keys included); None when the account's list is unavailable."""
    if not inventory.complete:
        return None
    before = sum((k.allocated_ammount for k in inventory.keys), ZERO)
    return before + sum((c.credit.allocation_delta for c in plan.changes), ZERO)


def rolled_up(plan: Plan, desired: Desired) -> list[GroupTotal]:
    """The plan per group: each group with keys in this account, its credits and allocation."""
    found = []
    for group in desired.groups:
        changes = members(plan, desired, group.name)
        if changes:
            moving = sum(c.action.changes_something for c in changes)
            debit, refund = _credits(changes)
            allocated = _allocated(changes)
            found.append(GroupTotal(group.name, len(changes), moving, debit, refund, allocated))
    return found


def members(plan: Plan, desired: Desired, group: str) -> list[Change]:
    """The changes of the group's keys in this account's plan, and the retirements of their
    rotated predecessors (`Change.after`): those keys are the group's until deleted."""
    addresses = {k.address for k in desired.keys if k.group == group}
    return [c for c in plan.changes if c.address in addresses or c.after in addresses]


def _allocated(changes: list[Change]) -> Decimal:
    """What the changes' keys are allocated after the plan. A retirement whose rotation is in
    the same plan (overlap 0) adds only its delta: that rotation's live key is the predecessor,
    whose allocation it counted already."""
    rotated = {c.address for c in changes if c.action is Action.ROTATE}
    return sum((c.credit.allocation_delta if c.after in rotated else _after(c) for c in changes), ZERO)


def _credits(changes: list[Change]) -> tuple[Decimal, Decimal]:
    debit = sum((c.credit.account_debit for c in changes), ZERO)
    return debit, sum((c.credit.account_refund for c in changes), ZERO)


def _after(change: Change) -> Decimal:
    """What the key is allocated after the plan (a key in error: as it is, if known)."""
    live = change.live or {}
    before = Decimal(str(live["allocated_ammount"])) if "allocated_ammount" in live else ZERO
    return before + change.credit.allocation_delta


def _group(found: Checked, group: Group, changes: list[Change], kept: Decimal) -> None:
    """A group's budget and total allocation, over its keys in this account (`kept`: what those
    --target leaves out are allocated)."""
    stated = (*group.policy.stated, *group.budget.stated)
    if not changes or not stated:
        return
    found.rules += tuple(f"{rule} (group {group.name})" for rule in stated)
    start, whose = len(found.violations), f"group {group.name}'s keys"
    if group.policy.max_total_allocation is not None or group.budget.max_allocated is not None:
        _totals(found, group.policy, group.budget, kept + _allocated(changes), whose)
    _net(found, group.budget, *_credits(changes), f" (group {group.name})")
    found.violations[start:] = [replace(v, group=group.name) for v in found.violations[start:]]


def _totals(found: Checked, policy: Policy, budget: Budget, total: Decimal | None, whose: str) -> None:
    _total(found, "max_total_allocation", policy.max_total_allocation, total, whose, policy)
    _total(found, "max_allocated", budget.max_allocated, total, whose, budget)


def _total(
    found: Checked,
    rule: str,
    limit: Decimal | None,
    total: Decimal | None,
    whose: str,
    rules: Policy | Budget,
) -> None:
    if limit is None:
        return
    where = rules.where(rule)
    if total is None:
        message = "cannot be checked: the account's key list is unavailable (its unmanaged keys unseen)"
        found.violations.append(Violation(rule, message, "(unknown)", money(limit), where=where))
    elif total > limit:
        unmanaged = " (unmanaged keys included)" if whose == ACCOUNT else ""
        after = f"{whose} would be allocated {money(total)} together after the plan{unmanaged}"
        message = f"{after}, over {money(limit)}"
        found.violations.append(Violation(rule, message, money(total), money(limit), where=where))


def _net(found: Checked, budget: Budget, debit: Decimal, refund: Decimal, group: str) -> None:
    """`group`: ' (group NAME)' for a group's keys, '' for the account's."""
    net = debit - refund
    spent = f"the plan debits a net {money(net)} ({money(debit)} debited, {money(refund)} refunded, est.)"
    limit, warn = budget.max_net_debit, budget.warn_net_debit
    if limit is not None and net > limit:
        where = budget.where("max_net_debit")
        message = f"{spent}, over {money(limit)}"
        found.violations.append(Violation("max_net_debit", message, money(net), money(limit), where=where))
    if warn is not None and net > warn:
        found.warnings.append(f"warn_net_debit{group}: {spent}, over {money(warn)}")
