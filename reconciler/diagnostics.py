"""Problems found in input, with where they are, and their three printed forms.

A message or path may hold a secret the input put in the wrong place (a manifest keyed by
its proxy keys names them as fields): every printed form goes through `scrub`, here only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

from reconciler.model import scrub

ERROR = "error"
WARNING = "warning"
NOTICE = "notice"  # worth knowing, never a failure (validate --strict shows them)


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
