"""Text shaped like a proxy key anywhere in a manifest file but a key's `proxy_key` (a YAML
comment, a command sink's arguments, a name): a secret in git all the same, which the schema
and the field rules never see. Found in the file's text as read, said by line, never shown.

Shaped like a key: `ek-proxy-` and a body, as a written proxy_key is told (`rules`), up to
the next whitespace, quote, bracket, delimiter, `#` or `$` (so `ek-proxy-${VAR}` makes none, as
in a proxy_key); a body starting `…` or `.` is a key as ehkeys shows it (`ek-proxy-…abcd`) or a
placeholder (`ek-proxy-...`), no secret.

The usual manifest holds no `ek-proxy-` at all: one search of its text. One that writes its
keys (10,000 literal proxy_key values) is told by its pieces: when the text's pieces are
exactly its proxy_key values' pieces, none is elsewhere. Only a piece found more often in the
text than in those values is looked for, occurrence by occurrence. A value written in double
quotes may spell itself with escapes (`"\x65k-proxy-…"`): in a text holding a backslash, such a
value is told by where it is written, from its opening quote to its closing one.

A GitHub or Vault token (`ghp_…`, `github_pat_…`, `hvs.…`: the shapes `scrub` hides) anywhere in
the file is a secret in git too, say in a command sink's arguments: warned of at its line.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from typing import Any

from reconciler.core.secrets import TOKEN_RE

PREFIX = "ek-proxy-"
_SHAPED = re.compile(r"ek-proxy-(?![….])[^\s\"'`<>()\[\]{},;|#$]+")
MESSAGE = (
    "text shaped like a proxy key (ek-proxy-…) outside a proxy_key value: if it is a key, it is "
    "a secret in the file; remove it (a key's proxy_key reads one from ${VAR})"
)

TOKEN_MESSAGE = (
    "text shaped like a GitHub or Vault token (ghp_…, github_pat_…, hvs.…): a secret in the file, "
    "which git keeps; remove it (revoke it if it was committed) and have the command read it from an "
    "environment variable (gh reads GH_TOKEN, vault VAULT_TOKEN; a command sink gets ehkeys' environment)"
)
_OPENING = re.compile(r'(?:[!&]\S*\s+)*"')  # a value's tag or anchor, if any, then its opening quote
_ESCAPE_OR_END = re.compile(r'\\.|"', re.S)

Locate = Callable[[int], tuple[int, int]]  # a key's index -> where its proxy_key value starts


def found(text: str, data: Any, locate: Locate, refused: Collection[int] = ()) -> list[tuple[int, int, str]]:
    """Each line's first key-shaped text outside proxy_key values, and each line's first token
    but on the lines an error refuses already (a github_secret's `token:` written, not ${VAR}):
    line, column and what to say."""
    keys = [(line, col, MESSAGE) for line, col in stray(text, data, locate)]
    written = [(line, col, TOKEN_MESSAGE) for line, col in tokens(text) if line not in refused]
    return sorted(keys + written)


def tokens(text: str) -> list[tuple[int, int]]:
    """The line and column of the first GitHub or Vault token on each line that holds one."""
    lines: dict[int, int] = {}
    for line, col, _ in _at(text, TOKEN_RE.finditer(text)):
        lines.setdefault(line, col)
    return sorted(lines.items())


def stray(text: str, data: Any, locate: Locate) -> list[tuple[int, int]]:
    """The line and column of the first key-shaped text on each line that holds one outside the
    file's proxy_key values (`data`: the file parsed)."""
    if PREFIX not in text:
        return []
    values = _proxy_keys(data)
    quoted = _quoted(text, values, locate) if "\\" in text else {}
    extra = Counter(_SHAPED.findall(text))
    for index, value in values.items():
        start, end = quoted.get(index, (0, 0))
        extra.subtract(_SHAPED.findall(text, start, end) if end else _SHAPED.findall(value))
    wanted = {piece for piece, count in extra.items() if count > 0}
    if not wanted:
        return []
    spans = sorted([*quoted.values(), *_spans(text, values, wanted, locate, quoted)])
    starts = [start for start, _ in spans]
    lines: dict[int, int] = {}
    occurrences = (m for m in _SHAPED.finditer(text) if m.group() in wanted)
    for line, col, match in _at(text, occurrences):
        start, end = spans[bisect.bisect_right(starts, match.start()) - 1] if spans else (0, 0)
        if not start <= match.start() < match.end() <= end:
            lines.setdefault(line, col)
    return sorted(lines.items())


def _spans(
    text: str, values: dict[int, str], wanted: set[str], locate: Locate, quoted: dict[int, tuple[int, int]]
) -> Iterator[tuple[int, int]]:
    """Where the other values holding a wanted piece stand: from the value's start to its end
    (its text's length, and its quotes)."""
    starts = _line_starts(text)
    for index, value in values.items():
        if index not in quoted and any(piece in value for piece in wanted):
            at = _offset(starts, *locate(index))
            yield at, at + len(value) + 2


def _quoted(text: str, values: dict[int, str], locate: Locate) -> dict[int, tuple[int, int]]:
    """Where each value written in double quotes stands in the text, by the key's index: from its
    opening quote to past its closing one (an escape, `\\"` included, skipped)."""
    starts, where = _line_starts(text), {}
    for index in values:
        opening = _OPENING.match(text, _offset(starts, *locate(index)))
        if opening is None:
            continue
        at = opening.end()
        while (match := _ESCAPE_OR_END.search(text, at)) is not None and match.group() != '"':
            at = match.end()
        where[index] = (opening.end() - 1, match.end() if match else len(text))
    return where


def _line_starts(text: str) -> list[int]:
    return [0, *(m.end() for m in re.finditer("\n", text))]


def _offset(starts: list[int], line: int, col: int) -> int:
    return starts[min(line, len(starts)) - 1] + col - 1


def _proxy_keys(data: Any) -> dict[int, str]:
    """Each key's proxy_key value that is text, by the key's index."""
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list):
        return {}
    found = {}
    for index, raw in enumerate(keys):
        value = raw.get("proxy_key") if isinstance(raw, dict) else None
        if isinstance(value, str):
            found[index] = value
    return found


def _at(text: str, matches: Iterator[re.Match[str]]) -> Iterator[tuple[int, int, re.Match[str]]]:
    """Each match with its line and column (matches in the order of the text). The text between
    two matches is read once: counted from the line's start, or searched back to it, every match
    of a long line read the line again (50,000 tokens on a 2 MB line: minutes)."""
    line, start, seen = 1, 0, 0  # the line of `seen`, the offset its line begins at, the last match
    for match in matches:
        at = match.start()
        newlines = text.count("\n", seen, at)
        if newlines:
            line += newlines
            start = text.rfind("\n", seen, at) + 1
        seen = at
        yield line, at - start + 1, match
