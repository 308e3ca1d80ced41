"""One apply at a time on a state: an exclusive OS lock held for the whole apply.

`flock` on `.apply.lock` beside the state file, taken before the plan is made and kept
until the apply has written its last journal line; the kernel drops it when the process
ends, killed or not, so a lock is never left stale. The holder writes its pid, host and
start time into the file, for the message the next apply prints. A second apply on the
same state fails at once (exit 1, nothing sent), or waits up to `--lock-timeout`, as
Terraform's state lock does. Read-only commands (plan, drift, show) take no lock.

Separate from the short lock the state takes to rewrite its snapshot (`.state.lock`):
flock locks belong to an open file, so the apply holding this one can still flush.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from reconciler.core.errors import Refused, StateError
from reconciler.core.jsonvalue import parse_json
from reconciler.core.times import now_iso
from reconciler.state.files import why

LOCK_NAME = ".apply.lock"
POLL = 0.1  # seconds between tries while waiting
HOLDER_READS = 10  # tries at reading who holds the lock, POLL apart


class Locked(Refused):
    """Another apply holds the state: nothing was sent."""


def lock_path(state: Path) -> Path:
    return state.parent / LOCK_NAME


@contextlib.contextmanager
def held(state: Path, timeout: float = 0.0) -> Iterator[None]:
    """Hold the state's apply lock inside the block; raise Locked when another apply keeps
    it past `timeout` seconds (0: do not wait)."""
    path = lock_path(state)
    handle = _open(path)
    try:
        _acquire(handle, path, timeout)
        _write_holder(handle)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                handle.truncate(0)  # the next reader finds no holder but its own
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()


def _open(path: Path) -> IO[str]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Never through a symlink: the lock is truncated, and a checkout may hold one.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o644)
        return open(fd, "a+", encoding="utf-8")
    except OSError as exc:
        raise StateError(
            f"{path}: cannot open the apply lock ({why(exc)}); nothing was sent: make the folder "
            "writable, or pass --state PATH to keep the state elsewhere"
        ) from exc


def _acquire(handle: IO[str], path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    said = False
    while not _try(handle):
        if time.monotonic() >= deadline:
            raise Locked(_refusal(path, timeout))
        if not said:
            print(f"ehkeys: {_holder(path)}: waiting up to {timeout:g}s", file=sys.stderr, flush=True)
            said = True
        time.sleep(min(POLL, max(deadline - time.monotonic(), 0)))


def _try(handle: IO[str]) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _write_holder(handle: IO[str]) -> None:
    holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": now_iso()}
    handle.truncate(0)
    handle.write(json.dumps(holder) + "\n")
    handle.flush()


def _holder(path: Path) -> str:
    """Who holds the lock, as its holder wrote it. A holder writes just after it takes the lock,
    so an empty or half-written file is read again for a moment before less is said."""
    for _ in range(HOLDER_READS):
        try:
            data = parse_json(path.read_text(encoding="utf-8"))
            since, pid, host = str(data["since"]), int(data["pid"]), str(data["host"])
        except (OSError, ValueError, KeyError, TypeError):
            time.sleep(POLL)
            continue
        return f"another apply holds the state since {since}, pid {pid} (on {host})"
    return f"another apply holds the state ({path})"


def _refusal(path: Path, timeout: float) -> str:
    waited = f"after waiting {timeout:g}s" if timeout else "pass --lock-timeout 30s to wait for it"
    return f"{_holder(path)}, lock {path}; nothing was sent: {waited}"
