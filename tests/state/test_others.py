"""Other manifests' states, as a pruning manifest finds and reads them (`state.others`): which
files are states, which live keys one holds, whose it is, and which are this manifest's own."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import pytest

from reconciler.core.secrets import fingerprint
from reconciler.state import others, reading
from reconciler.state.format import Contents

FP = {name: fingerprint(f"ek-proxy-{name}-secret") for name in ("bound", "protected", "old", "moving")}


@pytest.mark.parametrize(
    ("path", "sandbox", "state"),
    [
        ("keys/search/.ehkeys/search/state.json", False, True),
        ("keys/search/.ehkeys/search/prod/state.json", False, True),
        ("keys/.ehkeys/state.json", False, True),  # the earlier versions' state of a whole folder
        ("keys/.ehkeys/search/prod/state.json.conflict-123", False, True),  # what a push kept aside
        ("keys/.ehkeys/search/sandbox/state.json", False, False),  # the sandbox's keys are not the account's
        ("keys/.ehkeys/search/sandbox/state.json", True, True),
        ("keys/.ehkeys/search/prod/state.json", True, False),
        ("keys/.ehkeys/search/sandbox_/state.json", False, True),  # an account named sandbox
        ("keys/search/state.json", False, False),  # no .ehkeys/ folder: someone's file
        ("keys/.ehkeys/search/journal.jsonl", False, False),
        ("keys/.ehkeys/search/state.json.bak", False, False),
    ],
)
def test_which_files_are_states(path: str, sandbox: bool, state: bool) -> None:
    assert others.is_state(PurePosixPath(path), sandbox) is state


def test_a_state_holds_its_bindings_protected_keys_predecessors_and_moving_keys() -> None:
    contents = Contents(
        bindings={"a": FP["bound"]},
        protected={FP["protected"]: "b"},
        rotations={"a": {"predecessor": FP["old"], "started": 1, "overlap": 0, "name": "a"}},
        moves={"c": {"to": ["staging"], "key": FP["moving"]}},
    )
    assert others.held(contents) == set(FP.values())


def test_whose_state_it_is_from_the_repository_top() -> None:
    state = PurePosixPath("keys/search/.ehkeys/search/prod/state.json")
    assert others.named(state, Contents(manifest="../../..")) == "keys/search"
    assert (
        others.named(PurePosixPath("a/.ehkeys/b/state.json"), Contents(manifest="../../b.yaml")) == "a/b.yaml"
    )
    legacy = others.named(PurePosixPath("keys/.ehkeys/state.json"), Contents())
    assert legacy == "a manifest in keys/ (an older state, which names none)"


def test_a_state_read_from_bytes_replays_its_journal() -> None:
    data = json.dumps({"format_version": 4, "keys": {}, "bindings": {"a": FP["bound"]}}).encode()
    line = {"ts": "2026-01-01T00:00:00Z", "address": "b", "fingerprint": FP["old"], "result": "bound"}
    found = reading.from_bytes(data, json.dumps(line).encode() + b"\n", "branch:s", "branch:j")
    assert found.bindings == {"a": FP["bound"], "b": FP["old"]}


def test_states_are_found_below_the_top_hidden_folders_and_links_aside(tmp_path: Path) -> None:
    for path in (
        "keys/search/.ehkeys/search/state.json",
        "keys/.ehkeys/pay/sandbox/state.json",
        ".venv/lib/.ehkeys/x/state.json",  # a hidden folder, as a directory manifest leaves it out
        "elsewhere/.ehkeys/y/state.json",
    ):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("{}")
    (tmp_path / "top").mkdir()
    (tmp_path / "top" / "keys").symlink_to(tmp_path / "keys")  # a link is not followed
    (tmp_path / "top" / ".git").mkdir()
    (tmp_path / "top" / "keys.yaml").write_text("version: 1\n")
    assert others.found_below(tmp_path, False) == (
        [tmp_path / "elsewhere/.ehkeys/y/state.json", tmp_path / "keys/search/.ehkeys/search/state.json"],
        [],
    )
    assert others.found_below(tmp_path, True)[0] == [tmp_path / "keys/.ehkeys/pay/sandbox/state.json"]
    assert others.found_below(tmp_path / "top", False) == ([], [])
    assert others.repository_top([str(tmp_path / "top" / "keys.yaml")]) == (tmp_path / "top").resolve()


def test_this_manifests_own_states_are_no_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    own = others.Own.of(["keys/pay.yaml"], "elsewhere/mine.json")
    assert own.holds(Path("keys/.ehkeys/pay/prod/state.json"))
    assert own.holds(Path("elsewhere/mine.json"))
    assert not own.holds(Path("keys/.ehkeys/search/state.json"))
    legacy = Path("keys/.ehkeys/state.json")  # names this manifest: its own, wherever it is
    assert own.holds(legacy, Contents(manifest="../pay.yaml"))
    assert not own.holds(legacy, Contents(manifest="../search.yaml")) and not own.holds(legacy, Contents())
