"""The manifest schema's rules as plain tests that say when a value is certainly valid.

jsonschema stays the validator and the author of every message: these tests only let a valid
manifest (the usual case) be known valid without importing it, which costs ~60 ms of every
command's start (more than any other import but httpx). A rule compiles to a test only when
each of its keywords is one listed here, written as jsonschema's Draft 2020-12 code judges it;
any other keyword compiles to None, and that rule is left to jsonschema. A test may also say
"not valid" where jsonschema would not (a value of no JSON type, a NaN): the document then
goes through jsonschema, which decides. tests/manifest/test_schema_rules.py holds every rule
of the shipped schema to jsonschema's verdicts.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Sized
from typing import Any

Test = Callable[[Any], bool]
Maker = Callable[[Any, dict[str, Any]], "Test | None"]
"""A keyword's test from its value and the rule around it (additionalProperties reads properties)."""

ANNOTATIONS = frozenset({"description", "title", "$schema", "$id", "$comment", "default", "examples"})
_STRING_KEYWORDS = ANNOTATIONS | {"type", "minLength", "maxLength", "pattern"}


def compile_rule(rule: Any) -> Test | None:
    """A test of the value against `rule`, or None when the rule uses a keyword not written here."""
    if isinstance(rule, bool):
        return _always if rule else _never
    if plain_string(rule):
        return _string(rule)
    if not isinstance(rule, dict) or "patternProperties" in rule or "prefixItems" in rule:
        return None
    tests: list[Test] = []
    for keyword, value in rule.items():
        if keyword in ANNOTATIONS:
            continue
        make = _KEYWORDS.get(keyword)
        test = make(value, rule) if make is not None else None
        if test is None:
            return None
        tests.append(test)
    return tests[0] if len(tests) == 1 else lambda value: all(test(value) for test in tests)


def plain_string(rule: Any) -> bool:
    """A rule of a string's type, lengths and pattern only: a name, an id, a proxy key."""
    return isinstance(rule, dict) and rule.get("type") == "string" and rule.keys() <= _STRING_KEYWORDS


def ecma(pattern: str) -> re.Pattern[str]:
    """A schema's `pattern` as JSON Schema means it (ECMA-262): a `$` ending it is the end of the
    text, as Python's `\\Z` is; Python's `$` also matches before a final newline, so that
    `'prod\\n'` passed for an account name (a folder named with a newline)."""
    body = pattern[:-1]
    escaped = (len(body) - len(body.rstrip("\\"))) % 2 == 1  # `\\$`: a dollar sign, not the end
    if pattern.endswith("$") and not escaped:
        pattern = body + r"\Z"
    return re.compile(pattern)


def _string(rule: dict[str, Any]) -> Test | None:
    """A plain string rule as one test, not four: it runs on each key's name, id and proxy key."""
    shortest, longest = rule.get("minLength", 0), rule.get("maxLength", float("inf"))
    search = ecma(rule.get("pattern", "")).search
    return lambda value: (
        isinstance(value, str) and shortest <= len(value) <= longest and search(value) is not None
    )


def _always(value: Any) -> bool:
    return True


def _never(value: Any) -> bool:
    return False


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Number)


def _is_integer(value: Any) -> bool:
    if isinstance(value, float):
        return value.is_integer()
    return not isinstance(value, bool) and isinstance(value, int)


_TYPES: dict[str, Test] = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
    "number": _is_number,
    "integer": _is_integer,
}


def _type(names: Any, rule: dict[str, Any]) -> Test | None:
    names = [names] if isinstance(names, str) else names
    if not isinstance(names, list) or not all(name in _TYPES for name in names):
        return None
    tests = [_TYPES[name] for name in names]
    return tests[0] if len(tests) == 1 else lambda value: any(test(value) for test in tests)


def _enum(options: Any, rule: dict[str, Any]) -> Test | None:
    """One of the options, by JSON Schema's equality (`_as_key`: 1 and 1.0 alike, 1 and True not)."""
    try:
        keys = [_as_key(option) for option in options] if isinstance(options, list) else None
    except TypeError:
        return None
    return None if keys is None else lambda value: _as_key(value) in keys


def _const(expected: Any, rule: dict[str, Any]) -> Test | None:
    try:
        key = _as_key(expected)
    except TypeError:
        return None
    return lambda value: _as_key(value) == key


def _bound(compare: Callable[[Any, Any], bool]) -> Maker:
    """minimum and the like: a number's bound; any other value passes, as in jsonschema."""

    def make(limit: Any, rule: dict[str, Any]) -> Test | None:
        if not _is_number(limit):
            return None
        return lambda value: not _is_number(value) or compare(value, limit)

    return make


def _size(kind: type[Sized], compare: Callable[[int, int], bool]) -> Maker:
    """minLength, maxItems and the like: the length of a value of that kind (code points for text)."""

    def make(limit: Any, rule: dict[str, Any]) -> Test | None:
        if not _is_integer(limit):
            return None
        return lambda value: not isinstance(value, kind) or compare(len(value), limit)

    return make


def _pattern(text: Any, rule: dict[str, Any]) -> Test | None:
    try:
        search = ecma(text).search
    except (re.error, TypeError, AttributeError):
        return None
    return lambda value: not isinstance(value, str) or search(value) is not None


def _items(items: Any, rule: dict[str, Any]) -> Test | None:
    test = compile_rule(items)
    if test is None:
        return None
    return lambda value: not isinstance(value, list) or all(map(test, value))


def _unique(on: Any, rule: dict[str, Any]) -> Test:
    return lambda value: not on or not isinstance(value, list) or _no_two_equal(value)


def _no_two_equal(values: list[Any]) -> bool:
    """No two of the values equal (`_as_key`), told by a key each (set-wise, not two by two: 20,000 numbers
    in a manifest's policy.require took minutes)."""
    return len({_as_key(value) for value in values}) == len(values)


def _as_key(value: Any) -> Any:
    """JSON Schema's equality, as jsonschema's `_utils.equal` draws it: a key equal for two values
    exactly when they are equal (a number, 1, 1.0 or Decimal 1, apart from a bool; a list item
    by item, a mapping entry by entry). A value of no JSON type (a tuple, a date) raises
    TypeError: jsonschema decides on it; so does an unhashable number (a signalling NaN) in a set."""
    if isinstance(value, (bool, str)):
        return (bool if isinstance(value, bool) else str, value)
    if value is None:
        return (None,)
    if _is_number(value):
        return (numbers.Number, value)  # int, float and Decimal hash alike when equal
    if isinstance(value, list):
        return (list, tuple(map(_as_key, value)))
    if isinstance(value, dict):
        return (dict, frozenset((name, _as_key(item)) for name, item in value.items()))
    raise TypeError("not a JSON value")


def _required(names: Any, rule: dict[str, Any]) -> Test:
    return lambda value: not isinstance(value, dict) or all(name in value for name in names)


def _properties(rules: Any, rule: dict[str, Any]) -> Test | None:
    tests = _all_compiled(list(rules.values())) if isinstance(rules, dict) else None
    if tests is None:
        return None
    named = list(zip(rules, tests, strict=True))
    return lambda value: (
        not isinstance(value, dict) or all(test(value[name]) for name, test in named if name in value)
    )


def _additional(extra: Any, rule: dict[str, Any]) -> Test | None:
    named = frozenset(rule.get("properties", ()))
    test = compile_rule(extra)
    if test is None:
        return None
    return lambda value: (
        not isinstance(value, dict) or all(test(item) for name, item in value.items() if name not in named)
    )


def _property_names(names: Any, rule: dict[str, Any]) -> Test | None:
    test = compile_rule(names)
    if test is None:
        return None
    return lambda value: not isinstance(value, dict) or all(map(test, value))


def _any_of(rules: Any, rule: dict[str, Any]) -> Test | None:
    tests = _all_compiled(rules) if isinstance(rules, list) else None
    if tests is None:
        return None
    return lambda value: any(test(value) for test in tests)


def _all_compiled(rules: list[Any]) -> list[Test] | None:
    """Each rule's test, or None when any of them has none."""
    tests = [compile_rule(sub) for sub in rules]
    return None if None in tests else [test for test in tests if test is not None]


_KEYWORDS: dict[str, Maker] = {
    "type": _type,
    "enum": _enum,
    "const": _const,
    "minimum": _bound(lambda value, limit: value >= limit),
    "maximum": _bound(lambda value, limit: value <= limit),
    "exclusiveMinimum": _bound(lambda value, limit: value > limit),
    "exclusiveMaximum": _bound(lambda value, limit: value < limit),
    "minLength": _size(str, lambda length, limit: length >= limit),
    "maxLength": _size(str, lambda length, limit: length <= limit),
    "minItems": _size(list, lambda length, limit: length >= limit),
    "maxItems": _size(list, lambda length, limit: length <= limit),
    "minProperties": _size(dict, lambda length, limit: length >= limit),
    "maxProperties": _size(dict, lambda length, limit: length <= limit),
    "pattern": _pattern,
    "items": _items,
    "uniqueItems": _unique,
    "required": _required,
    "properties": _properties,
    "additionalProperties": _additional,
    "propertyNames": _property_names,
    "anyOf": _any_of,
}
