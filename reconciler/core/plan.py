"""The Plan: the changes, the account's unmanaged keys, counts, credit totals and safety checks.

Changes are value objects (`changes.Change`) whose sort order is the apply order; every
renderer and the saved plan file start from them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from reconciler.core.accounts import Account, Endpoint
from reconciler.core.changes import Action, Change, action_counts
from reconciler.core.errors import Refused
from reconciler.core.jsonvalue import to_json_value
from reconciler.core.keys import LiveKey
from reconciler.core.money import ZERO, money
from reconciler.core.policy import Checked, GroupTotal
from reconciler.core.rotation import Status
from reconciler.core.secrets import RedactedKey

MASS_DELETE_SHARE = Decimal("0.3")  # apply refuses deleting more than this share of the keys...
MASS_DELETE_FLOOR = 5  # ...of an account with more keys than this, without --allow-mass-delete


@dataclass(frozen=True)
class ShownKey:
    """What a plan shows of an unmanaged key, and all a saved plan read back knows of it."""

    proxy_key: RedactedKey
    name: str
    allocated_ammount: Decimal
    used_ammount: Decimal
    is_active: bool


@dataclass(frozen=True)
class Unmanaged:
    """A live key that no manifest key holds (and `ignore:` does not cover); in a saved plan
    read back, only what the plan showed of it. `managed_by`: the other manifest root whose it
    is, or may be (`planning.pruning`; '' for none): that root's drift, not this one's."""

    live: LiveKey | ShownKey
    note: str = ""
    managed_by: str = ""

    def data(self) -> dict[str, Any]:
        k = self.live
        found = {
            "name": k.name,
            "key": k.proxy_key.display,
            "allocated_ammount": to_json_value(k.allocated_ammount),
            "used_ammount": to_json_value(k.used_ammount),
            "is_active": k.is_active,
            "note": self.note or None,
        }
        return {**found, "managed_by": self.managed_by} if self.managed_by else found

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Unmanaged:
        """As `data()` described it: what a plan shows of the key (its key only redacted)."""
        shown = ShownKey(
            proxy_key=RedactedKey(str(data["key"])),
            name=str(data["name"]),
            allocated_ammount=Decimal(str(data["allocated_ammount"])),
            used_ammount=Decimal(str(data["used_ammount"])),
            is_active=bool(data["is_active"]),
        )
        return cls(shown, data["note"] or "", str(data.get("managed_by") or ""))


@dataclass
class Plan:
    changes: list[Change]
    unmanaged: list[Unmanaged] = field(default_factory=list)
    balance_before: Decimal | None = None
    notes: list[str] = field(default_factory=list)  # warnings about the whole plan
    problems: list[str] = field(default_factory=list)  # errors about the whole plan
    account_keys: int | None = None  # how many keys the account has (None: not listed)
    requests: int = 0  # sent to the API to make this plan
    account: Account = field(default_factory=Account)  # whose keys these are
    endpoint: Endpoint | None = None  # the API and account key it was made with (a saved plan's: if it says)
    policy: Checked = field(default_factory=Checked)  # its Policy section: rules, budget, exceptions
    groups: list[GroupTotal] = field(default_factory=list)  # its keys rolled up per group (`groups:`)
    rotations: list[Status] = field(default_factory=list)  # its keys' rotations: due, under way
    # why it cannot be told whether another manifest root manages its unmanaged keys ('' when it can)
    others_unread: str = ""
    # How the planner counts `policy` and `groups` from `changes`: again once some were held
    # after planning (a move's side, a create into a tracked file), which then move no credit.
    counter: Callable[[Plan], None] | None = field(default=None, repr=False, compare=False)

    def recount(self) -> None:
        if self.counter is not None:
            self.counter(self)

    def __repr__(self) -> str:
        # Short on purpose: asyncio formats the task that returns a plan (Python 3.11's
        # Runner.run does, twice), and a full repr of 10,000 keys costs tens of milliseconds.
        counts = ", ".join(f"{n} {a.label}" for a, n in self.counts.items())
        return f"<Plan of {len(self.changes)} keys: {counts}>"

    def subset(self, changes: list[Change]) -> Plan:
        """The same account, only these changes (a saved plan's, or --target's)."""
        return replace(self, changes=changes, unmanaged=[], notes=[], problems=list(self.problems))

    def change(self, address: str) -> Change | None:
        """The change of this address, if the plan has one."""
        return next((c for c in self.changes if c.address == address), None)

    def changes_of(self, address: str) -> list[Change]:
        """Every change of this address: a key mid-rotation has two, its successor and the
        predecessor it retires (a move to another account deletes both)."""
        return [c for c in self.changes if c.address == address]

    @property
    def unmanaged_listed(self) -> list[tuple[LiveKey, str]]:
        """The unmanaged keys as the account listed them, each with its note; a plan read back
        from a file knows them only as shown, and has none."""
        return [(u.live, u.note) for u in self.unmanaged if isinstance(u.live, LiveKey)]

    @property
    def unmanaged_here(self) -> list[tuple[LiveKey, str]]:
        """`unmanaged_listed` but another manifest root's keys (`managed_by`): this manifest's drift."""
        return [(u.live, u.note) for u in self.unmanaged if isinstance(u.live, LiveKey) and not u.managed_by]

    @property
    def counts(self) -> Counter[Action]:
        return Counter(c.action for c in self.changes)

    def count(self, action: Action) -> int:
        return self.counts[action]

    @property
    def to_apply(self) -> list[Change]:
        """The changes to make, in apply order (see `Change.sort_key`)."""
        return sorted(c for c in self.changes if c.action.changes_something)

    @property
    def account_debit(self) -> Decimal:
        return sum((c.credit.account_debit for c in self.changes), ZERO)

    @property
    def account_refund(self) -> Decimal:
        return sum((c.credit.account_refund for c in self.changes), ZERO)

    @property
    def net(self) -> Decimal:
        return self.account_refund - self.account_debit

    @property
    def balance_after(self) -> Decimal | None:
        return None if self.balance_before is None else self.balance_before + self.net

    @property
    def has_changes(self) -> bool:
        return any(c.action.changes_something for c in self.changes)

    @property
    def has_errors(self) -> bool:
        return bool(self.problems) or self.count(Action.ERROR) > 0

    @property
    def early_refund(self) -> Decimal:
        """The refunds apply collects before its debits: not a rotation's retirement, which
        waits for its successor (created, a debit) to be delivered."""
        return sum((c.credit.account_refund for c in self.changes if not c.after), ZERO)

    @property
    def uncovered(self) -> bool:
        """The debits exceed the balance plus the refunds that apply collects first."""
        debit = self.account_debit  # once: a pass over every key
        if self.balance_before is None or not debit:
            return False
        return debit > self.balance_before + self.early_refund

    def summary(self) -> dict[str, Any]:
        counts = self.counts
        debit, refund = self.account_debit, self.account_refund  # each a pass over every key: once
        before, net = self.balance_before, refund - debit
        after = None if before is None else before + net
        return {
            **action_counts(counts),
            "unmanaged": len(self.unmanaged),
            "account_debit": to_json_value(debit),
            "account_refund": to_json_value(refund),
            "net": to_json_value(net),
            "balance_before": None if before is None else to_json_value(before),
            "balance_after": None if after is None else to_json_value(after),
            "requests": self.requests,
        }

    def data(self) -> dict[str, Any]:
        """The documented JSON shape (schemas/plan.schema.json); `policy` where there is one."""
        data = {
            "format_version": 2,
            "keys": [c.data() for c in self.changes],
            "unmanaged": [u.data() for u in self.unmanaged],
            "notes": list(self.notes),
            "problems": list(self.problems),
            "summary": self.summary(),
        }
        if self.groups:
            data["groups"] = {g.name: g.data() for g in self.groups}
        return {**data, "policy": self.policy.data()} if self.policy else data

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Plan:
        """The plan `data()` described, to show again (a saved plan): what it renders is
        what was rendered, since every renderer starts from these same values."""
        summary = data["summary"]
        return cls(
            changes=[Change.from_data(key, index) for index, key in enumerate(data["keys"])],
            unmanaged=[Unmanaged.from_data(u) for u in data["unmanaged"]],
            balance_before=_money(summary["balance_before"]),
            notes=[str(n) for n in data["notes"]],
            problems=[str(p) for p in data["problems"]],
            requests=int(summary["requests"]),
            policy=Checked.from_data(data.get("policy")),
            groups=[GroupTotal.from_data(name, g) for name, g in data.get("groups", {}).items()],
        )

    # --- safety checks, before anything is sent --------------------------------------------

    def check_guards(
        self, max_debit: Decimal | None, expect_net: Decimal | None, allow_mass_delete: bool = False
    ) -> None:
        if self.problems:
            raise Refused(f"{self.problems[0]}; nothing was sent")
        if self.policy.violations:
            raise Refused(f"{self.policy.refusal}; nothing was sent")
        check_spend(self.account_debit, self.net, max_debit, expect_net)
        if self.uncovered:
            raise Refused(
                f"the plan debits {_credits(self.account_debit)} but the account has "
                f"{_credits(self.balance_before or ZERO)} (+{_credits(self.early_refund)} refunds): "
                "the writes would fail with 402 part-way; nothing was sent"
            )
        if not allow_mass_delete and self.mass_delete:
            raise Refused(f"{self.mass_delete}; pass --allow-mass-delete if you mean it; nothing was sent")

    @property
    def over_max_debit(self) -> str:
        """Why the account's own `max_debit` (its manifest setting, not --max-debit) refuses the
        plan's debits, or ''."""
        limit, debit = self.account.max_debit, self.account_debit
        if limit is None or debit <= limit:
            return ""
        return (
            f"the plan debits {_credits(debit)}, over account {self.account.name}'s max_debit "
            f"{_credits(limit)} (its setting under accounts:)"
        )

    @property
    def refused_later(self) -> list[str]:
        """What its apply will refuse it for, said in the plan (a pull request's plan shows it, not
        the apply after its merge): the account's max_debit, and a mass delete."""
        said = []
        if self.over_max_debit:
            said.append(
                f"apply refuses this account's plan: it {self.over_max_debit.removeprefix('the plan ')}: "
                "apply the change in smaller steps, or raise max_debit in a change of its own"
            )
        if self.mass_delete:
            said.append(
                "apply refuses this plan without --allow-mass-delete (the action's allow-mass-delete "
                f"input): {self.mass_delete}"
            )
        return said

    @property
    def mass_delete(self) -> str:
        """Why the deletes look like a mistake (octoDNS's habit), or ''."""
        total = self.account_keys or 0  # a rotation's retirement is a key replaced, not lost
        deletes = sum(1 for c in self.changes if c.action is Action.DELETE and not c.after)
        if total > MASS_DELETE_FLOOR and deletes > MASS_DELETE_SHARE * total:
            return (
                f"the plan deletes {deletes} of the account's {total} keys: over 30% of the keys, "
                f"in an account of more than {MASS_DELETE_FLOOR} keys"
            )
        return ""


def check_spend(debit: Decimal, net: Decimal, max_debit: Decimal | None, expect_net: Decimal | None) -> None:
    """Refused when the debit passes --max-debit, or the net is not the approved --expect-net."""
    if max_debit is not None and debit > max_debit:
        raise Refused(
            f"the plan debits {_credits(debit)}, over --max-debit {_credits(max_debit)}; nothing was sent"
        )
    if expect_net is not None and net != expect_net:
        raise Refused(
            f"the plan's net credit change is {_credits(net, sign=True)}, not the "
            f"--expect-net {_credits(expect_net, sign=True)} that was approved; nothing was sent"
        )


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _credits(value: Decimal, sign: bool = False) -> str:
    return money(value, sign) + " credits"
