"""Files the package ships: JSON schemas (top-level `schemas/`) and the sandbox seed."""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any

_SOURCE_SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"


@functools.cache
def schema(name: str) -> dict[str, Any]:
    """`manifest` or `plan`: from the source tree when run from a checkout, else installed."""
    filename = f"{name}.schema.json"
    source = _SOURCE_SCHEMAS / filename
    text = (
        source.read_text(encoding="utf-8")
        if source.is_file()
        else resources.files("reconciler.schemas").joinpath(filename).read_text(encoding="utf-8")
    )
    data: dict[str, Any] = json.loads(text)
    return data
