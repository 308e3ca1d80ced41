"""Which dropped ids are moves (`moves.among`), as a table: an id one account's state binds and
its manifest no longer holds, that exactly one other account's manifest holds (not absent).
Bound there too, it is that account's own key (two keys, one id), unless the old account's
state records the move under way: created there by a run cut off before its delete here."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from reconciler.core.accounts import Account
from reconciler.core.plans import Move
from reconciler.core.sinks import FileSink, GitHubSecretSink, VaultSink
from reconciler.engine.moved_sinks import renamed_variables
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


# --- the names a move leaves holding the old key's value (`moves.renamed_variables`) --------------

OLD_NAME, NEW_NAME = "EH_KEY_PROD_BACKEND", "EH_KEY_STAGING_BACKEND"
SECRET_SINK = GitHubSecretSink("acme/api", NEW_NAME)
FILE_SINK = FileSink("a.env", NEW_NAME)


def opened(name: str, sinks: tuple[Any, ...] = (), reached: tuple[str, ...] = ()) -> Any:
    """What `renamed_variables` reads of an opened account: its account, keys and state."""
    keys = [desired(address="backend", deliver=sinks)] if sinks else []
    state = Contents(delivered={"backend": list(reached)} if reached else {})
    return SimpleNamespace(
        account=Account(name, declared=True), keys=keys, state=SimpleNamespace(reached=state.delivered)
    )


RENAMED = {
    "an env file's default variable": (FILE_SINK, f"file a.env#{OLD_NAME}", True),
    "a GitHub secret's default name": (SECRET_SINK, f"github_secret acme/api:{OLD_NAME}", True),
    "a Vault field's default": (VaultSink("apps/api", NEW_NAME), f"vault secret/apps/api#{OLD_NAME}", True),
    "a name pinned to the old one": (FileSink("a.env", OLD_NAME), f"file a.env#{OLD_NAME}", False),
    "the old value reached another file": (FILE_SINK, f"file b.env#{OLD_NAME}", False),
}


@pytest.mark.parametrize(("sink", "reached", "said"), RENAMED.values(), ids=RENAMED.keys())
def test_a_move_names_the_sinks_it_leaves_holding_the_old_value(sink: Any, reached: str, said: bool) -> None:
    accounts = [opened("prod", reached=(reached,)), opened("staging", sinks=(sink,))]
    notes = renamed_variables(accounts, (Move("backend", "prod", "staging", created_earlier=False),))
    assert bool(notes.get("staging")) is said
    if said:
        assert (
            f"no longer {OLD_NAME}" in notes["staging"][0]
            and f": {OLD_NAME}` on the sink" in notes["staging"][0]
        )
