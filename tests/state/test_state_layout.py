"""Each manifest has its own state, beside it with the sandbox's account (issue 19, item 5):
two manifests in one folder never take over each other's keys, a state handed to another
manifest is refused, a state of the earlier shared layout moves in once, and a run from
another folder finds the same state and account."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.core.secrets import ProxyKey
from reconciler.sandbox import Sandbox, seeds
from reconciler.state import migrate
from reconciler.state import paths as statepaths

from ..helpers import API_KEY, key_value, live_sandbox, run_cli, sandbox_state_dir, seed_data
from ..reliability_log import record


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "seed.yaml").write_text(yaml.safe_dump(seed_data(1)))
    monkeypatch.setattr(f"{__name__}.SEED", [tmp_path / "seed.yaml"])
    return tmp_path


def team(name: str, allocation: int) -> str:
    key = {"id": "backend", "name": f"{name} backend", "allocated_ammount": allocation, "limit_type": "daily"}
    return yaml.safe_dump({"version": 1, "keys": [key]})


SEED: list[Path] = []  # the test's seed file, wherever the test runs from


def cli(capsys: Any, command: str, manifest: str | Path, *extra: str) -> tuple[int, str, str]:
    return run_cli(capsys, command, str(manifest), "--sandbox", "--sandbox-seed", str(SEED[-1]), *extra)


def account(folder: Path) -> Sandbox:
    return Sandbox.open(folder / ".ehkeys" / "sandbox.db", seeds.load(str(folder / "seed.yaml")))


def live(folder: Path) -> dict[str, Decimal]:
    return {k["name"]: Decimal(k["allocated_ammount"]) for k in account(folder).store.keys_of("u1")}


def test_two_manifests_in_one_folder_plan_and_apply_independently(folder: Path, capsys: Any) -> None:
    Path("team-a.yaml").write_text(team("Team A", 50))
    Path("team-b.yaml").write_text(team("Team B", 15))
    assert cli(capsys, "apply", "team-a.yaml", "--auto-approve")[0] == 0
    code, out, _ = cli(capsys, "plan", "team-b.yaml")
    assert code == 0 and "1 to create, 0 to update, 0 to delete" in out and '"Team A backend" ->' not in out
    code, out, _ = cli(capsys, "apply", "team-b.yaml", "--auto-approve")
    assert code == 0 and "+ Team B backend" in out, out
    assert live(folder) == {
        "key-0": Decimal(10),
        "Team A backend": Decimal(50),
        "Team B backend": Decimal(15),
    }
    assert account(folder).store.account("u1")["balance"] == Decimal(1000 - 50 - 15)
    for name in ("team-a.yaml", "team-b.yaml"):
        assert "No changes" in cli(capsys, "plan", name)[1]
        state = json.loads((sandbox_state_dir(name) / "state.json").read_text())
        assert Path(state["manifest"]).name == name and list(state["bindings"]) == ["backend"]
    record("files", "two manifests in one folder, one id in both, one sandbox account", 2, "a state each")


def test_a_run_from_another_folder_finds_the_same_state_and_account(
    folder: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path("team-a.yaml").write_text(team("Team A", 50))
    assert cli(capsys, "apply", "team-a.yaml", "--auto-approve")[0] == 0
    (folder / "elsewhere").mkdir()
    monkeypatch.chdir(folder / "elsewhere")
    code, out, _ = cli(capsys, "plan", "../team-a.yaml")
    assert code == 0 and "No changes" in out, out
    code, out, _ = cli(capsys, "drift", "../team-a.yaml")
    assert code == 2 and out.startswith("Drift: 1 unmanaged key(s)") and "outside ehkeys" not in out, out
    assert not (folder / "elsewhere" / ".ehkeys").exists()
    record("files", "plan and drift run from another folder", 2, "the manifest's state and sandbox account")


def test_a_state_of_another_manifest_is_refused_naming_both(folder: Path, capsys: Any) -> None:
    Path("team-a.yaml").write_text(team("Team A", 50))
    Path("team-b.yaml").write_text(team("Team B", 15))
    assert cli(capsys, "apply", "team-a.yaml", "--auto-approve")[0] == 0
    theirs = str(sandbox_state_dir("team-a.yaml") / "state.json")
    for command in ("plan", "apply"):
        extra = ("--auto-approve",) if command == "apply" else ()
        code, out, err = cli(capsys, command, "team-b.yaml", "--state", theirs, *extra)
        assert code == 1 and "is the state of the manifest team-a.yaml, not of team-b.yaml" in err, err
        assert "internal error" not in err and "Traceback" not in err
    assert set(live(folder)) == {"key-0", "Team A backend"}  # nothing renamed, nothing created
    record("files", "--state of another manifest", 2, "exit 1 naming both manifests, nothing sent")


def test_a_state_left_where_a_renamed_manifest_had_it_says_what_to_do_without_state(
    folder: Path, capsys: Any
) -> None:
    """A state copied where another manifest's goes (no --state given): the advice was 'drop --state'."""
    Path("team-a.yaml").write_text(team("Team A", 50))
    Path("team-b.yaml").write_text(team("Team B", 15))
    assert cli(capsys, "apply", "team-a.yaml", "--auto-approve")[0] == 0
    mine = sandbox_state_dir("team-b.yaml")
    mine.mkdir(parents=True, exist_ok=True)
    (mine / "state.json").write_bytes((sandbox_state_dir("team-a.yaml") / "state.json").read_bytes())
    code, _, err = cli(capsys, "plan", "team-b.yaml")
    assert code == 1 and "found where ehkeys keeps it (a manifest renamed or copied?), move it" in err, err


def legacy_state(folder: Path, *, sandbox: bool = True) -> Path:
    """A state as earlier versions wrote it (format 3, no manifest), shared by the folder:
    it binds id `backend` to the seeded key-0."""
    old = folder / ".ehkeys" / ("sandbox" if sandbox else "")
    old.mkdir(parents=True, exist_ok=True)
    fp = ProxyKey(key_value(0)).fingerprint
    record_ = {"limit_type": "weekly", "name": "key-0", "applied_at": "2026-01-01T00:00:00Z"}
    state = {"format_version": 3, "bindings": {"backend": fp}, "keys": {fp: record_}, "snapshots": {}}
    (old / "state.json").write_text(json.dumps(state))
    line = {"address": "backend", "fingerprint": fp, "result": "updated", "limit_type": "weekly"}
    (old / "journal.jsonl").write_text(json.dumps(line) + "\n")
    return old


def renamed(allocation: int = 10) -> str:
    key = {"id": "backend", "name": "Backend", "allocated_ammount": allocation, "limit_type": "weekly"}
    return yaml.safe_dump({"version": 1, "keys": [key]})


def test_a_legacy_state_moves_into_the_manifests_folder_once_with_a_notice(folder: Path, capsys: Any) -> None:
    old = legacy_state(folder)
    Path("keys.yaml").write_text(renamed())
    code, out, err = cli(capsys, "plan", "keys.yaml")
    assert code == 0 and "moved the state .ehkeys/sandbox/state.json" in err, err
    assert "0 to create, 1 to update" in out and 'name: "key-0" -> "Backend"' in out, (
        out
    )  # bound by the state
    assert "limit_type" not in out  # its recorded weekly came along
    new = sandbox_state_dir("keys.yaml")
    assert (new / "state.json").exists() and (new / "journal.jsonl").exists()
    assert not (old / "state.json").exists() and not (old / "journal.jsonl").exists()
    code, out, err = cli(capsys, "apply", "keys.yaml", "--auto-approve")
    assert code == 0 and "moved" not in err and set(live(folder)) == {"Backend"}
    assert Path(json.loads((new / "state.json").read_text())["manifest"]).name == "keys.yaml"
    record(
        "files",
        "a state of the earlier shared layout, one manifest beside it",
        1,
        "moved once, with a notice",
    )


def test_a_legacy_state_beside_other_manifests_is_refused_saying_how_to_move_it(
    folder: Path, capsys: Any
) -> None:
    old = legacy_state(folder)
    Path("team-a.yaml").write_text(renamed())
    Path("team-b.yaml").write_text(team("Team B", 15))
    code, out, err = cli(capsys, "apply", "team-b.yaml", "--auto-approve")
    assert code == 1 and "team-a.yaml may have keys in it too" in err, err
    assert "mkdir -p .ehkeys/team-b/sandbox && mv .ehkeys/sandbox/state.json" in err and "--state" in err
    assert set(live(folder)) == {"key-0"} and (old / "state.json").exists()  # nothing sent, nothing moved
    target = sandbox_state_dir("team-a.yaml")
    target.mkdir(parents=True)
    for name in ("state.json", "journal.jsonl"):
        (old / name).rename(target / name)  # what the message says, for the manifest it belongs to
    assert 'name: "key-0" -> "Backend"' in cli(capsys, "plan", "team-a.yaml")[1]
    code, out, _ = cli(capsys, "plan", "team-b.yaml")
    assert code == 0 and "1 to create, 0 to update" in out
    record(
        "files",
        "a state of the earlier shared layout beside two manifests",
        1,
        "refused, says how to move it",
    )


def test_a_manifest_named_sandbox_keeps_its_state_apart_from_the_sandbox_folders() -> None:
    """`.ehkeys/sandbox/` held the sandbox runs' state before, `.ehkeys/sandbox.db` holds the
    sandbox's account: a manifest of either name gets a folder of its own."""
    assert statepaths.default_state(["sandbox.yaml"], False) == Path(".ehkeys/sandbox_/state.json")
    assert statepaths.default_state(["x/sandbox.db.yml"], True) == Path(
        "x/.ehkeys/sandbox.db_/sandbox/state.json"
    )
    assert statepaths.default_state(["x/team-a.yaml"], True) == Path("x/.ehkeys/team-a/sandbox/state.json")


def declared(*accounts: str, name: str = "Backend") -> str:
    """The manifest of one key, `backend`, in the first of `accounts` (none: no accounts:)."""
    key: dict[str, Any] = {"id": "backend", "name": name, "allocated_ammount": 10, "limit_type": "weekly"}
    doc: dict[str, Any] = {"version": 1, "keys": [key]}
    if accounts:
        doc["accounts"] = {a: {"api_key": f"${{EH_{a.upper()}_API_KEY}}"} for a in accounts}
        key["account"] = accounts[0]
    return yaml.safe_dump(doc, sort_keys=False)


@pytest.mark.slow  # a sandbox process
def test_a_manifest_that_declares_its_account_keeps_the_state_it_had(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """Adding `accounts:` to a manifest in use moved its state to `.ehkeys/keys/prod/`, empty:
    every binding, write-only value and protection forgotten, a key renamed since created twice."""
    monkeypatch.chdir(tmp_path)
    Path("keys.yaml").write_text(declared())
    with live_sandbox(tmp_path, seed_data(0)) as base:
        monkeypatch.setenv("ELECTRONHUB_API_KEY", API_KEY)
        assert run_cli(capsys, "apply", "keys.yaml", "--base-url", base, "--auto-approve")[0] == 0
        Path("keys.yaml").write_text(declared("prod", name="Backend Service"))
        monkeypatch.setenv("EH_PROD_API_KEY", API_KEY)
        code, out, err = run_cli(capsys, "plan", "keys.yaml", "--base-url", base)
        assert code == 0, out + err
        assert "moved the state .ehkeys/keys/state.json (with its journal) to .ehkeys/keys/prod/" in err
        assert "0 to create, 1 to update" in out and 'name: "Backend" -> "Backend Service"' in out
        assert "limit_type" not in out  # the weekly window it recorded came along
        assert not Path(".ehkeys/keys/state.json").exists()


@pytest.mark.slow  # a sandbox process
def test_a_manifest_that_declares_several_accounts_takes_its_state_to_the_one_it_was_kept_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """Which account's keys the state binds is told by $ELECTRONHUB_API_KEY, the key it was kept
    with; without it the run is refused, saying so, rather than forget the state."""
    monkeypatch.chdir(tmp_path)
    Path("keys.yaml").write_text(declared())
    with live_sandbox(tmp_path, seed_data(0)) as base:
        monkeypatch.setenv("ELECTRONHUB_API_KEY", API_KEY)
        assert run_cli(capsys, "apply", "keys.yaml", "--base-url", base, "--auto-approve")[0] == 0
        Path("keys.yaml").write_text(declared("prod", "staging", name="Backend Service"))
        monkeypatch.setenv("EH_PROD_API_KEY", API_KEY)
        monkeypatch.setenv("EH_STAGING_API_KEY", "ek-test-other-key")
        monkeypatch.delenv("ELECTRONHUB_API_KEY")
        code, out, err = run_cli(capsys, "apply", "keys.yaml", "--base-url", base, "--auto-approve")
        assert code == 1 and "ehkeys cannot tell which account's keys it binds; nothing was sent" in err
        assert "Set ELECTRONHUB_API_KEY to the account key it was kept with" in err
        monkeypatch.setenv("ELECTRONHUB_API_KEY", API_KEY)
        code, out, err = run_cli(capsys, "plan", "keys.yaml", "--base-url", base)
        assert code == 0, out + err
        assert "moved the state .ehkeys/keys/state.json (with its journal) to .ehkeys/keys/prod/" in err
        assert 'name: "Backend" -> "Backend Service"' in out and "1 to create" not in out


@pytest.mark.parametrize(
    ("text", "manifest"),
    [
        ("version: 1\nkeys: []\n", True),
        ("keys:\n  - {name: a, x: [1, {version: 2}]}\nversion: 1\n", True),  # nested ones are not the top's
        ("'version': 1\n\"keys\": []\n", True),
        ("x: &a [1]\nversion: 1\nkeys: *a\n", True),
        ("accounts: []\nkeys: []\n", False),  # a sandbox seed
        ("on: push\njobs: {}\n", False),  # a workflow
        ("- version\n- keys\n", False),
        ("a: {version: 1, keys: []}\n", False),
        ("version: {keys: 1}\n", False),
        ("version: 1\n---\nkeys: []\n", False),  # two documents: no manifest (safe_load refused it)
        ("just text", False),
        ("", False),
    ],
)
def test_a_file_beside_the_manifest_is_one_when_its_top_has_version_and_keys(
    text: str, manifest: bool
) -> None:
    """Read as events, stopped once both are seen: PyYAML's safe_load of a 2,000-key seed beside
    the manifest took 0.7 s of each first plan of a root (bench scenario 7)."""
    assert migrate.has_top_keys(text, {"version", "keys"}) is manifest
