"""The Plan: one KeyPlan per manifest key, with counts, credit totals and safety checks.

KeyPlans are small value objects with a fixed order (manifest order) and a `.data()` dict
in the documented JSON shape; every renderer and the saved plan file start from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from reconciler.errors import Refused
from reconciler.model import ProxyKey, to_json_value

UPDATE, NO_OP, ERROR = "update", "no-op", "error"
ZERO = Decimal(0)


@dataclass(frozen=True)
class Failure:
    """Why a key could not be planned (its lookup failed)."""

    status: int | None
    message: str

    def data(self) -> dict[str, Any]:
        return {"status": self.status, "message": self.message}


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any

    def data(self) -> dict[str, Any]:
        return {"before": to_json_value(self.before), "after": to_json_value(self.after)}

    @property
    def added(self) -> list[str]:
        """Whitelist members the change adds (sorted as displayed); [] for other fields."""
        return to_json_value(self.after - self.before) if isinstance(self.after, frozenset) else []

    @property
    def removed(self) -> list[str]:
        return to_json_value(self.before - self.after) if isinstance(self.after, frozenset) else []


@dataclass(frozen=True)
class Credit:
    allocation_delta: Decimal = ZERO
    account_debit: Decimal = ZERO
    account_refund: Decimal = ZERO

    @classmethod
    def between(cls, old: Decimal, new: Decimal, used: Decimal) -> Credit:
        """Raising debits the difference; lowering refunds the unused part only (an estimate)."""
        delta = new - old
        if delta >= 0:
            return cls(delta, delta, ZERO)
        return cls(delta, ZERO, min(-delta, max(old - used, ZERO)))

    def data(self) -> dict[str, float]:
        return {k: float(v) for k, v in vars(self).items()}


@dataclass(frozen=True)
class KeyPlan:
    index: int
    name: str
    proxy_key: ProxyKey = field(compare=False, repr=False)
    action: str
    changes: tuple[FieldChange, ...] = ()
    credit: Credit = field(default_factory=Credit)
    warnings: tuple[str, ...] = ()
    error: Failure | None = None
    unchanged: int = 0
    body: dict[str, Any] | None = None  # the complete update body, less the proxy key
    live: dict[str, Any] | None = None  # the live state the plan was made against

    @property
    def key(self) -> str:
        """The redacted display form, `ek-proxy-…abcd`."""
        return self.proxy_key.display

    @property
    def fingerprint(self) -> str:
        return self.proxy_key.fingerprint

    @property
    def changed_fields(self) -> list[str]:
        return [c.field for c in self.changes]

    def data(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "key": self.key,
            "action": self.action,
            "changes": {c.field: c.data() for c in self.changes},
            "credit": self.credit.data(),
            "warnings": list(self.warnings),
            "error": self.error.data() if self.error else None,
        }


@dataclass
class Plan:
    keys: list[KeyPlan]
    balance_before: Decimal | None = None
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        # Short on purpose: asyncio formats the task that returns a plan (Python 3.11's
        # Runner.run does, twice), and a full repr of 10,000 keys costs tens of milliseconds.
        counts = ", ".join(f"{self.count(a)} {a}" for a in (UPDATE, NO_OP, ERROR))
        return f"<Plan of {len(self.keys)} keys: {counts}>"

    def count(self, action: str) -> int:
        return sum(k.action == action for k in self.keys)

    @property
    def updates(self) -> list[KeyPlan]:
        """Keys to change, in apply order: refunds first, then no credit change, then debits."""
        changing = [k for k in self.keys if k.action == UPDATE]
        return sorted(changing, key=lambda k: (k.credit.allocation_delta.compare(ZERO), k.index))

    @property
    def account_debit(self) -> Decimal:
        return sum((k.credit.account_debit for k in self.keys), ZERO)

    @property
    def account_refund(self) -> Decimal:
        return sum((k.credit.account_refund for k in self.keys), ZERO)

    @property
    def net(self) -> Decimal:
        return self.account_refund - self.account_debit

    @property
    def balance_after(self) -> Decimal | None:
        return None if self.balance_before is None else self.balance_before + self.net

    @property
    def has_changes(self) -> bool:
        return self.count(UPDATE) > 0

    @property
    def has_errors(self) -> bool:
        return self.count(ERROR) > 0

    @property
    def uncovered(self) -> bool:
        """The debits exceed the balance plus the refunds that apply collects first."""
        if self.balance_before is None:
            return False
        return self.account_debit > self.balance_before + self.account_refund

    def summary(self) -> dict[str, Any]:
        money = (self.account_debit, self.account_refund, self.net)
        before, after = self.balance_before, self.balance_after
        return {
            "update": self.count(UPDATE),
            "no_op": self.count(NO_OP),
            "error": self.count(ERROR),
            "account_debit": float(money[0]),
            "account_refund": float(money[1]),
            "net": float(money[2]),
            "balance_before": None if before is None else float(before),
            "balance_after": None if after is None else float(after),
        }

    def data(self) -> dict[str, Any]:
        """The documented JSON shape (schemas/plan.schema.json)."""
        return {
            "format_version": 1,
            "keys": [k.data() for k in self.keys],
            "summary": self.summary(),
        }

    # --- safety checks, before anything is sent --------------------------------------------

    def check_guards(self, max_debit: Decimal | None, expect_net: Decimal | None) -> None:
        if max_debit is not None and self.account_debit > max_debit:
            raise Refused(
                f"the plan debits {self.account_debit} credits, over --max-debit {max_debit}; "
                "nothing was sent"
            )
        if expect_net is not None and self.net != expect_net:
            raise Refused(
                f"the plan's net credit change is {self.net}, not the --expect-net {expect_net} "
                "that was approved; nothing was sent"
            )
        if self.uncovered:
            raise Refused(
                f"the plan debits {self.account_debit} credits but the account has "
                f"{self.balance_before} (+{self.account_refund} refunds): updates would fail "
                "with 402 part-way; nothing was sent"
            )
