"""The unmanaged keys the last `ehkeys drift` saw, so that the next run calls out the new ones.

`drift-seen.json` lives beside the state file (so `--state PATH` moves both), written
atomically: `{"format_version": 1, "unmanaged": {fingerprint: {"first_seen": ISO time}}}`.
Fingerprints only, never a key. It is a convenience: a file that cannot be read or written
is a warning naming it, and drift goes on (every unmanaged key then counts as new).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

from reconciler.drift.report import UnmanagedKey
from reconciler.state.files import atomic_write
from reconciler.state.paths import SEEN_FILE

FILE = SEEN_FILE
FORMAT_VERSION = 1

log = logging.getLogger("ehkeys")


def beside(state: Path) -> Path:
    return state.parent / FILE


def load(path: Path) -> dict[str, str]:
    """Fingerprint -> first seen, of the unmanaged keys the last run saw ({} if none)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"format_version {data.get('format_version')!r}, expected {FORMAT_VERSION}")
        return {str(fp): str(seen["first_seen"]) for fp, seen in data["unmanaged"].items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("%s: cannot read the unmanaged keys seen before (%s): every one counts as new", path, exc)
        return {}


def save(path: Path, keys: Iterable[UnmanagedKey]) -> None:
    """Remember these keys (and when each was first seen); the ones gone are forgotten."""
    seen = {k.fingerprint: {"first_seen": k.first_seen} for k in keys}
    text = json.dumps({"format_version": FORMAT_VERSION, "unmanaged": dict(sorted(seen.items()))}, indent=2)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, text + "\n")
    except OSError as exc:
        log.warning("%s: cannot remember the unmanaged keys seen (%s)", path, exc.strerror or exc)
