"""Kills and interrupts mid-delivery: the apply process (a real one, against the sandbox served as
a process) is SIGKILLed or interrupted (Ctrl-C) while a sink's command runs, once the key exists;
the next apply delivers the key's value to every sink still owed, with no second create and one
debit, and `ehkeys deliver` then delivers it to every sink once more."""

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

from reconciler.core.sinks import CommandSink

from ..helpers import API_KEY, ROOT, interruptible, live_sandbox, seed_data

pytestmark = pytest.mark.slow  # processes and a real wait

RECORDER = Path(__file__).parent / "record_sink.py"
COMMAND = f"      - command: [{json.dumps(sys.executable)}, {json.dumps(str(RECORDER))}]\n"
FILE = "      - file: app.env\n"
RECORDING = CommandSink((sys.executable, str(RECORDER))).describe()  # its words, shortened


def manifest(*sinks: str) -> str:
    head = "version: 1\ndefaults: {limit_type: daily}\nkeys:\n  - id: api\n    name: API\n"
    return head + "    allocated_ammount: 5\n    deliver:\n" + "".join(sinks)


def _run(base: str, workdir: Path, *argv: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ELECTRONHUB_API_KEY": API_KEY,
        "PYTHONPATH": str(ROOT),
        "RECORD_TO": str(workdir / "record.jsonl"),
        "RECORD_BLOCK": str(workdir / "started"),  # the first run's command waits there
    }
    argv = (sys.executable, "-m", "reconciler", *argv, "keys.yaml", "--base-url", base)
    return subprocess.Popen(
        argv,
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=interruptible,
    )


def _apply(base: str, workdir: Path) -> subprocess.Popen[bytes]:
    return _run(base, workdir, "apply", "--auto-approve")


def _when_the_command_runs(process: subprocess.Popen[bytes], workdir: Path) -> int:
    """The blocked command's process id, once it has the value."""
    deadline = time.monotonic() + 60
    while not (workdir / "started").exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert (workdir / "started").exists(), process.communicate()[1].decode()
    return int((workdir / "started").read_text())


def _account(base: str) -> tuple[Decimal, list[str]]:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {API_KEY}"}) as http:
        credits = Decimal(str(http.get("/user/me").json()["credits"]))
        return credits, [k["key"] for k in http.get("/auth/proxy").json() if k["name"] == "API"]


def _stdins(workdir: Path) -> list[str]:
    return [json.loads(line)["stdin"] for line in (workdir / "record.jsonl").read_text().splitlines()]


def _gone(pid: int) -> bool:
    """No such process, or one that ended (a zombie nobody has reaped yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


def test_a_kill_between_create_and_delivery_is_delivered_by_the_next_apply(tmp_path: Path) -> None:
    (tmp_path / "keys.yaml").write_text(manifest(COMMAND, FILE))
    with live_sandbox(tmp_path, seed_data(0)) as base:
        killed = _apply(base, tmp_path)
        command = _when_the_command_runs(killed, tmp_path)
        os.killpg(killed.pid, signal.SIGKILL)  # the apply
        os.kill(command, signal.SIGKILL)  # and the command it runs (a process group of its own)
        killed.wait()
        assert not (tmp_path / "app.env").exists()  # the kill landed before the second sink
        rerun = _apply(base, tmp_path)
        out, err = rerun.communicate(timeout=120)
        credits, made = _account(base)
    assert rerun.returncode == 0, (out + err).decode()
    (value,) = made  # one key of that name: never a second create
    assert credits == Decimal(1000 - 5)
    assert (tmp_path / "app.env").read_text() == f"EH_KEY_API={value}\n"
    assert _stdins(tmp_path) == [value, value]  # cut short, then delivered again
    assert value not in (out + err).decode()


def test_a_kill_during_the_second_sink_delivers_that_one_only_then_deliver_sends_all_again(
    tmp_path: Path,
) -> None:
    (tmp_path / "keys.yaml").write_text(manifest(FILE, COMMAND))
    with live_sandbox(tmp_path, seed_data(0)) as base:
        killed = _apply(base, tmp_path)
        command = _when_the_command_runs(killed, tmp_path)
        os.killpg(killed.pid, signal.SIGKILL)
        os.kill(command, signal.SIGKILL)
        killed.wait()
        written = (tmp_path / "app.env").stat().st_mtime_ns  # the first sink was delivered
        rerun = _apply(base, tmp_path)
        out, err = rerun.communicate(timeout=120)
        assert rerun.returncode == 0, (out + err).decode()
        assert f"✓ api → {RECORDING}" in out.decode() and "file app.env" not in out.decode()
        assert (tmp_path / "app.env").stat().st_mtime_ns == written  # not written again
        again = _run(base, tmp_path, "deliver")
        said, err2 = again.communicate(timeout=120)
        credits, made = _account(base)
    assert again.returncode == 0, (said + err2).decode()
    (value,) = made
    assert credits == Decimal(1000 - 5)
    assert _stdins(tmp_path) == [value, value, value]  # cut short, owed, then on demand
    assert (tmp_path / "app.env").read_text() == f"EH_KEY_API={value}\n"
    assert value not in (out + err + said + err2).decode()


def test_ctrl_c_during_a_delivery_stops_its_command_and_the_next_apply_delivers(tmp_path: Path) -> None:
    (tmp_path / "keys.yaml").write_text(manifest(FILE, COMMAND))
    with live_sandbox(tmp_path, seed_data(0)) as base:
        interrupted = _apply(base, tmp_path)
        command = _when_the_command_runs(interrupted, tmp_path)
        os.killpg(interrupted.pid, signal.SIGINT)  # Ctrl-C: the terminal's foreground group
        out, err = interrupted.communicate(timeout=60)
        assert interrupted.returncode == 130, (out + err).decode()
        assert _gone(command)  # not left running: its group was killed with the apply
        rerun = _apply(base, tmp_path)
        out2, err2 = rerun.communicate(timeout=120)
        credits, made = _account(base)
    assert rerun.returncode == 0, (out2 + err2).decode()
    assert f"✓ api → {RECORDING}: delivered" in out2.decode()
    (value,) = made
    assert credits == Decimal(1000 - 5) and _stdins(tmp_path) == [value, value]
    assert value not in (out + err + out2 + err2).decode()


def test_two_delivers_at_once_the_second_is_refused_by_the_lock_and_sends_nothing(tmp_path: Path) -> None:
    (tmp_path / "keys.yaml").write_text(manifest(COMMAND, FILE))
    with live_sandbox(tmp_path, seed_data(0)) as base:
        created = _apply(base, tmp_path)
        command = _when_the_command_runs(created, tmp_path)
        os.kill(command, signal.SIGKILL)  # the apply's delivery fails: the key exists, the rest is owed
        assert created.wait(timeout=120) == 3
        (tmp_path / "started").unlink()  # the next command blocks again
        first = _run(base, tmp_path, "deliver")
        _when_the_command_runs(first, tmp_path)  # holding the lock, in its delivery
        second = _run(base, tmp_path, "deliver")
        out, err = second.communicate(timeout=60)
        os.killpg(first.pid, signal.SIGINT)
        assert first.wait(timeout=60) == 130
    assert second.returncode == 1, (out + err).decode()
    assert "another apply holds the state" in err.decode() and "nothing was sent" in err.decode()
    assert len(_stdins(tmp_path)) == 2  # the apply's and the first deliver's: none from the second
