"""Policies and budgets: the rules a manifest sets on its keys and on what a plan may do to an
account, and what checking them found (a plan's Policy section).

A `Policy` holds the built-in rules, a `Budget` the money limits; each remembers where every
rule is stated, for messages. An account's policy is the top-level one with the account's own
rules in place of the same-named ones (`Policy.under`); so is its budget. A `Violation` names
its rule, the value and the limit; a `Waiver` is a key's `policy_exceptions` entry in force.
A key's `KeyRules` are what its key rules judge it by: the rules in force for it, its exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from typing import Any, TypeVar

from reconciler.core.jsonvalue import values_json
from reconciler.core.keys import Location

KEY_RULES = ("max_allocation", "require", "max_lifetime", "limit_types", "name_pattern", "allowed_models")
"""The rules on each key: checked from the manifest alone (`validate`, and every plan)."""

ACCOUNT_RULES = ("max_total_allocation",)
"""The rules that need the account (its unmanaged keys): checked by `plan` and `apply`."""

REQUIRABLE = ("expires_at", "model_whitelist", "ip_whitelist")
"""The fields `require` may name: each must be set (on the key or in defaults) and non-empty."""

WAIVABLE = (*(r for r in KEY_RULES if r != "require"), *REQUIRABLE)
"""What a key's `policy_exceptions` may name: a key rule, or for `require` the field it waives."""

BUDGET_RULES = ("max_net_debit", "warn_net_debit", "max_allocated")

R = TypeVar("R", bound="Rules")


@dataclass(frozen=True)
class Rules:
    """What Policy and Budget share: rules by name, each stated somewhere."""

    at: tuple[tuple[str, Location], ...] = ()  # where each rule is stated

    @property
    def stated(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.at)

    def __bool__(self) -> bool:
        return bool(self.at)

    def where(self, rule: str) -> Location | None:
        return next((where for name, where in self.at if name == rule), None)

    def under(self: R, own: R) -> R:
        """These rules with `own`'s in place of the same-named ones (an account's over the top's)."""
        mine = {name: where for name, where in self.at if name not in own.stated}
        values = {f.name: getattr(own, f.name) for f in fields(self) if f.name in own.stated}
        return replace(self, **values, at=tuple({**mine, **dict(own.at)}.items()))

    def identity(self) -> list[Any]:
        """The rules' values, for the manifest's digest (not where they are written)."""
        return [[name, str(getattr(self, name))] for name in sorted(self.stated)]


@dataclass(frozen=True)
class Policy(Rules):
    max_allocation: Decimal | None = None  # per key
    max_total_allocation: Decimal | None = None  # the account's keys, unmanaged ones included
    require: tuple[str, ...] = ()  # fields set and non-empty
    max_lifetime: int | None = None  # days: an expiry at most this far ahead of today
    limit_types: tuple[str, ...] = ()  # the windows a key may have
    name_pattern: str | None = None  # a regular expression the whole name matches
    allowed_models: tuple[str, ...] = ()  # patterns every model_whitelist entry matches one of


@dataclass(frozen=True)
class Budget(Rules):
    max_net_debit: Decimal | None = None  # the most a plan may debit, net of its refunds
    warn_net_debit: Decimal | None = None  # a net debit over this is a warning
    max_allocated: Decimal | None = None  # the account's total allocation after the plan


NO_POLICY = Policy()
NO_BUDGET = Budget()


@dataclass(frozen=True)
class KeyRules:
    """What one key is judged by: the rules in force for it (its account's policy, its group's
    rules in place of the same-named ones) and its `policy_exceptions` (a rule's name, for
    `require` the field's -> the reason), as the manifest states them. Judged at load on the
    manifest's values, and in a plan on what a rotation alone's successor is created with."""

    policy: Policy = NO_POLICY
    waived: Mapping[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.policy or self.waived)


@dataclass(frozen=True)
class Group:
    """A team's keys (`groups:`, a key's `group:`): its policy's rules replace the account's of
    the same name for its keys; its budget holds for its keys in each account."""

    name: str
    policy: Policy = NO_POLICY
    budget: Budget = NO_BUDGET


@dataclass(frozen=True)
class Violation:
    """A rule a key or the plan breaks: its name, the value and the limit, said in `message`."""

    rule: str
    message: str
    value: str
    limit: str
    address: str = ""  # the key's; '' for the account
    where: Location | None = None  # the value's place (else the rule's)
    path: str = ""  # the manifest path of the value (keys[0].allocated_ammount), for validate
    account: str = ""  # the account's name (a plan's own violations need not say it)
    group: str = ""  # the group whose rule or budget it is ('' for the account's)

    def data(self) -> dict[str, Any]:
        found = {
            "rule": self.rule,
            "key": self.address or None,
            "value": self.value,
            "limit": self.limit,
            "message": self.message,
            "where": _at(self.where),
        }
        return {**found, "group": self.group} if self.group else found

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Violation:
        value, limit = str(data["value"]), str(data["limit"])
        where, group = _location(data["where"]), str(data.get("group") or "")
        return cls(
            str(data["rule"]), str(data["message"]), value, limit, data["key"] or "", where, group=group
        )


@dataclass(frozen=True)
class Waiver:
    """A key's exception to a rule (or, for `require`, to a field), in force, with its reason."""

    address: str
    rule: str
    reason: str
    where: Location | None = None
    account: str = ""

    def data(self) -> dict[str, Any]:
        return {"key": self.address, "rule": self.rule, "reason": self.reason, "where": _at(self.where)}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Waiver:
        return cls(str(data["key"]), str(data["rule"]), str(data["reason"]), _location(data["where"]))


@dataclass(frozen=True)
class GroupTotal:
    """A group's keys in one account's plan, rolled up: what the plan does to their credits."""

    name: str
    keys: int
    changes: int  # how many of them the plan changes
    debit: Decimal
    refund: Decimal
    allocated: Decimal  # what they are allocated together after the plan

    @property
    def net(self) -> Decimal:
        return self.refund - self.debit

    def data(self) -> dict[str, Any]:
        amounts = {"account_debit": self.debit, "account_refund": self.refund, "net": self.net}
        counts = {"keys": self.keys, "changes": self.changes}
        return {**counts, **values_json({**amounts, "allocated": self.allocated})}

    @classmethod
    def from_data(cls, name: str, data: dict[str, Any]) -> GroupTotal:
        amounts = (Decimal(str(data[k])) for k in ("account_debit", "account_refund", "allocated"))
        return cls(name, int(data["keys"]), int(data["changes"]), *amounts)


@dataclass
class Checked:
    """A plan's Policy section: the rules and budgets in force, what broke one, the exceptions
    in force, warnings. Empty (false) where the manifest states none."""

    rules: tuple[str, ...] = ()  # the rules and budget limits in force, by name
    violations: list[Violation] = field(default_factory=list)
    waivers: list[Waiver] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.rules or self.violations or self.waivers or self.warnings)

    @property
    def refusal(self) -> str:
        """Why apply refuses the plan: the first violation, and how many more."""
        first, more = self.violations[0], len(self.violations) - 1
        on = f" on {first.address}" if first.address else ""
        also = f" (and {more} more violation{'s' if more != 1 else ''}: plan lists them)" if more else ""
        return f"the plan breaks the policy: {first.rule}{on}: {first.message}{also}"

    def data(self) -> dict[str, Any]:
        return {
            "rules": list(self.rules),
            "violations": [v.data() for v in self.violations],
            "exceptions": [w.data() for w in self.waivers],
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_data(cls, data: dict[str, Any] | None) -> Checked:
        if not data:
            return cls()
        violations = [Violation.from_data(v) for v in data["violations"]]
        waivers = [Waiver.from_data(w) for w in data["exceptions"]]
        rules = tuple(str(r) for r in data["rules"])
        return cls(rules, violations, waivers, [str(w) for w in data["warnings"]])


def _at(where: Location | None) -> str | None:
    return None if where is None else f"{where.file}:{where.line}"


def _location(text: Any) -> Location | None:
    """`file:line` as `data()` wrote it."""
    if not text:
        return None
    file, _, line = str(text).rpartition(":")
    return Location(file, int(line), 0)
