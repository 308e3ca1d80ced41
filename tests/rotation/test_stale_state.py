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
from .common import DAY, OLD, T0, at, balance, cli, keys, made_by_hand, seed


def _manifest(prune: bool, **fields: Any) -> None:
    key = {"id": "backend", "name": "Backend", "allocated_ammount": 50, "limit_type": "weekly", **fields}
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
        and "not pruned: named as 'backend', which this plan binds to ek-proxy-…part" in out
    )
    code, out, _ = cli(capsys, "apply")
    assert code == 0, out
    assert sorted(k["key"] for k in keys()) == sorted([OLD, stale]) and balance() == Decimal(950)


def test_without_prune_the_unknown_successor_is_reported_with_what_to_do(stale: str, capsys: Any) -> None:
    _manifest(prune=False)
    code, out, _ = cli(capsys, "plan")
    assert code == 0 and f"Backend (ek-proxy-…{stale[-4:]})" in out
    assert "named as 'backend', which this plan binds to ek-proxy-…part" in out
    assert "plan with that copy (CI's is on its state branch)" in out


def test_a_key_named_as_a_retiring_predecessor_is_told_the_address_and_the_key_the_state_binds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """CI rotated the key on its schedule; a rotation by hand with a copy from before that is
    refused (CI's successor is a key that copy does not know), and a third key of the name is made
    in the dashboard. Once CI's overlap ends its plan retires the predecessor: the third key is
    named as the address (never the predecessor's internal `retiring:` one) and its key now."""
    monkeypatch.chdir(tmp_path)
    seed()
    _manifest(prune=True)
    assert cli(capsys, "apply")[0] == 0
    shutil.copytree(sandbox_state_dir(), tmp_path / "laptop-state")  # from before CI's rotation
    _manifest(prune=True, rotate={"every": "90d", "overlap": "7d"})  # the 120-day-old key is due
    code, out, _ = cli(capsys, "apply")
    assert code == 0, out
    ci_successor = next(k["key"] for k in keys() if k["key"] != OLD)
    shutil.copytree(sandbox_state_dir(), tmp_path / "ci-state")
    shutil.rmtree(sandbox_state_dir())
    shutil.copytree(tmp_path / "laptop-state", sandbox_state_dir())
    code, out, _ = cli(capsys, "rotate", "backend", "--overlap", "7d")
    assert code == 1 and f"ek-proxy-…{ci_successor[-4:]}, of its name and created since it" in out
    made_by_hand(T0 + 5)
    by_hand = next(k["key"] for k in keys() if k["key"] not in (OLD, ci_successor))
    shutil.rmtree(sandbox_state_dir())
    shutil.copytree(tmp_path / "ci-state", sandbox_state_dir())
    at(T0 + 8 * DAY)  # CI's overlap has ended: its plan retires the predecessor
    code, out, _ = cli(capsys, "plan")
    assert "- Backend (ek-proxy-…part)" in out, out
    assert f"Backend (ek-proxy-…{by_hand[-4:]})" in out and "retiring:" not in out
    assert f"named as 'backend', which this plan binds to ek-proxy-…{ci_successor[-4:]}" in out
    code, out, _ = cli(capsys, "apply")
    assert code == 0, out
    assert sorted(k["key"] for k in keys()) == sorted([ci_successor, by_hand])


def test_with_no_state_a_namesake_of_a_pinned_key_is_kept_and_not_named_as_a_delete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    seed()
    data = yaml.safe_load(Path("seed.yaml").read_text())
    data["keys"].append({**data["keys"][0], "key": "ek-proxy-handmade-0002-abcd"})
    Path("seed.yaml").write_text(yaml.safe_dump(data))
    pinned = {
        "id": "backend",
        "name": "Backend",
        "proxy_key": OLD,
        "allocated_ammount": 50,
        "limit_type": "weekly",
    }
    new = {"id": "new", "name": "New", "allocated_ammount": 5, "limit_type": "daily"}
    Path("keys.yaml").write_text(yaml.safe_dump({"version": 1, "prune": True, "keys": [pinned, new]}))
    code, out, err = cli(capsys, "plan")
    assert code == 0, out + err
    assert "the state records no binding" not in out + err
    assert "Backend (ek-proxy-…abcd)" in out and "not pruned: named as 'backend'" in out
    assert "- Backend (ek-proxy-…abcd)" not in out and "+ New (a new key)" in out
