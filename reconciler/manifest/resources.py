"""Files the package ships: JSON schemas (top-level `schemas/`) and the sandbox seed."""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any

_SOURCE_SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@functools.cache
def schema(name: str) -> dict[str, Any]:
    """`manifest` or `plan`: from the source tree when run from a checkout, else installed."""
    data: dict[str, Any] = json.loads(schema_text(name))
    return data


def schema_text(name: str) -> str:
    """The schema file's text, as shipped."""
    filename = f"{name}.schema.json"
    source = _SOURCE_SCHEMAS / filename
    if source.is_file():
        return source.read_text(encoding="utf-8")
    return resources.files("reconciler.schemas").joinpath(filename).read_text(encoding="utf-8")
