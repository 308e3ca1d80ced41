"""The manifest's keys, their places and its problems, made without their frozen dataclasses' `__init__`.

A frozen dataclass's generated `__init__` sets each field through `object.__setattr__`: a
DesiredKey of 16 fields took 6.5 µs, a fifth of building a key from the manifest. These
set the instance's `__dict__` at once: the same fields, the same values, the same
instance (equality, hash, order and repr are the dataclass's own, read from the fields).
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

from reconciler.core.keys import DesiredKey, Location
from reconciler.manifest.diagnostics import Diagnostic

_new = object.__new__
_KEY_FIELDS = {f.name: f.default for f in fields(DesiredKey)}  # a required field: MISSING until given
assert all(f.default_factory is MISSING for f in fields(DesiredKey)), "a factory default: call __init__"
assert not hasattr(DesiredKey, "__post_init__") and not hasattr(DesiredKey, "__slots__")


def desired_key(values: dict[str, Any]) -> DesiredKey:
    """`DesiredKey(**values)`; `values` holds every field without a default."""
    key = _new(DesiredKey)
    attributes = key.__dict__
    attributes.update(_KEY_FIELDS)
    attributes.update(values)
    return key


def location(file: str, line: int, col: int) -> Location:
    """`Location(file, line, col)`."""
    where = _new(Location)
    attributes = where.__dict__
    attributes["file"], attributes["line"], attributes["col"] = file, line, col
    return where


def diagnostic(
    file: str, line: int, col: int, path: str, message: str, severity: str, key: str
) -> Diagnostic:
    """`Diagnostic(file, line, col, path, message, severity, key)`: 10,000 literal proxy keys
    make 10,000 warnings."""
    said = _new(Diagnostic)
    said.__dict__.update(
        file=file, line=line, col=col, path=path, message=message, severity=severity, key_id=key
    )
    return said
