"""A stop (Ctrl-C, SIGTERM, SIGHUP) while apply or deliver waits on something of its own that
blocks the loop: the question on the terminal, another run's lock (`--lock-timeout`). A stop
cancels the command's task, which sees it only at its next wait: these waits are not one, so
the stop came to nothing until the question was answered, or the lock freed or given up (then
exit 1, "after waiting"). Nothing is sent before either: the stop ends them at once, exit 130.
Against the in-process sandbox, this process signalled from a timer."""

from __future__ import annotations

import io
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.state import lock as statelock

from ..helpers import manifest_text, run_cli, sandbox_state_dir, seed_data

SANDBOX = ["--sandbox", "--sandbox-seed", "seed.yaml"]
STOPS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
IDS = ["Ctrl-C", "SIGTERM", "SIGHUP"]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed_data(2)))
    Path("keys.yaml").write_text(manifest_text(2, allocated_ammount=13))
    return tmp_path


class TerminalPipe(io.TextIOWrapper):
    """stdin as a terminal the user has not answered yet: a pipe nobody writes to (until `answer`)."""

    def isatty(self) -> bool:
        return True


@contextmanager
def stopped_after(stop: signal.Signals, seconds: float) -> Iterator[None]:
    timer = threading.Timer(seconds, os.kill, (os.getpid(), stop))
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def sent(capsys: Any) -> str:
    """What the sandbox holds now, as a plan of the same manifest sees it."""
    return run_cli(capsys, "plan", "keys.yaml", *SANDBOX)[1]


@pytest.mark.parametrize("stop", STOPS, ids=IDS)
def test_a_stop_at_the_question_ends_it_at_once_and_sends_nothing(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch, stop: signal.Signals
) -> None:
    read, write = os.pipe()
    monkeypatch.setattr("sys.stdin", TerminalPipe(io.FileIO(read, "r")))
    unblock = threading.Timer(10, os.write, (write, b"no\n"))  # the question never answered: exit 1
    unblock.start()
    started = time.monotonic()
    try:
        with stopped_after(stop, 0.5):
            code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX)
    finally:
        unblock.cancel()
        os.close(write)
    assert "Apply these changes?" in out
    assert code == 130 and err.strip().splitlines()[-1] == "ehkeys: interrupted", err
    assert time.monotonic() - started < 5
    assert "Plan: 0 to create, 2 to update" in sent(capsys)


@pytest.mark.parametrize("stop", STOPS, ids=IDS)
@pytest.mark.parametrize("command", ["apply", "deliver"])
def test_a_stop_while_another_run_holds_the_lock_ends_the_wait_at_once(
    workdir: Path, capsys: Any, stop: signal.Signals, command: str
) -> None:
    if command == "deliver":
        keys = [
            {"name": f"key-{i}", "limit_type": "daily", "deliver": [{"file": "app.env", "name": f"KEY_{i}"}]}
            for i in (0, 1)
        ]
        Path("keys.yaml").write_text(yaml.safe_dump({"version": 1, "keys": keys}))
    argv = [command, "keys.yaml", *SANDBOX, "--lock-timeout", "20s"]
    argv += ["--auto-approve"] if command == "apply" else []
    started = time.monotonic()
    with statelock.held(sandbox_state_dir() / "state.json"), stopped_after(stop, 0.5):
        code, _, err = run_cli(capsys, *argv)
    assert "waiting up to 20s" in err
    assert code == 130 and err.strip().splitlines()[-1] == "ehkeys: interrupted", err
    assert time.monotonic() - started < 5
    assert not Path("app.env").exists()
