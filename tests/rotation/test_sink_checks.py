"""A rotation's successor is a new key whose value must reach the key's sinks: a sink that can be
known broken before anything is sent (a command that is not there, a token not set) refuses the
rotation, as it refuses a create, rather than paying for a successor nobody can be given."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from .common import DAY, OLD, T0, at, balance, cli, keys, manifest

MISSING_TOOL = [{"command": ["/nonexistent/ehkeys-test-deliver-tool"]}]


def test_rotate_now_with_a_sink_that_cannot_run_is_refused_before_the_successor_is_paid_for(
    workdir: Path, capsys: Any
) -> None:
    manifest(rotate=None, deliver=MISSING_TOOL)
    code, out, err = cli(capsys, "rotate", "backend", "--overlap", "0")
    assert code == 1, out + err
    assert "nothing was sent" in out + err and "ehkeys-test-deliver-tool" in out + err
    assert [k["key"] for k in keys()] == [OLD] and balance() == Decimal(1000)


def test_a_scheduled_rotation_with_a_sink_that_cannot_run_is_refused_by_apply(
    workdir: Path, capsys: Any
) -> None:
    manifest(deliver=MISSING_TOOL)  # every 90d; the key is 120 days old: due
    at(T0 + DAY)
    code, out, err = cli(capsys, "apply")
    assert code == 1, out + err
    assert "a new key's value could not be delivered" in out + err
    assert [k["key"] for k in keys()] == [OLD] and balance() == Decimal(1000)


def test_rotate_to_an_env_file_that_cannot_be_read_is_refused_before_the_successor_is_paid_for(
    workdir: Path, capsys: Any
) -> None:
    """Its key's line is replaced in place, so the file is read first: one that is not UTF-8 (a
    binary written over it) failed only after the successor was created and debited."""
    (workdir / "backend.env").write_bytes(b"PORT=8080\nBLOB=\xff\xfe\n")
    manifest(rotate=None, deliver=[{"file": "backend.env"}])
    code, out, err = cli(capsys, "rotate", "backend", "--overlap", "0")
    assert code == 1, out + err
    assert "nothing was sent" in out + err and "backend.env: cannot read" in out + err
    assert [k["key"] for k in keys()] == [OLD] and balance() == Decimal(1000)


def test_a_rotation_due_with_a_sink_that_cannot_run_is_warned_by_the_plan(workdir: Path, capsys: Any) -> None:
    """Said before the apply refuses it (the test above): on the rotate change, a warning, the
    plan not failed (its job may lack what only the apply's is given)."""
    manifest(deliver=MISSING_TOOL)
    at(T0 + DAY)
    code, out, err = cli(capsys, "plan", "--format", "json")
    assert code == 0, out + err
    (row,) = [k for k in json.loads(out)["keys"] if k["address"] == "backend"]
    assert row["action"] == "rotate" and row["warnings"][-1] == (
        "keys.yaml:3:3: command /nonexistent/ehkeys-test-deliver-tool: /nonexistent/ehkeys-test-deliver-tool "
        "does not "
        "exist or is not executable: an apply run so refuses to rotate the key (a warning, not an error: a "
        "plan job may lack what only the apply job is given)"
    )
