"""Problems found in input, with where they are, and their three printed forms."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

ERROR = "error"
WARNING = "warning"


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

    def text(self) -> str:
        where = f"{self.path}: " if self.path else ""
        tag = "" if self.is_error else "warning: "
        return f"{self.file}:{self.line}:{self.col}: {tag}{where}{self.message}"

    def github(self) -> str:
        where = f"{self.path}: " if self.path else ""
        body = _gh_escape(where + self.message)
        kind = "error" if self.is_error else "warning"
        return f"::{kind} file={self.file},line={self.line},col={self.col}::{body}"

    def data(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "path": self.path,
            "severity": self.severity,
            "message": self.message,
        }


def _gh_escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


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
    for d in items:
        stream.write((d.github() if fmt == "github" else d.text()) + "\n")
