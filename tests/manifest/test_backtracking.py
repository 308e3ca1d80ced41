"""A policy's name_pattern that Python's backtracking `re` could run for hours on a name it does
not match is refused when the manifest is read (validate, plan, apply, the PR job), at the
pattern's FILE:LINE, saying what to write instead; ordinary patterns stay accepted. Every
pattern here was judged alike on CPython 3.10 to 3.13 (each parses it with its own parser)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.manifest.backtracking import CHOICES, LONGEST
from reconciler.manifest.policy import pattern_problem

from ..conftest import MANIFESTS

ACCEPTED = [
    r"^team-[a-z0-9-]+$",
    r"^(prod|staging)-[a-z]+(-[0-9]+)?$",
    r"[a-z]{2,8}",
    r"[a-z]+-[a-z0-9-]+",  # docs/manifest.md's example
    r"^[a-z]+(-[a-z0-9]+)*$",  # each repetition begins with a character nothing else in it matches
    r"^([a-z0-9]+-)*[a-z0-9]+$",  # ... or ends with one
    r"^(?:[a-z]{2,5}-){1,3}[0-9]+$",
    r"\w+(\.\w+)*",
    r"^[A-Z][a-z]+( [A-Z][a-z]+)*$",
    r"(?i)^(-[a-z]+)*$",
    r"^(team|tools)-[a-z]+$",  # the parser takes the common start out: t(?:eam|ools)
    r"(foo|bar)+",  # alternatives that start apart
    r"(\w|_)+",  # one character of a set, whichever alternative
    r"(-?[a-z])+",
    r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$",
    r"^[a-z][a-z0-9-]*[a-z0-9]$",  # one place where the name splits more than one way
    r".*-prod-.*",
    r"^(?!test-).*$",
    r"^[a-z]+(-[a-z]+)?(-[a-z]+)?(-[a-z]+)?(-[0-9]+)?$",
    r"^(payments|billing|search|ml|platform|data)-(prod|staging|dev)-[a-z0-9]+(-[0-9]+)?$",
    "[a-z]*" * CHOICES + "[0-9]",  # as many such places as are accepted
    "x" * LONGEST,
]

# pattern -> what the message says (the part of the pattern, then what to write instead)
REFUSED = [
    (r"^(a+)+$", "nested repetition `(a+)+` can take exponential time on a name it does not match"),
    (r"^(a+)+$", "; write `a+`"),
    (r"(a*)*", "write `a*`"),
    (r"(a{1,3})+", "nested repetition `(a{1,3})+`"),
    (r"^((a+)+)+$", "repeat one of them only, or begin (or end) each repetition with a character"),
    (r"([a-z]+-?)+$", "nested repetition `([a-z]+-?)+`"),
    (r"(\w+_?)+", "nested repetition"),  # _ is a word character: it delimits nothing
    (r"(a?a?)*b", "nested repetition `(a?a?)*`"),
    (r"(.*)*", "write `.*`"),
    (r"((ab)*)+", "write `(ab)*`"),
    (r"([a-z]+){2}", "nested repetition `([a-z]+){2}`"),
    (r"(?=(a+)+b)", "nested repetition `(a+)+`"),  # a lookahead is judged on its own
    (r"(x|x)*y", "the alternatives `x|x` match the same text"),
    (r"(ab|cd|ab)", "the alternatives `ab|cd|ab` match the same text"),
    (r"(a|ab)+", "`a|ab` inside the repetition `(a|ab)+` can take exponential time"),
    (r"(a|aa)*b", "(one of them is the start of another); start each alternative with a different character"),
    (r"(a|b|ab)*c", "(two of them can start with the same character)"),
    (r"^(\d+|\w+)*$", "the alternatives `\\d+|\\w+` inside the repetition `(\\d+|\\w+)*`"),
    (r"(a)\1", "the back-reference `\\1` can take exponential time on a name it does not match"),
    (r"(?P<n>a)(?P=n)", "back-reference"),
    ("a*" * (CHOICES + 2) + "b", f"at most {CHOICES} are accepted"),
    (r"(-[a-z]*[a-z]*[a-z]*)*", "inside the repetition `(-[a-z]*[a-z]*[a-z]*)*`, the name can be split"),
    ("x" * (LONGEST + 1), f"{LONGEST + 1} characters long: at most {LONGEST}"),
    (
        "(" * 499 + ")" * 499,
        "its groups nest too deeply",
    ),  # re.compile recurses too deep: said, not a traceback
    ("(-" * 200 + ")*" * 200, "its groups nest too deeply"),  # too deep to judge: refused
]


@pytest.mark.parametrize("pattern", ACCEPTED)
def test_an_ordinary_pattern_is_accepted(pattern: str) -> None:
    assert pattern_problem(pattern) is None


@pytest.mark.parametrize(("pattern", "said"), REFUSED)
def test_a_pattern_that_can_backtrack_catastrophically_is_refused_saying_why(pattern: str, said: str) -> None:
    problem = pattern_problem(pattern)
    assert problem is not None and said in problem, problem


def test_a_long_part_of_the_pattern_is_shown_cut_short() -> None:
    problem = pattern_problem("(" + "-x" * 40 + "[a-z]+-?)+")
    assert problem is not None and "…` (cut short) can take exponential time" in problem, problem


def test_the_fixture_is_one_the_api_would_take(tmp_path: Path) -> None:
    """Its name is one a key can have (25 characters): the pattern is what makes it slow."""
    text = (MANIFESTS / "bad-policy-name-pattern-nested-repetition.yaml").read_text()
    assert "  - name: " + "a" * 24 + "!\n" in text
