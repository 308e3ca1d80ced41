"""SIGKILL of `ehkeys rotate --overlap 0` against a served sandbox, at two moments: once the
rotation is journalled (its create about to go, or in flight), and once the successor's create is
recorded (before or while its predecessor is deleted). The next run converges: one key of the
name, the successor, and the money exact."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from ..helpers import API_KEY, ROOT, live_sandbox, state_dir
from ..reliability_log import record
from .common import OLD, T0, manifest, seed

pytestmark = pytest.mark.slow  # processes, and a kill timed by the journal


def _ehkeys(base: str, workdir: Path, *argv: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ELECTRONHUB_API_KEY": API_KEY, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "reconciler", *argv, "--auto-approve", "--base-url", base]
    return subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _lines(journal: Path) -> list[dict[str, Any]]:
    if not journal.exists():
        return []
    found = []
    for line in journal.read_text().splitlines():
        try:
            found.append(json.loads(line))
        except ValueError:
            continue  # a line being written
    return found


def _rotating(lines: list[dict[str, Any]]) -> bool:
    return any(e.get("result") == "rotating" for e in lines)


def _successor_recorded(lines: list[dict[str, Any]]) -> bool:
    return any(e.get("action") == "rotate" and e.get("fingerprint") for e in lines)


def _account(base: str) -> tuple[Decimal, list[dict[str, Any]]]:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {API_KEY}"}) as http:
        return Decimal(str(http.get("/user/me").json()["credits"])), http.get("/auth/proxy").json()


@pytest.mark.parametrize(
    ("moment", "reached"),
    [("the rotation journalled", _rotating), ("the successor recorded", _successor_recorded)],
)
def test_sigkill_mid_rotation_then_rerun_converges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moment: str, reached: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    seed()
    manifest(rotate=None)
    data = yaml.safe_load(Path("seed.yaml").read_text())
    journal = state_dir(tmp_path / "keys.yaml") / "journal.jsonl"
    with live_sandbox(tmp_path, data, "--latency-ms", "150") as base:
        proc = _ehkeys(base, tmp_path, "rotate", "keys.yaml", "backend", "--overlap", "0")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not reached(_lines(journal)) and proc.poll() is None:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert reached(_lines(journal)), "the kill must land after " + moment
        rerun = _ehkeys(base, tmp_path, "apply", "keys.yaml")
        assert rerun.wait(120) == 0, rerun.stderr.read() if rerun.stderr else ""
        credits, keys = _account(base)
    named = [k for k in keys if k["name"] == "Backend"]
    assert len(named) == 1 and named[0]["key"] != OLD  # never two successors, the old key gone
    assert credits == Decimal(980)  # 1,000 - 50 (one successor) + 30 (the predecessor's unused part)
    state = json.loads((state_dir(tmp_path / "keys.yaml") / "state.json").read_text())
    assert "rotations" not in state and not journal.exists()
    assert T0  # the sandbox's clock (seed clock.start) made the key 120 days old
    record(
        "kill",
        f"SIGKILL of ehkeys rotate --overlap 0 after {moment}, then apply",
        1,
        "converged: one successor, the old key deleted, balance exact, nothing left pending",
    )
