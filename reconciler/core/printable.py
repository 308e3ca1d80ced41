"""Text from the account (a key's name), made safe to print in a terminal, a log or a comment."""

from __future__ import annotations


def printable(text: str) -> str:
    """A name from the account, safe to print: every character Python finds unprintable (control,
    format and direction marks, line and paragraph separators, tags, unusual spaces) escaped, so
    whoever can rename a key in the dashboard cannot colour, move, split or reorder the plan's text."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escaped(c) for c in text)


def _escaped(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
