"""Shared test helpers: seeds, an in-process sandbox, a live sandbox process, the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from reconciler.cli.main import main
from reconciler.delivery import send
from reconciler.manifest.load import load as load_manifest
from reconciler.sandbox import Faults, RateLimit, Sandbox
from reconciler.sandbox import seed as seeds

API_KEY = "ek-test-account-key"
ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"  # the fixture folders (manifests/, golden/, saved_plans/, states/, seeds/) live here


def key_value(i: int) -> str:
    return f"ek-proxy-test-{i:06d}-secretpart"


def seed_data(n: int = 3, balance: float = 1000.0, **key_fields: Any) -> dict[str, Any]:
    """An account with n keys named key-0..; a second account owning one key."""
    keys = [
        {
            "key": key_value(i),
            "user_id": "u1",
            "name": f"key-{i}",
            "expires_at": -1,
            "allocated_ammount": 10.0,
            "used_ammount": 2.0,
            "model_whitelist": ["gpt-4o"],
            "ip_whitelist": ["10.0.0.0/8"],
            **key_fields,
        }
        for i in range(n)
    ]
    keys.append({"key": "ek-proxy-someone-elses-key", "user_id": "u2", "name": "theirs"})
    return {
        "accounts": [
            {"user_id": "u1", "api_key": API_KEY, "balance": balance},
            {"user_id": "u2", "api_key": "ek-test-other-key", "balance": 100.0},
        ],
        "keys": keys,
        "rate_limit": {"requests": 100_000, "window_s": 60},  # tests that want a limit set one
    }


def sandbox(
    data: dict[str, Any] | None = None,
    rate: RateLimit | None = None,
    faults: Faults | None = None,
    db: str = ":memory:",
) -> Sandbox:
    seed = seeds.parse(data or seed_data())
    return Sandbox.open(db, seed, rate=rate or RateLimit(requests=100000), faults=faults)


def manifest_text(n: int = 3, start: int = 0, **fields: Any) -> str:
    """A manifest for keys start..start+n-1, with `fields` on every key."""
    lines = ["version: 1", "keys:"]
    for i in range(start, start + n):
        key = {"proxy_key": f"${{EH_KEY_{i}:-{key_value(i)}}}", "name": f"key-{i}", "limit_type": "daily"}
        key.update(fields)
        first = True
        for field, value in key.items():
            lines.append(("  - " if first else "    ") + f"{field}: {json.dumps(value)}")
            first = False
    return "\n".join(lines) + "\n"


DEFAULT_WARNED = "plain-text proxy key in the manifest, as a ${VAR:-…} default"


def unwarned(text: str) -> str:
    """`text` without the warning each key of `manifest_text` gets on every run: its proxy key
    written in the file, as the `${EH_KEY_0:-ek-proxy-…}` default the sandbox's keys are bound by."""
    return "".join(line for line in text.splitlines(keepends=True) if DEFAULT_WARNED not in line)


def write_manifest(tmp: Path, n: int = 3, name: str = "keys.yaml", **fields: Any) -> Path:
    path = tmp / name
    path.write_text(manifest_text(n, **fields))
    return path


def by_id(path: str, key: str) -> str:
    """A path as validate prints it, its key named by id: `keys[1].name` of `backend` is
    `keys[backend].name` (a name with spaces quoted: `keys['Team Rich'].name`)."""
    named = key if key.replace("-", "").replace("_", "").replace(".", "").isalnum() else repr(key)
    return (
        path.replace(path[: path.index("]") + 1], f"keys[{named}]", 1) if path.startswith("keys[") else path
    )


def run_cli(capsys: Any, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def live_sandbox(tmp: Path, data: dict[str, Any] | None = None, *extra: str) -> Iterator[str]:
    """`ehkeys sandbox` as a real process on a free loopback port; yields the base URL."""
    seed_path = tmp / "seed.yaml"
    seed_path.write_text(yaml.safe_dump(data or seed_data()))
    port = free_port()
    argv = [sys.executable, "-m", "reconciler", "sandbox", "--port", str(port)]
    argv += ["--seed", str(seed_path), "--db", str(tmp / "sandbox.db"), *extra]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT, env=os.environ.copy()
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if proc.poll() is not None:
                raise RuntimeError(proc.stdout.read().decode() if proc.stdout else "sandbox died")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(10)


def sandbox_announced(proc: subprocess.Popen[str]) -> tuple[list[str], Path]:
    """A served sandbox's first lines, up to the one that loads its variables' file (`. PATH`),
    and that file."""
    assert proc.stdout is not None
    lines: list[str] = []
    stuck = threading.Timer(30, proc.kill)  # a sandbox that never says so is not waited for forever
    stuck.start()
    try:
        while not lines or not lines[-1].startswith(". "):
            line = proc.stdout.readline()
            assert line, f"the sandbox ended: {lines}, {proc.stderr.read() if proc.stderr else ''}"
            lines.append(line.rstrip("\n"))
    finally:
        stuck.cancel()
    return lines, Path(shlex.split(lines[-1])[1])


def sandbox_variables(path: Path) -> dict[str, str]:
    """The variables a served sandbox's file sets (`export NAME=value` lines), in its order."""
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            continue  # its header
        export, assignment = shlex.split(line)
        name, _, value = assignment.partition("=")
        assert export == "export" and name not in found, line
        found[name] = value
    return found


def state_dir(manifest: str | Path = "keys.yaml") -> Path:
    """The folder holding the state ehkeys keeps for `manifest` (relative to the cwd when
    `manifest` is): `.ehkeys/<its stem>/` beside it; a directory's own `.ehkeys/<its name>/`."""
    manifest = Path(manifest)
    if manifest.is_dir():
        return manifest / ".ehkeys" / manifest.resolve().name
    return manifest.parent / ".ehkeys" / manifest.stem


def sandbox_state_dir(manifest: str | Path = "keys.yaml") -> Path:
    """The folder holding the state ehkeys keeps for `manifest` run with --sandbox (relative to the cwd
    when `manifest` is). New tests find state files through this, never by a literal path."""
    return state_dir(manifest) / "sandbox"


def only_error_at(capsys: Any, file: Path, line: int, col: int, path: str, fragment: str) -> None:
    """`file` loads to one error, at FILE:LINE:COL and `path`, saying `fragment`; and `validate`
    prints it there (offline), exiting 1: the table tests of bad manifests share this."""
    result = load_manifest([str(file)], env={}, now=1_800_000_000)
    assert result.manifest is None
    assert len(result.errors) == 1, result.errors
    error = result.errors[0]
    assert (error.file, error.line, error.col, error.path) == (str(file), line, col, path)
    assert fragment in error.message
    code, out, _ = run_cli(capsys, "validate", str(file))
    assert code == 1 and f"{file}:{line}:{col}: " in out


@contextlib.contextmanager
def signalled_while_delivering(monkeypatch: Any, stop: signal.Signals) -> Iterator[list[int]]:
    """`stop` sent to this process when the run delivers a key, as a runner's cancel arrives while
    a job runs; yields the signals no handler of the run took (pytest's own never sees them)."""
    unhandled: list[int] = []
    previous = signal.signal(stop, lambda number, _: unhandled.append(number))

    async def cancelled(*_: Any) -> None:
        os.kill(os.getpid(), stop)
        await asyncio.sleep(0.5)  # the signal arrives while the job runs

    delivering = send.deliver
    monkeypatch.setattr(send, "deliver", cancelled)
    try:
        yield unhandled
    finally:
        signal.signal(stop, previous)
        monkeypatch.setattr(send, "deliver", delivering)


def interruptible() -> None:
    """A child's Ctrl-C as a terminal's: SIGINT at its default, also when this run was started
    with it ignored (`cmd &` from a script, nohup), which a child would otherwise inherit.
    For `subprocess.Popen(preexec_fn=...)`."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextlib.contextmanager
def files_up_to(size: int) -> Iterator[None]:
    """No write past `size` bytes of any file (EFBIG, as a full disk or a quota refuses one)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
