"""The state file and the journal when the disk misbehaves: full, read-only, corrupt, shared."""

from __future__ import annotations

import errno
import json
import os
import resource
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from reconciler.core.errors import StateError
from reconciler.core.secrets import ProxyKey
from reconciler.sandbox import Sandbox, seeds
from reconciler.state import files as statefiles
from reconciler.state import store as state_module
from reconciler.state.store import State

from ..helpers import (
    API_KEY,
    ROOT,
    key_value,
    live_sandbox,
    manifest_text,
    run_cli,
    sandbox_state_dir,
    seed_data,
    state_dir,
)
from ..reliability_log import record


def _modes_bind() -> bool:
    """False for root (it writes through file modes): those cases need another obstacle."""
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o555)
        try:
            Path(tmp, "probe").touch()
        except PermissionError:
            return True
        finally:
            os.chmod(tmp, 0o755)
    return False


MODES_BIND = _modes_bind()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "seed.yaml").write_text(yaml.safe_dump(seed_data(2)))
    (tmp_path / "keys.yaml").write_text(manifest_text(2, allocated_ammount=30))
    return tmp_path


def sandbox_cli(capsys: Any, command: str, *extra: str) -> tuple[int, str, str]:
    return run_cli(capsys, command, "keys.yaml", "--sandbox", "--sandbox-seed", "seed.yaml", *extra)


def sandbox_allocation(i: int) -> Decimal:
    key = Sandbox.open(".ehkeys/sandbox.db", seeds.load("seed.yaml")).store.key(key_value(i))
    assert key is not None
    return Decimal(key["allocated_ammount"])


# --- 1. a journal line the disk cuts short -----------------------------------------------------


def half_then_full_disk() -> Any:
    calls = []

    def write(fd: int, data: Any) -> int:
        calls.append(len(data))
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return os.write(fd, bytes(data[: len(data) // 2]))

    return write


def test_a_journal_line_the_disk_cuts_short_raises_naming_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    state = State(tmp_path / "state.json")
    state.journal({"fingerprint": "sha256:one", "result": "updated", "limit_type": "weekly"})
    monkeypatch.setattr(statefiles, "_write", half_then_full_disk())
    with pytest.raises(StateError, match=r"journal\.jsonl: cannot append to the journal \(No space left"):
        state.journal({"fingerprint": "sha256:two", "result": "sending", "key": "ek-proxy-…0002"})
    monkeypatch.undo()
    state.journal({"fingerprint": "sha256:three", "result": "updated", "limit_type": "monthly"})
    records = State(tmp_path / "state.json").records
    assert {k: v.get("limit_type") for k, v in records.items()} == {
        "sha256:one": "weekly",
        "sha256:three": "monthly",  # the line after the torn one is whole
    }
    assert "journal.jsonl:2: skipped a torn or unreadable journal line" in caplog.text


@pytest.mark.parametrize("how", ["deleted by hand", "replaced (compacted by another run)"])
def test_a_journal_line_after_the_journal_was_replaced_lands_in_the_file_at_its_path(
    tmp_path: Path, how: str
) -> None:
    """Each line opens the journal at its path; a descriptor kept open across lines (tried for
    speed) would write the next line into a file removed or replaced meanwhile: an update sent,
    no record of it anywhere."""
    state = State(tmp_path / "state.json")
    state.journal({"fingerprint": "sha256:one", "result": "updated", "limit_type": "weekly"})
    if how == "deleted by hand":
        state.journal_path.unlink()
    else:
        replacement = tmp_path / "replacement"
        replacement.write_text(state.journal_path.read_text())
        os.replace(replacement, state.journal_path)
    state.journal({"fingerprint": "sha256:two", "result": "updated", "limit_type": "monthly"})
    records = State(tmp_path / "state.json").records
    assert records["sha256:two"]["limit_type"] == "monthly"
    assert ("sha256:one" in records) == (how != "deleted by hand")


@pytest.mark.slow
def test_a_file_size_limit_during_apply_sends_nothing_and_later_plans_work(tmp_path: Path) -> None:
    (tmp_path / "keys.yaml").write_text(manifest_text(1, allocated_ammount=30, name="Café ☕"))
    journal = state_dir(tmp_path / "keys.yaml") / "journal.jsonl"
    journal.parent.mkdir(parents=True)
    journal.write_text("\n" * 3900)  # the next line crosses the 4096-byte limit below
    with live_sandbox(tmp_path, seed_data(1)) as base:
        applied = _apply_with_file_limit(tmp_path, base, 4096)
        allocated = _live_allocation(base)
        plan = subprocess.run(
            [sys.executable, "-m", "reconciler", "plan", "keys.yaml", "--base-url", base],
            cwd=tmp_path,
            env=_env(),
            capture_output=True,
            text=True,
        )
    assert applied.returncode == 1, applied.stderr
    assert "journal.jsonl: cannot append to the journal" in applied.stderr
    assert "internal error" not in applied.stderr + plan.stderr
    assert allocated == Decimal(10)  # the update never went out
    assert plan.returncode == 0 and "1 to update" in plan.stdout
    record(
        "files",
        "a journal line cut short by a file size limit (RLIMIT_FSIZE) during apply",
        1,
        "exit 1 naming the journal, nothing sent; the next plan skips the torn line",
    )


def _env() -> dict[str, str]:
    return {**os.environ, "ELECTRONHUB_API_KEY": API_KEY, "PYTHONPATH": str(ROOT)}


def _apply_with_file_limit(workdir: Path, base: str, limit: int) -> subprocess.CompletedProcess[str]:
    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    argv = [sys.executable, "-m", "reconciler", "apply", "keys.yaml", "--auto-approve", "--base-url", base]
    return subprocess.run(
        argv, cwd=workdir, env=_env(), capture_output=True, text=True, preexec_fn=limit_file_size
    )


def _live_allocation(base: str) -> Decimal:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {API_KEY}"}) as http:
        keys = http.get("/auth/proxy").json()
    return next(Decimal(str(k["allocated_ammount"])) for k in keys if k["key"] == key_value(0))


def test_a_torn_non_utf8_journal_line_is_skipped_with_a_warning(
    workdir: Path, capsys: Any, caplog: pytest.LogCaptureFixture
) -> None:
    good = json.dumps({"fingerprint": "sha256:x", "result": "updated", "limit_type": "weekly"})
    journal = sandbox_state_dir(workdir / "keys.yaml") / "journal.jsonl"
    journal.parent.mkdir(parents=True)
    journal.write_bytes(f"{good}\n".encode() + '{"key": "ek-proxy-…'.encode()[:-2] + f"\n{good}\n".encode())
    code, out, err = sandbox_cli(capsys, "plan")
    assert code == 0 and "2 to update" in out
    assert "journal.jsonl:2: skipped a torn or unreadable journal line" in caplog.text
    assert "internal error" not in err
    record("files", "a journal with a torn line that is not UTF-8", 1, "plan warns, skips the line, works")


# --- 2. a state directory that cannot be written ------------------------------------------------


def blocked_state(tmp_path: Path, how: str) -> Path:
    """A state path that reads but cannot be written (root writes through file modes, so most
    obstacles here are ones no mode can lift)."""
    (tmp_path / "ro").mkdir()
    if how == "read-only directory":
        (tmp_path / "ro").chmod(0o555)
    elif how == "journal linked into a missing directory":
        (tmp_path / "ro" / "journal.jsonl").symlink_to(tmp_path / "gone" / "journal.jsonl")
    else:
        (tmp_path / "ro" / ".state.lock").mkdir()  # the snapshot's lock cannot be taken
    return tmp_path / "ro" / "state.json"


HOW = [
    pytest.param(
        "read-only directory", marks=pytest.mark.skipif(not MODES_BIND, reason="root ignores modes")
    ),
    "journal linked into a missing directory",
    "lock that is a directory",
]


@pytest.mark.parametrize("how", HOW)
def test_check_writable_names_the_path_and_suggests_state(tmp_path: Path, how: str) -> None:
    state = State(blocked_state(tmp_path, how))
    with pytest.raises(StateError) as caught:
        state.check_writable()
    assert f"{tmp_path / 'ro'}" in str(caught.value)
    assert "nothing was sent" in str(caught.value) and "--state PATH" in str(caught.value)
    record("files", f"state check before apply: {how}", 1, "StateError naming the path, suggesting --state")


def test_check_writable_leaves_a_writable_place_as_it_was(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text('{"format_version": 1, "keys": {}}')
    State(tmp_path / "state.json").check_writable()
    State(tmp_path / "new" / "state.json").check_writable()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new", "state.json"]
    assert list((tmp_path / "new").iterdir()) == []


def test_a_snapshot_that_cannot_be_written_is_a_state_error_after_the_journal(tmp_path: Path) -> None:
    state = State(blocked_state(tmp_path, "lock that is a directory"))
    state.journal({"fingerprint": "sha256:one", "result": "updated", "limit_type": "weekly"})
    state.record("sha256:one", "one", {"limit_type": "weekly"})
    with pytest.raises(StateError, match=r"state\.json: cannot save the state .* journal"):
        state.flush()
    assert State(tmp_path / "ro" / "other.json").records["sha256:one"]["limit_type"] == "weekly"


def test_a_periodic_snapshot_that_fails_waits_for_the_final_flush(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state_module, "SNAPSHOT_EVERY", 0.0)
    state = State(blocked_state(tmp_path, "lock that is a directory"))
    state.record("sha256:one", "one", {"limit_type": "weekly"})  # the apply goes on
    with pytest.raises(StateError):
        state.flush()


NOT_SENT = [
    pytest.param(
        "read-only directory", marks=pytest.mark.skipif(not MODES_BIND, reason="root ignores modes")
    ),
    "journal linked into a missing directory",
]


@pytest.mark.parametrize("how", NOT_SENT)
def test_apply_that_cannot_journal_sends_nothing_and_says_where(workdir: Path, capsys: Any, how: str) -> None:
    blocked_state(workdir, how)
    code, out, err = sandbox_cli(capsys, "apply", "--auto-approve", "--state", "ro/state.json")
    assert code == 1
    assert "ehkeys: error: ro/" in err and "--state PATH" in err
    assert "internal error" not in err
    assert [sandbox_allocation(i) for i in range(2)] == [Decimal(10), Decimal(10)]
    record("files", f"apply with the state in a {how}", 1, "exit 1 naming the path; nothing sent")


def test_apply_that_cannot_save_the_snapshot_says_so_and_where(workdir: Path, capsys: Any) -> None:
    blocked_state(workdir, "lock that is a directory")
    code, out, err = sandbox_cli(capsys, "apply", "--auto-approve", "--state", "ro/state.json")
    assert code == 1
    assert "ehkeys: error: ro/" in err and "--state PATH" in err
    assert "internal error" not in err
    record("files", "apply whose state snapshot cannot be written", 1, "exit 1 naming the path, no traceback")


# --- 3. a corrupt state file, and two applies sharing one ---------------------------------------


def test_a_state_file_that_is_not_utf8_is_a_clear_error(workdir: Path, capsys: Any) -> None:
    sandbox_state_dir().mkdir(parents=True)
    (sandbox_state_dir() / "state.json").write_bytes(b'{"format_version": 1, "keys": {"\xff\xfe": {}}}')
    code, out, err = sandbox_cli(capsys, "plan")
    assert code == 1
    assert "state.json: not UTF-8 text (bad byte at offset 32)" in err
    assert "move it aside" in err and "internal error" not in err
    record("files", "a state file that is not UTF-8", 1, "exit 1: says so and how to recover")


def test_a_state_file_nested_deeper_than_json_parses_is_a_clear_error(workdir: Path, capsys: Any) -> None:
    sandbox_state_dir().mkdir(parents=True)
    (sandbox_state_dir() / "state.json").write_text("[" * 5000 + "]" * 5000)  # a level per recursion
    code, out, err = sandbox_cli(capsys, "plan")
    assert code == 1 and out == ""
    assert "state.json: not an ehkeys state file (nested too deeply to read)" in err
    assert "move it aside" in err and "internal error" not in err
    record(
        "files", "a state file nested deeper than JSON's parser goes", 1, "exit 1: says so and how to recover"
    )


def test_a_journal_line_nested_deeper_than_json_parses_is_skipped_as_unreadable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = State(tmp_path / "state.json")
    state.journal({"fingerprint": "sha256:one", "result": "updated", "limit_type": "weekly"})
    with (tmp_path / "journal.jsonl").open("a") as journal:
        journal.write("[" * 5000 + "]" * 5000 + "\n")
    state.journal({"fingerprint": "sha256:two", "result": "updated", "limit_type": "monthly"})
    records = State(tmp_path / "state.json").records
    assert {k: v.get("limit_type") for k, v in records.items()} == {
        "sha256:one": "weekly",
        "sha256:two": "monthly",
    }
    assert "journal.jsonl:2: skipped a torn or unreadable journal line" in caplog.text


def test_two_states_on_one_file_keep_each_others_newer_records(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    old = {"limit_type": "daily", "name": "a", "applied_at": "2020-01-01T00:00:00Z"}
    path.write_text(json.dumps({"format_version": 1, "keys": {"sha256:a": old}}))
    first, second = State(path), State(path)
    second.record("sha256:a", "a", {"limit_type": "monthly"})
    second.flush()
    first.record("sha256:b", "b", {"limit_type": "weekly"})
    first.flush()
    keys = json.loads(path.read_text())["keys"]
    assert {k: v["limit_type"] for k, v in keys.items()} == {"sha256:a": "monthly", "sha256:b": "weekly"}
    record(
        "concurrency",
        "two applies flushing one state file, each with a stale copy of the other's",
        2,
        "merged per record: the newer applied_at wins, nothing clobbered",
    )


def test_a_state_file_of_the_previous_format_and_its_journal_still_read(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Format 1 (before bindings), as ehkeys 0.1 wrote it: its limit_types still count."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "seed.yaml").write_text(yaml.safe_dump(seed_data(2)))
    (tmp_path / "keys.yaml").write_text(manifest_text(2, allocated_ammount=10, limit_type="weekly"))
    old = sandbox_state_dir(tmp_path / "keys.yaml")
    old.mkdir(parents=True)
    fp = [ProxyKey(key_value(i)).fingerprint for i in range(2)]
    record_v1 = {"limit_type": "weekly", "name": "key-0", "applied_at": "2026-01-01T00:00:00Z"}
    (old / "state.json").write_text(json.dumps({"format_version": 1, "keys": {fp[0]: record_v1}}))
    line = {
        "fingerprint": fp[1],
        "key": "ek-proxy-…part",
        "name": "key-1",
        "result": "updated",
        "limit_type": "weekly",
    }
    (old / "journal.jsonl").write_text(json.dumps(line) + "\n")
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", "--sandbox", "--sandbox-seed", "seed.yaml")
    assert (
        code == 0 and "No changes" in out
    )  # both limit_types known: one from the file, one from the journal
    code, _, _ = run_cli(
        capsys, "apply", "keys.yaml", "--sandbox", "--sandbox-seed", "seed.yaml", "--auto-approve"
    )
    state = json.loads((old / "state.json").read_text())
    assert code == 0 and state["format_version"] == 4  # upgraded: the in-sync keys' snapshots
    assert {fp: r["limit_type"] for fp, r in state["keys"].items()} == {fp[0]: "weekly", fp[1]: "weekly"}
    assert sorted(state["snapshots"]) == sorted(fp)
    written = (old / "state.json").stat().st_mtime_ns
    run_cli(capsys, "apply", "keys.yaml", "--sandbox", "--sandbox-seed", "seed.yaml", "--auto-approve")
    assert (old / "state.json").stat().st_mtime_ns == written  # nothing new to record: not rewritten
    record(
        "files", "a state file and journal written by the previous version (format 1)", 1, "read as they are"
    )
