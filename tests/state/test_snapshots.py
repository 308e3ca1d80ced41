"""Snapshots of live keys at verified writes (what drift compares with), and compacting the journal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.core.secrets import ProxyKey
from reconciler.sandbox import Sandbox, seeds
from reconciler.state.store import SENDING, State

from ..helpers import key_value, manifest_text, run_cli, sandbox_state_dir, seed_data

SANDBOX = ["--sandbox", "--sandbox-seed", "seed.yaml"]
STATE = sandbox_state_dir() / "state.json"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "seed.yaml").write_text(yaml.safe_dump(seed_data(3)))
    return tmp_path


def fp(i: int) -> str:
    return ProxyKey(key_value(i)).fingerprint


def apply(capsys: Any, text: str) -> tuple[int, str]:
    Path("keys.yaml").write_text(text)
    code, out, _ = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    return code, out


def saved() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(STATE.read_text())
    return data


def test_an_apply_snapshots_changed_and_in_sync_keys_without_usage(workdir: Path, capsys: Any) -> None:
    assert apply(capsys, manifest_text(3, allocated_ammount=10))[0] == 0
    assert apply(capsys, manifest_text(2, allocated_ammount=25))[0] == 0
    data = saved()
    assert data["format_version"] == 4
    snaps = data["snapshots"]
    assert snaps[fp(0)]["allocated_ammount"] == "25.00"  # as the wave's list verified it
    assert set(snaps[fp(0)]) == {
        "name",
        "expires_at",
        "allocated_ammount",
        "model_whitelist",
        "ip_whitelist",
        "is_active",
        "created_at",
        "recorded_at",
    }
    assert snaps[fp(0)]["ip_whitelist"] == ["10.0.0.0/8"] and snaps[fp(0)]["is_active"] is True
    assert "secretpart" not in STATE.read_text()


def test_an_apply_with_nothing_to_do_still_snapshots_every_in_sync_key(workdir: Path, capsys: Any) -> None:
    """Keys already as the manifest wants them (bound by proxy_key): no write, but a snapshot."""
    text = manifest_text(3, allocated_ammount=10)
    apply(capsys, text)
    STATE.write_text(json.dumps({**saved(), "snapshots": {}}))  # as an older ehkeys left it
    (STATE.parent / "journal.jsonl").unlink(missing_ok=True)  # compacted away by the apply already
    code, out = apply(capsys, text)
    assert code == 0 and "Nothing to apply." in out
    assert sorted(saved()["snapshots"]) == sorted(fp(i) for i in range(3))


def test_a_killed_apply_keeps_its_verified_snapshots_in_the_journal(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(State, "compact", lambda self: None)  # killed before the apply compacted
    apply(capsys, manifest_text(3, allocated_ammount=10))
    journal = STATE.parent / "journal.jsonl"
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert all(
        line["snapshot"]["allocated_ammount"] == "10.00" for line in lines if line["result"] == "applied"
    )
    STATE.unlink(missing_ok=True)  # killed before the state file was written: the journal alone remains
    state = State(STATE)
    assert {f: s["allocated_ammount"] for f, s in state.snapshots.items()} == {
        fp(i): "10.00" for i in range(3)
    }


def test_deleting_a_key_forgets_its_snapshot(workdir: Path, capsys: Any) -> None:
    apply(capsys, manifest_text(3, allocated_ammount=10))
    text = manifest_text(3, allocated_ammount=10).replace('name: "key-2"', 'name: "key-2"\n    absent: true')
    code, out = apply(capsys, text)
    assert code == 0 and "- key-2" in out
    assert fp(2) not in saved()["snapshots"] and fp(2) not in State(STATE).snapshots
    assert fp(0) in saved()["snapshots"]


def test_import_out_records_a_snapshot_of_every_key(workdir: Path, capsys: Any) -> None:
    code, _, _ = run_cli(capsys, "import", "--all", "--out", "keys/keys.yaml", *SANDBOX)
    state = json.loads((sandbox_state_dir("keys/keys.yaml") / "state.json").read_text())
    assert code == 0 and sorted(state["snapshots"]) == sorted(fp(i) for i in range(3))
    assert state["snapshots"][fp(1)]["name"] == "key-1"


def test_a_format_2_state_file_reads_as_one_without_snapshots(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    record = {"limit_type": "weekly", "name": "a", "applied_at": "2026-01-01T00:00:00Z"}
    path.write_text(
        json.dumps({"format_version": 2, "bindings": {"a": "sha256:a"}, "keys": {"sha256:a": record}})
    )
    state = State(path)
    assert state.bindings == {"a": "sha256:a"} and state.records["sha256:a"]["limit_type"] == "weekly"
    assert state.snapshots == {}


# --- compact ---------------------------------------------------------------------------------------


def journal_of(path: Path, entries: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.parent / "journal.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))


def resolved_update(i: int) -> list[dict[str, Any]]:
    where = {"address": f"k{i}", "name": f"k{i}", "fingerprint": f"sha256:{i}"}
    snapshot = {"name": f"k{i}", "allocated_ammount": "1.00", "recorded_at": "2026-01-01T00:00:00Z"}
    return [
        {**where, "operation": "update", "result": SENDING},
        {
            **where,
            "result": "applied",
            "limit_type": "daily",
            "snapshot": snapshot,
            "time": "2026-01-01T00:00:00Z",
        },
    ]


UNRESOLVED = [
    {"address": "new-key", "name": "new-key", "operation": "create", "result": SENDING},
    {
        "address": "k-pending",
        "name": "k",
        "fingerprint": "sha256:p",
        "operation": "update",
        "result": SENDING,
    },
]


def memory(state: State) -> tuple[Any, ...]:
    return state.records, state.bindings, state.snapshots, state.pending_creates


def test_compact_then_reload_remembers_exactly_what_the_journal_did(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    deleted = {"address": "k1", "fingerprint": "sha256:1", "result": "applied", "deleted": True}
    journal_of(path, resolved_update(0) + resolved_update(1) + UNRESOLVED + [deleted])
    before = memory(State(path))
    assert before[3] == {"new-key"} and before[0]["sha256:p"] == {"pending": True}
    assert "sha256:1" not in before[2] and "sha256:0" in before[2]
    State(path).compact()
    assert memory(State(path)) == before
    kept = [json.loads(line) for line in (tmp_path / "journal.jsonl").read_text().splitlines()]
    assert kept == UNRESOLVED
    assert json.loads(path.read_text())["format_version"] == 4


@pytest.mark.slow
def test_compact_shrinks_ten_thousand_resolved_lines_to_the_unresolved_ones(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    entries = [line for i in range(5000) for line in resolved_update(i)]
    journal_of(path, entries[:4000] + UNRESOLVED[:1] + entries[4000:] + UNRESOLVED[1:])
    before = memory(State(path))
    State(path).compact()
    assert (tmp_path / "journal.jsonl").read_text().count("\n") == 2
    assert memory(State(path)) == before and len(before[2]) == 5000


def test_compact_of_a_journal_with_nothing_pending_leaves_no_journal(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    journal_of(path, resolved_update(0))
    State(path).compact()
    assert not (tmp_path / "journal.jsonl").exists() and State(path).snapshots["sha256:0"]["name"] == "k0"


def test_a_failed_update_stays_pending_after_compact_as_it_replays_today(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    where = {"address": "k", "fingerprint": "sha256:f"}
    journal_of(path, [{**where, "operation": "update", "result": SENDING}, {**where, "result": "failed"}])
    State(path).compact()
    assert State(path).records["sha256:f"]["pending"] is True


def test_a_newer_in_sync_snapshot_outlives_the_journal_line_of_an_older_one(
    workdir: Path, capsys: Any
) -> None:
    """The journal replays over the file: the in-sync snapshot is journalled too, so an
    older verified line can never put back the key as it was before."""
    apply(capsys, manifest_text(3, allocated_ammount=10))
    store = Sandbox.open(".ehkeys/sandbox.db", seeds.load("seed.yaml")).store
    body = {"name": "key-1", "expires_at": -1, "allocated_ammount": 10, "limit_type": "daily"}
    store.update(key_value(1), {**body, "model_whitelist": ["gpt-4o"], "ip_whitelist": []})
    assert apply(capsys, manifest_text(3, allocated_ammount=10))[0] == 0  # ip_whitelist: unmanaged
    assert State(STATE).snapshots[fp(1)]["ip_whitelist"] == []
