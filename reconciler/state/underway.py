"""The records of work under way that the state keeps beside its keys: rotations (a successor
made, its predecessor kept until the overlap ends) and moves (a key created in another account,
deleted here once it is there). Each is journalled as it begins, so that a run cut off in the
middle is finished by the next one; each ends when its old key is gone (`gone`), and a move
when its address is bound to another key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.state.format import Moves, Rotations
from reconciler.state.journal import JournalResult


class UnderWay:
    """Part of `store.State`: the rotations and moves under way, by address."""

    rotations: Rotations
    moves: Moves
    _rotated: dict[str, dict[str, Any] | None]  # addresses whose rotation this process changed
    _moved: dict[str, dict[str, str] | None]  # addresses whose move this process changed
    _dirty: bool

    def journal(self, entry: Mapping[str, Any]) -> None:
        raise NotImplementedError  # `State.journal`

    def rotating(self, address: str, rotation: Mapping[str, Any]) -> None:
        """A rotation of this address begins (`core.rotation.Rotating.data()`): journalled before
        its successor's create is sent, so that a run cut off finds the successor it may have
        made (a key of its name created since `started`), never its predecessor."""
        self.journal({"address": address, "result": JournalResult.ROTATING.value, "rotation": dict(rotation)})
        self._keep(self.rotations, self._rotated, address, dict(rotation))

    def delivered(self, address: str) -> None:
        """The successor of this address's rotation reached every sink: its predecessor may go."""
        if address in self.rotations and not self.rotations[address].get("delivered"):
            self.journal({"address": address, "result": JournalResult.DELIVERED.value})
            self._keep(self.rotations, self._rotated, address, {**self.rotations[address], "delivered": True})

    def abandoned(self, address: str) -> None:
        """This address's rotation made no successor, and never will (its create was refused, or
        the list shows it never landed): its record is dropped, the key stays as it was."""
        if address in self.rotations:
            self.journal({"address": address, "result": JournalResult.ABANDONED.value})
            self._keep(self.rotations, self._rotated, address, None)

    def moving(self, address: str, to: str, key: str) -> None:
        """The key of this address (fingerprint `key`) moves to account `to`: journalled before
        its create there is sent, so that a run cut off before the delete here is finished by
        the next one (`engine.moves`), and an id dropped here is never taken for a move. It holds
        while the address is bound to that key, also while the manifest has the key here again:
        moved back, then to `to` again, it is still that move. Sent on to another account before
        it was done, it keeps each account it was sent to: whichever holds the key finishes it."""
        earlier = self.moves.get(address, {})
        sent = earlier.get("to", []) if earlier.get("key") == key else []  # sent on before it was done
        move = {"to": sorted({*sent, to}), "key": key}
        self.journal({"address": address, "result": JournalResult.MOVING.value, "move": move})
        self._keep(self.moves, self._moved, address, move)

    def _keep(self, records: dict[str, Any], changed: dict[str, Any], address: str, record: Any) -> None:
        """A record under way (a rotation, a move) set, or dropped (None), as this process's."""
        if record is None:
            records.pop(address, None)
        else:
            records[address] = record
        changed[address] = record
        self._dirty = True

    def gone(self, fingerprint: str) -> None:
        """This key was deleted: a rotation whose predecessor it was is over, and so is its move."""
        for rotated in [a for a, r in self.rotations.items() if r.get("predecessor") == fingerprint]:
            self._keep(self.rotations, self._rotated, rotated, None)
        for moved in [a for a, m in self.moves.items() if m["key"] == fingerprint]:
            self._keep(self.moves, self._moved, moved, None)
