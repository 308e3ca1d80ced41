"""Keys deleted by hand, and state lost, during a rotation's overlap: the predecessor is never
deleted unless the state says it is one, a successor gone gives the address back to its
predecessor (rotated again), and money stays exact."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..helpers import sandbox_state_dir
from .common import DAY, OLD, T0, at, balance, box, cli, keys, manifest, seed, state


@pytest.fixture
def overlapping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> str:
    """A rotation applied with a 7-day overlap, both keys live; the successor's value."""
    monkeypatch.chdir(tmp_path)
    seed()
    manifest()
    code, _, _ = cli(capsys, "apply")
    assert code == 0 and balance() == Decimal(950)
    return str(next(k["key"] for k in keys() if k["key"] != OLD))


def test_a_successor_deleted_by_hand_mid_overlap_gives_its_address_back_and_is_rotated_again(
    overlapping: str, capsys: Any
) -> None:
    box().store.remove(overlapping)  # refunds its 50
    at(T0 + 3 * DAY)
    code, out, _ = cli(capsys, "plan", "--detailed-exitcode")
    assert code == 2, out  # not "is the account key another account's?"
    assert "⟳ Backend (ek-proxy-…part)" in out and "its successor is gone from the account" in out
    assert "+ Backend (a new key)" not in out
    code, out, _ = cli(capsys, "apply")
    assert code == 0 and len(keys()) == 2 and OLD in [k["key"] for k in keys()]
    assert state()["rotations"]["backend"]["started"] == T0 + 3 * DAY
    at(T0 + 10 * DAY + 1)  # the new successor's overlap ended
    code, out, _ = cli(capsys, "apply")
    assert code == 0 and [k["key"] for k in keys()] != [OLD] and len(keys()) == 1
    assert balance() == Decimal(980)  # one successor's 50 debited, the predecessor's 30 refunded


def test_a_predecessor_deleted_by_hand_mid_overlap_ends_the_rotation(overlapping: str, capsys: Any) -> None:
    box().store.remove(OLD)  # refunds its 30
    at(T0 + 3 * DAY)
    code, out, _ = cli(capsys, "apply")
    assert code == 0, out
    assert "rotations" not in state() and [k["key"] for k in keys()] == [overlapping]
    assert balance() == Decimal(980)


def test_state_lost_mid_overlap_never_deletes_the_predecessor_and_names_both_keys(
    overlapping: str, capsys: Any
) -> None:
    shutil.rmtree(sandbox_state_dir())
    at(T0 + 8 * DAY)  # past the overlap: without its record nothing says which key is the old one
    code, out, _ = cli(capsys, "apply")
    assert code == 1 and "2 live keys are named 'Backend'" in out
    assert "ek-proxy-…part" in out and f"ek-proxy-…{overlapping[-4:]}" in out
    assert len(keys()) == 2 and balance() == Decimal(950)


def test_a_key_dropped_from_the_manifest_mid_overlap_leaves_its_predecessor_named_never_unseen(
    overlapping: str, capsys: Any
) -> None:
    other = {"id": "other", "name": "Other", "allocated_ammount": 5, "limit_type": "daily"}
    Path("keys.yaml").write_text(yaml.safe_dump({"version": 1, "keys": [other]}))
    at(T0 + 9 * DAY)
    code, out, _ = cli(capsys, "plan")
    assert code == 0 and "2 unmanaged" in out
    assert (
        "Backend (ek-proxy-…part): 50.00 allocated, active; removed from the manifest (it was 'backend')"
        in out
    )
    Path("keys.yaml").write_text(yaml.safe_dump({"version": 1, "prune": True, "keys": [other]}))
    code, out, _ = cli(capsys, "apply")
    assert code == 0, out
    assert [k["name"] for k in keys()] == ["Other"] and balance() == Decimal(950 + 30 + 50 - 5)


def test_a_reviewed_retirement_whose_successor_was_deleted_by_hand_is_never_said_done(
    overlapping: str, capsys: Any
) -> None:
    """The predecessor's retirement reviewed, then its successor deleted by hand: the address
    went back to the predecessor, live and bound, and nothing was sent; the apply said the
    reviewed delete was 'already as planned ... the key is gone from the account', exit 0."""
    at(T0 + 7 * DAY + 1)  # the overlap ended: the plan retires the predecessor
    code, out, _ = cli(capsys, "plan", "--out", "plan.json")
    assert code == 0 and "# retired: backend was rotated to" in out, out
    box().store.remove(overlapping)
    code, out, _ = cli(capsys, "apply", "--plan", "plan.json")
    assert OLD in [k["key"] for k in keys()]  # it holds the address again: never deleted
    assert "the key is gone from the account" not in out, out
    said = (
        "skipped: changed since plan; nothing is sent to it now: it is the key of 'backend' now, and the plan"
    )
    assert code == 3 and f"{said} would rotate it" in out, out
