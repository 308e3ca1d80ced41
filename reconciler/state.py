"""What ehkeys keeps between runs: write-only values last applied, and the apply journal.

The state file maps a key's fingerprint (a hash, never the key) to the write-only values
ehkeys last set (limit_type): the API cannot report them, so this is the only way to know.

The journal (`journal.jsonl`, append-only) is the per-key record: a `sending` line before
each update goes out, and a line with its result once the lookup has checked it, each one
write of a whole line. A killed apply loses nothing: an update sent but never confirmed
replays as *pending*, which the next plan treats as unknown and sends again.

Loading the state replays the journal over the state file, which is a snapshot rewritten
atomically (temp file, fsync, rename) at most every SNAPSHOT_EVERY seconds during an apply
and at its end: the cost per key stays constant instead of a whole-file rewrite per key.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from reconciler.errors import StateError
from reconciler.model import WRITE_ONLY, to_json_value

FORMAT_VERSION = 2  # 2 added `bindings`; a version 1 file is read as one with none
READABLE_VERSIONS = (1, 2)
SENDING = "sending"  # the journal's write-ahead line, before an update goes out
SNAPSHOT_EVERY = 1.0  # seconds


def default_path(manifests: list[str]) -> Path:
    first = Path(manifests[0]) if manifests else Path(".")
    base = first if first.is_dir() else first.parent
    return base / ".ehkeys" / "state.json"


class State:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.records, self.bindings = self._read()
        self._bound: dict[str, str | None] = {}  # this run's bindings (None: forgotten)
        self._dirty = False
        self._written = time.monotonic()

    @property
    def journal_path(self) -> Path:
        return self.path.parent / "journal.jsonl"

    def _read(self) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        records, bindings = self._read_snapshot()
        for entry in self._journal_entries():
            _replay(entry, records, bindings)
        return records, bindings

    def _read_snapshot(self) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}, {}
        except OSError as exc:
            raise StateError(f"{self.path}: cannot read the state file ({exc.strerror})") from exc
        try:
            data = json.loads(text)
            keys, bindings = data["keys"], data.get("bindings", {})
            if data.get("format_version") not in READABLE_VERSIONS or not isinstance(keys, dict):
                raise ValueError("unknown format")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StateError(
                f"{self.path}: not an ehkeys state file ({exc}); move it aside to start afresh"
            ) from exc
        records = {str(k): dict(v) for k, v in keys.items() if isinstance(v, dict)}
        return records, {str(a): str(f) for a, f in dict(bindings).items()}

    def _journal_entries(self) -> Iterator[dict[str, Any]]:
        try:
            lines = self.journal_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StateError(f"{self.journal_path}: cannot read the journal ({exc.strerror})") from exc
        for line in lines:
            with contextlib.suppress(ValueError):  # a line cut by a crash is skipped, not fatal
                entry = json.loads(line)
                if isinstance(entry, dict):
                    yield entry

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.parent / ".state.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def record(self, fingerprint: str, name: str, values: Mapping[str, Any]) -> None:
        """Remember the write-only values just applied to one key (the journal line is the
        durable record; the snapshot follows within SNAPSHOT_EVERY seconds)."""
        entry = {k: to_json_value(v) for k, v in values.items()}
        self.records[fingerprint] = {**entry, "name": name, "applied_at": _now_iso()}
        self._dirty = True
        if time.monotonic() - self._written >= SNAPSHOT_EVERY:
            self.flush()

    def bind(self, address: str, fingerprint: str) -> None:
        """Remember which live key a manifest address is (by fingerprint, never the key)."""
        if self.bindings.get(address) != fingerprint:
            self.bindings[address] = self._bound[address] = fingerprint
            self._dirty = True

    def forget(self, address: str) -> None:
        """The key of this address was deleted."""
        fingerprint = self.bindings.pop(address, None)
        self.records.pop(fingerprint or "", None)
        self._bound[address] = None
        self._dirty = True

    def flush(self) -> None:
        """Rewrite the snapshot atomically, merged with what another apply wrote meanwhile."""
        if not self._dirty:
            return
        with self._locked():
            records, bindings = self._read()
            self.records = {**records, **self.records}
            self.bindings = _merged(bindings, self._bound)
            payload = {
                "format_version": FORMAT_VERSION,
                "bindings": dict(sorted(self.bindings.items())),
                "keys": dict(sorted(self.records.items())),
            }
            _atomic_write(self.path, json.dumps(payload, indent=2, sort_keys=True) + "\n")
        self._dirty = False
        self._written = time.monotonic()

    def journal(self, entry: Mapping[str, Any]) -> None:
        """Append one line with a single write, so no line is ever torn by a kill."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = {"time": _now_iso(), **entry}
        line = json.dumps(record, sort_keys=True, ensure_ascii=False, default=str) + "\n"
        fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


def _replay(entry: Mapping[str, Any], records: dict[str, dict[str, Any]], bindings: dict[str, str]) -> None:
    """One journal line over the snapshot: a write announced (pending) or its outcome."""
    fingerprint, result, address = entry.get("fingerprint"), entry.get("result"), entry.get("address")
    if not isinstance(fingerprint, str):
        return
    if result == SENDING:  # sent, outcome never written: it may or may not have landed
        if entry.get("operation", "update") == "update":
            records[fingerprint] = {**records.get(fingerprint, {}), "pending": True}
        return
    if isinstance(address, str) and entry.get("deleted"):
        bindings.pop(address, None)
        records.pop(fingerprint, None)
        return
    if isinstance(address, str) and not address.startswith("unmanaged:"):
        bindings[address] = fingerprint
    if result in ("updated", "applied", "sent, not verified") and "limit_type" in entry:
        values = {f: entry[f] for f in WRITE_ONLY if f in entry}
        records[fingerprint] = {**values, "name": entry.get("name"), "applied_at": entry.get("time")}


def _merged(on_disk: Mapping[str, str], ours: Mapping[str, str | None]) -> dict[str, str]:
    merged = {**on_disk, **{a: f for a, f in ours.items() if f is not None}}
    return {a: f for a, f in merged.items() if ours.get(a, f) is not None}


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
