"""`rotate: {every: 90d, overlap: 7d}` on a key or in defaults: read, and said when wrong.

The schema checks each duration's spelling (`core.durations.PATTERN`); these are its messages,
at the value's FILE:LINE:COL, and the typed value a key carries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.core.durations import EXPECTED, Duration
from reconciler.core.rotation import Rotation

FIELDS = ("every", "overlap")
_EVERY = "must be how often the key is rotated: a whole number of hours, days or weeks above 0 (12h, 90d, 2w)"
_OVERLAP = f"must be how long the old key stays after its successor is created: {EXPECTED}"


def read(value: Mapping[str, Any]) -> Rotation | None:
    """The rotation; None when the schema refused it (it said why and where, and a manifest
    with an error is never planned)."""
    try:
        return Rotation(Duration.parse(value["every"]), Duration.parse(value.get("overlap", 0)))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def schema_message(validator: str, field: Any, instance: Any) -> str | None:
    """The message of a duration the schema refused, or None when it is no such error."""
    if field not in FIELDS or validator not in ("pattern", "anyOf", "type", "const"):
        return None
    text = repr(instance) if len(repr(instance)) <= 40 else repr(instance)[:37] + "..."
    return f"{_EVERY if field == 'every' else _OVERLAP} (got {text})"
