"""What a saved plan shows of a change, worked out again from what it applies: the live values
it was planned against and the operations it sends (`changes`) make the key's name, each
field's before and after, the credit, and the warnings that follow from the change itself
(`core.risks`). The shown part (`plan`) must say exactly these: a reviewer reads it, apply sends
the other. What cannot be worked out offline (a reason, the other warnings, a key's last four
characters, a manifest key's name on its delete) is checked by `saved_digest`, and apply
compares the name and the key with the plan it makes now (`SavedPlan.check_shown`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from reconciler.core import risks
from reconciler.core.changes import Credit, held_by_none
from reconciler.core.keys import CREATE_DEFAULTS, MONEY, VISIBLE
from reconciler.core.money import money
from reconciler.core.printable import printable
from reconciler.core.secrets import scrub
from reconciler.core.times import when

SEEN = (*VISIBLE, "is_active")  # a key's values the account reports: a change's before and after
CREATED = ("name", "expires_at", "allocated_ammount", "model_whitelist", "ip_whitelist")  # a create shows
WHITELISTS = ("model_whitelist", "ip_whitelist")
BAD = (KeyError, TypeError, ValueError, ArithmeticError)  # a value of a shape no plan writes


@dataclass(frozen=True)
class Derived:
    """A change as its live values and its operations make it (values normalised to compare)."""

    name: str | None  # None: not worked out (a manifest key's delete shows the manifest's name)
    fields: dict[str, tuple[Any, Any]]  # each field it changes: before, after
    window: str | None  # the limit_type it sends (its before is never reported); None: sends none
    created: bool
    credit: Credit
    warnings: tuple[str, ...]


def mismatch(address: str, shown: Mapping[str, Any], applied: Mapping[str, Any]) -> str:
    """Why what the plan shows of this change is not what it applies, after its address ('':
    it is). `shown` is its entry of `plan.keys`, `applied` of `changes`, as the file holds them."""
    try:
        made = derive(address, applied)
    except BAD:
        return "would be sent operations that no plan sends"
    for check in (_named, _fields, _credited, _warned):
        why = check(shown, made)
        if why:
            return why
    return ""


def idle(shown: Mapping[str, Any]) -> str:
    """Why a change that sends nothing (unchanged, or in error) is not shown as one: a credit."""
    credit = Credit.from_data(shown["credit"])
    if credit == Credit():
        return ""
    return f"is shown to move {_credit(credit)}, but it sends nothing"


def derive(address: str, applied: Mapping[str, Any]) -> Derived:
    action, live = applied["action"], _values(applied.get("live") or {})
    final = _after(live, applied["operations"])
    if action == "delete":
        name = live["name"] if held_by_none(address) else None
        credit = Credit.deleted(live["allocated_ammount"], live["used_ammount"])
        return Derived(name, {}, None, False, credit, ())
    created = action == "create"
    fields = _changed(live, final, created)
    if created or action == "rotate":
        credit = Credit.created(final["allocated_ammount"])
    else:
        credit = Credit.between(live["allocated_ammount"], final["allocated_ammount"], live["used_ammount"])
    warned = _warnings(action, live, final, fields)
    return Derived(final["name"], fields, final.get("limit_type"), created, credit, warned)


def _after(live: Mapping[str, Any], operations: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The key's values once the operations are made, as apply's verification folds them."""
    state = dict(live)
    for op in operations:
        kind = op["kind"]
        if kind == "create":
            state = {"limit_type": CREATE_DEFAULTS["limit_type"], "is_active": True, **_values(op["body"])}
        elif kind == "update":
            state |= _values(op["body"])
        elif kind == "toggle":
            state["is_active"] = _value("is_active", op["is_active"])
        elif kind != "remove":
            raise ValueError(f"unknown operation {kind!r}")
    return state


def _changed(live: Mapping[str, Any], final: Mapping[str, Any], created: bool) -> dict[str, tuple[Any, Any]]:
    """A create shows every field it sends (and is_active only when off); a change of a live key
    each value that ends other than the live one."""
    if created:
        off = {"is_active": (None, False)} if final["is_active"] is False else {}
        return {f: (None, final[f]) for f in CREATED} | off
    return {f: (live.get(f), final.get(f)) for f in SEEN if final.get(f) != live.get(f)}


def _warnings(
    action: str, live: Mapping[str, Any], final: Mapping[str, Any], fields: Mapping[str, tuple[Any, Any]]
) -> tuple[str, ...]:
    """The warnings a plan gives such a change because of the change itself (`core.risks`)."""
    if action == "create":
        return tuple(risks.opened(final["model_whitelist"], final["ip_whitelist"]))
    if action not in ("update", "enable", "disable"):
        return ()
    found = []
    allocation, used = final["allocated_ammount"], live["used_ammount"]
    if "allocated_ammount" in fields and allocation < used:
        found.append(risks.exhausted(allocation, used))
    models, ips = fields.get("model_whitelist"), fields.get("ip_whitelist")
    added = sorted(ips[1] - ips[0]) if ips else []
    found += risks.widened(models[1] if models else None, ips[1] if ips else None, added)
    return tuple(found)


def _named(shown: Mapping[str, Any], made: Derived) -> str:
    if made.name is None or shown["name"] == made.name:
        return ""
    return f"is shown named {_text(shown['name'])}, but what it would apply names it {_text(made.name)}"


def _fields(shown: Mapping[str, Any], made: Derived) -> str:
    listed: Mapping[str, Any] = shown["changes"]
    for name, pair in listed.items():
        why = _field(name, pair, made)
        if why:
            return why
    missing = next((f for f in made.fields if f not in listed), None)
    if missing is None:
        return ""
    return f"does not show its change of {missing} ({_pair(missing, *made.fields[missing], made.created)})"


def _field(name: str, pair: Mapping[str, Any], made: Derived) -> str:
    """Why one field's line is not what the change does ('': it is)."""
    try:
        before, after = _value(name, pair["before"]), _value(name, pair["after"])
    except BAD:
        return f"shows {name} as no plan writes it"
    if made.created and before is not None:
        return f"shows {name} of a key it creates as changed from {_said(name, before)}"
    if name == "limit_type" and made.window is not None and name not in made.fields:
        if after == made.window:
            return ""  # the window sent; the one it replaces is never reported, so never compared
        expected = (before, made.window)
    elif name in made.fields:
        expected = made.fields[name]
    else:
        return f"shows a change of {name} that it would not apply"
    if (before, after) == expected:
        return ""
    shows, applied = _pair(name, before, after, made.created), _pair(name, *expected, made.created)
    return f"shows {name}: {shows}, but would be applied as {applied}"


def _credited(shown: Mapping[str, Any], made: Derived) -> str:
    credit = Credit.from_data(shown["credit"])
    if credit == made.credit:
        return ""
    return f"is shown to move {_credit(credit)}, but its operations move {_credit(made.credit)}"


def _warned(shown: Mapping[str, Any], made: Derived) -> str:
    missing = next((w for w in made.warnings if w not in shown["warnings"]), None)
    return "" if missing is None else f"does not show its warning {_text(missing)}"


def _values(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _value(name, value) for name, value in values.items()}


def _value(name: str, value: Any) -> Any:
    """A value as the file holds it, normalised to compare (money exact, whitelists as sets);
    ValueError when it is of a shape no plan writes."""
    if value is None:
        return None
    if name in MONEY and isinstance(value, (int, float, str)) and not isinstance(value, bool):
        amount = Decimal(str(value))
        if amount.is_finite():
            return amount
    elif name in WHITELISTS and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return frozenset(value)
    elif name in ("expires_at", "is_active"):
        if isinstance(value, bool) == (name == "is_active") and isinstance(value, int):
            return value
    elif name not in MONEY and name not in WHITELISTS and isinstance(value, str):
        return value
    raise ValueError(f"{name} {value!r}")


def _pair(name: str, before: Any, after: Any, created: bool = False) -> str:
    """A field's line as the plan shows it: a create's value alone (it has no before)."""
    return _said(name, after) if created else f"{_said(name, before)} -> {_said(name, after)}"


def _said(name: str, value: Any) -> str:
    """A value for a message: as the plan shows it, a name made printable and never a key."""
    if value is None:
        return "(unknown)"
    if isinstance(value, Decimal):
        return money(value)
    if isinstance(value, frozenset):
        return "[" + ", ".join(_text(v)[1:-1] for v in sorted(value)) + "]"
    if name == "expires_at":
        return when(value)
    return json.dumps(value) if isinstance(value, bool) else _text(value)


def _text(value: Any) -> str:
    return json.dumps(printable(scrub(str(value))), ensure_ascii=False)


def _credit(credit: Credit) -> str:
    return f"{money(credit.net, sign=True)} (allocation {money(credit.allocation_delta, sign=True)})"
