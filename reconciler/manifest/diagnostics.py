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
from dataclasses import dataclass, fields, replace
from operator import attrgetter
from typing import Any, TextIO

from reconciler.core.printable import printable
from reconciler.core.secrets import scrub

GROUP_AT = 3  # a problem said this many times or more prints as one line (JSON lists each)
SHOWN_PLACES = 3
_INDEX = re.compile(r"\[\d+\]")
_KEY_INDEX = re.compile(r"^keys\[\d+\]")
_PLAIN = re.compile(r"[A-Za-z0-9_.-]+")

ERROR = "error"
WARNING = "warning"
NOTICE = "notice"  # worth knowing, never a failure (validate --strict shows them)


def key_id(data: Any, path: tuple[Any, ...]) -> str:
    """The id (else the name) of the key of a file's `data` that `path` is in, as plan names it;
    "" outside a key, or for a key with neither."""
    keys = data.get("keys") if isinstance(data, dict) and path[:1] == ("keys",) else None
    index = path[1] if len(path) > 1 and isinstance(path[1], int) else -1
    raw = keys[index] if isinstance(keys, list) and 0 <= index < len(keys) else None
    if not isinstance(raw, dict):
        return ""
    for field in ("id", "name"):
        value = raw.get(field)
        if isinstance(value, (str, int)) and value != "":
            return str(value)
    return ""


def path_text(path: tuple[Any, ...]) -> str:
    """A manifest path as a problem names it: `keys[1].allocated_ammount`; a name holding a
    newline or another unprintable character escaped (`accounts.prod\\u000a`), one line still."""
    text = ""
    for part in path:
        shown = printable(str(part))
        text += f"[{shown}]" if isinstance(part, int) else (f".{shown}" if text else shown)
    return text


@dataclass(frozen=True, order=True)
class Diagnostic:
    file: str
    line: int  # 0: none (a folder, a path that is not there)
    col: int
    path: str
    message: str
    severity: str = ERROR
    key_id: str = ""  # the id (else the name) of the key the path is in: `keys[3]` reads `keys[backend]`

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def shown(self) -> tuple[str, str]:
        """The path and message as printed, a key named by its id (as plan names it; FILE:LINE
        says which, where ids repeat across accounts): anything key-shaped redacted. A key's
        problem found once the keys are made (`deliver`, wherever its list was written) is
        named so too: `keys[api].deliver`; one with no path names it in its message."""
        path, indexed = self.path, _KEY_INDEX.match(self.path)
        if self.key_id and (indexed or path):  # none: the message names the key (a duplicate id)
            named = self.key_id if _PLAIN.fullmatch(self.key_id) else repr(self.key_id)
            path = f"keys[{named}]" + (path[indexed.end() :] if indexed else f".{path}")
        return scrub(path), scrub(self.message)

    def text(self) -> str:
        path, message = self.shown()
        where = f"{path}: " if path else ""
        tag = "" if self.is_error else f"{self.severity}: "
        return f"{self.place}: {tag}{where}{message}"

    @property
    def place(self) -> str:
        """FILE:LINE:COL; a folder, or a path that is not there, has no line: FILE alone (line 0)."""
        return f"{self.file}:{self.line}:{self.col}" if self.line else self.file

    def github(self) -> str:
        path, message = self.shown()
        body = _gh_escape((f"{path}: " if path else "") + message)
        at = f",line={self.line},col={self.col}" if self.line else ""
        return f"::{self.severity} file={_gh_property(self.file)}{at}::{body}"

    def data(self) -> dict[str, object]:
        """As JSON: `path` by index (`keys[3].name`), `key` the id (else name) of its key, or null."""
        _, message = self.shown()
        return {
            "file": self.file,
            "line": self.line or None,
            "col": self.col or None,
            "path": scrub(self.path),
            "key": scrub(self.key_id) if self.key_id else None,
            "severity": self.severity,
            "message": message,
        }


def _gh_escape(text: str) -> str:
    """A workflow command's message: `%`, CR and LF escaped, as the runner unescapes them."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(text: str) -> str:
    """A workflow command's property value: also `:` and `,`, which would end it (a file
    `keys,v2.yaml` was the file `keys` and a property `v2.yaml`)."""
    return _gh_escape(text).replace(":", "%3A").replace(",", "%2C")


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
            said = f"{message} ({_places(members)})"
            found.append(replace(members[0], path=path, message=said, key_id=""))
    return sorted(found)


def _places(members: list[Diagnostic]) -> str:
    shown = members[:SHOWN_PLACES]
    if all(d.file == shown[0].file for d in shown):
        listed = "lines " + ", ".join(str(d.line) for d in shown)
    else:
        listed = ", ".join(f"{d.file}:{d.line}" for d in shown)
    more = len(members) - len(shown)
    return f"{len(members)} places: {listed}{f' and {more} more' if more else ''}; --format json lists each"


_FIELD_ORDER = attrgetter(*(f.name for f in fields(Diagnostic)))


def ordered(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """In the order `order=True` gives them (file, line, column, then the other fields), sorted
    by a key: tuples compared in C, four times faster than the generated `__lt__` (a manifest
    of 10,000 literal keys has 10,000 warnings, sorted three times on the way to the screen)."""
    return sorted(diagnostics, key=_FIELD_ORDER)


def render(diagnostics: Iterable[Diagnostic], fmt: str, stream: TextIO) -> None:
    items = ordered(diagnostics)
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
