"""A policy's name_pattern runs on RE2: ordinary patterns judge names as Python's `re` did, the
ones `re` ran for hours on a name they do not match are judged at once, and RE2's refusals
(what needs backtracking, what is too big) are said with RE2's reason, never a traceback."""

from __future__ import annotations

import re
from typing import Any

import pytest

from reconciler.manifest.namepattern import LONGEST, matches, refusal

NAMES = [
    "team-a",
    "team-",
    "team-payments-2",
    "Team-a",
    "prod-api",
    "staging-api-7",
    "prod-api-",
    "dev-api",
    "ab",
    "abcdefgh",
    "abcdefghi",
    "a",
    "payments-prod-api",
    "x-1",
    "ops_batch",
    "",
]

ORDINARY = [
    r"^team-[a-z0-9-]+$",
    r"^(prod|staging)-[a-z]+(-[0-9]+)?$",
    r"[a-z]{2,8}",
    r"[a-z]+-[a-z0-9-]+",  # docs/manifest.md's example
    r"^[a-z]+(-[a-z0-9]+)*$",
    r"^([a-z0-9]+-)*[a-z0-9]+$",
    r"(?i)^team-.+",
    r"\w+",
    r".*-prod-.*|.*-api",
    r"[^A-Z]{1,20}",
]


@pytest.mark.parametrize("pattern", ORDINARY)
def test_an_ordinary_pattern_judges_names_as_pythons_re_did(pattern: str) -> None:
    assert refusal(pattern) is None
    verdicts = {name: matches(pattern, name) for name in NAMES}
    assert verdicts == {name: re.fullmatch(pattern, name) is not None for name in NAMES}


# patterns Python's re runs for minutes to hours on a name they do not match -> (a name, its verdict)
ADVERSARIAL = "a" * 30 + "!"
CATASTROPHIC = [
    (r"^((a+)+)+$", "a" * 24 + "!", False),  # the fixture's: hours, on a name a key can have
    (r"^((a+)+)+$", "a" * 25, True),
    (r"^((a+)+)+$", "a" * 4999 + "!", False),  # a live name, copied by a rotation alone, has no bound
    (r"(a*)*b", ADVERSARIAL, False),
    (r"([a-z]+-?)+$", ADVERSARIAL, False),
    (r"(\w+_?)+", ADVERSARIAL, False),
    (r"(a|a)*y", ADVERSARIAL, False),
    (r"[a-z]*" * 12 + "[0-9]", ADVERSARIAL, False),
    (r"[a-z]*" * 12 + "[0-9]", "a" * 30 + "0", True),
    (r"^(a|aa)*b$", "a" * 5000, False),
    ("(" * 499 + ")" * 499, "", True),  # re.compile's RecursionError: an internal error once
]


@pytest.mark.timeout(20)  # RE2 takes microseconds; Python's re minutes or hours on each (but the true ones)
@pytest.mark.parametrize(("pattern", "name", "verdict"), CATASTROPHIC)
def test_a_pattern_that_backtracks_in_pythons_re_is_judged_at_once(
    pattern: str, name: str, verdict: bool
) -> None:
    assert refusal(pattern) is None
    assert matches(pattern, name) is verdict


# pattern -> what RE2 says (after "RE2 refuses it: ")
REFUSED = [
    (r"^(team|tools)-\1$", "invalid escape sequence: \\1"),  # back-reference
    (r"(?P<n>a)(?P=n)", "invalid perl operator: (?P"),  # a named back-reference
    (r"^(?!test-).*$", "invalid perl operator: (?!"),  # lookahead
    (r"(?<=team-)[a-z]+", "invalid perl operator: (?<"),  # lookbehind
    (r"(?>a+)b", "invalid perl operator: (?>"),  # atomic group
    (r"a++b", "bad repetition operator: ++"),  # possessive repeat
    (r"\pL{1000}", "pattern too large - compile failed"),  # over RE2's max_mem
    (r"((a{100}){100})", "invalid repetition size: {100}"),  # over 1,000 repetitions
    (r"team-\Z", "invalid escape sequence: \\Z"),  # Python's \Z is RE2's \z
    (r"team-[", "missing ]: ["),
    (r"(team", "missing ): (team"),
]


@pytest.mark.parametrize(("pattern", "said"), REFUSED)
def test_a_pattern_re2_refuses_is_said_with_its_reason(pattern: str, said: str) -> None:
    problem = refusal(pattern)
    assert problem is not None and problem.startswith(f"RE2 refuses it: {said}"), problem
    assert "(name_pattern uses RE2 syntax: no back-references, lookarounds," in problem


def test_a_pattern_too_long_to_compile_quickly_is_refused_by_its_length() -> None:
    """RE2's compile time grows faster than a pattern's nesting: 100,000 nested groups ~20 s."""
    nested = "(a" * (LONGEST // 3) + ")" * (LONGEST // 3)
    assert refusal(nested) is None and matches(nested, "a" * (LONGEST // 3))
    deep = "(a" * 50_000 + ")" * 50_000
    assert (
        refusal(deep)
        == f"{len(deep)} characters long: at most {LONGEST}, so that RE2 compiles it in milliseconds"
    )


def test_re2_writes_nothing_of_a_refusal_to_stderr(capfd: Any) -> None:
    """RE2 logs each error to the process's stderr unless told not to: a second message, in C++'s words."""
    assert refusal(r"(?=stderr-is-quiet)") is not None  # a pattern no other test compiles (they are cached)
    assert capfd.readouterr().err == ""


def test_a_name_utf8_cannot_encode_is_judged_not_an_internal_error() -> None:
    """A lone surrogate, a `\\ud800` in the API's JSON."""
    assert matches(r"[a-z]+", "team\ud800") is False
    assert matches(r"team.", "team\ud800") is True
