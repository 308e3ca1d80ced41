"""YAML 1.2's core schema: which type a plain scalar's text is, and its value.

Plain scalars resolve as the core schema does, which is what editors reading the schema
modeline show: `050` is fifty, `1:30` and `yes` are strings (PyYAML's YAML 1.1 reads 40,
90 and true). Floats become Decimal straight from their text, never a binary float.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution)
_CORE = (
    ("null", re.compile(r"~|null|Null|NULL|")),
    ("bool", re.compile(r"true|True|TRUE|false|False|FALSE")),
    ("int", re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")),
    ("float", re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")),
    ("float", re.compile(r"[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)")),
)
MAYBE_NOT_STR = frozenset("~nNtTfF-+.0123456789")
MISREAD = re.compile(r"[-+]?0[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")


def core_tag(text: str) -> str:
    if text and text[0] not in MAYBE_NOT_STR:
        return "str"  # most scalars: names, keys, dates are not
    return next((tag for tag, pattern in _CORE if pattern.fullmatch(text)), "str")


def _of(tag: str, text: str) -> str:
    """The text, when it is written as the core schema writes a `tag` (an explicit `!!int x`)."""
    if core_tag(text) != tag and not (tag == "float" and core_tag(text) == "int"):
        raise ValueError(f"{text!r} is not a YAML 1.2 {tag}")
    return text


def _int(text: str) -> int:
    if text[:2] in ("0o", "0x"):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text)


def _decimal(text: str) -> Decimal | float:
    """Exact from the text; .inf and .nan stay floats for the manifest rules to reject."""
    if text.lstrip("+-").startswith("."):
        special = text.lower().replace(".", "")
        if special.lstrip("+-") in ("inf", "nan"):
            return float(special)
    return Decimal(text)


def _null(text: str) -> None:
    _of("null", text)


def _bool(text: str) -> bool:
    return _of("bool", text).lower() == "true"


CONSTRUCTORS: dict[str, Callable[[str], Any]] = {
    "str": str,
    "timestamp": str,  # dates are parsed by the manifest rules
    "null": _null,
    "bool": _bool,
    "int": lambda text: _int(_of("int", text)),
    "float": lambda text: _decimal(_of("float", text)),
}
