"""The `file` sink: an env file of `NAME=value` lines, written 0600, never where git would track
it (`apply --secrets-out` and `reveal --out` refuse such a file with the same checks: `tracking`).

Delivering a key again replaces its line (the first `NAME=` line; later ones for the same NAME
are dropped) and keeps every other line as it was; the file is rewritten whole through a
temporary file beside it, so a reader never sees it half written, under a lock of its folder,
so two runs writing one file take turns. A symbolic link is followed:
its target is the file checked and written, and the link stays a link (replaced by the file, a
link git tracks would have become a tracked file holding the secret).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from reconciler.core.secrets import ProxyKey
from reconciler.core.sinks import NOT_AN_ENV_FILE, FileSink, not_an_env_file
from reconciler.delivery.errors import DeliveryError
from reconciler.delivery.tracking import NOT_A_FILE, not_a_file, unfollowed, why

LOCK_WAIT = 10.0  # seconds another run's rewrite of a file in the folder is waited for


def preflight(sink: FileSink) -> str:
    """Why this file cannot take a secret ('' when it can), before anything is sent."""
    path = sink.target
    stuck = unfollowed(path)
    if stuck:
        return f"{path}: {stuck}"
    if not_a_file(path):
        return f"{path}: {NOT_A_FILE}"
    if not_an_env_file(path.resolve()):
        return f"{path} is {NOT_AN_ENV_FILE}"
    refused = why(path)
    if refused:
        return f"{path}: {refused}"
    if not path.resolve().parent.is_dir():
        return f"{path}: its folder does not exist"
    try:
        _lines(path.resolve())  # its key's line is replaced in place: read first, so read now
    except DeliveryError as exc:
        return exc.message
    return ""


def deliver(sink: FileSink, value: ProxyKey) -> None:
    problem = preflight(sink)
    if problem:
        raise DeliveryError(problem)
    path = sink.target.resolve()  # a link's target, the one checked: the link itself is kept
    with _held(path.parent):
        _write(path, "\n".join(_replaced(_lines(path), sink.name, value.reveal())) + "\n")


@contextlib.contextmanager
def _held(folder: Path) -> Iterator[None]:
    """The file's folder locked (flock) while the file is read and rewritten: two runs writing
    two variables of one file (two accounts', two manifests') each wrote the file as it read
    it, the other's line lost though delivered. A folder that cannot be locked (a filesystem
    without locks) is written as before; one held past LOCK_WAIT is a DeliveryError."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        fd = -1
    try:
        if fd >= 0:
            _lock(fd, folder)
        yield
    finally:
        if fd >= 0:
            os.close(fd)  # the lock goes with it


def _lock(fd: int, folder: Path) -> None:
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise DeliveryError(
                    f"{folder}: another process held its lock on this folder's env files for "
                    f"{LOCK_WAIT:g} s; deliver again once it is done"
                ) from None
            time.sleep(0.02)
        except OSError:
            return  # no locks here: written as before


def _lines(path: Path) -> list[str]:
    """The file's lines, split at `\n` alone: a `\r` (a CRLF file), a form feed or a line
    separator inside a value is part of its line, and written back as it was; the last one
    ended as the others are, should the file end without."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise DeliveryError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from exc
    if text and not text.endswith("\n"):  # its last line ended as the others are, to add one after it
        text += "\r\n" if "\r\n" in text else "\n"
    return text.split("\n")[:-1]


def _replaced(lines: list[str], name: str, value: str) -> list[str]:
    """`name=value` in place of the first line that sets `name`, in its form (`export `, its
    indent, its `\r`), the others setting it dropped (a later one would win where the file is
    read); at the end when none does, ending as the file's lines do."""
    mine = [i for i, line in enumerate(lines) if _sets(line, name)]
    if not mine:
        crlf = any(line.endswith("\r") for line in lines)
        return [*lines, f"{name}={value}" + ("\r" if crlf else "")]
    first = mine[0]
    found = _SETS.match(lines[first])
    assert found is not None
    new = f"{found['lead']}{name}={value}" + ("\r" if lines[first].endswith("\r") else "")
    return [new if i == first else line for i, line in enumerate(lines) if i == first or i not in mine]


# A line setting a variable, as shells and dotenv loaders read one: its indent and `export `
# (a space or a tab after it), the name, `=` (spaces around it, as dotenv loaders allow)
_SETS = re.compile(r"(?P<lead>[ \t]*(?:export[ \t]+)?)(?P<name>[^\s=#]+)[ \t]*=")


def _sets(line: str, name: str) -> bool:
    found = _SETS.match(line)
    return found is not None and found["name"] == name


def _write(path: Path, text: str) -> None:
    """Atomically, 0600 from the start: a temporary file beside it, renamed over it."""
    stem, suffix = os.path.splitext(path.name)
    prefix = ("" if stem.startswith(".") else ".") + stem + "."
    try:  # `.app.XXXX.env` beside app.env, `.env.XXXX` beside .env: left by a kill no handler
        # sees (SIGKILL, a power cut), the rule that ignores the file (*.env, .env*) ignores it
        fd, temp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=path.parent)
    except OSError as exc:
        raise DeliveryError(f"{path}: cannot write ({exc.strerror})") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException as exc:  # Ctrl-C or SIGTERM too: the temporary file holds the value
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(exc, OSError):
            raise DeliveryError(f"{path}: cannot write ({exc.strerror})") from exc
        raise
