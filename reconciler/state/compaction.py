"""Folding the journal into the state file, keeping only the lines a replay still needs:
creates and updates sent whose outcome never came (pending), so that they replay exactly
as before. Run between applies (the CI does, before it stores the state)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reconciler.state import reading
from reconciler.state.files import atomic_write
from reconciler.state.format import Contents
from reconciler.state.journal import SENDING, Replay, track_create


def fold(
    path: Path, journal: Path, write: Callable[[Contents], dict[str, dict[str, Any]]]
) -> tuple[set[str], list[dict[str, Any]]]:
    """Replay the journal over the state file, `write` the result (it returns the records as
    written), and return the pending creates and the journal lines still needed; the
    journal is read again while an apply appended to it meanwhile."""
    for _ in range(3):
        raw = reading.journal_bytes(journal)
        contents, pending = reading.snapshot(path, journal), set[str]()
        entries, replay = list(reading.entries(journal, warn=True, raw=raw)), Replay(contents)
        for entry in entries:
            replay.line(entry)
            track_create(entry, pending)
        records = write(contents)
        if reading.journal_size(journal) == len(raw):
            break
    updates = {f for f, r in records.items() if r.get("pending")}
    return pending, _unresolved(entries, pending, updates)


def _unresolved(entries: list[dict[str, Any]], creates: set[str], updates: set[str]) -> list[dict[str, Any]]:
    """The last `sending` line of each pending create (by address) and pending update (by
    fingerprint), in journal order: replayed alone, they leave the same pending marks."""
    last: dict[tuple[str, str], int] = {}
    for index, entry in enumerate(entries):
        if entry.get("result") != SENDING:
            continue
        operation = entry.get("operation", "update")
        if operation == "create" and entry.get("address") in creates:
            last[("create", str(entry["address"]))] = index
        elif operation == "update" and entry.get("fingerprint") in updates:
            last[("update", str(entry["fingerprint"]))] = index
    return [entries[i] for i in sorted(last.values())]


def replace_journal(path: Path, entries: list[dict[str, Any]]) -> None:
    if not entries:
        path.unlink(missing_ok=True)
        return
    lines = (json.dumps(e, sort_keys=True, ensure_ascii=False, default=str) + "\n" for e in entries)
    atomic_write(path, "".join(lines))
