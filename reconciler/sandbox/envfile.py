"""The served sandbox's variables (its base URL, its accounts' keys, the proxy keys its seed's
keys name) as `export` lines in a file only its user may read (0600), never printed: a
terminal's scrollback or a CI job's log keeps what is printed, and those are keys all the same.
The file is the sandbox's own, beside its database (`sandbox.db` -> `sandbox.db.env`); an
in-memory sandbox's is in a folder made for it (0700). `ehkeys sandbox` prints the command
that loads it (`. PATH`), and removes it when it stops.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from reconciler.core.errors import ConfigError

SUFFIX = ".env"  # after the database's name: `sandbox.db.env`, never the database itself
HEADER = "# ehkeys sandbox variables: written by `ehkeys sandbox`, removed when it stops\n"
MEMORY = ":memory:"


@contextlib.contextmanager
def exported(db: str, lines: Sequence[tuple[str, str]]) -> Iterator[Path]:
    """The file of `lines` (variable, value) for the sandbox of database `db`, written (0600)
    for the time the sandbox is served, and removed after, with the folder made for it if any;
    removed only if it is still the one written: a second sandbox served on the same database
    since wrote its own, which stays while that one serves (and a file never written, as when
    writing failed, is never removed)."""
    made = Path(tempfile.mkdtemp(prefix="ehkeys-sandbox-")) if db == MEMORY else None
    path = made / "sandbox.env" if made else Path(db + SUFFIX).absolute()
    written: tuple[int, int] | None = None
    try:
        _not_anothers(path)
        text = "".join(f"export {name}={shlex.quote(value)}\n" for name, value in lines)
        written = _write(path, HEADER + text)
        yield path
    finally:
        with contextlib.suppress(OSError):
            if written is not None and _identity(path) == written:
                path.unlink()
        if made:
            shutil.rmtree(made, ignore_errors=True)


def _not_anothers(path: Path) -> None:
    """A file already at `path` is replaced only when a sandbox wrote it (one a killed sandbox
    left): `--db app` must never take the place of the user's own `app.env`."""
    if path.is_symlink():
        return  # replaced, never followed: what it points to is left alone
    try:
        first = _first_line(path)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return  # nothing there; a folder: `_write` says so
    except OSError as exc:
        raise ConfigError(
            f"sandbox variables file {path}: cannot read what is there ({exc.strerror or exc})"
        ) from None
    if first != HEADER.encode():
        raise ConfigError(
            f"sandbox variables file {path}: a file of that name is there, not written by ehkeys "
            "sandbox; it is left as it is: move it, or give --db another name"
        )


def _first_line(path: Path) -> bytes | None:
    """The file's first line (at most the header's length), None when what is there is no
    regular file: opened without waiting, as a FIFO's open waits for a writer that never comes."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as found:
        mode = os.fstat(found.fileno()).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(path)
        return found.readline(len(HEADER) + 1) if stat.S_ISREG(mode) else None


def _identity(path: Path) -> tuple[int, int]:
    found = path.lstat()
    return found.st_dev, found.st_ino


def _write(path: Path, text: str) -> tuple[int, int]:
    """`text` in `path`, made 0600 whole before it replaces whatever was there (a link too);
    the file written (its device and inode)."""
    temp = ""
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # 0600
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            written = os.fstat(out.fileno())
        os.replace(temp, path)
        return written.st_dev, written.st_ino
    except OSError as exc:
        if temp:
            Path(temp).unlink(missing_ok=True)
        raise ConfigError(f"sandbox variables file {path}: cannot write it ({exc.strerror or exc})") from None


def loading(path: Path, lines: Sequence[tuple[str, str]]) -> list[str]:
    """What the sandbox prints of the file: which variables it sets, and the command loading it."""
    names = ", ".join(name for name, _ in lines)
    return [
        f"its variables ({names}) are in a file only you can read, removed when it stops; load them with:",
        f". {shlex.quote(str(path))}",
    ]
