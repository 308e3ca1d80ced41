"""A policy's name_pattern, run on RE2 (google-re2) rather than Python's `re`: it comes from any
pull request, and `re` backtracks (`^((a+)+)+$` on 24 a's and a `!` ran for hours in validate,
plan and the PR job), where RE2's matching time is linear in the name, whatever the pattern. RE2
has no construct that needs backtracking (back-references, lookarounds, atomic groups, possessive
repeats) and refuses a pattern too big for its memory: `refusal` says why, in RE2's words.

`re2` is imported with the first pattern (~3 ms): a manifest without one does not pay for it."""

from __future__ import annotations

import functools
from typing import Protocol

# At most this many characters: RE2's compile time grows faster than a pattern's nesting (1,000
# nested groups compile in ~2 ms, 100,000 in ~20 s); its memory is bounded by max_mem (8 MiB).
LONGEST = 1000
SYNTAX = "name_pattern uses RE2 syntax: no back-references, lookarounds, atomic groups or possessive repeats"


class _Program(Protocol):
    def fullmatch(self, text: bytes) -> object: ...


def refusal(pattern: str) -> str | None:
    """Why the pattern cannot be run, or None."""
    found = _compiled(pattern)
    return found if isinstance(found, str) else None


def matches(pattern: str, name: str) -> bool:
    """Whether the whole name matches the pattern (one `refusal` accepted)."""
    found = _compiled(pattern)
    if isinstance(found, str):
        raise ValueError(f"name_pattern {pattern!r} is refused: {found}")
    return found.fullmatch(_utf8(name)) is not None


@functools.lru_cache(maxsize=64)
def _compiled(pattern: str) -> _Program | str:
    """RE2's program for the pattern, or why there is none."""
    if len(pattern) > LONGEST:
        return f"{len(pattern)} characters long: at most {LONGEST}, so that RE2 compiles it in milliseconds"
    import re2  # only with a pattern: see the module's docstring

    options = re2.Options()
    options.log_errors = False  # RE2 writes each refusal to stderr too: said once, as a diagnostic
    options.never_capture = True  # a yes or no: groups to fill would run RE2's NFA, its DFA answers alone
    try:
        program: _Program = re2.compile(_utf8(pattern), options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "refused"
        said = reason.decode("utf-8", "backslashreplace") if isinstance(reason, bytes) else str(reason)
        return f"RE2 refuses it: {said} ({SYNTAX})"
    return program


def _utf8(text: str) -> bytes:
    """The text as RE2 reads it, UTF-8; a lone surrogate (a `\\ud800` in the API's JSON), which UTF-8
    cannot encode, as its three bytes: RE2 reads them as a character, where str.encode fails."""
    return text.encode("utf-8", "surrogatepass")
