"""The `file` sink: an env file of `NAME=value` lines, written 0600, never where git would track
it (`apply --secrets-out` and `reveal --out` refuse such a file with the same checks: `tracking`).

Delivering a key again replaces its line (the first `NAME=` line; later ones for the same NAME
are dropped) and keeps every other line as it was; the file is rewritten whole through a
temporary file beside it, so a reader never sees it half written. A symbolic link is followed:
its target is the file checked and written, and the link stays a link (replaced by the file, a
link git tracks would have become a tracked file holding the secret).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from reconciler.core.secrets import ProxyKey
from reconciler.core.sinks import NOT_AN_ENV_FILE, FileSink, not_an_env_file
from reconciler.delivery.errors import DeliveryError
from reconciler.delivery.tracking import NOT_A_FILE, not_a_file, unfollowed, why


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
    lines = _replaced(_lines(path), sink.name, f"{sink.name}={value.reveal()}")
    _write(path, "".join(line + "\n" for line in lines))


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise DeliveryError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from exc


def _replaced(lines: list[str], name: str, new: str) -> list[str]:
    """`new` in place of the first line that sets `name`, the others setting it dropped; at the
    end when none does."""
    mine = [i for i, line in enumerate(lines) if _sets(line, name)]
    if not mine:
        return [*lines, new]
    first = mine[0]
    return [new if i == first else line for i, line in enumerate(lines) if i == first or i not in mine]


def _sets(line: str, name: str) -> bool:
    stripped = line.strip().removeprefix("export ").lstrip()
    return stripped.split("=", 1)[0].strip() == name and "=" in stripped


def _write(path: Path, text: str) -> None:
    """Atomically, 0600 from the start: a temporary file beside it, renamed over it."""
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
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
