"""Problems found in input, with where they are, and their three printed forms.

Text and GitHub annotations say a problem repeated at many places (10,000 keys with a
literal proxy_key) once, with the count and the first places; JSON lists every one.

A message or path may hold a secret the input put in the wrong place (a manifest keyed by
its proxy keys names them as fields): every printed form goes through `scrub`, here only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, TextIO

from reconciler.core.secrets import scrub

GROUP_AT = 3  # a problem said this many times or more prints as one line (JSON lists each)
SHOWN_PLACES = 3
_INDEX = re.compile(r"\[\d+\]")

ERROR = "error"
WARNING = "warning"
NOTICE = "notice"  # worth knowing, never a failure (validate --strict shows them)


def path_text(path: tuple[Any, ...]) -> str:
    """A manifest path as a problem names it: `keys[1].allocated_ammount`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@dataclass(frozen=True, order=True)
class Diagnostic:
    file: str
    line: int
    col: int
    path: str
    message: str
    severity: str = ERROR

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def shown(self) -> tuple[str, str]:
        """The path and message as printed: anything key-shaped redacted."""
        return scrub(self.path), scrub(self.message)

    def text(self) -> str:
        path, message = self.shown()
        where = f"{path}: " if path else ""
        tag = "" if self.is_error else f"{self.severity}: "
        return f"{self.file}:{self.line}:{self.col}: {tag}{where}{message}"

    def github(self) -> str:
        path, message = self.shown()
        body = _gh_escape((f"{path}: " if path else "") + message)
        kind = self.severity
        return f"::{kind} file={self.file},line={self.line},col={self.col}::{body}"

    def data(self) -> dict[str, object]:
        path, message = self.shown()
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "path": path,
            "severity": self.severity,
            "message": message,
        }


def _gh_escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def grouped(items: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Problems said GROUP_AT times or more (one severity and message, one path but for list
    indexes) as one, at the first place, counting them and naming the first few places."""
    groups: dict[tuple[str, str, str], list[Diagnostic]] = {}
    for d in sorted(items):
        groups.setdefault((d.severity, d.message, _INDEX.sub("[*]", d.path)), []).append(d)
    found: list[Diagnostic] = []
    for (_, message, path), members in groups.items():
        if len(members) < GROUP_AT:
            found.extend(members)
        else:
            found.append(replace(members[0], path=path, message=f"{message} ({_places(members)})"))
    return sorted(found)


def _places(members: list[Diagnostic]) -> str:
    shown = members[:SHOWN_PLACES]
    if all(d.file == shown[0].file for d in shown):
        listed = "lines " + ", ".join(str(d.line) for d in shown)
    else:
        listed = ", ".join(f"{d.file}:{d.line}" for d in shown)
    more = len(members) - len(shown)
    return f"{len(members)} places: {listed}{f' and {more} more' if more else ''}; --format json lists each"


def render(diagnostics: Iterable[Diagnostic], fmt: str, stream: TextIO) -> None:
    items = sorted(diagnostics)
    if fmt == "json":
        errors = sum(d.is_error for d in items)
        payload = {
            "valid": errors == 0,
            "errors": errors,
            "warnings": len(items) - errors,
            "diagnostics": [d.data() for d in items],
        }
        json.dump(payload, stream, indent=2)
        stream.write("\n")
        return
    for d in grouped(items):
        stream.write((d.github() if fmt == "github" else d.text()) + "\n")
