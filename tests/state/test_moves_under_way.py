"""A move under way, as the old account's state keeps it (`State.moving`): journalled before the
move's create is sent, so a run cut off reads it back; dropped when the old key is deleted, or
its address bound to another key; folded into the state file with the journal."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.core.changes import unmanaged_address
from reconciler.state.store import State

OLD, OTHER = "sha256:" + "a" * 24, "sha256:" + "b" * 24


def started(tmp_path: Path) -> State:
    state = State(tmp_path / "state.json")
    state.bind("backend", OLD)
    state.moving("backend", "staging", OLD)
    return state


def test_a_move_begun_is_read_back_from_the_journal_alone(tmp_path: Path) -> None:
    """Killed before any snapshot was written: the journal line is the record."""
    started(tmp_path)
    assert not (tmp_path / "state.json").exists()
    again = State(tmp_path / "state.json")
    assert again.moves == {"backend": {"to": ["staging"], "key": OLD}}


def deleted(state: State, address: str, fingerprint: str) -> None:
    """A delete as the applier records it: its result line, then the state forgets the key."""
    state.journal({"address": address, "fingerprint": fingerprint, "result": "applied", "deleted": True})
    state.forget(address, fingerprint)


def test_a_move_ends_when_its_old_key_is_deleted(tmp_path: Path) -> None:
    state = started(tmp_path)
    deleted(state, "backend", OLD)
    assert state.moves == {}
    assert State(tmp_path / "state.json").moves == {}  # the delete's line replays the same way


def test_a_delete_of_another_key_leaves_the_move(tmp_path: Path) -> None:
    state = started(tmp_path)
    deleted(state, "web", OTHER)
    assert State(tmp_path / "state.json").moves == {"backend": {"to": ["staging"], "key": OLD}}


def test_a_move_ends_when_its_address_is_bound_to_another_key(tmp_path: Path) -> None:
    """Its old key is no longer the one the address names: nothing is left to delete for it."""
    state = started(tmp_path)
    state.bind("backend", OTHER, journal=True)
    assert state.moves == {} and State(tmp_path / "state.json").moves == {}


def test_the_move_is_folded_into_the_state_file_and_out_once_done(tmp_path: Path) -> None:
    state = started(tmp_path)
    state.compact()
    written = json.loads((tmp_path / "state.json").read_text())
    assert written["moves"] == {"backend": {"key": OLD, "to": ["staging"]}}
    assert not state.journal_path.exists()
    deleted(state, "backend", OLD)
    state.compact()
    assert "moves" not in json.loads((tmp_path / "state.json").read_text())  # read as before


def reached(tmp_path: Path) -> State:
    """`backend` bound to OLD, its value delivered to one sink, recorded in the state file."""
    state = State(tmp_path / "state.json")
    state.bind("backend", OLD, journal=True)
    state.delivery("backend", "file app.env#BACKEND", "done")
    state.compact()
    return state


def test_a_deleted_keys_sinks_no_longer_count_as_holding_its_addresss_value(tmp_path: Path) -> None:
    """They held the deleted key's value: a key adopted at that address later (by name: a key
    moved back onto a namesake made by hand) was taken for delivered, and its move's old key,
    whose value the sinks held, deleted at once."""
    state = reached(tmp_path)
    assert State(tmp_path / "state.json").reached == {"backend": ["file app.env#BACKEND"]}
    deleted(state, "backend", OLD)
    assert state.reached == {}
    assert State(tmp_path / "state.json").reached == {}  # the delete's line replays the same way
    state.flush()
    state.compact()
    assert "delivered" not in json.loads((tmp_path / "state.json").read_text())


def test_a_retired_predecessors_delete_leaves_its_successors_sinks(tmp_path: Path) -> None:
    state = reached(tmp_path)
    state.rotating("backend", {"predecessor": OTHER, "started": 0, "overlap": 0, "name": "Backend"})
    deleted(state, "backend", OTHER)
    assert state.reached == {"backend": ["file app.env#BACKEND"]}
    assert State(tmp_path / "state.json").reached == {"backend": ["file app.env#BACKEND"]}


def test_a_pruned_key_lets_go_of_the_id_it_had(tmp_path: Path) -> None:
    """Dropped from the manifest and pruned (its delete's address is its fingerprint's), the key
    stayed bound to its old id: that id moved into this account later was then no move (this
    state bound it), so its old key elsewhere was kept beside a new one, two allocations."""
    state = reached(tmp_path)
    deleted(state, unmanaged_address(OLD), OLD)
    assert state.bindings == {} and state.reached == {}
    again = State(tmp_path / "state.json")  # the delete's line replays the same way
    assert again.bindings == {} and again.reached == {}
