"""The rules and budgets that need the account, checked on every plan (and again by apply):
the account's total allocation after the plan, unmanaged keys included (`max_total_allocation`,
`max_allocated`), and what the plan debits net of its refunds (`max_net_debit`, and
`warn_net_debit`, a warning). With the key rules the manifest broke (`manifest.policy`) and
the exceptions in force, they make the plan's Policy section."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from reconciler.api.inventory import Inventory
from reconciler.core.money import ZERO, money
from reconciler.core.plan import Plan
from reconciler.core.policy import Budget, Checked, Rules, Violation

if TYPE_CHECKING:
    from reconciler.planning.planner import Desired


def check(plan: Plan, desired: Desired, inventory: Inventory) -> Checked:
    policy, budget = desired.policy, desired.budget
    found = Checked((*policy.stated, *budget.stated), list(desired.violations), list(desired.waivers))
    if policy.max_total_allocation is not None or budget.max_allocated is not None:
        total = allocated_after(plan, inventory)
        _total(found, policy, "max_total_allocation", policy.max_total_allocation, total)
        _total(found, budget, "max_allocated", budget.max_allocated, total)
    _net(found, plan, budget)
    return found


def allocated_after(plan: Plan, inventory: Inventory) -> Decimal | None:
    """What the account's keys are allocated together once the plan is applied (ignored and
    unmanaged keys included); None when the account's list is unavailable."""
    if not inventory.complete:
        return None
    before = sum((k.allocated_ammount for k in inventory.keys), ZERO)
    return before + sum((c.credit.allocation_delta for c in plan.changes), ZERO)


def _total(found: Checked, rules: Rules, rule: str, limit: Decimal | None, total: Decimal | None) -> None:
    if limit is None:
        return
    if total is None:
        message = "cannot be checked: the account's key list is unavailable (its unmanaged keys unseen)"
        found.violations.append(Violation(rule, message, "(unknown)", money(limit), where=rules.where(rule)))
    elif total > limit:
        message = (
            f"the account's keys would be allocated {money(total)} together after the plan "
            f"(unmanaged keys included), over {money(limit)}"
        )
        found.violations.append(Violation(rule, message, money(total), money(limit), where=rules.where(rule)))


def _net(found: Checked, plan: Plan, budget: Budget) -> None:
    debit = -plan.net
    spent = (
        f"the plan debits a net {money(debit)} ({money(plan.account_debit)} debited, "
        f"{money(plan.account_refund)} refunded, est.)"
    )
    limit, warn = budget.max_net_debit, budget.warn_net_debit
    if limit is not None and debit > limit:
        where = budget.where("max_net_debit")
        message = f"{spent}, over {money(limit)}"
        found.violations.append(Violation("max_net_debit", message, money(debit), money(limit), where=where))
    if warn is not None and debit > warn:
        found.warnings.append(f"warn_net_debit: {spent}, over {money(warn)}")
