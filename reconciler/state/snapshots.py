"""A live key as an apply last verified it: what `ehkeys drift` holds the account against.

A snapshot is every field the API reports for a key except the two that move by themselves
while the key is in use (`used_ammount`, `last_used`), as plain JSON: money as exact decimal
text (never a float), whitelists as sorted lists, plus `recorded_at`. The state keeps one
per fingerprint; the fingerprint, never the key, says which key it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.core.jsonvalue import key_json
from reconciler.core.keys import LiveKey
from reconciler.core.money import money_text
from reconciler.core.times import now_iso

SNAPSHOTTED = (
    "name",
    "expires_at",
    "allocated_ammount",
    "model_whitelist",
    "ip_whitelist",
    "is_active",
    "created_at",
)
"""What a snapshot holds, in display order."""

MOVING = ("used_ammount", "last_used")
"""Reported by the API, never snapshotted nor compared: they change whenever the key is used."""

RECORDED_AT = "recorded_at"


def values(live: LiveKey) -> dict[str, Any]:
    """The snapshotted fields of a live key, as plain JSON (money as exact text)."""
    return key_json(live, SNAPSHOTTED, money_text)


def taken(live: LiveKey) -> dict[str, Any]:
    """A snapshot of the key now: its values and when they were recorded."""
    return {**values(live), RECORDED_AT: now_iso()}


def unchanged(snapshot: Mapping[str, Any] | None, live: LiveKey) -> bool:
    """Whether the key still has the values the snapshot recorded (the time aside)."""
    return snapshot is not None and without_time(snapshot) == values(live)


def updated_outside(snapshot: Mapping[str, Any] | None, live: LiveKey) -> bool:
    """Someone updated the key since its snapshot. An update (a toggle aside) replaces every
    field and resets limit_type to daily when it leaves it out: the API cannot say which, so
    what the state recorded of the key's write-only values no longer holds."""
    if snapshot is None:
        return False
    then, now = without_time(snapshot), values(live)
    return any(then.get(field) != value for field, value in now.items() if field != "is_active")


def forgotten(
    records: Mapping[str, Any], snapshots: Mapping[str, Any], keys: Iterable[LiveKey]
) -> frozenset[str]:
    """The keys whose recorded write-only values no longer hold: updated outside ehkeys (the
    plan then shows `limit_type: (unknown) -> …`, says why, and sends it again)."""
    return frozenset(
        k.fingerprint
        for k in keys
        if k.fingerprint in records and updated_outside(snapshots.get(k.fingerprint), k)
    )


def recorded_values(records: Mapping[str, Any], forgotten: frozenset[str]) -> dict[str, Any]:
    """The state's write-only values that still hold."""
    return {fingerprint: values for fingerprint, values in records.items() if fingerprint not in forgotten}


def without_time(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in snapshot.items() if k != RECORDED_AT and k not in MOVING}
