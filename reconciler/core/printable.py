"""Text from the account (a key's name), made safe to print in a terminal, a log or a comment."""

from __future__ import annotations

import re

_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """A name from the account, safe to print: control and direction characters escaped, so
    whoever can rename a key in the dashboard cannot colour, move or reorder the plan's text."""
    if text.isprintable():  # every character the pattern escapes is one Python finds unprintable
        return text
    return _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)
