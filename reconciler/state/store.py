"""What ehkeys keeps between runs: write-only values last applied, and the apply journal.

The state file maps a key's fingerprint (a hash, never the key) to the write-only values
ehkeys last set (limit_type): the API cannot report them, so this is the only way to know.
It also binds each manifest address to the fingerprint of its live key, keeps per fingerprint
a snapshot of the live key as the last apply verified it (`snapshots.py`), which `ehkeys drift`
compares the account against, and the rotations and moves under way. `format` says what each
format version added, reads every one and checks each record.

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
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from reconciler.core.changes import held_by_none
from reconciler.core.errors import StateError
from reconciler.core.jsonvalue import to_json_value
from reconciler.core.times import now_iso
from reconciler.state import compaction, deliveries, reading
from reconciler.state import paths as statepaths
from reconciler.state.deliveries import Deliveries
from reconciler.state.files import append_line, atomic_write, probe_dir, probe_file, why
from reconciler.state.format import (
    FORMAT_VERSION,
    READABLE_VERSIONS,
    Contents,
    Moves,
    Protected,
    Rotations,
    dump,
    merged,
    newest,
)
from reconciler.state.journal import BOUND, SENDING, SNAPSHOT, JournalResult
from reconciler.state.snapshots import RECORDED_AT
from reconciler.state.underway import UnderWay

SNAPSHOT_EVERY = 1.0  # seconds
FLUSH_SHARE = 10  # and at least 10x what the last flush took: it rereads the journal, which grows
WHERE_ELSE = "make it writable, or pass --state PATH to keep the state elsewhere"

__all__ = ["FORMAT_VERSION", "READABLE_VERSIONS", "SENDING", "SNAPSHOT", "State", "default_path"]


_line = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=str).encode  # json.dumps's, made once


def default_path(manifests: Sequence[str]) -> Path:
    """The state of these manifests (`statepaths.default_state`, not the sandbox's)."""
    return statepaths.default_state(manifests, sandbox=False)


class State(UnderWay):
    def __init__(
        self, path: Path, manifest: Path | None = None, account: str | None = None, unverified: bool = False
    ) -> None:
        """`manifest`: whose state this is. A state that names another is refused (StateError);
        one that names none is this manifest's from its next write on. So is one of another
        `account` (of a manifest that declares accounts). `unverified`: no verified apply stands
        behind it (the GitOps jobs' copy from the checkout, `state.unverified`): a binding of it
        that the account contradicts is never taken (`planning.doubts`)."""
        self.path = path
        self.unverified = unverified
        self._journal = path.parent / statepaths.JOURNAL_FILE  # made once: every journal line names it
        self.pending_creates: set[str] = set()  # addresses whose create was sent, never seen land
        contents = self._read(warn=True, pending=self.pending_creates)
        self.records, self.bindings, self.snapshots = contents.records, contents.bindings, contents.snapshots
        self.protected: Protected = contents.protected  # fingerprint -> address, of protected keys
        self.rotations: Rotations = contents.rotations  # address -> its rotation under way
        self.moves: Moves = contents.moves  # address -> its move to another account under way
        self.deliveries: Deliveries = contents.deliveries  # address -> sink -> owed (`deliveries`)
        self._delivered: dict[tuple[str, str], str | None] = {}  # deliveries this process marked
        self.reached = contents.delivered  # address -> the sinks its value reached (`deliveries`)
        self._done: dict[tuple[str, str], bool] = {}  # deliveries this process made (True) or undid
        self.manifest = statepaths.owned_by(path, contents.manifest, manifest)
        self.account = statepaths.account_of(path, contents.account, account)
        self._touched: set[str] = set()  # fingerprints this process recorded
        self._snapped: set[str] = set()  # fingerprints this process took a snapshot of
        self._bound: dict[str, str | None] = {}  # addresses this process (un)bound
        self._guarded: dict[str, str | None] = {}  # fingerprints this process (un)protected
        self._rotated: dict[str, dict[str, Any] | None] = {}  # addresses whose rotation this process changed
        self._moved: dict[str, dict[str, str] | None] = {}  # addresses whose move this process changed
        self._holders: dict[str, str] | None = None  # fingerprint -> address, built when first bound
        self._dirty = False
        self._held = False  # records are being made together (`together`): no flush among them
        self._written = time.monotonic()
        self._flush_took = 0.0  # seconds, the last flush

    @property
    def journal_path(self) -> Path:
        return self._journal

    @property
    def lock_path(self) -> Path:
        return self.path.parent / statepaths.STATE_LOCK

    def _read(self, warn: bool = False, pending: set[str] | None = None) -> Contents:
        return reading.contents(self.path, self.journal_path, warn, pending)

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
        self.records[fingerprint] = {**entry, "name": name, "applied_at": now_iso()}
        self._touched.add(fingerprint)
        self._soon()

    def _soon(self) -> None:
        """Flush when the last one is SNAPSHOT_EVERY old (a failure waits for the final flush)."""
        self._dirty = True
        if self._held:
            return
        if time.monotonic() - self._written >= max(SNAPSHOT_EVERY, FLUSH_SHARE * self._flush_took):
            self._written = time.monotonic()
            with contextlib.suppress(StateError):
                self.flush()

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        """Records made inside are snapshotted after the last of them, when a snapshot is due,
        not at the first (a wave's results: the periodic flush would write one of 500 records,
        and the final one all 500 a moment later). Each is journalled as it is made."""
        self._held = True
        try:
            yield
        finally:
            self._held = False
        if self._dirty:
            self._soon()

    def bind(self, address: str, fingerprint: str, journal: bool = False) -> bool:
        """Remember which live key a manifest address is (by fingerprint, never the key); an
        address bound to that key before (an id since changed) lets go of it: one live key is
        one manifest key. `journal` when no journal line of this apply names the binding yet
        (a key found in sync), so that no older line replays over it. Whether it changed."""
        if self.bindings.get(address) == fingerprint:
            return False
        if journal:
            self.journal({"address": address, "fingerprint": fingerprint, "result": BOUND})
        if self.moves.get(address, {}).get("key", fingerprint) != fingerprint:
            self._keep(self.moves, self._moved, address, None)  # bound to another key: that move is over
        holders = {f: a for a, f in self.bindings.items()} if self._holders is None else self._holders
        other = holders.get(fingerprint)
        if other is not None and other != address and self.bindings.get(other) == fingerprint:
            del self.bindings[other]
            self._bound[other] = None
        self.bindings[address], holders[fingerprint], self._holders = fingerprint, address, holders
        self._bound[address] = fingerprint
        self._dirty = True
        return True

    def protect(self, fingerprint: str, address: str, protected: bool) -> bool:
        """Remember that this key was last applied with `protect: true` (or no longer is): a
        key remembered so is never deleted until an apply has seen its protect removed.
        Whether anything changed."""
        if (fingerprint in self.protected) == protected:
            return False
        if protected:
            self.protected[fingerprint] = address
        else:
            del self.protected[fingerprint]
        self._guarded[fingerprint] = address if protected else None
        self._dirty = True
        return True

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
        """The key of this address (or, unmanaged, of this fingerprint) was deleted; a rotation
        whose predecessor it was is over, and so is its move to another account. The predecessor
        of the address's rotation leaves the address bound to its successor (a move deletes both).
        Its sinks hold a dead value now: a key found there by name later never reached them."""
        if held_by_none(address):  # pruned: the id it had (dropped from the manifest) lets go of it
            address = self._bound_to(fingerprint) or address
        if not fingerprint or self.rotations.get(address, {}).get("predecessor") != fingerprint:
            fingerprint = self.bindings.pop(address, fingerprint)
            self._bound[address] = None
            for sink in self.reached.pop(address, []):
                self._done[(address, sink)] = False
        self.gone(fingerprint)
        self.records.pop(fingerprint, None)
        self.snapshots.pop(fingerprint, None)
        if self.protected.pop(fingerprint, None) is not None:
            self._guarded[fingerprint] = None
        self._dirty = True

    def _bound_to(self, fingerprint: str) -> str | None:
        """The address bound to this key, if any."""
        self._holders = {f: a for a, f in self.bindings.items()} if self._holders is None else self._holders
        address = self._holders.get(fingerprint)
        return address if address is not None and self.bindings.get(address) == fingerprint else None

    def vanished(self, address: str, fingerprint: str) -> None:
        """The key left the account with no delete line of its own (a run cut off after the
        delete, a key deleted by hand): journalled as that line would have been, then forgotten."""
        line = {"address": address, "fingerprint": fingerprint, "deleted": True}
        self.journal({**line, "result": JournalResult.APPLIED.value, "message": "gone from the account"})
        self.forget(address, fingerprint)

    def delivery(self, address: str, sink: str, status: str, message: str = "") -> None:
        """A delivery of `address`'s value to `sink` (its ident) announced, tried or dropped
        (`deliveries`): journalled (never a value), and remembered while it is owed."""
        line = {"address": address, "sink": sink, "delivery": status}
        self.journal({**line, **({"message": message} if message else {})})
        owed = status if status in deliveries.OWED else None
        deliveries.mark(self.deliveries, address, sink, owed)
        self._delivered[(address, sink)] = owed
        deliveries.done(self.reached, address, sink, status == deliveries.DONE)
        self._done[(address, sink)] = status == deliveries.DONE
        self._dirty = True

    def flush(self) -> None:
        """Rewrite the snapshot atomically, merged with what another apply wrote meanwhile;
        raises StateError (never a bare OSError) when it cannot."""
        if not self._dirty:
            return
        started = time.monotonic()
        try:
            with self._locked():
                self._write_merged(self._read())
        except OSError as exc:
            raise StateError(
                f"{self.path}: cannot save the state ({why(exc)}); every confirmed update is in the "
                f"journal {self.journal_path}, which the next run replays: {WHERE_ELSE}"
            ) from exc
        self._dirty = False
        self._written = time.monotonic()
        self._flush_took = self._written - started

    def _write_merged(self, disk: Contents) -> dict[str, dict[str, Any]]:
        """What is on disk (file and journal) with this process's changes on top, written whole."""
        self.records = newest(disk.records, self.records, self._touched, "applied_at")
        self.bindings, self._holders = merged(disk.bindings, self._bound), None
        self.snapshots = newest(disk.snapshots, self.snapshots, self._snapped, RECORDED_AT)
        self.protected = merged(disk.protected, self._guarded)
        self.rotations = merged(disk.rotations, self._rotated)
        self.moves = merged(disk.moves, self._moved)
        self.deliveries = deliveries.merged(disk.deliveries, self._delivered)
        mine = Contents(
            self.records, self.bindings, self.snapshots, self.protected, deliveries=self.deliveries
        )
        mine.rotations, mine.moves = self.rotations, self.moves
        mine.delivered = self.reached = deliveries.merged_done(disk.delivered, self._done)
        mine.manifest = self.manifest or disk.manifest
        mine.account = self.account or disk.account
        atomic_write(self.path, dump(mine))
        return self.records

    def compact(self) -> None:
        """Fold the journal into the state file, then rewrite the journal with only the lines a
        replay still needs (`compaction`). Run it between applies (the CI does, before it
        stores the state); raises StateError naming the file it cannot write."""
        try:
            with self._locked():
                pending, kept = compaction.fold(self.path, self.journal_path, self._write_merged)
                self.pending_creates = pending
                compaction.replace_journal(self.journal_path, kept)
        except OSError as exc:
            raise StateError(f"{self.path}: cannot compact the state ({why(exc)}): {WHERE_ELSE}") from exc
        self._dirty = False
        self._written = time.monotonic()

    def journal(self, entry: Mapping[str, Any]) -> None:
        """Append one line with a single write, so no line is ever torn by a kill. A line
        the disk does not take whole raises StateError naming the journal: send nothing."""
        line = _line({"time": now_iso(), **entry}) + "\n"
        try:
            self._append(line.encode())
        except OSError as exc:
            raise StateError(
                f"{self.journal_path}: cannot append to the journal ({why(exc)}); "
                f"nothing more is sent: free some space, {WHERE_ELSE}"
            ) from exc

    def _append(self, data: bytes) -> None:
        """One line onto the journal; its folder is made when it is not there (the first line)."""
        try:
            append_line(self.journal_path, data)
        except FileNotFoundError:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            append_line(self.journal_path, data)
