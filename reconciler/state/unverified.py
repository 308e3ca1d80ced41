"""A state no verified apply stands behind, kept for its bindings only.

The GitOps jobs keep the state on a branch; the copy in the checkout (the one `ehkeys import`
wrote and the team committed beside the manifest) is used only when the branch holds none: on
the first run, or once the branch was deleted. Its bindings still say which live key each
manifest id is (losing one could create a key twice or delete one), but its snapshots and
write-only values are the import's (or some older run's), not the last verified apply's:
every change ehkeys applied since would look like a change made outside ehkeys, and a
`limit_type` it recorded may no longer hold. So those are dropped, as after a lost state: drift
says "no verified apply recorded" and the plan shows `limit_type` as `(unknown)` (sent again,
no credit moves) until an apply records them anew.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from reconciler.core.errors import StateError
from reconciler.state import reading
from reconciler.state.files import atomic_write, why
from reconciler.state.format import dump
from reconciler.state.paths import JOURNAL_FILE
from reconciler.state.store import State


def bindings_only(path: Path) -> bool:
    """Rewrite the state at `path` without its snapshots and write-only values (a journal beside
    it folded in first); True when it held any. A state that cannot be read is a StateError
    naming the file, as loading it would be."""
    journal = path.parent / JOURNAL_FILE
    if journal.is_file():  # committed beside it (it should not be): its snapshots replay too
        State(path).compact()
    found = reading.snapshot(path, journal)
    if not found.snapshots and not found.records:
        return False
    try:
        atomic_write(path, dump(dataclasses.replace(found, snapshots={}, records={})))
    except OSError as exc:
        raise StateError(f"{path}: cannot keep only the bindings of the state ({why(exc)})") from exc
    return True
