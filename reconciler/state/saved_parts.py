"""A saved plan's two parts must say the same: what `show` prints (`plan`) and what apply sends
(`changes`). The digest covers the file's bytes, so a file put together from two plans (the
shown part of one, the changes of another), or whose shown part alone was edited, keeps its
digest and would show one thing and apply another: every key whose shown change is not the one
applied (its action, key, operations, and what they make of it: `saved_shown`), or not as the
plan was written (`saved_digest`), is named, and the file refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from reconciler.core.changes import NEW_KEY, Action
from reconciler.core.errors import StateError
from reconciler.core.keys import MONEY
from reconciler.core.printable import printable
from reconciler.state import saved_digest, saved_shown

CHANGES_NOTHING = tuple(a.label for a in Action if not a.changes_something)  # shown, never applied
NAMED = 10  # keys named in the message; the rest counted


def check(path: str, part: Mapping[str, Any], account: str = "") -> None:
    """StateError naming every key whose applied change is not the one shown, or whose shown
    entry is not the one written. `part` is the file's part (its `plan`, `layout`, `changes`),
    as the file holds it (plain JSON); `account`: its account's name, when it declares one."""
    found = differences(part["plan"]["keys"], part["changes"])
    keys, rest = saved_digest.edited(path, part)
    found |= {_address(part, i): _REWRITTEN for i in keys if _address(part, i) not in found}
    lines = _lines(found, rest, printable(account))
    if lines:
        more = f"; and {len(lines) - NAMED} more" if len(lines) > NAMED else ""
        raise StateError(
            f"{path}: the changes it would apply are not the plan it shows (edited by hand, or put "
            f"together from two plans?): {'; '.join(lines[:NAMED])}{more}: plan again"
        )


def _lines(found: Mapping[str, str], rest: bool, account: str) -> list[str]:
    """A line per key by its address (`prod/web` in an account's part), then the rest's."""
    lines = [f"{f'{account}/' if account else ''}{printable(a)} {why}" for a, why in sorted(found.items())]
    return lines + ([f"{f'account {account}: ' if account else ''}{_REST}"] if rest else [])


_REWRITTEN = "is not shown as the plan wrote it (its reason, warnings, key or another line edited?)"
_REST = "its totals, notes, problems, unmanaged keys, policy or groups are not shown as the plan wrote them"


def _address(part: Mapping[str, Any], index: int) -> str:
    return str(part["plan"]["keys"][index]["address"])


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


def differences(shown: list[dict[str, Any]], changes: Mapping[str, Any]) -> dict[str, str]:
    """Each key (by address) whose shown change and applied change differ, and why."""
    listed = {str(k["address"]): k for k in shown if k["action"] not in CHANGES_NOTHING}
    found = {str(k["address"]): saved_shown.idle(k) for k in shown if k["action"] in CHANGES_NOTHING}
    for address in listed.keys() | changes.keys():
        found[address] = _differs(address, listed.get(address), changes.get(address))
    return {address: why for address, why in found.items() if why}


def _differs(address: str, shown: dict[str, Any] | None, applied: Any) -> str:
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
    if applied.get("after") != shown.get("after"):
        return "is shown waiting for another key's rotation than the one it would wait for"
    return saved_shown.mismatch(address, shown, applied)


def _action(applied: Any) -> str:
    action = applied.get("action") if isinstance(applied, dict) else None
    return printable(str(action)) if action else "an unknown change"
