"""What GitHub makes of a comment's text beyond Markdown, made inert in text from the account or
an API (a key's name, an error message) once `view.escape` has escaped its Markdown.

GitHub reads the rendered text, character references decoded (`&#35;1` and `\\#1` are `#1` to
it), for mentions (`@team`), references (`#12`, `GH-12`, `owner/repo#12`, `user@sha`,
`owner/repo@sha`, a commit's SHA) and emoji shortcodes (`:white_check_mark:`). A reference
links, and shows on the issue it names as "mentioned this": a hand-made key named `fix #1`
would mark issue 1 at every drift run; a shortcode could fake a ✓. An empty HTML comment inside
one (as LLVM's bot writes it) splits the text GitHub reads in two, neither of which is one; the
page shows, and a copy takes, the text as written (a zero-width space would come along in a
copied name, and a manifest key of that name adopts no live key).

Left as written: a URL GitHub links (its target shows, and GitHub reads no reference inside a
link; an @ in one is split all the same), and a short SHA (7 to 39 hex digits: a link to a
commit of this repository, only when one has that prefix; also a number, or a word: `defaced`).
"""

from __future__ import annotations

import re

SPLIT = "<!-- -->"
_AT = r"(?<![A-Za-z0-9_])@(?=\w)"  # @name, @org/team: after anything but an ASCII letter, digit, _
_REFERENCES = (
    r"(?<!&)#(?=[0-9])"  # #12, owner/repo#12, user#12 (`&#42;` is the escape's own reference)
    r"|(?<=[Gg][Hh])-(?=[0-9])"  # GH-12
    rf"|{_AT}"
    r"|@(?=[0-9A-Fa-f]{7,40}(?![0-9A-Za-z_]))"  # user@sha, owner/repo@sha
    r"|(?<![0-9A-Za-z_])[0-9A-Fa-f](?=[0-9A-Fa-f]{39}(?![0-9A-Za-z_]))"  # a full SHA, after its first
)
_REFERENCE = re.compile(_REFERENCES)
_GH = re.compile(r"[Gg][Hh]-[0-9]")
_MENTION = re.compile(_AT)
# ehkeys' own `PR #12`: its messages open with one, or name the one a plan was `made for PR #9`;
# elsewhere it is a name's or an API's (a key named `PR #7 preview` in a refusal), and split.
_BUT_PULLS = re.compile(_REFERENCES.replace("(?<!&)#", "(?<!&)(?<!^PR )(?<!made for PR )#", 1))
# A URL GitHub links (after a space or `(`, a domain with a dot), to a `<` or a space: a little
# less than GitHub links, so that no reference after one is left whole.
_URL = re.compile(r"((?<![^\s(])(?:https?://|ftp://|www\.)[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)+(?:(?!&lt;)\S)*)")
# gemoji's names: all lower case. One at the end of the text too: ehkeys writes a `:` after a
# name (`<summary>ok :white_check_mark: create`), which would close it.
_SHORTCODE = re.compile(r":(?=([0-9a-z_+-]+)(?::|$))")
# A number (`keys.yaml:4:5:`, `08:00:00`) and a group of an IPv6 address (`2001:db8::`) stay as
# written, unless they spell one of the emoji whose name is 1 to 4 hex digits (gemoji's, all).
_HEX_EMOJI = frozenset({"100", "1234", "a", "ab", "abc", "abcd", "b", "bed", "bee", "cd", "de"})
_GROUP = re.compile(r"[0-9A-Fa-f]{1,4}")


def inert(text: str, ours: bool = False) -> str:
    """The text, with an empty HTML comment in each reference, mention and emoji shortcode.
    `ours`: a message of ehkeys' own (a job's refusal), whose `PR #12` stays a reference."""
    if "#" in text or "@" in text or len(text) >= 40 or ("-" in text and _GH.search(text)):
        text = _refs(text, _BUT_PULLS if ours else _REFERENCE)  # most have none: the slower test
    return _SHORTCODE.sub(_shortcode, text) if ":" in text else text


def _refs(text: str, found: re.Pattern[str]) -> str:
    if "://" not in text and "www." not in text:
        return found.sub(rf"\g<0>{SPLIT}", text)
    parts = _URL.split(text)  # every other one a URL: whole, but for a mention (a page is worse)
    return "".join((_MENTION if i % 2 else found).sub(rf"\g<0>{SPLIT}", part) for i, part in enumerate(parts))


def _shortcode(colon: re.Match[str]) -> str:
    name, text, at = colon[1], colon.string, colon.start()
    grouped = at > 0 and text[at - 1] in "0123456789abcdefABCDEF:" and _GROUP.fullmatch(name)
    if (name.isdigit() or grouped) and name.lower() not in _HEX_EMOJI:
        return ":"
    return f":{SPLIT}"
