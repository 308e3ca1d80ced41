"""A stop that comes just as a command sink's process exits: the run stops there, as at any
other moment of a delivery. asyncio.wait_for (before Python 3.12) dropped such a cancel: the run
went on to the next key's delivery, after the stop. Against the in-process sandbox, real sinks."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..helpers import run_cli, seed_data


def test_a_stop_as_a_sinks_process_exits_delivers_nothing_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed_data(1)))
    keys = [
        {"name": name, "allocated_ammount": 1, "limit_type": "daily"}
        | {"deliver": [{"command": ["sh", "-c", f"cat > {name}.delivered"]}]}
        for name in ("new-a", "new-b")
    ]
    Path("keys.yaml").write_text(yaml.safe_dump({"version": 1, "keys": keys}))
    real = asyncio.subprocess.Process.wait
    stopped: list[bool] = []

    async def exited(self: asyncio.subprocess.Process) -> int:
        code = await real(self)
        if not stopped:  # SIGTERM handled before the one waiting for this process hears of its exit
            stopped.append(True)
            asyncio.get_running_loop().call_soon(signal.raise_signal, signal.SIGTERM)
        return code

    monkeypatch.setattr(asyncio.subprocess.Process, "wait", exited)
    argv = ["apply", "keys.yaml", "--sandbox", "--sandbox-seed", "seed.yaml", "--auto-approve"]
    code, _, err = run_cli(capsys, *argv, "--parallelism", "1")
    assert code == 130 and err.strip().splitlines()[-1] == "ehkeys: interrupted", err
    assert sorted(p.name for p in tmp_path.glob("*.delivered")) == ["new-a.delivered"]
