"""A saved plan's moves (format 5): each key the manifest moved between accounts, so that `show`
prints its `↦` line as `plan` did. A move holds names only (the key's address, its two
accounts) and whether an earlier run created it already: never a key. It is for showing:
`apply --plan` finds the moves again from each account's state, never from here. An entry
not as a plan writes it (edited by hand) is refused, naming it; so are moves not as the plan
wrote them (`moves_digest`, `saved_digest`), and a move its account's part contradicts: the
key it says leaves an account is created, kept or changed there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.core.changes import Action
from reconciler.core.errors import StateError
from reconciler.core.plan import Plan
from reconciler.core.plans import Move
from reconciler.core.printable import printable
from reconciler.state import saved_digest

FIELDS = ("address", "from", "to", "created_earlier")  # as the plan's JSON names them, and the flag


def encode(moves: Sequence[Move]) -> dict[str, Any]:
    """The file's `moves`, in the plan's order (the order its lines are shown in), and their digest."""
    listed = [
        {"address": m.address, "from": m.source, "to": m.target, "created_earlier": m.created_earlier}
        for m in moves
    ]
    return {"moves": listed, saved_digest.MOVES: saved_digest.of(listed)}


def check(path: str, data: Mapping[str, Any], moves: Sequence[Move], parts: Mapping[str, Plan]) -> None:
    """StateError naming the first move whose source account's part keeps, creates or changes
    the key it says leaves (a move shown the wrong way round, or of another key), or saying the
    moves are not the ones the plan wrote (`data`: the file; one saved before ehkeys recorded
    their digest, or without moves, has none, and is read as it is)."""
    for index, move in enumerate(moves):
        part = parts.get(move.source)
        kept = [c for c in part.changes_of(move.address) if c.action not in _LEAVING] if part else []
        if kept:
            said = f"moves[{index}] moves {printable(move.address)} from account {printable(move.source)}"
            said += f" to {printable(move.target)}, but that account's part would {kept[0].action.label} it"
            raise _edited(path, said)
    written = saved_digest.of(data.get("moves"))
    if data.get(saved_digest.MOVES, written) != written:
        raise _edited(path, "its moves are not the ones the plan wrote")


_LEAVING = (Action.DELETE, Action.ERROR)  # a moved key's side in its old account: its delete, or held


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
