"""A rotation made with another copy of the state (an emergency `ehkeys rotate` by hand while CI
keeps its state on the `ehkeys-state` branch): the run with the stale copy binds the address to
the predecessor and sees the successor as a key it does not know. With `prune: true` that
successor, already handed to the application, must not be deleted on that guess."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..helpers import sandbox_state_dir
from .common import OLD, balance, cli, keys, seed


def _manifest(prune: bool) -> None:
    key = {"id": "backend", "name": "Backend", "allocated_ammount": 50, "limit_type": "weekly"}
    Path("keys.yaml").write_text(
        yaml.safe_dump({"version": 1, "prune": prune, "keys": [key]}, sort_keys=False)
    )


@pytest.fixture
def stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> str:
    """The state of CI (bound to the predecessor) back in place after a rotation by hand with a
    7-day overlap; both keys live. The successor's value."""
    monkeypatch.chdir(tmp_path)
    seed()
    _manifest(prune=True)
    code, out, _ = cli(capsys, "apply")
    assert code == 0, out
    shutil.copytree(sandbox_state_dir(), tmp_path / "ci-state")  # what the state branch holds
    code, out, _ = cli(capsys, "rotate", "backend", "--overlap", "7d")
    assert code == 0, out
    shutil.rmtree(sandbox_state_dir())
    shutil.copytree(tmp_path / "ci-state", sandbox_state_dir())
    return str(next(k["key"] for k in keys() if k["key"] != OLD))


def test_a_successor_the_state_does_not_know_is_never_pruned_when_it_has_a_managed_keys_name(
    stale: str, capsys: Any
) -> None:
    code, out, _ = cli(capsys, "plan", "--detailed-exitcode")
    shown = f"ek-proxy-…{stale[-4:]}"
    assert f"- Backend ({shown})" not in out, out
    assert (
        f"Backend ({shown})" in out
        and "not pruned: named as 'backend', which this state binds to ek-proxy-…part" in out
    )
    code, out, _ = cli(capsys, "apply")
    assert code == 0, out
    assert sorted(k["key"] for k in keys()) == sorted([OLD, stale]) and balance() == Decimal(950)


def test_without_prune_the_unknown_successor_is_reported_with_what_to_do(stale: str, capsys: Any) -> None:
    _manifest(prune=False)
    code, out, _ = cli(capsys, "plan")
    assert code == 0 and f"Backend (ek-proxy-…{stale[-4:]})" in out
    assert "named as 'backend', which this state binds to ek-proxy-…part" in out
    assert "plan with that copy (CI's: the ehkeys-state branch)" in out
