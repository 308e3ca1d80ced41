"""The files ehkeys keeps, which a file written where a user says (`apply --report-out`, `schema
--out`) must never replace: a state, what is kept beside it (its journal, drift-seen, its locks:
a journal's lines of writes sent, which the next apply replays; a lock held by its old file
while another run takes the new one), and anything in an `.ehkeys` folder (the sandbox's
account, other manifests' states)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reconciler.state.lock import LOCK_NAME
from reconciler.state.paths import FOLDER, JOURNAL_FILE, SEEN_FILE, STATE_FILE, STATE_LOCK

KEPT_BESIDE = (JOURNAL_FILE, SEEN_FILE, LOCK_NAME, STATE_LOCK)  # besides the state itself


def among(path: str, states: Sequence[Path]) -> bool:
    """A file written to `path` would replace one of `states`, what is kept beside one (with
    --state elsewhere), or anything in the `.ehkeys` folder one is kept in."""
    where = landing(path)
    kept = {landing(str(s.parent / name)) for s in states for name in (s.name, *KEPT_BESIDE)}
    folders = {
        landing(str(next(p for p in s.parents if p.name == FOLDER))) for s in states if FOLDER in s.parts
    }
    return where in kept or any(where.is_relative_to(folder) for folder in folders)


def anywhere(path: str) -> bool:
    """`among` with no states to go by (a command that reads no manifest): a file in any `.ehkeys`
    folder, or of the name a state or a file kept beside one has, or the name of that folder
    itself (a file there keeps the next run from making the folder its state goes in)."""
    where = landing(path)
    return FOLDER in where.parts or where.name in (STATE_FILE, *KEPT_BESIDE)


def landing(path: str) -> Path:
    """Where a file written to `path` by a rename lands: its folder's links followed, not its own,
    and each `..` after the link before it, as the system reads it (`link/../journal.jsonl` lands
    beside the link's target, where abspath's `..` would have dropped the link unread)."""
    absolute = Path(path).absolute()  # `..` kept: resolve() follows the links before each
    return absolute.parent.resolve() / absolute.name
