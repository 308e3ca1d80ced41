"""A kill between the create and the delivery: the apply process (a real one, against the sandbox
served as a process) is SIGKILLed while its first sink runs, once the key exists; the next apply
delivers the key's value to every sink, with no second create and one debit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from ..helpers import API_KEY, ROOT, live_sandbox, seed_data

pytestmark = pytest.mark.slow  # processes and a real wait

RECORDER = Path(__file__).parent / "record_sink.py"
MANIFEST = f"""version: 1
defaults: {{limit_type: daily}}
keys:
  - id: api
    name: API
    allocated_ammount: 5
    deliver:
      - command: [{json.dumps(sys.executable)}, {json.dumps(str(RECORDER))}]
      - file: app.env
"""


def _apply(base: str, workdir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ELECTRONHUB_API_KEY": API_KEY,
        "PYTHONPATH": str(ROOT),
        "RECORD_TO": str(workdir / "record.jsonl"),
        "RECORD_BLOCK": str(workdir / "started"),  # the first run's command waits there
    }
    argv = [sys.executable, "-m", "reconciler", "apply", "keys.yaml", "--auto-approve", "--base-url", base]
    return subprocess.Popen(
        argv, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )


def _account(base: str) -> tuple[Decimal, list[str]]:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {API_KEY}"}) as http:
        credits = Decimal(str(http.get("/user/me").json()["credits"]))
        return credits, [k["key"] for k in http.get("/auth/proxy").json() if k["name"] == "API"]


def test_a_kill_between_create_and_delivery_is_delivered_by_the_next_apply(tmp_path: Path) -> None:
    (tmp_path / "keys.yaml").write_text(MANIFEST)
    with live_sandbox(tmp_path, seed_data(0)) as base:
        killed = _apply(base, tmp_path)
        deadline = time.monotonic() + 60
        while not (tmp_path / "started").exists() and time.monotonic() < deadline and killed.poll() is None:
            time.sleep(0.05)
        assert (tmp_path / "started").exists(), killed.communicate()[1].decode()
        os.killpg(killed.pid, signal.SIGKILL)  # the apply
        os.kill(int((tmp_path / "started").read_text()), signal.SIGKILL)  # and the command it runs
        killed.wait()
        assert not (tmp_path / "app.env").exists()  # the kill landed before the second sink
        rerun = _apply(base, tmp_path)
        out, err = rerun.communicate(timeout=120)
        credits, made = _account(base)
    assert rerun.returncode == 0, (out + err).decode()
    (value,) = made  # one key of that name: never a second create
    assert credits == Decimal(1000 - 5)
    assert (tmp_path / "app.env").read_text() == f"EH_KEY_API={value}\n"
    got = [json.loads(line)["stdin"] for line in (tmp_path / "record.jsonl").read_text().splitlines()]
    assert got == [value, value]  # cut short, then delivered again
    assert value not in (out + err).decode()
