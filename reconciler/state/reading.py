"""Reading the state back: the state file (a snapshot) with the journal replayed over it.

A torn or undecodable journal line is skipped with a warning, never fatal; a line that
decodes but breaks the format is refused (`format.check_line`), naming file and line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from reconciler.core.errors import StateError
from reconciler.state.files import journal_line, read_file, why
from reconciler.state.format import Contents, check_line, parse
from reconciler.state.journal import Replay, track_create

log = logging.getLogger("ehkeys")


def contents(path: Path, journal: Path, warn: bool = False, pending: set[str] | None = None) -> Contents:
    """The state file with every journal line replayed over it; `pending` collects the
    addresses of creates sent and never seen land."""
    found = snapshot(path, journal)
    replay = Replay(found)
    for entry in entries(journal, warn):
        replay.line(entry)
        if pending is not None:
            track_create(entry, pending)
    return found


def from_bytes(data: bytes, journal: bytes, where: str, journal_where: str) -> Contents:
    """A state not in this checkout (another manifest root's, read from the state branch): its
    bytes, and its journal's replayed over them; StateError naming `where` for what is none."""
    try:
        found = parse(data.decode("utf-8"), where)
    except UnicodeDecodeError as exc:
        raise StateError(
            f"{where}: not UTF-8 text (bad byte at offset {exc.start}), so not an ehkeys state"
        ) from exc
    replay = Replay(found)
    for entry in entries(Path(journal_where), False, journal):
        replay.line(entry)
    return found


def snapshot(path: Path, journal: Path) -> Contents:
    """The state file alone (empty when there is none)."""
    try:
        text = read_file(path).decode("utf-8")
    except FileNotFoundError:
        return Contents()
    except UnicodeDecodeError as exc:
        raise StateError(
            f"{path}: not UTF-8 text (bad byte at offset {exc.start}), so not an ehkeys state "
            f"file; move it aside to start afresh (the journal {journal} replays what it holds)"
        ) from exc
    except OSError as exc:
        raise StateError(f"{path}: cannot read the state file ({why(exc)})") from exc
    return parse(text, str(path))


def journal_bytes(journal: Path) -> bytes:
    try:
        return read_file(journal)
    except FileNotFoundError:
        return b""
    except OSError as exc:
        raise StateError(f"{journal}: cannot read the journal ({why(exc)})") from exc


def entries(journal: Path, warn: bool, raw: bytes | None = None) -> Iterator[dict[str, Any]]:
    """The journal's lines (`raw`, else read from disk), each checked; torn ones skipped."""
    raw = journal_bytes(journal) if raw is None else raw
    for number, line in enumerate(raw.split(b"\n"), start=1):
        entry = journal_line(line)
        if entry is not None:
            check_line(entry, f"{journal}:{number}")
            yield entry
        elif warn and line.strip():
            log.warning("%s:%d: skipped a torn or unreadable journal line", journal, number)


def journal_size(journal: Path) -> int:
    try:
        return journal.stat().st_size
    except FileNotFoundError:
        return 0
