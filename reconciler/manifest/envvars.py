"""The variables a manifest's `${VAR}` reads: the environment, and the lines of one CI secret.

EHKEYS_PROXY_KEYS holds `NAME=value` lines, so that CI can keep every proxy key in one
secret. A line of another shape, or a NAME given twice, is a diagnostic naming the line and
the NAME, never the value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.manifest.diagnostics import ERROR, WARNING, Diagnostic

PROXY_KEYS = "EHKEYS_PROXY_KEYS"
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")  # `${VAR}`, `${VAR:-default}`: VAR


def environment() -> dict[str, str]:
    """The variables `${VAR}` reads: the process environment, plus the `NAME=value` lines of
    EHKEYS_PROXY_KEYS, so that CI can hold every proxy key in one secret. A variable set on
    its own wins."""
    return checked_environment()[0]


def checked_environment() -> tuple[dict[str, str], list[Diagnostic]]:
    """environment(), and what is wrong with the lines of EHKEYS_PROXY_KEYS."""
    extra, problems = proxy_key_lines(os.environ.get(PROXY_KEYS, ""))
    return {**extra, **os.environ}, problems


def proxy_key_lines(text: str) -> tuple[dict[str, str], list[Diagnostic]]:
    """`NAME=value` lines (blank lines and `#` comments aside). A line of another shape, or a
    NAME given twice, is a diagnostic naming the line and the NAME, never the value."""
    found: dict[str, tuple[int, str]] = {}
    problems: list[Diagnostic] = []
    for number, line in enumerate(text.splitlines(), start=1):
        name, sep, value = (part.strip() for part in line.partition("="))
        if (not name and not sep) or name.startswith("#"):
            continue
        if not sep or not _VAR_NAME.fullmatch(name):
            problems.append(_line_problem(number, "", "not a NAME=value line: ignored", WARNING))
        elif name in found:
            problems.append(_repeated(number, name, *found[name], value))
        else:
            found[name] = (number, value)
    return {name: value for name, (_, value) in found.items()}, problems


def _repeated(number: int, name: str, first: int, first_value: str, value: str) -> Diagnostic:
    if value == first_value:
        return _line_problem(number, name, f"set again, to the same value (first on line {first})", WARNING)
    return _line_problem(number, name, f"set again, to another value (first on line {first}): keep one")


def _line_problem(number: int, name: str, message: str, severity: str = ERROR) -> Diagnostic:
    return Diagnostic(PROXY_KEYS, number, 1, name, message, severity)


def proxy_key_variables(documents: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """The variables the keys' `proxy_key:` fields read (`${EH_SUPPORT_KEY}`; each of
    `ek-proxy-${A}${B}`), in these parsed manifest files: they hold proxy keys, or parts of them."""
    found: set[str] = set()
    for data in documents:
        keys = data.get("keys")
        for raw in keys if isinstance(keys, list) else ():
            text = raw.get("proxy_key") if isinstance(raw, dict) else None
            found.update(_REFERENCE.findall(text) if isinstance(text, str) else ())
    return frozenset(found)
