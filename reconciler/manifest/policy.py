"""Policies and budgets in the manifest: `policy:` and `budget:` read (at the top, and per
account), and the key rules checked from the manifest alone, so that `validate` says them
offline and every plan shows them.

A rule on a field needs the field set, on the key or in `defaults`: a field left out keeps a
live value nobody reviewed, so it breaks the rule too. A key's `policy_exceptions` waive a
rule by its name (for `require`, by the field). An absent key is being deleted: no rule holds.
"""

from __future__ import annotations

import fnmatch
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from reconciler.core.durations import Duration
from reconciler.core.keys import UNKNOWN_WINDOW, DesiredKey, Location
from reconciler.core.money import money
from reconciler.core.policy import (
    ACCOUNT_RULES,
    BUDGET_RULES,
    WAIVABLE,
    Budget,
    KeyRules,
    Policy,
    Violation,
    Waiver,
)
from reconciler.core.times import iso
from reconciler.manifest import namepattern
from reconciler.manifest.diagnostics import WARNING, Diagnostic

Path = tuple[Any, ...]
Report = Callable[[Path, str], None]  # an error at a path of the file that states the rules
Where = Callable[[Path], Location]  # where a path of that file is
Locate = Callable[[tuple[str, ...]], tuple[Location, str, bool]]  # a key's path -> where, path, own
_TUPLES = ("require", "limit_types", "allowed_models")
_MONEY = ("max_allocation", "max_total_allocation", "max_net_debit", "warn_net_debit", "max_allocated")


def read_policy(raw: Any, path: Path, bad: set[Path], report: Report, where: Where) -> Policy:
    """The rules the schema found right; a name_pattern RE2 cannot run (`namepattern`) is said,
    and left out."""
    found = _read(raw, path, bad, Policy)
    pattern = found.get("name_pattern")
    problem = None if pattern is None else namepattern.refusal(pattern)
    if problem is not None:
        report((*path, "name_pattern"), problem)
        del found["name_pattern"]
    return Policy(**found, at=tuple((n, where((*path, n))) for n in found))


def read_budget(raw: Any, path: Path, bad: set[Path], where: Where) -> Budget:
    found = _read(raw, path, bad, Budget)
    return Budget(**found, at=tuple((n, where((*path, n))) for n in found))


def _read(raw: Any, path: Path, bad: set[Path], rules: type[Policy | Budget]) -> dict[str, Any]:
    """Each rule the schema found right, on its own: a misspelt one (an error of its own) leaves
    the others in force, else a typo would hide every real violation until it was fixed."""
    if not isinstance(raw, dict):
        return {}
    known = {f.name for f in fields(rules)} - {"at"}
    found = {}
    for name, value in raw.items():
        at = (*path, name)
        if name in known and not any(wrong[: len(at)] == at for wrong in bad):  # [gpt-4o*, 5] too
            found[name] = _value(name, value)
    return found


def _value(name: str, value: Any) -> Any:
    if name in _TUPLES:
        return tuple(str(v) for v in value)
    if name in _MONEY:
        return Decimal(value)
    if name == "max_lifetime":
        return Duration.parse(value).days
    return value


_LIMITS = (*_MONEY, "max_debit", "per_key_cap")
_HOLDERS = ("accounts", "groups", "policy", "budget")  # where a limit is stated, below the top


def sub_cent(data: Any, path: Path = ()) -> Iterator[tuple[Path, Decimal]]:
    """Each credit limit (a rule's, a budget's, max_debit, per_key_cap) finer than a cent: it
    would be shown rounded, so a plan over it by less than a cent would read "120.00 is over 120.00"."""
    if not isinstance(data, dict):
        return
    for name, value in data.items():
        at = (*path, name)
        if name in _LIMITS and isinstance(value, Decimal) and value.is_finite():
            if _places(value) > 2:
                yield at, value
        elif name in _HOLDERS or (path[-1:] in (("accounts",), ("groups",))):
            yield from sub_cent(value, at)


def _places(value: Decimal) -> int:
    """Decimal places `value` needs (1.10: 1), by its digits alone: quantize or normalize of a
    number-shaped 1e999999 raises."""
    _, digits, exponent = value.as_tuple()
    zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return -(exponent + zeros) if isinstance(exponent, int) else 0


def never_warns(budgets: Iterable[Budget]) -> list[Diagnostic]:
    """A warning where a warn_net_debit is not below the max_net_debit that holds with it (an
    account's own, or the top level's): a plan over it is refused anyway, so it never warns."""
    found = []
    for budget in budgets:
        warn, limit, where = budget.warn_net_debit, budget.max_net_debit, budget.where("warn_net_debit")
        if warn is None or limit is None or warn < limit or where is None:
            continue
        at = budget.where("max_net_debit")
        stated = f" ({at.file}:{at.line})" if at is not None else ""
        message = (
            f"warn_net_debit {money(warn)} is not below max_net_debit {money(limit)}{stated}: a plan "
            "debiting more is refused anyway, so this never warns first; set it lower, or leave it out"
        )
        found.append(Diagnostic(where.file, where.line, where.col, "warn_net_debit", message, WARNING))
    return found


def lifetime_message(value: Any, shown: str) -> str:
    """Why a max_lifetime is refused (`shown`: the value as messages show it)."""
    wanted = "must be a number of days or weeks, like 90d or 12w"
    if value == "never":
        return (
            f"{wanted}: never is refused (the rule bounds how far ahead each key's expiry may be; "
            "to let keys never expire, leave max_lifetime out)"
        )
    if isinstance(value, str) and re.fullmatch(r"[1-9][0-9]{5,}[dw]", value):
        return f"{wanted}, at most 99999 of them (got {shown}); to allow any expiry, leave max_lifetime out"
    return f"{wanted} (got {shown})"


def exceptions(raw: Any, path: Path, bad: set[Path]) -> dict[str, str]:
    """A key's `policy_exceptions` the schema found right, each on its own: a misspelt one (an
    error of its own) leaves the others in force, else the rules they waive would break falsely."""
    if not isinstance(raw, dict):
        return {}
    return {r: v for r, v in raw.items() if r in WAIVABLE and isinstance(v, str) and (*path, r) not in bad}


def not_excepted(name: str, allowed: list[str]) -> str | None:
    """Why a key's `policy_exceptions` cannot name `name` (None: it is no rule at all)."""
    if name == "require":
        return (
            "an exception to require names the field it waives (expires_at, model_whitelist or "
            'ip_whitelist), not require: ip_whitelist: "partner calls from changing IPs"'
        )
    if name in (*ACCOUNT_RULES, *BUDGET_RULES):
        names = ", ".join(allowed)
        return (
            f"{name} holds over keys together (an account's or a group's): no one key is excepted "
            f"from it; an exception names a rule on each key or a field require asks for: {names}"
        )
    return None


def diagnostic(violation: Violation) -> Diagnostic:
    """A key's violation as `validate` says it: an error at the value, naming the rule and the
    key (its id, else its name: `keys[1]` alone says little in a team file)."""
    where = violation.where or Location("", 0, 0)
    message = f"policy {violation.rule}: {violation.message}"
    return Diagnostic(where.file, where.line, where.col, violation.path, message, key_id=violation.address)


# --- the key rules --------------------------------------------------------------------------


@dataclass
class Found:
    """One key's findings: rules broken, exceptions in force, exceptions that waive nothing."""

    violations: list[Violation] = field(default_factory=list)
    waivers: list[Waiver] = field(default_factory=list)
    idle: list[str] = field(default_factory=list)


Broken = tuple[str, str, str, str, str]  # rule, field, message, value, limit


def check_key(key: DesiredKey, rules: KeyRules, now: int | None, locate: Locate) -> Found:
    """What the key breaks of `rules`, where (`locate`), and which of its exceptions are in
    force; `now` (default: the local clock) is the day max_lifetime counts from."""
    found = Found()
    if key.absent:
        return found
    policy, waived = rules.policy, rules.waived
    names = {*policy.stated, *policy.require} - {"require"}
    for rule, reason in waived.items():
        if rule in names:
            where = locate(("policy_exceptions", rule))[0]
            found.waivers.append(Waiver(key.address, rule, reason, where, key.account))
        else:
            found.idle.append(rule)
    for rule, name, message, value, limit in _broken(key, policy, now):
        if (name if rule == "require" else rule) not in waived:
            where, path, own = locate((name,))
            message += "" if own or value == "(not set)" else " (from defaults)"
            violation = Violation(rule, message, value, limit, key.address, where, path, key.account)
            found.violations.append(violation)
    return found


def _broken(key: DesiredKey, policy: Policy, now: int | None) -> Iterator[Broken]:
    if policy.max_allocation is not None:
        yield from _max_allocation(key, policy.max_allocation)
    for name in policy.require:
        yield from _required(key, name)
    if policy.max_lifetime is not None:
        yield from _lifetime(key, policy.max_lifetime, int(time.time()) if now is None else now)
    if policy.limit_types and key.limit_type not in (*policy.limit_types, UNKNOWN_WINDOW, None):
        allowed = ", ".join(policy.limit_types)
        message = f"limit_type {key.limit_type} is not one of {allowed}"
        yield "limit_types", "limit_type", message, str(key.limit_type), allowed
    if policy.name_pattern is not None and not namepattern.matches(policy.name_pattern, key.name):
        message = f"name {key.name!r} does not match {policy.name_pattern}"
        yield "name_pattern", "name", message, key.name, policy.name_pattern
    if policy.allowed_models:
        yield from _models(key, policy.allowed_models)


def _unset(rule: str, name: str, limit: str) -> Broken:
    message = f"{name} is not set (on the key or in defaults): its live value would be kept unchecked"
    return rule, name, message, "(not set)", limit


def _max_allocation(key: DesiredKey, limit: Decimal) -> Iterator[Broken]:
    value = key.allocated_ammount
    if value is None:
        yield _unset("max_allocation", "allocated_ammount", money(limit))
    elif value > limit:
        message = f"allocated_ammount {money(value)} is over {money(limit)}"
        yield "max_allocation", "allocated_ammount", message, money(value), money(limit)


def _required(key: DesiredKey, name: str) -> Iterator[Broken]:
    value = getattr(key, name)
    limit = "set and non-empty"
    if value is None:
        yield _unset("require", name, limit)
    elif value == -1:
        yield "require", name, f"{name} is never: the policy requires an expiry", "never", limit
    elif not value and name != "expires_at":
        every = "models" if name == "model_whitelist" else "IPs"
        message = f"{name} is [] (all {every}): the policy requires it set and non-empty"
        yield "require", name, message, "[]", limit


def _lifetime(key: DesiredKey, days: int, now: int) -> Iterator[Broken]:
    today = datetime.fromtimestamp(now, tz=timezone.utc).date()
    last = today + timedelta(days=days)
    limit = f"{days}d (until {last.isoformat()})"
    latest = int(datetime(last.year, last.month, last.day, 23, 59, 59, tzinfo=timezone.utc).timestamp())
    expires = key.expires_at
    if expires is None:
        yield _unset("max_lifetime", "expires_at", limit)
    elif expires == -1:
        message = f"expires_at is never: at most {days} days ahead of today (until {last.isoformat()})"
        yield "max_lifetime", "expires_at", message, "never", limit
    elif expires > latest:
        message = f"expires_at {iso(expires)} is over {days} days ahead of today (at most {last.isoformat()})"
        yield "max_lifetime", "expires_at", message, iso(expires), limit


def _models(key: DesiredKey, patterns: tuple[str, ...]) -> Iterator[Broken]:
    allowed = ", ".join(patterns)
    models = key.model_whitelist
    if models is None:
        yield _unset("allowed_models", "model_whitelist", allowed)
        return
    if not models:
        message = f"model_whitelist is [] (all models), not only {allowed}"
        yield "allowed_models", "model_whitelist", message, "[]", allowed
    outside = sorted(m for m in models if not any(fnmatch.fnmatchcase(m, p) for p in patterns))
    if outside:
        listed = ", ".join(outside)
        entries = f"entry {listed} matches" if len(outside) == 1 else f"entries {listed} match"
        message = f"model_whitelist {entries} none of {allowed}"
        yield "allowed_models", "model_whitelist", message, listed, allowed
