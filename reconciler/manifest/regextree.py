"""A regular expression's parse tree, as Python's `re` parses it, read for `backtracking`: its
items by opcode name, the characters one may match, and an item shown as a pattern again.

The parser is `re._parser` from Python 3.11 (`sre_parse` before, deprecated since). Its tree
is `re`'s own, so the judge reads what the engine runs: `(x|x)` is already `x(?:|)` there, and
`(?:a|b)` a set. Opcodes are read by name, which every version from 3.10 spells alike.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from typing import Any

if sys.version_info >= (3, 11):
    from re import _parser as parser
else:
    import sre_parse as parser

Item = tuple[Any, Any]  # (opcode, argument), as the parser gives them

LEAVES = frozenset({"LITERAL", "NOT_LITERAL", "IN", "ANY"})  # an item that matches one character
REPEATS = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})
_CATEGORIES = {
    "CATEGORY_DIGIT": r"\d",
    "CATEGORY_NOT_DIGIT": r"\D",
    "CATEGORY_SPACE": r"\s",
    "CATEGORY_NOT_SPACE": r"\S",
    "CATEGORY_WORD": r"\w",
    "CATEGORY_NOT_WORD": r"\W",
}
_ANCHORS = {
    "AT_BEGINNING": "^",
    "AT_BEGINNING_STRING": r"\A",
    "AT_END": "$",
    "AT_END_STRING": r"\Z",
    "AT_BOUNDARY": r"\b",
    "AT_NON_BOUNDARY": r"\B",
}
_OUTSIDE = ".^$*+?{}[]\\|()"  # what a literal escapes, outside a set and in one
_INSIDE = "\\]^-["
_LARGEST_SET = 512  # characters of a set listed one by one to compare it with another


def parse(pattern: str) -> Any:
    """The parsed pattern (`.data` its items, `.state.flags` its flags); re.error when it is none."""
    return parser.parse(pattern)


MAXREPEAT: int = parser.MAXREPEAT  # a repeat's maximum when it has none


def varies(state: Any, item: Item) -> bool:
    """Whether `item` can match texts of different lengths."""
    low, high = parser.SubPattern(state, [item]).getwidth()
    return bool(low != high)


def op(item: Item) -> str:
    return str(item[0])


def items(sub: Any) -> list[Item]:
    """A subpattern's items (the parser's SubPattern, or None: nothing)."""
    return [] if sub is None else list(sub)


def children(item: Item) -> Iterator[list[Item]]:
    """The sequences directly inside `item`: a group's, a repeat's body, each alternative."""
    name, arg = item
    name = str(name)
    if name in REPEATS:
        yield items(arg[2])
    elif name == "SUBPATTERN":
        yield items(arg[-1])
    elif name in ("ASSERT", "ASSERT_NOT"):
        yield items(arg[1])
    elif name == "ATOMIC_GROUP":
        yield items(arg)
    elif name == "BRANCH":
        yield from (items(alt) for alt in arg[1])
    elif name == "GROUPREF_EXISTS":
        yield from (items(arg[1]), items(arg[2]))


def walk(sequence: Iterable[Item]) -> Iterator[Item]:
    """Every item in `sequence`, at any depth."""
    for item in sequence:
        yield item
        for inside in children(item):
            yield from walk(inside)


def leaves(sequence: Iterable[Item]) -> list[Item]:
    """Every item that matches a character, at any depth."""
    return [item for item in walk(sequence) if op(item) in LEAVES]


def overlap(one: Item, two: Item, caseless: bool) -> bool:
    """Whether two one-character items may match the same character (True when not told:
    a set of categories against another, say)."""
    for this, other in ((one, two), (two, one)):
        listed = _listed(this)
        if listed is not None:
            return any(_matches(other, c) for c in _cases(listed, caseless))
    return True


def _listed(leaf: Item) -> set[str] | None:
    """The characters a literal or a small set of literals and ranges matches, else None."""
    name, arg = op(leaf), leaf[1]
    if name == "LITERAL":
        return {chr(arg)}
    if name != "IN" or any(op(part) not in ("LITERAL", "RANGE") for part in arg):
        return None
    found: set[str] = set()
    for part in arg:
        low, high = (part[1], part[1]) if op(part) == "LITERAL" else part[1]
        if high - low + len(found) > _LARGEST_SET:
            return None
        found.update(chr(code) for code in range(low, high + 1))
    return found


def _cases(chars: set[str], caseless: bool) -> set[str]:
    if not caseless:
        return chars
    variants = (v for c in chars for v in (c, c.lower(), c.upper(), c.swapcase(), c.casefold()))
    return {v for v in variants if len(v) == 1}


def _matches(leaf: Item, char: str) -> bool:
    """Whether a one-character item may match `char` (True when not told)."""
    name, arg = op(leaf), leaf[1]
    if name == "LITERAL":
        return chr(arg) == char
    if name == "NOT_LITERAL":
        return chr(arg) != char
    if name != "IN":
        return True  # ANY, or what is not known here
    negated = bool(arg) and op(arg[0]) == "NEGATE"
    told = [_in_part(part, char) for part in (arg[1:] if negated else arg)]
    if None in told:
        return True
    return any(told) != negated


def _in_part(part: Item, char: str) -> bool | None:
    name, arg = op(part), part[1]
    if name == "LITERAL":
        return chr(arg) == char
    if name == "RANGE":
        return bool(arg[0] <= ord(char) <= arg[1])
    escape = _CATEGORIES.get(str(arg)) if name == "CATEGORY" else None
    return None if escape is None else re.fullmatch(escape, char) is not None


# --- shown as a pattern again, for messages ---------------------------------------------------


def show(sequence: list[Item]) -> str:
    """The items as a pattern. A common start the parser took out of alternatives goes back
    in (`x(?:|)` is shown `x|x`, as written), so a group reads as its source mostly does."""
    if len(sequence) == 1:
        return show_item(sequence[0])
    if sequence and op(sequence[-1]) == "BRANCH":
        start = "".join(map(show_item, sequence[:-1]))
        return "|".join(start + show(items(alt)) for alt in sequence[-1][1][1])
    return "".join(_atom([item]) if op(item) == "BRANCH" else show_item(item) for item in sequence)


def show_item(item: Item) -> str:
    name, arg = op(item), item[1]
    if name in REPEATS:
        lazy = {"MIN_REPEAT": "?", "POSSESSIVE_REPEAT": "+"}.get(name, "")
        return _atom(items(arg[2])) + quantifier(arg[0], arg[1]) + lazy
    if name == "SUBPATTERN":
        return "(" + ("?:" if arg[0] is None else "") + show(items(arg[-1])) + ")"
    if name in ("ASSERT", "ASSERT_NOT"):
        kind = ("=" if name == "ASSERT" else "!") if arg[0] >= 0 else ("<=" if name == "ASSERT" else "<!")
        return f"(?{kind}{show(items(arg[1]))})"
    if name == "ATOMIC_GROUP":
        return f"(?>{show(items(arg))})"
    if name == "BRANCH":
        return "|".join(show(items(alt)) for alt in arg[1])
    if name == "GROUPREF":
        return f"\\{arg}"
    if name == "GROUPREF_EXISTS":
        return f"(?({arg[0]}){show(items(arg[1]))}" + (f"|{show(items(arg[2]))}" if arg[2] else "") + ")"
    return _leaf(name, arg)


def quantifier(low: int, high: int) -> str:
    if high >= MAXREPEAT:
        return {0: "*", 1: "+"}.get(low, f"{{{low},}}")
    if (low, high) == (0, 1):
        return "?"
    return f"{{{low}}}" if low == high else f"{{{low},{high}}}"


def _atom(body: list[Item]) -> str:
    """`body` as what a quantifier may follow: one character or group as it is, else in `(?:)`."""
    text = show(body)
    if len(body) == 1 and (op(body[0]) in LEAVES or op(body[0]) == "SUBPATTERN"):
        return text
    return f"(?:{text})"


def _leaf(name: str, arg: Any) -> str:
    if name == "LITERAL":
        return _char(arg, _OUTSIDE)
    if name == "NOT_LITERAL":
        return "[^" + _char(arg, _INSIDE) + "]"
    if name == "ANY":
        return "."
    if name == "AT":
        return _ANCHORS.get(str(arg), "")
    if name == "IN":
        return _set(arg)
    return "?"


def _set(parts: list[Item]) -> str:
    shown = []
    for part in parts:
        name, arg = op(part), part[1]
        if name == "NEGATE":
            shown.append("^")
        elif name == "LITERAL":
            shown.append(_char(arg, _INSIDE))
        elif name == "RANGE":
            shown.append(_char(arg[0], _INSIDE) + "-" + _char(arg[1], _INSIDE))
        else:
            shown.append(_CATEGORIES.get(str(arg), "?"))
    if len(parts) == 1 and op(parts[0]) == "CATEGORY":
        return shown[0]
    return "[" + "".join(shown) + "]"


def _char(code: int, special: str) -> str:
    char = chr(code)
    if char in special:
        return "\\" + char
    if (char.isprintable() and not char.isspace()) or char == " ":
        return char
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
