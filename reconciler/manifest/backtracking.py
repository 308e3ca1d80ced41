"""A manifest's regular expression (a policy's `name_pattern`) refused when Python's `re`, which
backtracks, could take exponential time on a name it does not match: `^(a+)+$` against
`aaaaaaaaaaaaaaaaaaaaaaaa!` tries every way of splitting the a's between the two repetitions
(seconds for 25 characters, each one more doubling it), and `validate`, `plan` and the PR job
would hang on it. The rules read the parsed pattern (`regextree`), and refuse in doubt:

- a back-reference (`\\1`, `(?P=name)`): a name needs none;
- nested repetition: inside a repeated group (`*`, `+`, `{m,n}` with n of 2 or more) no part may
  repeat a varying number of times (`*`, `+`, `?`, `{m,n}`), unless each repetition of the group
  begins, or ends, with a character nothing else in it matches (`(-[a-z0-9]+)*`,
  `([a-z0-9]+-)*`): the name then splits between the repetitions one way only;
- alternatives inside a repeated group each start with a different character, and none matches
  nothing (`(a|ab)+` and `(x|x)*` are refused); anywhere, no two match nothing or read alike;
- choice points: where a part of varying length is followed by one that can start with a
  character it matches (`[a-z]*[a-z0-9]*`), or alternatives may start alike, the name can be
  split in several ways, and such places multiply: at most 6 in a pattern, 1 in a repeated group.

Lookarounds, atomic groups and possessive repeats are judged each on its own: the engine never
backtracks into one. The rules are a sufficient test, not a full ambiguity analysis of the
automaton: they refuse some patterns that run fast (`(a|ab)+`, `([a-z]+){2}`), and what they
accept backtracks over at most 6 choice points on a name of at most 25 characters (`check_key`
matches no longer one): `a*a*a*a*a*a*a*b` on 25 a's, ~15 ms.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from reconciler.manifest.regextree import (
    LEAVES,
    MAXREPEAT,
    REPEATS,
    Item,
    children,
    items,
    leaves,
    op,
    overlap,
    parse,
    show,
    show_item,
    varies,
    walk,
)

LONGEST = 1000  # characters of a pattern: a name has at most 25, and judging one stays quick
CHOICES = 6  # places a name can be split more than one way, in one pattern
LOOP_CHOICES = 1  # of them inside one repeated group: they multiply with each repetition
_SHOWN = 60  # characters of a part of the pattern a message shows
_AHEAD = 30  # optional parts looked past for a choice point (more: one is assumed)
_ALONE = ("ASSERT", "ASSERT_NOT", "ATOMIC_GROUP", "POSSESSIVE_REPEAT")  # never backtracked into
_FIXED = (*_ALONE, "AT")
_SLOW = "can take exponential time on a name it does not match"
_ONE_WAY = (
    "repeat one of them only, or begin (or end) each repetition with a character nothing else in it "
    "matches, as `(-[a-z0-9]+)*` does"
)


class _Refusal(ValueError):
    """Why a pattern is refused: the message, with what to write instead."""


@dataclass(frozen=True)
class _Within:
    loop: Item | None = None  # the repeated group around
    mixed: Item | None = None  # the repeated group around whose repetitions may share text


def refusal(pattern: str) -> str | None:
    """Why `pattern` can backtrack catastrophically, or None (also when it is no regular
    expression: `re.compile` says that)."""
    if len(pattern) > LONGEST:
        return (
            f"{len(pattern)} characters long: at most {LONGEST} (a key's name is at most 25); "
            "list fewer alternatives, or leave out what every name has"
        )
    try:
        parsed = parse(pattern)
    except (re.error, RecursionError, OverflowError, ValueError):
        return None
    try:
        judge = _Judge(parsed.state, items(parsed))
        judge.sequence(items(parsed), _Within())
        judge.count()
    except _Refusal as exc:
        return str(exc)
    except RecursionError:
        return "its groups nest too deeply to tell how long it takes: nest fewer of them"
    return None


class _Judge:
    def __init__(self, state: Any, sequence: list[Item]) -> None:
        self.state = state
        groups = (item[1][1] for item in walk(sequence) if op(item) == "SUBPATTERN")
        self.caseless = any(flags & re.IGNORECASE for flags in (state.flags, *groups))
        self.choices: list[tuple[str, Item | None]] = []  # each choice point, and its group

    def sequence(self, sequence: list[Item], within: _Within) -> None:
        self._handovers(sequence, within)
        for item in sequence:
            name = op(item)
            if name == "GROUPREF":
                raise _Refusal(
                    f"the back-reference {_code(show_item(item))} {_SLOW}, and a key's name needs none: "
                    "write out the text it repeats"
                )
            if name in _ALONE:
                for inside in children(item):
                    self.sequence(inside, _Within())
            elif name in REPEATS:
                self._repeat(item, within)
            elif name == "BRANCH":
                self._branch(item, sequence, within)
            else:
                for inside in children(item):
                    self.sequence(inside, within)

    def count(self) -> None:
        """Refuse too many choice points, in the pattern or in one repeated group."""
        per_loop = Counter(id(loop) for _, loop in self.choices if loop is not None)
        for loop_id, found in per_loop.items():
            if found > LOOP_CHOICES:
                places = [(shown, loop) for shown, loop in self.choices if id(loop) == loop_id]
                (first, loop), (second, _) = places[:2]
                assert loop is not None
                raise _Refusal(
                    f"inside the repetition {_code(show_item(loop))}, the name can be split more than one "
                    f"way at {first} and at {second}: that multiplies with each repetition and {_SLOW}; "
                    "keep neighbouring parts from matching the same characters "
                    "(`[a-z]+[0-9]*`, not `[a-z]+[a-z0-9]*`)"
                )
        if len(self.choices) > CHOICES:
            listed = ", ".join(shown for shown, _ in self.choices[:3])
            raise _Refusal(
                f"{len(self.choices)} places where the name can be split more than one way ({listed}, "
                f"...) take time that grows as the name's length to their number, on a name it does "
                f"not match; at most {CHOICES} are accepted: keep neighbouring parts from matching "
                "the same characters (`[a-z]+[0-9]*`, not `[a-z]+[a-z0-9]*`)"
            )

    def _repeat(self, item: Item, within: _Within) -> None:
        low, high, body = item[1]
        if within.mixed is not None and low != high:
            raise _Refusal(_nested(within.mixed, item))
        inside = items(body)
        if high < 2:
            self.sequence(inside, within)
            return
        mixed = None if self._delimited(inside) else item
        self.sequence(inside, _Within(item, mixed))

    def _delimited(self, body: list[Item]) -> bool:
        """Whether each repetition of `body` begins, or ends, with a character nothing else in
        it matches: then the text splits between the repetitions one way only."""
        for index in (0, -1):
            edge = _edge(body, index)
            if edge is None:
                continue
            others = [leaf for leaf in leaves(body) if leaf is not edge]
            if not any(overlap(edge, other, self.caseless) for other in others):
                return True
        return False

    def _branch(self, item: Item, sequence: list[Item], within: _Within) -> None:
        alternatives = [items(alt) for alt in item[1][1]]
        shown = show(sequence) if sequence[-1] is item else show_item(item)
        starts = [self._firsts(alt) for alt in alternatives]
        empty = sum(1 for _, nullable in starts if nullable)
        texts = [show(alt) for alt in alternatives]
        if empty > 1 or len(set(texts)) < len(texts):
            raise _Refusal(
                f"the alternatives {_code(shown)} match the same text: each such choice doubles the time "
                "taken on a name the pattern does not match; write that alternative once"
            )
        clash = self._clash(starts)
        if within.loop is not None and (empty or clash):
            raise _Refusal(_in_loop(shown, within.loop, bool(empty), prefixed=len(sequence) > 1))
        if clash:
            self.choices.append((_code(shown), within.loop))
        for alternative in alternatives:
            self.sequence(alternative, within)

    def _clash(self, starts: list[tuple[list[Item] | None, bool]]) -> bool:
        """Whether two alternatives may start with the same character (or one is not told)."""
        for index, (first, _) in enumerate(starts):
            for other, _ in starts[index + 1 :]:
                if first is None or other is None:
                    return True
                if any(overlap(one, two, self.caseless) for one in first for two in other):
                    return True
        return False

    def _handovers(self, sequence: list[Item], within: _Within) -> None:
        """Each place in `sequence` where a part of varying length is followed by one that can
        start with a character it matches: a choice point."""
        for index, item in enumerate(sequence):
            if op(item) in _FIXED or not varies(self.state, item):
                continue
            mine = leaves([item])
            for ahead, after in enumerate(sequence[index + 1 :]):
                starts, nullable = self._first(after) if ahead < _AHEAD else (None, False)
                if starts is None or any(overlap(one, two, self.caseless) for one in mine for two in starts):
                    shown = f"{_code(show_item(item))} then {_code(show_item(after))}"
                    self.choices.append((shown, within.loop))
                    break
                if not nullable:
                    break

    def _firsts(self, sequence: list[Item]) -> tuple[list[Item] | None, bool]:
        """The items that may match a text's first character, None when not told; and whether
        `sequence` can match nothing."""
        found: list[Item] = []
        for item in sequence:
            starts, nullable = self._first(item)
            if starts is None:
                return None, False
            found += starts
            if not nullable:
                return found, False
        return found, True

    def _first(self, item: Item) -> tuple[list[Item] | None, bool]:
        name = op(item)
        if name in LEAVES:
            return [item], False
        if name in ("AT", "ASSERT", "ASSERT_NOT"):
            return [], True
        if name in REPEATS:
            starts, nullable = self._firsts(items(item[1][2]))
            return starts, nullable or item[1][0] == 0
        if name not in ("SUBPATTERN", "ATOMIC_GROUP", "BRANCH", "GROUPREF_EXISTS"):
            return None, False
        parts = [self._firsts(inside) for inside in children(item)]
        if any(starts is None for starts, _ in parts):
            return None, False
        return [leaf for starts, _ in parts for leaf in starts or ()], any(n for _, n in parts)


def _edge(body: list[Item], index: int) -> Item | None:
    """The one-character item that begins (0) or ends (-1) `body`, through groups; else None."""
    while body:
        item = body[index]
        if op(item) in LEAVES:
            return item
        if op(item) != "SUBPATTERN":
            return None
        body = items(item[1][-1])
    return None


def _nested(outer: Item, inner: Item) -> str:
    """The message for a repetition inside a repetition, with the one it means when there is one."""
    low, high, body = outer[1]
    inside = items(body)
    if len(inside) == 1 and op(inside[0]) == "SUBPATTERN":
        inside = items(inside[0][1][-1])
    shown = (
        f"nested repetition {_code(show_item(outer))} {_SLOW} (the name can be split between the "
        "repetitions in too many ways)"
    )
    if len(inside) == 1 and inside[0] is inner and high >= MAXREPEAT and op(outer) == op(inner):
        inner_low, inner_high, inner_body = inner[1]
        if inner_high >= MAXREPEAT or inner_low <= 1:
            single = show_item((inner[0], (low * inner_low, MAXREPEAT, inner_body)))
            if len(single) <= _SHOWN and refusal(single) is None:  # (a+)+, not ((a+)+)+
                return f"{shown}; write `{single}`"
    return f"{shown}; {_ONE_WAY}"


def _code(text: str) -> str:
    """A part of the pattern as a message shows it: in backticks, a long one cut short."""
    return f"`{text}`" if len(text) <= _SHOWN else f"`{text[: _SHOWN - 1]}…` (cut short)"


def _in_loop(shown: str, loop: Item, empty: bool, prefixed: bool) -> str:
    """The message for alternatives in a repeated group that may start alike (or match nothing)."""
    why = "two of them can start with the same character"
    if empty:  # after their common start, which the parser takes out (`a|ab` is `a(?:|b)`)
        why = "one of them is the start of another" if prefixed else "one of them matches nothing"
    return (
        f"the alternatives {_code(shown)} inside the repetition {_code(show_item(loop))} {_SLOW} "
        f"({why}); start each alternative with a different character, and write an optional part "
        "with `?`: `(ab?)+`, not `(a|ab)+`"
    )
