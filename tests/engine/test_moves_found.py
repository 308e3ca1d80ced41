"""Which dropped ids are moves (`moves.among`), as a table: an id one account's state binds and
its manifest no longer holds, that exactly one other account's manifest holds (not absent).
Bound there too, it is that account's own key (two keys, one id), unless the old account's
state records the move under way: created there by a run cut off before its delete here."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.core.plans import Move
from reconciler.engine.moves import Side, among
from reconciler.state.format import Contents

from ..planning.test_planner import desired

OLD, NEW = "sha256:" + "a" * 24, "sha256:" + "b" * 24
MOVING = {"backend": {"to": ["staging"], "key": OLD}}


def prod(moves: Any = None, holds: bool = False) -> Side:
    keys = [desired(address="backend")] if holds else []
    return Side.of("prod", keys, Contents(bindings={"backend": OLD}, moves=moves or {}))


def staging(bound: bool = False, holds: bool = True, name: str = "staging", absent: bool = False) -> Side:
    keys = [desired(address="backend", absent=absent)] if holds else []
    return Side.of(name, keys, Contents(bindings={"backend": NEW} if bound else {}))


MOVED = (Move("backend", "prod", "staging", created_earlier=False),)
RESUMED = (Move("backend", "prod", "staging", created_earlier=True),)
TABLE = {
    "moved, not yet created there": ([prod(), staging()], MOVED),
    "two keys of one id, one dropped": ([prod(), staging(bound=True)], ()),
    "created there, cut off before the delete here": ([prod(MOVING), staging(bound=True)], RESUMED),
    "begun, cut off before its create there": ([prod(MOVING), staging()], MOVED),
    "the record names a key no longer bound": (
        [prod({"backend": {"to": ["staging"], "key": NEW}}), staging(bound=True)],
        (),
    ),
    "the record names another account": (
        [prod({"backend": {"to": ["dev"], "key": OLD}}), staging(bound=True)],
        (),
    ),
    "still in the old account's manifest": ([prod(MOVING, holds=True), staging(bound=True)], ()),
    "in no other manifest": ([prod(MOVING), staging(holds=False)], ()),
    "absent in the other: dropped, not moved": ([prod(), staging(absent=True)], ()),
    "held by two others": ([prod(), staging(), staging(name="dev")], ()),
}


@pytest.mark.parametrize(("sides", "moves"), TABLE.values(), ids=TABLE.keys())
def test_which_dropped_ids_are_moves(sides: list[Side], moves: tuple[Move, ...]) -> None:
    assert among(sides) == moves
