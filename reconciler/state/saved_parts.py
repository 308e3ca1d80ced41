"""A saved plan's two parts must say the same: what `show` prints (`plan`) and what apply sends
(`changes`). The digest covers the file's bytes, so a file put together from two plans (the
shown part of one, the changes of another) keeps its digest and would show one thing and apply
another: every key whose change differs between the two parts is named, and the file refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.core.changes import NEW_KEY, Action
from reconciler.core.errors import StateError
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
