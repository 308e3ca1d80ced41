"""A new user's first week (issue 19's frictions): the sandbox served, stopped and pointed at,
a closed pipe, a sandbox that is not running, and what the messages say."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from .helpers import ROOT, free_port, manifest_text, run_cli
from .reliability_log import record

NOISE = ("Traceback", "interrupted", "Exception ignored", "internal error")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keys.yaml").write_text(manifest_text(1))
    return tmp_path


def ehkeys(workdir: Path, *argv: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler", *argv],
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def announced(proc: subprocess.Popen[str]) -> list[str]:
    """The sandbox's first lines, up to its API key's export line."""
    assert proc.stdout is not None
    lines: list[str] = []
    while not lines or not lines[-1].startswith("export ELECTRONHUB_API_KEY="):
        line = proc.stdout.readline()
        assert line, f"the sandbox ended: {lines}, {proc.stderr.read() if proc.stderr else ''}"
        lines.append(line.strip())
    return lines


def test_a_refused_loopback_connection_stops_at_once_and_says_what_to_start(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing listens: today 16 s of silent retries, then 'the request never reached the API'."""
    monkeypatch.setenv("ELECTRONHUB_API_KEY", "ek-test-account-key")
    port = free_port()
    started = time.monotonic()
    code, out, err = run_cli(capsys, "plan", "keys.yaml", "--base-url", f"http://127.0.0.1:{port}/v1")
    took = time.monotonic() - started
    assert code == 1 and out == ""
    assert err.strip().endswith(f"nothing listens on 127.0.0.1:{port}: is `ehkeys sandbox` running?"), err
    assert len(err.strip().splitlines()) == 1 and took < 5, (took, err)
    record("cli", "plan against a loopback port nothing listens on", 1, "exit 1 in under 5 s, one message")
