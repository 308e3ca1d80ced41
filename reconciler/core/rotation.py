"""Rotation as values: what the manifest asks (`rotate: {every, overlap}`), what the state
remembers of a rotation under way (`Rotating`), and what a plan knows of each (`Status`).

ElectronHub has no regenerate endpoint for proxy keys, so a rotation is a create, a delivery,
an overlap and a delete: the *successor* is created with the key's settings and takes over its
address; the *predecessor* stays active until the overlap ends (counted from the successor's
`created_at`, on the API's clock), and is deleted by the first plan after that, once the
successor is delivered. Times are epoch seconds on the API's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reconciler.core.durations import ZERO, Duration


@dataclass(frozen=True)
class Rotation:
    """`rotate: {every: 90d, overlap: 7d}`: rotated once its key is `every` old."""

    every: Duration
    overlap: Duration = ZERO

    def due_at(self, created_at: int) -> int:
        return created_at + self.every.seconds


@dataclass(frozen=True)
class Rotating:
    """A rotation under way, as the state remembers it (by the address it rotates)."""

    predecessor: str  # the fingerprint of the key being replaced (never the key)
    started: int  # when its successor's create was about to be sent: a successor is newer
    overlap: int  # seconds the predecessor stays after its successor was created
    name: str  # the successor's name, as its create sends it
    delivered: bool = False  # the successor reached every sink of its key

    def until(self, successor_created: int | None) -> int:
        """When the predecessor may go: its overlap after the successor was created."""
        return max(successor_created or self.started, self.started) + self.overlap

    def data(self) -> dict[str, Any]:
        return {
            "predecessor": self.predecessor,
            "started": self.started,
            "overlap": self.overlap,
            "name": self.name,
            "delivered": self.delivered,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Rotating:
        return cls(
            str(data["predecessor"]),
            int(data["started"]),
            int(data["overlap"]),
            str(data["name"]),
            bool(data.get("delivered", False)),
        )


@dataclass(frozen=True)
class Status:
    """What a plan knows of one key's rotation: when it is due, and a predecessor retiring."""

    address: str
    name: str
    key: str  # the redacted key the address holds
    due_at: int | None = None  # by `rotate: every` from its created_at; None: no schedule
    retiring: str = ""  # the redacted predecessor still live, if any
    until: int | None = None  # when the predecessor may be deleted
    delivered: bool = True  # its successor was delivered (False: its retirement waits)
    begins: Rotating | None = None  # the rotation this plan starts (recorded before its create)
    over: bool = False  # its predecessor is gone from the account: the rotation is over
    undated: bool = False  # on a schedule, but the API gave no created_at: never due by it
