"""A rotation alone (`ehkeys rotate`, the rotate job) never applies a manifest edit still waiting
for its reviewed apply: the successor copies the live key (the write-only limit_type as recorded,
else the manifest's), and the plan says which edits wait."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from .common import OLD, balance, cli, keys, manifest, seed


@pytest.fixture
def edited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The live key allocated 50 and allowed gpt-4o; the manifest, edited since, asks 80 and two models."""
    monkeypatch.chdir(tmp_path)
    seed()
    manifest(rotate=None, model_whitelist=["gpt-4o", "claude-3-5-haiku"])
    return tmp_path


def test_rotate_never_applies_a_pending_manifest_edit_through_the_successor(
    edited: Path, capsys: Any
) -> None:
    manifest(rotate=None, allocated_ammount=80, model_whitelist=["gpt-4o", "claude-3-5-haiku"])
    code, out, _ = cli(capsys, "rotate", "backend", "--overlap", "0")
    assert code == 0, out
    (successor,) = keys()
    assert successor["key"] != OLD and successor["allocated_ammount"] == 50
    assert successor["model_whitelist"] == ["gpt-4o"] and successor["limit_type"] == "weekly"
    assert balance() == Decimal(980)  # 50 debited for a copy of the key, its predecessor's 30 back
    assert "not applied by this rotation" in out and "allocated_ammount, model_whitelist" in out
    code, out, _ = cli(capsys, "apply")  # the edit, applied as any other
    assert code == 0 and keys()[0]["allocated_ammount"] == 80 and balance() == Decimal(950)
