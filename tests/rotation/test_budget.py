"""A rotation against a group's budget: during an overlap the group holds both keys (a rotation
over its max_allocated is refused, honestly), but with overlap 0 the predecessor's retirement in
the same plan is the group's: its allocation leaves the group's total and its refund counts in
the group's net."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from .common import OLD, balance, cli, keys, seed


def grouped(budget: dict[str, Any]) -> None:
    key = {
        "id": "backend",
        "name": "Backend",
        "allocated_ammount": 50,
        "limit_type": "weekly",
        "group": "api",
    }
    data = {"version": 1, "groups": {"api": {"budget": budget}}, "keys": [key]}
    Path("keys.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    seed()
    return tmp_path


def test_an_overlap_0_rotation_is_not_refused_by_its_groups_max_allocated_for_the_key_it_retires(
    workdir: Path, capsys: Any
) -> None:
    grouped({"max_allocated": 60})
    code, out, _ = cli(capsys, "rotate", "backend", "--overlap", "0")
    assert code == 0, out
    assert (
        "api: 2 keys (2 changed), 50.00 debited, 30.00 refunded (est.), net -20.00; 50.00 allocated after"
        in out
    )
    assert OLD not in [k["key"] for k in keys()] and balance() == Decimal(980)


def test_a_rotation_with_an_overlap_over_its_groups_max_allocated_is_refused_nothing_sent(
    workdir: Path, capsys: Any
) -> None:
    grouped({"max_allocated": 60})
    code, out, err = cli(capsys, "rotate", "backend", "--overlap", "1d")
    assert code == 1 and "allocated 100.00 together after the plan, over 60.00" in out + err
    assert [k["key"] for k in keys()] == [OLD] and balance() == Decimal(1000)


def test_an_overlap_0_rotation_counts_its_retirements_refund_in_its_groups_net(
    workdir: Path, capsys: Any
) -> None:
    grouped({"max_net_debit": 25})  # the rotation debits 50 and refunds 30: net 20
    code, out, _ = cli(capsys, "rotate", "backend", "--overlap", "0")
    assert code == 0, out
    assert balance() == Decimal(980)
