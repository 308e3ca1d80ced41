"""What ehkeys keeps between runs: write-only values last applied, and the apply journal.

The state file maps a key's fingerprint (a hash, never the key) to the write-only values
ehkeys last set (limit_type): the API cannot report them, so this is the only way to know.
It is rewritten atomically (temp file, fsync, rename) under a lock, after every key.
The journal is append-only JSON lines, one per update sent.
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
from reconciler.model import to_json_value

FORMAT_VERSION = 1


def default_path(manifests: list[str]) -> Path:
    first = Path(manifests[0]) if manifests else Path(".")
    base = first if first.is_dir() else first.parent
    return base / ".ehkeys" / "state.json"


class State:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: dict[str, dict[str, Any]] = self._read()

    @property
    def journal_path(self) -> Path:
        return self.path.parent / "journal.jsonl"

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StateError(f"{self.path}: cannot read the state file ({exc.strerror})") from exc
        try:
            data = json.loads(text)
            keys = data["keys"]
            if data.get("format_version") != FORMAT_VERSION or not isinstance(keys, dict):
                raise ValueError("unknown format")
        except (ValueError, KeyError, TypeError) as exc:
            raise StateError(
                f"{self.path}: not an ehkeys state file ({exc}); move it aside to start afresh"
            ) from exc
        return {str(k): dict(v) for k, v in keys.items() if isinstance(v, dict)}

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
        """Remember the write-only values just applied to one key; atomic on disk."""
        with self._locked():
            self.records = self._read()  # another apply may have written meanwhile
            entry = {k: to_json_value(v) for k, v in values.items()}
            self.records[fingerprint] = {**entry, "name": name, "applied_at": _now_iso()}
            payload = {"format_version": FORMAT_VERSION, "keys": dict(sorted(self.records.items()))}
            _atomic_write(self.path, json.dumps(payload, indent=2, sort_keys=True) + "\n")

    def journal(self, entry: Mapping[str, Any]) -> None:
        """Append one line; a single write of a whole line, so no line is ever torn."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (
            json.dumps({"time": _now_iso(), **entry}, sort_keys=True, ensure_ascii=False, default=str) + "\n"
        )
        fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)


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
