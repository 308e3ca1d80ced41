"""The journal after `ehkeys apply`: folded into the state file once the apply finished, so it
holds only the writes whose outcome never came, and does not grow with every apply."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.apply import applier
from reconciler.core import changes, operations
from reconciler.core.changes import Action
from reconciler.core.outcomes import Outcome
from reconciler.engine import target as session
from reconciler.sandbox import Sandbox, seeds
from reconciler.state.store import State

from ..helpers import API_KEY, manifest_text, run_cli, sandbox_state_dir, seed_data
from ..reliability_log import record

SANDBOX = ["--sandbox", "--sandbox-seed", "seed.yaml"]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    Path("seed.yaml").write_text(yaml.safe_dump(seed_data(3)))
    return tmp_path


def journal() -> list[dict[str, Any]]:
    path = sandbox_state_dir("keys.yaml") / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def apply(capsys: Any, allocation: int, *extra: str) -> tuple[int, str]:
    Path("keys.yaml").write_text(manifest_text(3, allocated_ammount=allocation))
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve", *extra)
    return code, out + err


def account_key(value: str) -> None:
    box = Sandbox.open(session.SANDBOX_DB, seeds.load("seed.yaml"))
    box.store.db.execute("UPDATE accounts SET api_key = ? WHERE user_id = 'u1'", (value,))


def test_after_each_of_five_applies_the_journal_holds_nothing_settled(workdir: Path, capsys: Any) -> None:
    for allocation in (11, 12, 13, 12, 11):
        code, out = apply(capsys, allocation)
        assert code == 0 and "3 updated" in out, out
        assert journal() == [], "a finished apply left settled lines in the journal"
    code, out = apply(capsys, 11)
    assert code == 0 and "Nothing to apply." in out  # the state still knows every limit_type
    record("files", "five applies in a row, each finished", 5, "the journal is compacted away after each")


def test_a_write_whose_outcome_never_came_stays_until_an_apply_settles_it(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """key-0's update is journalled, then the account key is revoked: the apply stops with
    that write pending. An apply of key-2 only keeps that one line; a whole apply settles it."""
    original = applier.send

    async def revoked_before_key_0(op: operations.Operation, client: Any, target: Any) -> Any:
        if isinstance(op, operations.Update) and op.body["name"] == "key-0":
            account_key("ek-revoked")
        return await original(op, client, target)

    monkeypatch.setattr(applier, "send", revoked_before_key_0)
    code, out = apply(capsys, 11, "--parallelism", "1")
    assert code == 1 and "HTTP 401" in out, out
    monkeypatch.setattr(applier, "send", original)
    account_key(API_KEY)

    code, out = apply(capsys, 11, "--target", "key-2")
    assert code == 0, out
    pending = [(e["name"], e["result"]) for e in journal()]
    assert pending == [("key-0", "sending")], "only the write whose outcome never came is kept"

    code, out = apply(capsys, 11)
    assert code == 0 and "cut off" in out and "2 updated" in out, out  # key-0 again, key-1
    assert journal() == []
    assert "Nothing to apply." in apply(capsys, 11)[1]


def test_the_journal_keeps_its_own_words_whatever_an_outcome_is_called(workdir: Path, capsys: Any) -> None:
    """An apply killed before its state snapshot leaves only the journal: replayed, it must
    still record each key's limit_type, even once the outcomes read otherwise on screen."""
    Path("keys.yaml").write_text(manifest_text(3, limit_type="weekly"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Outcome.APPLIED, "_value_", "done")  # a reworded label
        mp.setitem(changes.DONE, Action.UPDATE, "done")  # and what a landed update says it did
        mp.setattr(Outcome.UNVERIFIED, "_value_", "sent; unchecked")
        mp.setattr(State, "flush", lambda self: None)  # killed: no snapshot...
        mp.setattr(State, "compact", lambda self: None)  # ...and no compaction
        code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 0 and "3 done" in out, out + err
    assert [e["result"] for e in journal() if e["result"] != "sending"] == ["applied"] * 3

    code, out, err = run_cli(capsys, "plan", "keys.yaml", *SANDBOX)
    assert code == 0 and "No changes." in out, out + err  # the replayed journal knows every limit_type
