"""An apply whose plan has errors (`!`: a key that cannot be planned) applies the other changes,
names each key it sent nothing for as `not planned`, with its plan's error, in the text and the
Markdown report alike, never as `failed`, and closes with `Apply incomplete`, exit 3."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.sandbox import Sandbox, seeds

from ..helpers import manifest_text, run_cli, seed_data

SANDBOX = ("--sandbox", "--sandbox-seed", "seed.yaml")
WHY = "not in the account, and a new key needs allocated_ammount above 0 (create needs a positive one)"
NOT_PLANNED = "name: No Credits\n    limit_type: daily\n"  # a new key with no allocation: `!` in the plan


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed_data(2)))
    return tmp_path


def test_the_keys_not_planned_are_named_with_why_and_the_apply_is_incomplete(
    workdir: Path, capsys: Any
) -> None:
    Path("keys.yaml").write_text(manifest_text(2, allocated_ammount=12) + f"  - {NOT_PLANNED}")
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve", "--report-out", "r.md")
    assert code == 3, out + err
    assert f"  ! No Credits (a new key): not planned: {WHY}\n" in out
    assert "Apply incomplete: 2 updated, 1 not planned.\n" in out
    assert "Apply complete" not in out and "failed" not in out
    report = Path("r.md").read_text()
    assert f"| ! | No Credits (new key) | error | not planned |  | {WHY} |" in report
    assert "**Apply incomplete: 2 updated, 1 not planned.**" in report
    assert "failed" not in report and "Apply complete" not in report
    live = Sandbox.open(".ehkeys/sandbox.db", seeds.load("seed.yaml")).store.keys_of("u1")
    names = [k["name"] for k in live]
    assert "No Credits" not in names  # nothing was sent for it


def test_a_plan_of_errors_alone_sends_nothing_and_its_report_names_them(workdir: Path, capsys: Any) -> None:
    Path("keys.yaml").write_text(manifest_text(2))
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    Path("keys.yaml").write_text(manifest_text(2) + f"  - {NOT_PLANNED}")
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve", "--report-out", "r.md")
    assert code == 1 and "Nothing to apply: 1 error(s) above." in out, out + err
    report = Path("r.md").read_text()
    assert f"| ! | No Credits (new key) | error | not planned |  | {WHY} |" in report
    assert "**Apply incomplete: 0 applied, 1 not planned.**" in report


def test_a_declared_account_names_its_keys_not_planned_too(workdir: Path, capsys: Any) -> None:
    data = seed_data(2)
    data["accounts"][0]["name"] = "prod"  # the seed's keys are prod's
    Path("seed.yaml").write_text(yaml.safe_dump(data))
    accounts = {"accounts": {"prod": {"api_key": "${EH_PROD_API_KEY}"}}}
    text = manifest_text(1, allocated_ammount=12, account="prod") + f"  - {NOT_PLANNED}    account: prod\n"
    Path("keys.yaml").write_text(
        yaml.safe_dump(accounts) + text.removeprefix("version: 1\n") + "version: 1\n"
    )
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 3, out + err
    assert f"[prod]  ! No Credits (a new key): not planned: {WHY}\n" in out
    assert "[prod] Apply incomplete: 1 updated, 1 not planned.\n" in out
    assert "failed" not in out and "Apply complete" not in out


def test_a_reviewed_change_that_cannot_be_planned_now_is_skipped_once_not_also_not_planned(
    workdir: Path, capsys: Any
) -> None:
    """A saved plan's key that is in error at apply time (its live key deleted by hand since the
    review) is skipped, saying why: one key, one result, not a second `not planned` line."""
    Path("keys.yaml").write_text(manifest_text(2, ip_whitelist=["10.1.0.0/16"]))
    assert run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--out", "plan.json")[0] == 0
    with sqlite3.connect(".ehkeys/sandbox.db") as db:
        db.execute("DELETE FROM keys WHERE name = 'key-0'")  # in the dashboard, after the review
    code, out, err = run_cli(
        capsys,
        "apply",
        "keys.yaml",
        *SANDBOX,
        "--plan",
        "plan.json",
        "--auto-approve",
        "--report-out",
        "r.md",
    )
    assert code == 3, out + err
    assert "Apply incomplete: 1 updated, 1 skipped.\n" in out, out
    applying = out.split("\nApplying:\n", 1)[1]
    assert applying.count("key-0") == 1 and "not planned" not in applying, out
    report = Path("r.md").read_text()
    assert "**Apply incomplete: 1 updated, 1 skipped.**" in report and "not planned" not in report, report
