"""The journal replayed over the state file: each line a write announced, or its outcome.

`Replay` applies lines in order: a `sending` line marks an update pending (it may or may not
have landed), an outcome line records the key's binding, write-only values and snapshot, a
`deleted` line forgets the key. A binding names one live key for one address: a line that
binds a key to an address lets go of whichever address held it before (an id changed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.core.keys import WRITE_ONLY
from reconciler.state.format import Contents

SENDING = "sending"  # the journal's write-ahead line, before an update goes out
SNAPSHOT = "snapshot"  # a journal line with only a key's snapshot (an in-sync key, an import)
BOUND = "bound"  # a journal line with only a binding (a key an apply found in sync)
RECORDED = ("updated", "applied", "sent, not verified")


class Replay:
    """Lines over `contents`, changed in place."""

    def __init__(self, contents: Contents) -> None:
        self.contents = contents
        self.holder = {fp: address for address, fp in contents.bindings.items()}

    def line(self, entry: Mapping[str, Any]) -> None:
        fingerprint, result, address = entry.get("fingerprint"), entry.get("result"), entry.get("address")
        if isinstance(address, str) and entry.get("deleted") and result != SENDING:
            self._forget(address, fingerprint if isinstance(fingerprint, str) else None)
        elif not isinstance(fingerprint, str):
            return
        elif result == SENDING:  # sent, outcome never written: it may or may not have landed
            if entry.get("operation", "update") == "update":
                records = self.contents.records
                records[fingerprint] = {**records.get(fingerprint, {}), "pending": True}
        else:
            self._outcome(entry, fingerprint, address)

    def _outcome(self, entry: Mapping[str, Any], fingerprint: str, address: Any) -> None:
        if isinstance(entry.get("snapshot"), dict):
            self.contents.snapshots[fingerprint] = dict(entry["snapshot"])
        if isinstance(address, str) and not address.startswith("unmanaged:"):
            self._bind(address, fingerprint)
        if entry.get("result") in RECORDED and "limit_type" in entry:
            values = {f: entry[f] for f in WRITE_ONLY if f in entry}
            record = {**values, "name": entry.get("name"), "applied_at": entry.get("time")}
            self.contents.records[fingerprint] = record

    def _bind(self, address: str, fingerprint: str) -> None:
        bindings, before = self.contents.bindings, self.holder.get(fingerprint)
        if before is not None and before != address and bindings.get(before) == fingerprint:
            del bindings[before]
        bindings[address] = fingerprint
        self.holder[fingerprint] = address

    def _forget(self, address: str, fingerprint: str | None) -> None:
        gone = fingerprint or self.contents.bindings.get(address, "")
        self.contents.bindings.pop(address, None)
        self.contents.records.pop(gone, None)
        self.contents.snapshots.pop(gone, None)
        self.contents.protected.pop(gone, None)


def track_create(entry: Mapping[str, Any], pending: set[str]) -> None:
    """A create announced for an address stays pending until a line names the key it made."""
    address = entry.get("address")
    if not isinstance(address, str):
        return
    if entry.get("result") == SENDING and entry.get("operation") == "create":
        pending.add(address)
    elif isinstance(entry.get("fingerprint"), str) or entry.get("result") == "failed":
        pending.discard(address)
