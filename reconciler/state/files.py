"""The state's files on disk: whole journal lines appended in one write, files replaced
atomically, and probes that a path can be written before anything is sent."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path
from typing import Any

from reconciler.core.jsonvalue import parse_json

_write = os.write  # the one call that puts journal bytes on disk (a seam for tests)


def journal_line(line: bytes) -> dict[str, Any] | None:
    """One journal entry, or None for a blank, torn or undecodable line."""
    try:
        entry = parse_json(line.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError and JSONDecodeError alike
        return None
    return entry if isinstance(entry, dict) else None


def append_line(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        if _ends_mid_line(fd):  # an earlier write was cut short: end that line first
            data = b"\n" + data
        write_all(fd, data)
    finally:
        os.close(fd)


def _ends_mid_line(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


def write_all(fd: int, data: bytes) -> None:
    """os.write may take fewer bytes than given (a full disk, a file size limit): write the
    rest, and raise when the disk takes none."""
    view = memoryview(data)
    while view:
        written = _write(fd, view)
        if written <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]


def probe_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path, prefix=".state-", suffix=".tmp")
    os.close(fd)
    os.unlink(tmp)


def probe_file(path: Path) -> None:
    """An existing file must open for writing (opened to append, and left as it was)."""
    if path.exists() or path.is_symlink():
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND))


NOT_A_FILE = "not a regular file (a device, a pipe or a folder): name a file"


def not_a_file(path: Path) -> bool:
    """A path that is there (a link: where it leads) and is no regular file: /dev/stdout, a FIFO."""
    return path.exists() and not path.is_file()


def read_file(path: Path, limit: int | None = None) -> bytes:
    """A file's bytes; a device or a pipe (/dev/zero, /dev/stdin) is refused, never read to an
    end that may never come, and so is a file over `limit` bytes (OSError, EFBIG)."""
    if not_a_file(path) and not path.is_dir():  # a folder: the OS says so, as it always did
        raise OSError(errno.EINVAL, "not a regular file: a device or a pipe", str(path))
    if limit is None:
        return path.read_bytes()
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit:,} bytes", str(path))
    return data


def atomic_write(path: Path, data: str | bytes, mode: int | None = None) -> None:
    """A temporary file beside `path`, fsynced and renamed over it: readers see the old file
    or the new one, never half of one. `mode` for a file others read (mkstemp makes 0600).
    Never over a device or a pipe: the rename would replace it (as root, /dev/stdout itself)."""
    if not_a_file(path):
        raise OSError(errno.EINVAL, NOT_A_FILE, str(path))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def create_new(path: Path, text: str) -> None:
    """`text` as a new file at `path` (0644), whole or not at all: written beside it, fsynced,
    then linked there, so a disk that refuses it half way leaves nothing, and a file or a link
    that is there (or came since it was looked for) raises FileExistsError, never replaced or
    written through. Where the file system has no hard links, created exclusively, then renamed."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # read by editors, committed: mkstemp makes it 0600
        _publish(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _publish(tmp: str, path: Path) -> None:
    try:
        os.link(tmp, path, follow_symlinks=False)
    except OSError as exc:  # FileExistsError (EEXIST) raised, as any other failure
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644))
        os.replace(tmp, path)


def why(exc: OSError) -> str:
    """The reason, and the path it is about when that is not the one the message names."""
    reason = exc.strerror or str(exc)
    return f"{reason}: {exc.filename}" if isinstance(exc, (FileExistsError, NotADirectoryError)) else reason
