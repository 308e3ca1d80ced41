"""A run's plans: one `Plan` per account of the manifest, in the manifest's order.

Credit never nets across accounts: each plan keeps its own totals and balance, and the guards
hold per account. What is summed here is for the headline and the JSON `summary` only.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from reconciler.core.changes import Action, action_counts
from reconciler.core.jsonvalue import to_json_value
from reconciler.core.money import ZERO
from reconciler.core.plan import Plan


@dataclass(frozen=True)
class Move:
    """A key the manifest moved from one account to another: deleted in `source` (a refund),
    created in `target` (a debit), since credits do not transfer between accounts."""

    address: str
    source: str
    target: str
    created_earlier: bool  # created in `target` by an earlier run, cut off before the delete in `source`


@dataclass(frozen=True)
class Plans:
    each: tuple[Plan, ...]
    moves: tuple[Move, ...] = ()

    def __repr__(self) -> str:
        return f"<Plans of {', '.join(p.account.name for p in self.each)}>"

    @property
    def declared(self) -> bool:
        """The manifest declares its accounts: shown a section each (else one plan, as always)."""
        return any(p.account.declared for p in self.each)

    @property
    def only(self) -> Plan:
        """The one plan of a run that covers one account."""
        (plan,) = self.each
        return plan

    @property
    def has_errors(self) -> bool:
        return any(p.has_errors for p in self.each)

    @property
    def violations(self) -> int:
        """How many rules of the policy or budget the plans break."""
        return sum(len(p.policy.violations) for p in self.each)

    @property
    def has_changes(self) -> bool:
        return any(p.has_changes for p in self.each)

    @property
    def requests(self) -> int:
        return sum(p.requests for p in self.each)

    @property
    def counts(self) -> Counter[Action]:
        return sum((p.counts for p in self.each), Counter())

    def total(self, name: str) -> Decimal:
        """A credit total (`account_debit`, `account_refund`, `net`) summed over the accounts."""
        return sum((getattr(p, name) for p in self.each), ZERO)

    def summary(self) -> dict[str, Any]:
        """The grand total, in the shape of one plan's summary; a balance only when every
        account's is known."""
        counts = self.counts
        balances = [p.balance_before for p in self.each]
        before = None if None in balances else sum((b for b in balances if b is not None), ZERO)
        debit, refund = self.total("account_debit"), self.total("account_refund")  # a pass each
        net = refund - debit
        return {
            **action_counts(counts),
            "unmanaged": sum(len(p.unmanaged) for p in self.each),
            "account_debit": to_json_value(debit),
            "account_refund": to_json_value(refund),
            "net": to_json_value(net),
            "balance_before": None if before is None else to_json_value(before),
            "balance_after": None if before is None else to_json_value(before + net),
            "requests": self.requests,
        }
