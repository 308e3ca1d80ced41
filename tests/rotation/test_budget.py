"""A rotation against a group's budget: during an overlap the group holds both keys (a rotation
over its max_allocated is refused, honestly), but with overlap 0 the predecessor's retirement in
the same plan is the group's: its allocation leaves the group's total and its refund counts in
the group's net."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.cli import options, settings
from reconciler.cli.apply import Terminal
from reconciler.core.errors import Refused
from reconciler.engine import apply
from reconciler.engine.settings import Rotate

from .common import OLD, SANDBOX, T0, balance, cli, keys


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


def test_the_rotate_job_counts_the_groups_other_keys_against_its_max_allocated(
    workdir: Path, capsys: Any
) -> None:
    """The job plans rotations alone (no --target): a key of the group it leaves as it is still
    holds its allocation, so a rotation taking the group over its max_allocated is refused."""
    data = yaml.safe_load(Path("seed.yaml").read_text())
    worker = {**data["keys"][0], "key": "ek-proxy-worker-0002-secretpart", "name": "Worker", "created_at": T0}
    Path("seed.yaml").write_text(yaml.safe_dump({**data, "keys": [*data["keys"], worker]}))
    grouped({"max_allocated": 120})  # backend 50 + its successor 50 + worker 50: 150
    manifest = yaml.safe_load(Path("keys.yaml").read_text())
    manifest["keys"].append({**manifest["keys"][0], "id": "worker", "name": "Worker"})
    manifest["keys"][0]["rotate"] = {"every": "90d", "overlap": "7d"}  # due, 120 days old
    Path("keys.yaml").write_text(yaml.safe_dump(manifest))
    args = options.parse(["rotate", "keys.yaml", "backend", *SANDBOX, "--auto-approve"])
    job = replace(settings.rotate(args), rotate=Rotate(only=True))  # the rotate job's apply
    with pytest.raises(Refused, match=r"allocated 150\.00 together after the plan, over 120\.00"):
        apply.run(job, Terminal(args))
    assert len(keys()) == 2 and balance() == Decimal(1000)
