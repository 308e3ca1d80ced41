"""Secrets: a proxy key that prints redacted, and the redaction of keys and tokens in free text.

A key is shown as `ek-proxy-…` and its last four characters; it is identified, safely for a
file or a commit, by its fingerprint. Nothing else of a secret ever leaves the process.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import resource
import string
from collections.abc import Iterable

# A key runs from `ek-` to the next whitespace, quote, bracket or list delimiter, so that a
# key with unusual characters is hidden whole; a sentence's full stop or colon after it is
# not part of it. `…` is a key character: a redacted key scrubs to itself.
_KEY_CHAR = r"[^\s\"'`<>()\[\]{},;|]"
# A proxy key wherever it is; another `ek-` key where a word starts: never the `ek-` of
# `week-2026-49` or `seek-and-destroy`
_SECRET_RE = re.compile(rf"(?:ek-proxy-{_KEY_CHAR}+|(?<![A-Za-z0-9])ek-{_KEY_CHAR}{{3,}})(?<![.:!?])")
_REDACTED_RE = re.compile(r"ek-(?:proxy-)?….{0,4}", re.S)
_BEARER_RE = re.compile(rf"(?i)(bearer\s+){_KEY_CHAR}{{8,}}")  # a token, not "Bearer token"
# Other services' tokens, by their documented shapes (shown as their prefix, `…`, last 4). GitHub's
# (2021 format): ghp_ (personal), gho_ (OAuth), ghu_ (app user), ghs_ (app installation, now also
# a JWT with `.` and `-`), ghr_ (refresh), 36 or more characters after it; a fine-grained
# personal token, github_pat_, 22 characters, `_`, 59. Vault's: hvs. (service), hvb. (batch),
# hvr. (recovery) and a base64url body; before Vault 1.10 a service token was s. and 24 letters
# and digits, `.` and a namespace's 5-character id after it in a namespace.
# Each starts where a word does, or right after an escape that ends in a letter or a digit: a
# program's JSON or C-escaped output (`"refused\nghp_…"`), a URL-encoded one (`token%3Dghp_…`),
# a YAML double-quoted value (`"--token\tghp_…"`). Each alternative opens with its prefix's
# letters, which the regex engine skips to (10 times as fast as looking behind everywhere).


def _after(prefix: str, word: str) -> str:
    """`prefix`, where no `word` character (or an escape, as above) comes right before it."""
    return rf"{prefix}(?:(?<!{word}{prefix})|(?<=\\[bfnrt]{prefix})|(?<=%[0-9A-Fa-f]{{2}}{prefix}))"


TOKEN_RE = re.compile(
    _after(r"gh[pousr]_", "[A-Za-z0-9]")
    + r"[A-Za-z0-9_.\-]{36,}(?<![.\-])|"
    + _after("github_pat_", "[A-Za-z0-9]")
    + r"[A-Za-z0-9_]{22,}|"
    + _after(r"hv[sbr]\.", r"[A-Za-z0-9_.\-]")
    + r"[A-Za-z0-9_\-]{24,}(?:\.[A-Za-z0-9]{5}(?![A-Za-z0-9_\-]))?|"
    + _after(r"s\.", r"[A-Za-z0-9_.\-/@]")
    + r"[A-Za-z0-9]{24}(?:\.[A-Za-z0-9]{5})?(?![A-Za-z0-9_\-])"
)
_TOKEN_PREFIX = re.compile(r"github_pat_|gh[pousr]_|hv[sbr]\.|s\.")
FRAGMENT = 8  # characters: a run this long of a known key's body is hidden wherever it appears
_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)  # one character for one


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


def scrub(text: str, known: Iterable[str] = ()) -> str:
    """Redact anything that looks like an ElectronHub key, a bearer token, or a GitHub or Vault
    token (`ghp_…ABCD`, `hvs.…wxyz`: `TOKEN_RE`), in free text; and
    of each `known` secret (a key this process holds), any run of FRAGMENT or more characters of
    its body (what follows `ek-proxy-`, or `ek-`), in any case: a key printed without its prefix
    (`proxy-a40a…`, `${v#ek-}` in a shell) or in part shows `…` in its place; so does any such
    run of its base64 or hex (`set -x` tracing `b=$(base64)`).

    `scrub(scrub(text)) == scrub(text)`: already redacted keys are left as they are.
    """
    for secret in known:
        for form in (secret, *encoded(secret)):  # printed as text, or base64 of it
            text = _fragments_hidden(text, form)
        text = _hex_dump_hidden(text, secret)
    text = TOKEN_RE.sub(_token_shown, text)  # first: a token's body may hold an `ek-`
    text = _SECRET_RE.sub(lambda m: redact(m.group(0)), text)
    return _BEARER_RE.sub(lambda m: f"{m.group(1)}…", text)  # after: a redaction can lengthen a value


def _token_shown(token: re.Match[str]) -> str:
    """A token as a key is shown: its prefix, `…`, its last four characters."""
    prefix = _TOKEN_PREFIX.match(token.group(0))
    return f"{prefix.group(0) if prefix else ''}…{token.group(0)[-4:]}"


def encoded(secret: str) -> tuple[str, ...]:
    """How a program may print a key it was given in base64, for `scrub`'s `known`: from each
    of the three offsets it may start at inside a longer encoded text (`echo "KEY=$v" | base64`),
    less the characters its neighbours share. (Its hex, spaced or not: `_hex_dump_hidden`.)"""
    raw = secret.encode()
    padded = (base64.b64encode(b"\0" * pad + raw).decode().rstrip("=") for pad in range(3))
    return tuple(text[-(-pad * 4 // 3) : -1] for pad, text in enumerate(padded))  # untouched by pad or tail


_HEX_RUN = re.compile(r"(?:[0-9A-Fa-f]{2}[ \t:]*){8,}")  # byte pairs, spaced as od, xxd, hexdump space them


def _hex_dump_hidden(text: str, secret: str) -> str:
    """Each run of hex byte pairs, however spaced (`od -tx1`, `xxd`, `hexdump -C`), that holds
    FRAGMENT or more bytes of the secret, as `…`."""
    raw = secret.encode().hex()
    pieces = {raw[i : i + 2 * FRAGMENT] for i in range(0, len(raw) - 2 * FRAGMENT + 1, 2)}

    def hidden(run: re.Match[str]) -> str:
        bare = re.sub(r"[ \t:]", "", run.group(0)).lower()
        spans = range(len(bare) - 2 * FRAGMENT + 1)
        return "… " if any(bare[i : i + 2 * FRAGMENT] in pieces for i in spans) else run.group(0)

    return _HEX_RUN.sub(hidden, text) if pieces else text


_SPELLING = 12  # characters of a key's spelling, separators dropped, that say the key is there
_NOT_SPELLING = re.compile(r"0x|\\x|[^0-9a-z]")  # separators, and the 0x / \x of a byte's hex


def spelled(text: str, secret: str) -> bool:
    """Whether `text` still spells a piece of the secret once separators are dropped: `od -c`
    (`e k - p r o x y`), a terminal's wrap, `xxd -i` (`0x65, 0x6b`), `od -x` (its bytes
    swapped in pairs), base32. A dump `scrub` cannot cut piece by piece: its caller shows none."""
    bare = _NOT_SPELLING.sub("", text.lower())
    raw = secret.encode()
    swapped = bytes(b for i in range(0, len(raw) - 1, 2) for b in (raw[i + 1], raw[i]))
    forms = (
        _NOT_SPELLING.sub("", secret.lower().removeprefix("ek-proxy-")),
        raw.hex(),
        swapped.hex(),
        base64.b32encode(raw).decode().lower().rstrip("="),
    )
    pieces = {f[i : i + _SPELLING] for f in forms for i in range(len(f) - _SPELLING + 1)}
    return any(bare[i : i + _SPELLING] in pieces for i in range(len(bare) - _SPELLING + 1))


def _fragments_hidden(text: str, secret: str) -> str:
    """`text` with each run of it made of the secret's body's FRAGMENT-character pieces as `…`
    (a body shorter than FRAGMENT: none; the whole secret is hidden by the caller)."""
    body = secret.removeprefix("ek-").removeprefix("proxy-").translate(_LOWER)
    pieces = {body[i : i + FRAGMENT] for i in range(len(body) - FRAGMENT + 1)}
    lowered, kept, end = text.translate(_LOWER), [], 0
    for start, stop in _runs(lowered, pieces):
        kept += [text[end:start], "…"]
        end = stop
    return "".join([*kept, text[end:]])


def _runs(text: str, pieces: set[str]) -> list[tuple[int, int]]:
    """Where `text` holds the pieces, overlapping or adjacent ones joined: (start, stop)."""
    runs: list[tuple[int, int]] = []
    for i in range(len(text) - FRAGMENT + 1) if pieces else ():
        if text[i : i + FRAGMENT] not in pieces:
            continue
        if runs and i <= runs[-1][1]:
            runs[-1] = (runs[-1][0], i + FRAGMENT)
        else:
            runs.append((i, i + FRAGMENT))
    return runs


def fingerprint(secret: str) -> str:
    """A stable, non-reversible identifier of a key, safe to commit. Of the bytes it was given:
    a variable's that are not UTF-8 too (the key is refused later, naming the variable)."""
    return "sha256:" + hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()[:24]


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


def no_core_dumps() -> None:
    """No core dump of this process, nor of the programs it starts (a command sink's, which
    inherit the limit): its memory holds keys, and a dump lands in the working folder (`core`,
    where the kernel's core_pattern says so), often the repository, for `git add -A`. The soft
    limit only: a program that wants its dumps may raise it again."""
    with contextlib.suppress(ValueError, OSError):
        hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
        resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
