"""What a pull request changes of the rules: each difference between the policies, budgets,
accounts' ceilings and exceptions on its base commit and in it, and which way it goes where that
is clear.

A plan is judged by the rules of the change it plans: a pull request that loosens a rule and
uses the room in one change passes its own check. So the plan job compares the rules with the
base's and shows each difference where reviewers look first (as Atlantis and Terraform Cloud
keep policy out of the change it judges). Pure values: the manifests' comparison is
`manifest.rulediff`, the words `render.rules`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from decimal import Decimal
from typing import Any

from reconciler.core.accounts import Account
from reconciler.core.money import money
from reconciler.core.policy import Rules

LOOSER, TIGHTER, CHANGED = "looser", "tighter", "changed"
NEW, REMOVED = "new", "removed"  # a whole account or group with rules, new or gone
CEILINGS = (
    "max_allocation",
    "max_total_allocation",
    "max_lifetime",
    "max_net_debit",
    "warn_net_debit",
    "max_allocated",
)
"""Rules that are a most: a higher one, or none, lets more through."""
CAPS = ("max_debit", "key_cap", "per_key_cap")
"""An account's own ceilings, also most: what one apply may debit it (gross), and its tier's
facts, how many keys and how much one key may be allocated."""
ALLOWING = ("limit_types", "allowed_models")  # more entries allow more; none: anything
NOT_SET = "(not set)"
INHERITED = "(the account's)"  # a group's rule it does not state: its account's holds


@dataclass(frozen=True)
class RuleChange:
    """One rule whose value differs: `whose` is `account prod`, `group ml`, or '' (the one
    account of a manifest without `accounts:`)."""

    rule: str
    whose: str
    before: str
    after: str
    way: str


@dataclass(frozen=True)
class ExceptionChange:
    """A key's `policy_exceptions` entry added, removed, or given another reason (None: none)."""

    address: str
    rule: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class CapChange:
    """An account's ceiling (one of CAPS) whose value in force differs, as values: None is not
    set, which is no ceiling, or `unset` where the loader holds keys to one then (per_key_cap's
    default). On an account new or gone (`way` NEW or REMOVED) the side it lacks is None."""

    rule: str
    whose: str
    before: Decimal | None
    after: Decimal | None
    way: str
    unset: Decimal | None = None


Change = RuleChange | ExceptionChange | CapChange


@dataclass(frozen=True)
class RulesReview:
    """A plan job's comparison of the rules with the base commit's: the changes, or why there
    is nothing to compare (`absent`: the root is new) or they could not be (`problem`); with
    `rules-apart`, its verdict (`apart`) and whether the check fails."""

    base: str = ""  # the base commit compared with
    changes: tuple[Change, ...] = ()
    absent: bool = False
    problem: str = ""
    apart: str = ""
    fails: bool = False

    def judged(self, keys: int) -> RulesReview:
        """rules-apart's verdict, for a plan that changes `keys` keys."""
        if self.problem:
            why = f"rules-apart: the rules could not be compared with the base's ({self.problem})"
            return _with(self, why, True)
        if self.changes and keys:
            return _with(self, _apart(keys), True)
        if self.changes:
            return _with(self, "rules-apart: this pull request changes only the rules: it passes", False)
        return self


def _apart(keys: int) -> str:
    changed = f"{keys} key" + ("" if keys == 1 else "s")
    return (
        f"rules-apart: this pull request changes the rules and {changed}: change the rules in a pull "
        "request of their own, merge it, then use them"
    )


def _with(review: RulesReview, apart: str, fails: bool) -> RulesReview:
    return replace(review, apart=apart, fails=fails)


def rule_changes(before: Rules, after: Rules, whose: str, inherits: bool = False) -> list[RuleChange]:
    """Each rule whose value differs (a list by its entries, in any order); `inherits`: a rule
    not stated is the account's (a group's), so which way it goes is not clear."""
    found = []
    for name in (f.name for f in fields(before) if f.name != "at"):
        old, new = _side(before, name, inherits), _side(after, name, inherits)
        if old != new:
            way = CHANGED if inherits and None in (old[0], new[0]) else _way(name, old[1], new[1])
            found.append(RuleChange(name, whose, _shown(name, *old), _shown(name, *new), way))
    return found


def whole(rules: Rules, whose: str, way: str, label: str) -> list[RuleChange]:
    """Every rule stated by an account or group that is new (`label` its missing side) or gone."""
    stated = [(name, _shown(name, True, getattr(rules, name))) for name in rules.stated]
    return [RuleChange(name, whose, *((label, v) if way == NEW else (v, label)), way) for name, v in stated]


def cap_changes(before: Account, after: Account, whose: str, unset: Decimal | None = None) -> list[CapChange]:
    """Each ceiling of CAPS whose value in force differs; `unset`: per_key_cap's when none is set."""
    found = []
    for name in CAPS:
        fallback = unset if name == "per_key_cap" else None
        old, new = _cap(before, name), _cap(after, name)
        held = (fallback if old is None else old, fallback if new is None else new)
        if held[0] != held[1]:
            found.append(CapChange(name, whose, old, new, _way(name, *held), fallback))
    return found


def whole_caps(account: Account, whose: str, way: str) -> list[CapChange]:
    """Each ceiling an account new (`way` NEW) or gone (REMOVED) sets."""
    values = [(name, value) for name in CAPS if (value := _cap(account, name)) is not None]
    if way == NEW:
        return [CapChange(name, whose, None, value, way) for name, value in values]
    return [CapChange(name, whose, value, None, way) for name, value in values]


def _cap(account: Account, name: str) -> Decimal | None:
    value = getattr(account, name)
    return None if value is None else Decimal(value)


def _side(rules: Rules, name: str, inherits: bool) -> tuple[bool | None, Any]:
    """(stated, the value compared): a list as its sorted entries; a group's unstated rule is None."""
    value = getattr(rules, name)
    value = tuple(sorted(value)) if isinstance(value, tuple) else value
    if name not in rules.stated:
        return (None, None) if inherits else (True, value)
    return True, value


def _way(name: str, old: Any, new: Any) -> str:
    if name in CEILINGS or name in CAPS:
        return TIGHTER if old is None or (new is not None and new < old) else LOOSER
    if name == "require":  # fewer fields required: looser
        return _nested(set(new), set(old))
    if name in ALLOWING:  # none: anything is allowed
        return LOOSER if not new else TIGHTER if not old else _nested(set(old), set(new))
    return TIGHTER if old is None else LOOSER if new is None else CHANGED


def _nested(small: set[str], large: set[str]) -> str:
    """LOOSER when `small` is inside `large`, TIGHTER the other way round, else CHANGED."""
    return LOOSER if small < large else TIGHTER if small > large else CHANGED


def _shown(name: str, stated: bool | None, value: Any) -> str:
    if stated is None:
        return INHERITED
    if value is None:
        return NOT_SET
    if isinstance(value, Decimal):
        return money(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(value) + "]"
    if name == "max_lifetime":
        return f"{value}d"
    return json.dumps(value, ensure_ascii=False)
