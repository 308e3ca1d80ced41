"""What is said of a field the schema does not know where it is written: where it belongs when
it is a key's field written above the keys (`limit_type` at the top of a file belongs under
`defaults:`, or on each key), else the closest name it knows."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.manifest.diagnostics import path_text


def unknown(extra: str, path: tuple[Any, ...], schema: Mapping[str, Any]) -> str:
    """`extra`, unknown in the mapping at `path` whose (inlined) schema is `schema`."""
    known = schema.get("properties", {})
    here = path_text(path) + "." if path else ""
    if extra in known.get("defaults", {}).get("properties", {}):
        return f"unknown field '{extra}' here: a key's field; did you mean {here}defaults.{extra}?"
    if extra in known.get("keys", {}).get("items", {}).get("properties", {}):
        return f"unknown field '{extra}' here: a key's own field; write it on each key under {here}keys:"
    hint = closest(extra, known) or f"; expected one of {', '.join(known)}"
    return f"unknown field '{extra}'{hint}"


def closest(name: object, known: Iterable[str]) -> str:
    """The hint for a mistyped name ("; did you mean 'prod'?"), or '' when none is close."""
    close = difflib.get_close_matches(str(name), list(known), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""
