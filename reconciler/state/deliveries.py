"""Deliveries the state remembers as owed: per manifest address, each sink (by its `ident`)
whose delivery was announced (`pending`, written before the create is sent) or tried and failed
(`failed`). A delivery `done`, or `dropped` (its key or sink left the manifest), is forgotten.
Nothing here holds a value: the next apply, or `ehkeys deliver`, reads it from the account.

`Delivered` remembers, per address, the sinks its key's value was delivered to (`done`), so a
sink added to an existing key can be said never to have received it; a sink announced again (a
new value), failed or dropped leaves it. A state without the record reads as none delivered.

A journal line of a delivery holds `delivery` (its status), `address`, `sink` and, once tried,
`message`: never a value, and never a `fingerprint` (a delivery line binds no key).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.core.sinks import known_as

PENDING, FAILED, DONE, DROPPED = "pending", "failed", "done", "dropped"
OWED = (PENDING, FAILED)  # a delivery still to make
STATUSES = (*OWED, DONE, DROPPED)

Deliveries = dict[str, dict[str, str]]  # address -> sink ident -> pending | failed
Delivered = dict[str, list[str]]  # address -> the sink idents its value was delivered to


def replay(deliveries: Deliveries, entry: Mapping[str, Any]) -> None:
    """One journal line of a delivery over `deliveries`, in place."""
    address, sink, status = entry.get("address"), entry.get("sink"), entry.get("delivery")
    if isinstance(address, str) and isinstance(sink, str) and status in STATUSES:
        mark(deliveries, address, known_as(sink), status if status in OWED else None)


def replay_done(delivered: Delivered, entry: Mapping[str, Any]) -> None:
    """One journal line of a delivery over `delivered`, in place."""
    address, sink, status = entry.get("address"), entry.get("sink"), entry.get("delivery")
    if isinstance(address, str) and isinstance(sink, str) and status in STATUSES:
        done(delivered, address, known_as(sink), status == DONE)


def done(delivered: Delivered, address: str, sink: str, made: bool) -> None:
    """`sink` has `address`'s value now (`made`), or not (announced again, failed, dropped)."""
    sinks = [s for s in delivered.get(address, []) if s != sink] + ([sink] if made else [])
    if sinks:
        delivered[address] = sorted(sinks)
    else:
        delivered.pop(address, None)


def unreached(delivered: Delivered, address: str, sinks: Iterable[str]) -> list[str]:
    """Those of `sinks` (the idents of the sinks `address`'s key has now) its current value has
    not reached: a sink added, or fixed after a failed delivery was dropped."""
    got = set(delivered.get(address, ()))
    return [sink for sink in sinks if sink not in got]


def merged_done(disk: Delivered, ours: Mapping[tuple[str, str], bool]) -> Delivered:
    """What is on disk with this process's deliveries on top."""
    found = {address: list(sinks) for address, sinks in disk.items()}
    for (address, sink), made in ours.items():
        done(found, address, sink, made)
    return found


def checked_done(value: Any) -> bool:
    """A state file's record of one address's delivered sinks: a list of sink idents."""
    return isinstance(value, list) and all(isinstance(s, str) for s in value)


def mark(deliveries: Deliveries, address: str, sink: str, status: str | None) -> None:
    """`status` owed, or None: forgotten (the address too, once it owes nothing)."""
    if status is not None:
        deliveries.setdefault(address, {})[sink] = status
        return
    owed = deliveries.get(address, {})
    owed.pop(sink, None)
    if not owed:
        deliveries.pop(address, None)


def merged(disk: Deliveries, ours: Mapping[tuple[str, str], str | None]) -> Deliveries:
    """What is on disk with this process's marks on top."""
    found = {address: dict(owed) for address, owed in disk.items()}
    for (address, sink), status in ours.items():
        mark(found, address, sink, status)
    return found


def checked(value: Any) -> bool:
    """A state file's record of one address: sink ident -> pending | failed."""
    return isinstance(value, dict) and all(isinstance(k, str) and v in OWED for k, v in value.items())
