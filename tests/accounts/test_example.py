"""examples/accounts (prod and staging, a settings file and two team files) plans and applies
on the sandbox with no variable set, as docs/manifest.md shows; a second plan has nothing to do."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from ..helpers import ROOT, run_cli


def test_the_accounts_example_plans_and_applies_on_the_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    # without the state and sandbox a run of docs/manifest.md's example left there (git ignores them)
    shutil.copytree(
        ROOT / "examples" / "accounts", tmp_path / "accounts", ignore=shutil.ignore_patterns(".ehkeys")
    )
    monkeypatch.chdir(tmp_path)
    for name in ("EH_PROD_API_KEY", "EH_STAGING_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    code, out, err = run_cli(capsys, "plan", "accounts", "--sandbox")
    assert code == 0, err
    assert "=== Account prod ===" in out and "=== Account staging ===" in out
    assert "Plan (2 accounts): 4 to create" in out
    assert "  payments: 1 key (1 changed), 120.00 debited" in out.split("=== Account staging ===")[0]
    assert "  research: 2 keys (2 changed), 65.00 debited" in out  # the file's group: for each key
    assert "Policy: every rule holds (rules: max_allocated (group payments))" in out
    code, out, err = run_cli(capsys, "apply", "accounts", "--sandbox", "--auto-approve")
    assert code == 0, err
    assert "balance 1,000.00 -> 880.00" in out and "balance 1,000.00 -> 925.00" in out
    assert run_cli(capsys, "plan", "accounts/payments.yaml", "--sandbox", "--detailed-exitcode")[0] == 0
