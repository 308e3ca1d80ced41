"""A saved plan's two parts must say the same: what `show` prints (`plan`) and what apply sends
(`changes`). The digest covers the file's bytes, so a file put together from two plans (the
shown part of one, the changes of another) keeps its digest and would show one thing and apply
another: every key whose change differs between the two parts is named, and the file refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from reconciler.core.changes import NEW_KEY, Action
from reconciler.core.errors import StateError
from reconciler.core.keys import MONEY
from reconciler.core.printable import printable

CHANGES_NOTHING = tuple(a.label for a in Action if not a.changes_something)  # shown, never applied


def check(path: str, shown: list[dict[str, Any]], changes: Mapping[str, Any]) -> None:
    """StateError naming every key whose applied change is not the one shown. `shown` is the
    file's `plan.keys`, `changes` its `changes`, both as the file holds them (plain JSON)."""
    found = differences(shown, changes)
    if found:
        raise StateError(
            f"{path}: the changes it would apply are not the plan it shows (edited by hand, or put "
            f"together from two plans?): {'; '.join(found)}: plan again"
        )


def check_live(path: str, changes: Mapping[str, Any]) -> None:
    """StateError naming the first change whose recorded live values are not of the shape a plan
    writes (what apply compares with, and says of, when the key moved since): edited by hand."""
    for address, change in sorted(changes.items()):
        live = change.get("live") if isinstance(change, dict) else None
        if live is None:
            continue
        where = None if isinstance(live, dict) else ""  # "": live itself is of another shape
        if isinstance(live, dict):
            where = next((f".{printable(f)}" for f, v in live.items() if not _of_shape(f, v)), None)
        if where is not None:
            raise StateError(
                f"{path}: changes[{printable(address)}].live{where} is not what a plan records "
                "(edited by hand?): plan again"
            )


def _of_shape(field: str, value: Any) -> bool:
    if value is None:
        return True
    if field in MONEY:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if field in ("expires_at", "created_at"):
        return isinstance(value, int) and not isinstance(value, bool)
    if field in ("model_whitelist", "ip_whitelist"):
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if field == "is_active":
        return isinstance(value, bool)
    return isinstance(value, str)


def differences(shown: list[dict[str, Any]], changes: Mapping[str, Any]) -> list[str]:
    """One line per key (by address) whose shown change and applied change differ."""
    listed = {str(k["address"]): k for k in shown if k["action"] not in CHANGES_NOTHING}
    found = []
    for address in sorted(listed.keys() | changes.keys()):
        why = _differs(listed.get(address), changes.get(address))
        if why:
            found.append(f"{printable(address)} {why}")
    return found


def _differs(shown: dict[str, Any] | None, applied: Any) -> str:
    if shown is None:
        return f"would be applied ({_action(applied)}) but the shown plan does not list it"
    action = shown["action"]
    if not isinstance(applied, dict):
        return f"is shown ({action}) but is not among the changes it would apply"
    if applied.get("action") != action:
        return f"is shown as {action} but would be applied as {_action(applied)}"
    if (applied.get("key") is None) != (shown["key"] == NEW_KEY):
        return "is shown for another key than the one it would be applied to"
    if applied.get("operations") != shown["operations"]:
        return "would be sent other operations than the ones shown"
    return ""


def _action(applied: Any) -> str:
    action = applied.get("action") if isinstance(applied, dict) else None
    return printable(str(action)) if action else "an unknown change"
