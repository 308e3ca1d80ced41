"""Secrets: a proxy key that prints redacted, and the redaction of keys and tokens in free text.

A key is shown as `ek-proxy-…` and its last four characters; it is identified, safely for a
file or a commit, by its fingerprint. Nothing else of a secret ever leaves the process.
"""

from __future__ import annotations

import hashlib
import re

# A key runs from `ek-` to the next whitespace, quote, bracket or list delimiter, so that a
# key with unusual characters is hidden whole; a sentence's full stop or colon after it is
# not part of it. `…` is a key character: a redacted key scrubs to itself.
_KEY_CHAR = r"[^\s\"'`<>()\[\]{},;|]"
_SECRET_RE = re.compile(rf"ek-{_KEY_CHAR}{{3,}}(?<![.:!?])")
_REDACTED_RE = re.compile(r"ek-(?:proxy-)?….{0,4}", re.S)
_BEARER_RE = re.compile(rf"(?i)(bearer\s+){_KEY_CHAR}{{8,}}")  # a token, not "Bearer token"


def redact(secret: str) -> str:
    """`ek-proxy-…abcd`: enough to recognise a key, never enough to use it.

    Idempotent: a redacted key ends with the same four characters, so it redacts to itself;
    so does a placeholder such as `ek-proxy-…` in a message (it was `ek-proxy-…xy-…`), and the
    bare prefix `ek-proxy-` a message names (it was `ek-proxy-…oxy-`): neither is a key.
    """
    if _REDACTED_RE.fullmatch(secret) or secret == "ek-proxy-":
        return secret  # already redacted, a placeholder (prefix, `…`, <= 4 characters), or the prefix
    prefix = "ek-proxy-" if secret.startswith("ek-proxy-") else "ek-"
    return f"{prefix}…{secret[-4:]}"


def scrub(text: str) -> str:
    """Redact anything that looks like an ElectronHub key, or a bearer token, in free text.

    `scrub(scrub(text)) == scrub(text)`: already redacted keys are left as they are.
    """
    text = _SECRET_RE.sub(lambda m: redact(m.group(0)), text)
    return _BEARER_RE.sub(lambda m: f"{m.group(1)}…", text)  # after: a redaction can lengthen a value


def fingerprint(secret: str) -> str:
    """A stable, non-reversible identifier of a key, safe to commit."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:24]


class ProxyKey:
    """A proxy key that prints redacted: `str()`, `repr()` and f-strings never leak it."""

    __slots__ = ("_display", "_fingerprint", "_value")

    def __init__(self, value: str) -> None:
        self._value = value
        self._fingerprint = ""  # computed once: a plan asks ~6 times per key (a SHA-256 each)
        self._display = ""  # likewise: every rendering of a plan shows it

    def reveal(self) -> str:
        """The secret itself, for a request body and nothing else."""
        return self._value

    @property
    def display(self) -> str:
        if not self._display:
            self._display = redact(self._value)
        return self._display

    @property
    def fingerprint(self) -> str:
        if not self._fingerprint:
            self._fingerprint = fingerprint(self._value)
        return self._fingerprint

    def __repr__(self) -> str:
        return f"ProxyKey({self.display})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ProxyKey) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class RedactedKey:
    """A key known only as shown, `ek-proxy-…abcd` (a saved plan read back): enough to show
    which key it is, never enough to send or fingerprint. Whatever text it is made from, it
    holds only the redacted form."""

    __slots__ = ("display",)

    def __init__(self, text: str) -> None:
        self.display = redact(text)

    def __repr__(self) -> str:
        return f"RedactedKey({self.display})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RedactedKey) and other.display == self.display

    def __hash__(self) -> int:
        return hash(self.display)
