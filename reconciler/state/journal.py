"""The journal replayed over the state file: each line a write announced, or its outcome.

`Replay` applies lines in order: a `sending` line marks an update pending (it may or may not
have landed), an outcome line records the key's binding, write-only values and snapshot, a
`deleted` line forgets the key. A binding names one live key for one address: a line that
binds a key to an address lets go of whichever address held it before (an id changed).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from reconciler.core.changes import held_by_none
from reconciler.core.keys import WRITE_ONLY
from reconciler.core.outcomes import Outcome
from reconciler.state import deliveries
from reconciler.state.format import Contents


class JournalResult(str, enum.Enum):
    """A journal line's `result`, in the journal's own words: these are on disk, and every
    journal ever written replays with them, whatever an outcome is called on screen."""

    SENDING = "sending"  # the write-ahead line, before an operation goes out
    SNAPSHOT = "snapshot"  # only a key's snapshot (an in-sync key, an import)
    BOUND = "bound"  # only a binding (a key an apply found in sync)
    UPDATED = "updated"  # an applied update, as older versions wrote it
    APPLIED = "applied"
    UNVERIFIED = "sent, not verified"
    FAILED = "failed"
    ROTATING = "rotating"  # a rotation begins: its record, before its successor's create is sent
    DELIVERED = "delivered"  # the rotation's successor reached every sink of its key
    ABANDONED = "abandoned"  # the rotation made no successor (its create refused): its record dropped
    MOVING = "moving"  # a key's move to another account begins: its record, before its create there

    @classmethod
    def of(cls, outcome: Outcome) -> JournalResult:
        """What the journal says of a change that ended so (the outcomes an apply journals)."""
        return _OUTCOMES[outcome]

    @classmethod
    def read(cls, value: Any) -> JournalResult | None:
        """The result a line holds; None for none, or for one this version does not know."""
        try:
            return cls(value)
        except ValueError:
            return None


_OUTCOMES = {
    Outcome.APPLIED: JournalResult.APPLIED,
    Outcome.UNVERIFIED: JournalResult.UNVERIFIED,
    Outcome.FAILED: JournalResult.FAILED,
}
SENDING, SNAPSHOT, BOUND = JournalResult.SENDING, JournalResult.SNAPSHOT, JournalResult.BOUND
RECORDED = (JournalResult.UPDATED, JournalResult.APPLIED, JournalResult.UNVERIFIED)
"""The results whose line records a key's write-only values (limit_type)."""


class Replay:
    """Lines over `contents`, changed in place."""

    def __init__(self, contents: Contents) -> None:
        self.contents = contents
        self.holder = {fp: address for address, fp in contents.bindings.items()}

    def line(self, entry: Mapping[str, Any]) -> None:
        if "delivery" in entry:  # a delivery owed or made: it binds no key
            deliveries.replay(self.contents.deliveries, entry)
            deliveries.replay_done(self.contents.delivered, entry)
            return
        fingerprint, address = entry.get("fingerprint"), entry.get("address")
        result = JournalResult.read(entry.get("result"))
        if result in (JournalResult.ROTATING, JournalResult.DELIVERED, JournalResult.ABANDONED):
            self._rotation(entry, result)
        elif result is JournalResult.MOVING:
            self._move(entry)
        elif isinstance(address, str) and entry.get("deleted") and result is not SENDING:
            self._forget(address, fingerprint if isinstance(fingerprint, str) else None)
        elif not isinstance(fingerprint, str):
            return
        elif result is SENDING:  # sent, outcome never written: it may or may not have landed
            if entry.get("operation", "update") == "update":
                records = self.contents.records
                records[fingerprint] = {**records.get(fingerprint, {}), "pending": True}
        else:
            self._outcome(entry, fingerprint, address, result)

    def _outcome(
        self, entry: Mapping[str, Any], fingerprint: str, address: Any, result: JournalResult | None
    ) -> None:
        if isinstance(entry.get("snapshot"), dict):
            self.contents.snapshots[fingerprint] = dict(entry["snapshot"])
        if (
            isinstance(address, str)
            and not held_by_none(address)
            and self._binds(entry, address, fingerprint)
        ):
            self._bind(address, fingerprint)
        if result in RECORDED and "limit_type" in entry:
            values = {f: entry[f] for f in WRITE_ONLY if f in entry}
            record = {**values, "name": entry.get("name"), "applied_at": entry.get("time")}
            self.contents.records[fingerprint] = record

    def _binds(self, entry: Mapping[str, Any], address: str, fingerprint: str) -> bool:
        """A delete that did not land never takes its address from the key bound to it (the
        predecessor a move deletes beside its successor), as `Applier` records it."""
        bound = self.contents.bindings.get(address, fingerprint)
        return entry.get("action") != "delete" or bound == fingerprint

    def _bind(self, address: str, fingerprint: str) -> None:
        bindings, before = self.contents.bindings, self.holder.get(fingerprint)
        if self.contents.moves.get(address, {}).get("key", fingerprint) != fingerprint:
            del self.contents.moves[address]  # bound to another key: that move is over
        if before is not None and before != address and bindings.get(before) == fingerprint:
            del bindings[before]
        bindings[address] = fingerprint
        self.holder[fingerprint] = address

    def _rotation(self, entry: Mapping[str, Any], result: JournalResult) -> None:
        """A rotation's record begun (`check_line` checked it), or its successor delivered."""
        address, rotations = str(entry.get("address")), self.contents.rotations
        if result is JournalResult.ROTATING and isinstance(entry.get("rotation"), dict):
            rotations[address] = dict(entry["rotation"])
        elif result is JournalResult.DELIVERED and address in rotations:
            rotations[address] = {**rotations[address], "delivered": True}
        elif result is JournalResult.ABANDONED:
            rotations.pop(address, None)

    def _move(self, entry: Mapping[str, Any]) -> None:
        """A move's record begun (`check_line` checked it)."""
        if isinstance(entry.get("move"), dict):
            self.contents.moves[str(entry["address"])] = dict(entry["move"])

    def _forget(self, address: str, fingerprint: str | None) -> None:
        gone = fingerprint or self.contents.bindings.get(address, "")
        held = self.holder.get(gone)
        if held_by_none(address) and held is not None and self.contents.bindings.get(held) == gone:
            address = held  # pruned: the id it had lets go of it, as `State.forget`
        retired = self.contents.rotations.get(address, {}).get("predecessor") == gone  # successor stays bound
        done = [a for a, r in self.contents.rotations.items() if r.get("predecessor") == gone]
        for rotated in done:  # its predecessor is gone: the rotation is over
            del self.contents.rotations[rotated]
        for moved in [a for a, m in self.contents.moves.items() if m.get("key") == gone]:
            del self.contents.moves[moved]  # the old key is gone: the move is done
        if not retired:  # as `State.forget`: its sinks hold a deleted key's value
            self.contents.bindings.pop(address, None)
            self.contents.delivered.pop(address, None)
        self.contents.records.pop(gone, None)
        self.contents.snapshots.pop(gone, None)
        self.contents.protected.pop(gone, None)


def track_create(entry: Mapping[str, Any], pending: set[str]) -> None:
    """A create announced for an address stays pending until a line names the key it made."""
    address = entry.get("address")
    if not isinstance(address, str):
        return
    result = JournalResult.read(entry.get("result"))
    if result is SENDING and entry.get("operation") == "create":
        pending.add(address)
    elif isinstance(entry.get("fingerprint"), str) or result is JournalResult.FAILED:
        pending.discard(address)
