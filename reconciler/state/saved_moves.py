"""A saved plan's moves (format 5): each key the manifest moved between accounts, so that `show`
prints its `↦` line as `plan` did. A move holds names only (the key's address, its two
accounts) and whether an earlier run created it already: never a key. It is for showing:
`apply --plan` finds the moves again from each account's state, never from here. An entry
not as a plan writes it (edited by hand) is refused, naming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reconciler.core.errors import StateError
from reconciler.core.plans import Move
from reconciler.core.printable import printable

FIELDS = ("address", "from", "to", "created_earlier")  # as the plan's JSON names them, and the flag


def encode(moves: Sequence[Move]) -> list[dict[str, Any]]:
    """The moves in the plan's order (the order its lines are shown in)."""
    return [
        {"address": m.address, "from": m.source, "to": m.target, "created_earlier": m.created_earlier}
        for m in moves
    ]


def decode(path: str, data: Any) -> tuple[Move, ...]:
    """The moves as saved; StateError naming the first entry a plan does not write."""
    if not isinstance(data, list):
        raise _edited(path, "moves is not a list of moves")
    moves: list[Move] = []
    seen: set[tuple[str, str]] = set()
    for index, entry in enumerate(data):
        why = _wrong(entry) or _again(entry, seen)
        if why:
            raise _edited(path, f"moves[{index}]{why}")
        moves.append(Move(entry["address"], entry["from"], entry["to"], entry["created_earlier"]))
        seen.add((entry["address"], entry["from"]))
    return tuple(moves)


def _wrong(entry: Any) -> str:
    """Why the entry is not a move as a plan writes it, after its name (`moves[0]`); "": it is."""
    if not isinstance(entry, dict):
        return " is not a move"
    missing = next((f for f in FIELDS if f not in entry), None)
    if missing is not None:
        return f" has no {missing!r}"
    extra = next((f for f in sorted(entry) if f not in FIELDS), None)
    if extra is not None:
        return f" has {printable(extra)!r}, which no move holds"
    unnamed = next((f for f in FIELDS[:3] if not isinstance(entry[f], str) or not entry[f]), None)
    if unnamed is not None:
        return f".{unnamed} is not a name"
    if not isinstance(entry["created_earlier"], bool):
        return ".created_earlier is not true or false"
    if entry["from"] == entry["to"]:
        return f" moves {printable(entry['address'])} from account {printable(entry['from'])} to itself"
    return ""


def _again(entry: dict[str, Any], seen: set[tuple[str, str]]) -> str:
    """A key leaves an account by one move at most (it may arrive by several: moved on while half done)."""
    if (entry["address"], entry["from"]) in seen:
        return f" moves {printable(entry['address'])} from account {printable(entry['from'])} again"
    return ""


def _edited(path: str, what: str) -> StateError:
    return StateError(f"{path}: {what} (edited by hand?): plan again")
