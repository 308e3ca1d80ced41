"""What ehkeys keeps between runs: write-only values last applied, and the apply journal.

The state file maps a key's fingerprint (a hash, never the key) to the write-only values
ehkeys last set (limit_type): the API cannot report them, so this is the only way to know.
It also binds each manifest address to the fingerprint of its live key (format 2), and keeps
per fingerprint a snapshot of the live key as the last apply verified it (`snapshots.py`,
format 3), which `ehkeys drift` compares the account against. Formats 1 and 2 are read as
files with no bindings, or no snapshots.

The journal (`journal.jsonl`, append-only) is the per-key record: a `sending` line before
each update goes out, and a line with its result (and the key's snapshot, once verified)
when the lookup has checked it, each one write of a whole line. A killed apply loses
nothing: an update sent but never confirmed replays as *pending*, which the next plan
treats as unknown and sends again. A line the disk cut short (full, or over a size limit)
raises StateError, so the caller sends nothing; when loading, a torn or undecodable line
is skipped with a warning, never fatal.

Loading the state replays the journal over the state file, which is a snapshot rewritten
atomically (temp file, fsync, rename) at most every SNAPSHOT_EVERY seconds during an apply
and at its end: the cost per key stays constant instead of a whole-file rewrite per key.
Another apply may write the snapshot meanwhile: records merge one by one, the newest
`applied_at` (`recorded_at` for key snapshots) winning, so a record this process did not
touch never overwrites a newer one. `compact()` folds the journal into the file and keeps
only the lines a replay still needs (writes sent whose outcome never came).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from reconciler.errors import StateError
from reconciler.model import WRITE_ONLY, to_json_value
from reconciler.snapshots import RECORDED_AT
from reconciler.statefiles import append_line, atomic_write, journal_line, probe_dir, probe_file, why

FORMAT_VERSION = 3  # 2 added `bindings`, 3 `snapshots`; older files are read as having none
READABLE_VERSIONS = (1, 2, 3)
SENDING = "sending"  # the journal's write-ahead line, before an update goes out
SNAPSHOT = "snapshot"  # a journal line with only a key's snapshot (an in-sync key, an import)
SNAPSHOT_EVERY = 1.0  # seconds
WHERE_ELSE = "make it writable, or pass --state PATH to keep the state elsewhere"

log = logging.getLogger("ehkeys")

Records = dict[str, dict[str, Any]]
Bindings = dict[str, str]
Snapshots = dict[str, dict[str, Any]]  # fingerprint -> the live key as last verified


def default_path(manifests: list[str]) -> Path:
    first = Path(manifests[0]) if manifests else Path(".")
    base = first if first.is_dir() else first.parent
    return base / ".ehkeys" / "state.json"


class State:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.pending_creates: set[str] = set()  # addresses whose create was sent, never seen land
        self.records, self.bindings, self.snapshots = self._read(warn=True, pending=self.pending_creates)
        self._touched: set[str] = set()  # fingerprints this process recorded
        self._snapped: set[str] = set()  # fingerprints this process took a snapshot of
        self._bound: dict[str, str | None] = {}  # addresses this process (un)bound
        self._dirty = False
        self._written = time.monotonic()

    @property
    def journal_path(self) -> Path:
        return self.path.parent / "journal.jsonl"

    @property
    def lock_path(self) -> Path:
        return self.path.parent / ".state.lock"

    def _read(
        self, warn: bool = False, pending: set[str] | None = None
    ) -> tuple[Records, Bindings, Snapshots]:
        records, bindings, snapshots = self._read_snapshot()
        for entry in self._journal_entries(warn):
            _replay(entry, records, bindings, snapshots)
            if pending is not None:
                _track_create(entry, pending)
        return records, bindings, snapshots

    def _read_snapshot(self) -> tuple[Records, Bindings, Snapshots]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}, {}, {}
        except UnicodeDecodeError as exc:
            raise StateError(
                f"{self.path}: not UTF-8 text (bad byte at offset {exc.start}), so not an ehkeys state "
                f"file; move it aside to start afresh (the journal {self.journal_path} replays what it holds)"
            ) from exc
        except OSError as exc:
            raise StateError(f"{self.path}: cannot read the state file ({why(exc)})") from exc
        return self._parse_snapshot(text)

    def _parse_snapshot(self, text: str) -> tuple[Records, Bindings, Snapshots]:
        try:
            data = json.loads(text)
            keys, bindings = data["keys"], dict(data.get("bindings", {}))
            snapshots = dict(data.get("snapshots", {}))
            if data.get("format_version") not in READABLE_VERSIONS or not isinstance(keys, dict):
                raise ValueError("unknown format")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StateError(
                f"{self.path}: not an ehkeys state file ({exc}); move it aside to start afresh"
            ) from exc
        records = {str(k): dict(v) for k, v in keys.items() if isinstance(v, dict)}
        kept = {str(k): dict(v) for k, v in snapshots.items() if isinstance(v, dict)}
        return records, {str(a): str(f) for a, f in bindings.items()}, kept

    def _journal_bytes(self) -> bytes:
        try:
            return self.journal_path.read_bytes()
        except FileNotFoundError:
            return b""
        except OSError as exc:
            raise StateError(f"{self.journal_path}: cannot read the journal ({why(exc)})") from exc

    def _journal_entries(self, warn: bool, raw: bytes | None = None) -> Iterator[dict[str, Any]]:
        raw = self._journal_bytes() if raw is None else raw
        for number, line in enumerate(raw.split(b"\n"), start=1):
            entry = journal_line(line)
            if entry is not None:
                yield entry
            elif warn and line.strip():
                log.warning("%s:%d: skipped a torn or unreadable journal line", self.journal_path, number)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def check_writable(self) -> None:
        """Raise StateError naming the path when the state directory, state file, journal or
        lock cannot be written: call it before sending anything."""
        probes = [(self.path.parent, probe_dir)]
        probes += [(p, probe_file) for p in (self.path, self.journal_path, self.lock_path)]
        for path, probe in probes:
            try:
                probe(path)
            except OSError as exc:
                reason = why(exc)
                raise StateError(f"{path}: cannot write ({reason}); nothing was sent: {WHERE_ELSE}") from exc

    def record(self, fingerprint: str, name: str, values: Mapping[str, Any]) -> None:
        """Remember the write-only values just applied to one key (the journal line is the
        durable record; the snapshot follows within SNAPSHOT_EVERY seconds, and a snapshot
        that cannot be written now is retried, and reported, by the final flush)."""
        entry = {k: to_json_value(v) for k, v in values.items()}
        self.records[fingerprint] = {**entry, "name": name, "applied_at": _now_iso()}
        self._touched.add(fingerprint)
        self._soon()

    def _soon(self) -> None:
        """Flush when the last one is SNAPSHOT_EVERY old (a failure waits for the final flush)."""
        self._dirty = True
        if time.monotonic() - self._written >= SNAPSHOT_EVERY:
            self._written = time.monotonic()
            with contextlib.suppress(StateError):
                self.flush()

    def bind(self, address: str, fingerprint: str) -> None:
        """Remember which live key a manifest address is (by fingerprint, never the key)."""
        if self.bindings.get(address) != fingerprint:
            self.bindings[address] = fingerprint
            self._bound[address] = fingerprint
            self._dirty = True

    def remember(self, fingerprint: str, snapshot: Mapping[str, Any], journalled: bool = False) -> None:
        """Keep the live key as an apply verified it (`snapshots.taken`), for drift to compare.
        Journalled (unless its result line already carries it), so that the replay of an
        older line never puts back an older snapshot."""
        if not journalled:
            self.journal({"fingerprint": fingerprint, "result": SNAPSHOT, "snapshot": dict(snapshot)})
        self.snapshots[fingerprint] = dict(snapshot)
        self._snapped.add(fingerprint)
        self._soon()

    def forget(self, address: str, fingerprint: str = "") -> None:
        """The key of this address (or, unmanaged, of this fingerprint) was deleted."""
        fingerprint = self.bindings.pop(address, fingerprint)
        self.records.pop(fingerprint, None)
        self.snapshots.pop(fingerprint, None)
        self._bound[address] = None
        self._dirty = True

    def flush(self) -> None:
        """Rewrite the snapshot atomically, merged with what another apply wrote meanwhile;
        raises StateError (never a bare OSError) when it cannot."""
        if not self._dirty:
            return
        try:
            with self._locked():
                self._write_merged(*self._read())
        except OSError as exc:
            raise StateError(
                f"{self.path}: cannot save the state ({why(exc)}); every confirmed update is in the "
                f"journal {self.journal_path}, which the next run replays: {WHERE_ELSE}"
            ) from exc
        self._dirty = False
        self._written = time.monotonic()

    def _write_merged(self, records: Records, bindings: Bindings, snapshots: Snapshots) -> None:
        """What is on disk (file and journal) with this process's changes on top, written whole."""
        self.records = _newest(records, self.records, self._touched, "applied_at")
        self.bindings = _merged_bindings(bindings, self._bound)
        self.snapshots = _newest(snapshots, self.snapshots, self._snapped, RECORDED_AT)
        payload = {
            "format_version": FORMAT_VERSION,
            "bindings": dict(sorted(self.bindings.items())),
            "keys": dict(sorted(self.records.items())),
            "snapshots": dict(sorted(self.snapshots.items())),
        }
        atomic_write(self.path, json.dumps(payload, indent=2, sort_keys=True) + "\n")

    def compact(self) -> None:
        """Fold the journal into the state file, then rewrite the journal with only the lines a
        replay still needs: creates and updates sent whose outcome never came (pending), so
        that they replay exactly as before. Run it between applies (the CI does, before it
        stores the state); raises StateError naming the file it cannot write."""
        try:
            with self._locked():
                for _ in range(3):  # an apply appended meanwhile: read it again
                    raw = self._journal_bytes()
                    kept = self._fold(raw)
                    if self._journal_size() == len(raw):
                        break
                _replace_journal(self.journal_path, kept)
        except OSError as exc:
            raise StateError(f"{self.path}: cannot compact the state ({why(exc)}): {WHERE_ELSE}") from exc
        self._dirty = False
        self._written = time.monotonic()

    def _fold(self, raw: bytes) -> list[dict[str, Any]]:
        """Write the state file as the journal `raw` replays it; return the lines still needed."""
        records, bindings, snapshots = self._read_snapshot()
        entries, pending = list(self._journal_entries(warn=True, raw=raw)), set[str]()
        for entry in entries:
            _replay(entry, records, bindings, snapshots)
            _track_create(entry, pending)
        self._write_merged(records, bindings, snapshots)
        self.pending_creates = set(pending)
        updates = {f for f, r in self.records.items() if r.get("pending")}
        return _unresolved(entries, pending, updates)

    def _journal_size(self) -> int:
        try:
            return self.journal_path.stat().st_size
        except FileNotFoundError:
            return 0

    def journal(self, entry: Mapping[str, Any]) -> None:
        """Append one line with a single write, so no line is ever torn by a kill. A line
        the disk does not take whole raises StateError naming the journal: send nothing."""
        record = {"time": _now_iso(), **entry}
        line = json.dumps(record, sort_keys=True, ensure_ascii=False, default=str) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            append_line(self.journal_path, line.encode())
        except OSError as exc:
            raise StateError(
                f"{self.journal_path}: cannot append to the journal ({why(exc)}); "
                f"nothing more is sent: free some space, {WHERE_ELSE}"
            ) from exc


def _replay(entry: Mapping[str, Any], records: Records, bindings: Bindings, snapshots: Snapshots) -> None:
    """One journal line over the snapshot: a write announced (pending) or its outcome."""
    fingerprint, result, address = entry.get("fingerprint"), entry.get("result"), entry.get("address")
    if isinstance(address, str) and entry.get("deleted") and result != SENDING:
        gone = fingerprint if isinstance(fingerprint, str) else bindings.get(address, "")
        bindings.pop(address, None)
        records.pop(gone, None)
        snapshots.pop(gone, None)
        return
    if not isinstance(fingerprint, str):
        return
    if result == SENDING:  # sent, outcome never written: it may or may not have landed
        if entry.get("operation", "update") == "update":
            records[fingerprint] = {**records.get(fingerprint, {}), "pending": True}
        return
    if isinstance(entry.get("snapshot"), dict):
        snapshots[fingerprint] = dict(entry["snapshot"])
    if isinstance(address, str) and not address.startswith("unmanaged:"):
        bindings[address] = fingerprint
    if result in ("updated", "applied", "sent, not verified") and "limit_type" in entry:
        values = {f: entry[f] for f in WRITE_ONLY if f in entry}
        records[fingerprint] = {**values, "name": entry.get("name"), "applied_at": entry.get("time")}


def _track_create(entry: Mapping[str, Any], pending: set[str]) -> None:
    """A create announced for an address stays pending until a line names the key it made."""
    address = entry.get("address")
    if not isinstance(address, str):
        return
    if entry.get("result") == SENDING and entry.get("operation") == "create":
        pending.add(address)
    elif isinstance(entry.get("fingerprint"), str) or entry.get("result") == "failed":
        pending.discard(address)


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


def _replace_journal(path: Path, entries: list[dict[str, Any]]) -> None:
    if not entries:
        path.unlink(missing_ok=True)
        return
    lines = (json.dumps(e, sort_keys=True, ensure_ascii=False, default=str) + "\n" for e in entries)
    atomic_write(path, "".join(lines))


def _newest(disk: Records, ours: Records, touched: set[str], stamp: str) -> Records:
    """Per fingerprint, the newest wins; one this process did not touch never replaces disk's."""
    merged = dict(disk)
    for fingerprint, mine in ours.items():
        theirs = disk.get(fingerprint)
        if theirs is None or (fingerprint in touched and _stamp(mine, stamp) >= _stamp(theirs, stamp)):
            merged[fingerprint] = mine
    return merged


def _merged_bindings(on_disk: Mapping[str, str], ours: Mapping[str, str | None]) -> Bindings:
    """Disk's bindings with this process's changes on top (None: forgotten)."""
    merged = {**on_disk, **{a: f for a, f in ours.items() if f is not None}}
    return {a: f for a, f in merged.items() if ours.get(a, f) is not None}


def _stamp(record: Mapping[str, Any], field: str) -> str:
    return str(record.get(field) or "")


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
