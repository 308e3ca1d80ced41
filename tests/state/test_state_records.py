"""An unreadable record in the state (issue 19, item 12): plan and drift say which file, which
record and how to recover, exit 1, never an internal error. The fixtures in tests/states/ are
state files (and a journal) with one record of the wrong shape each, named after it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..helpers import TESTS, manifest_text, run_cli, seed_data
from ..reliability_log import record

STATES = TESTS / "states"
FP0, FP1 = "sha256:ffb5b77632ca3c46fd56a2cd", "sha256:5f5e1036da0874824e036c90"  # key-0, key-1

BAD = {  # fixture -> what the message names: the record, and the field
    "bad-snapshot-amount.json": (f"snapshots[{FP0}]", 'allocated_ammount "ten credits" is not an amount'),
    "bad-snapshot-amount-exponent.json": (
        f"snapshots[{FP0}]",
        'allocated_ammount "1e999999" is not an amount',
    ),
    "bad-snapshot-amount-number.json": (f"snapshots[{FP1}]", "allocated_ammount 10.5 is not an amount"),
    "bad-snapshot-whitelist-text.json": (f"snapshots[{FP0}]", 'model_whitelist "gpt-4o" is not a list'),
    "bad-snapshot-not-a-mapping.json": (f"snapshots[{FP0}]", '"key-0 as it was" is not a mapping'),
    "bad-binding-not-a-fingerprint.json": ("bindings[key-0]", "12 is not a key fingerprint"),
    "bad-record-limit-type-list.json": (f"keys[{FP0}]", 'limit_type ["weekly"] is not text'),
    # was read, shown as `limit_type: "hourly" -> ...`, and sent by a rotation (a 400 then)
    "bad-record-limit-type-no-window.json": (
        f"keys[{FP0}]",
        'limit_type "hourly" is not daily, weekly or monthly',
    ),
    "bad-record-pending-text.json": (f"keys[{FP1}]", 'pending "yes" is not true or false'),
    # a move under way decides a delete: one that names no key, or no account, is never guessed
    "bad-move-key-not-a-fingerprint.json": ("moves[key-1]: key", '"key-1" is not a key fingerprint'),
    "bad-move-no-account.json": ("moves[key-1]", "no to (the accounts the key moves to)"),
    "bad-moves-not-a-mapping.json": (  # the way out a moves record needs, not a binding's
        'moves is "backend to staging", not a mapping; the file was edited or damaged',
        "correct or delete that record (to: the accounts the key moves to",
    ),
}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed_data(2)))
    Path("keys.yaml").write_text(manifest_text(2, allocated_ammount=10))
    Path("corrupt").mkdir()
    return tmp_path


def run(capsys: Any, command: str) -> tuple[int, str, str]:
    """With --state: the same path for every version of ehkeys, whatever its default layout."""
    sandbox = ("--sandbox", "--sandbox-seed", "seed.yaml")
    return run_cli(capsys, command, "keys.yaml", *sandbox, "--state", "corrupt/state.json")


@pytest.mark.parametrize("command", ["plan", "drift"])
@pytest.mark.parametrize("fixture", sorted(BAD))
def test_an_unreadable_state_record_names_the_file_the_record_and_the_way_out(
    workdir: Path, capsys: Any, fixture: str, command: str
) -> None:
    shutil.copy(STATES / fixture, "corrupt/state.json")
    code, out, err = run(capsys, command)
    where, what = BAD[fixture]
    assert code == 1 and f"ehkeys: error: corrupt/state.json: {where}: {what}" in err, err
    assert "correct or delete that record" in err and "move the file aside" in err
    assert "internal error" not in err and "Traceback" not in err and out == ""
    record("files", f"{command} over a state record of the wrong shape ({fixture})", 1, "exit 1 naming it")


@pytest.mark.parametrize("command", ["plan", "drift"])
def test_an_unreadable_journal_line_names_the_line_and_the_way_out(
    workdir: Path, capsys: Any, command: str
) -> None:
    shutil.copy(STATES / "good-for-a-bad-journal.json", "corrupt/state.json")
    shutil.copy(STATES / "bad-journal-snapshot-amount.jsonl", "corrupt/journal.jsonl")
    code, out, err = run(capsys, command)
    assert code == 1 and 'corrupt/journal.jsonl:1: snapshot: allocated_ammount "1e" is not an amount' in err
    assert "delete that line" in err and "internal error" not in err and out == ""
    record("files", f"{command} over a journal line of the wrong shape", 1, "exit 1 naming the line")


def test_the_good_fixture_reads(workdir: Path, capsys: Any) -> None:
    """The fixtures differ from a readable state by their one bad record."""
    shutil.copy(STATES / "good-for-a-bad-journal.json", "corrupt/state.json")
    code, out, err = run(capsys, "plan")
    assert code == 0 and "error" not in err, err
