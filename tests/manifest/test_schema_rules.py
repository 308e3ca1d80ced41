"""The schema's rules written as plain tests (`schemarules`) judge every value as jsonschema
does: rule by rule through the whole shipped schema, on values made to sit on each rule's edges
(the schema's own enums and bounds, 1 beside True and 1.0, Decimals, text of every length)."""

from __future__ import annotations

import json
import math
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.manifest import schemacheck, schemarules

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "schemas" / "manifest.schema.json").read_text())
INLINED = schemacheck._inline(SCHEMA, SCHEMA["$defs"])


def rules(node: Any) -> list[Any]:
    """Every schema inside `node` (itself included): what each keyword holds a schema in."""
    if not isinstance(node, dict):
        return [node] if isinstance(node, bool) else []
    found = [node]
    for keyword in ("items", "additionalProperties", "propertyNames"):
        found += rules(node.get(keyword))
    for sub in [*node.get("properties", {}).values(), *node.get("anyOf", [])]:
        found += rules(sub)
    return found


RULES = rules({name: value for name, value in INLINED.items() if name != "anyOf"})
RULES += [rule for role in schemacheck.KINDS for rule in rules(schemacheck._of_kind(role))]
RULES = list({json.dumps(rule, sort_keys=True): rule for rule in RULES}.values())  # each rule once


def edges(rule_list: list[Any]) -> tuple[list[Any], list[str]]:
    """The numbers and the text the schema names: enums, consts, bounds and one past them,
    lengths, property names."""
    numbers: list[Any] = [0, 1, -1, 1.0, 0.5, True, False, Decimal("12.5"), Decimal(1), 10**13]
    texts: list[str] = ["", "a", "a/b", "😀", "ek-proxy-abc", "${EH_A}", "2027-01-01"]
    for rule in (r for r in rule_list if isinstance(r, dict)):
        for bound in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if bound in rule:
                numbers += [rule[bound], rule[bound] - 1, rule[bound] + 1, float(rule[bound])]
        for length in ("minLength", "maxLength"):
            if length in rule:
                texts += ["x" * rule[length], "x" * (rule[length] + 1), "x" * max(rule[length] - 1, 0)]
        for value in [*rule.get("enum", []), *([rule["const"]] if "const" in rule else [])]:
            (texts if isinstance(value, str) else numbers).append(value)
        texts += list(rule.get("properties", {}))
    return numbers, texts


NUMBERS, TEXTS = edges(RULES)
TESTS = [(rule, schemarules.compile_rule(rule), schemacheck.validating()(rule)) for rule in RULES]
scalars = st.one_of(
    st.none(), st.sampled_from(NUMBERS), st.sampled_from(TEXTS), st.text(max_size=8), st.integers()
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(TEXTS), st.text(max_size=3)), inner, max_size=4),
    ),
    max_leaves=12,
)


def test_every_rule_of_the_shipped_schema_has_a_plain_test() -> None:
    """A keyword the tests do not know would send every manifest through jsonschema again:
    add it to `schemarules` (held to jsonschema below) rather than let start-up slow down."""
    missing = [rule for rule in RULES if schemarules.compile_rule(rule) is None]
    assert not missing


@pytest.mark.slow  # 1,000 values against each of the schema's 73 rules (~3 s)
@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=values)
def test_each_rule_judges_a_value_as_jsonschema_does(value: Any) -> None:
    for rule, test, validator in TESTS:
        assert test(value) == validator.is_valid(value), rule


@pytest.mark.parametrize(
    ("rule", "value"),
    [
        ({"enum": [1, 2]}, True),  # True is no 1
        ({"const": 0}, False),
        ({"type": "integer"}, True),
        ({"type": "integer"}, Decimal(1)),  # jsonschema: a Decimal is a number, never an integer
        ({"uniqueItems": True}, [1, True]),  # unique: a bool equals no number
        ({"uniqueItems": True}, [1, 1.0]),  # not unique
        ({"uniqueItems": True}, [Decimal("1.0"), 1]),  # not unique
        ({"uniqueItems": True}, [{"a": [1]}, {"a": [True]}]),  # unique
        ({"uniqueItems": True}, [{"a": 1, "b": None}, {"b": None, "a": 1.0}]),  # not unique
        ({"uniqueItems": True}, [[], {}, "1", 1, None, 0, False]),  # unique
        ({"uniqueItems": True}, [10**20 + 1, 1e20]),  # unique: the float is 10**20
        ({"minimum": 0}, float("nan")),
        ({"enum": [[1]]}, [True]),
        ({"items": {"type": "string"}, "minItems": 1}, []),
        ({"properties": {"a": {"type": "string"}}, "additionalProperties": False}, {"a": "x", "b": 1}),
        ({"propertyNames": {"pattern": "^[a-z]+$"}}, {"A": 1}),
        ({"anyOf": [{"type": "string"}, {"type": "null"}]}, 0),
        ({"pattern": "^[a-z]+$"}, "prod\n"),  # JSON Schema's `$` is the end: no final newline
        ({"pattern": "^[a-z]+\\$"}, "prod$"),  # an escaped `$` is a dollar sign
        ({"type": "string", "pattern": "^[a-z]+$", "maxLength": 9}, "prod\n"),
    ],
)
def test_the_edges_jsonschema_draws_are_drawn_the_same(rule: dict[str, Any], value: Any) -> None:
    test = schemarules.compile_rule(rule)
    assert test is not None
    verdict = schemacheck.validating()(rule).is_valid(value)
    if isinstance(value, float) and math.isnan(value):
        assert not test(value) or verdict  # NaN: never valid where jsonschema says not
    else:
        assert test(value) == verdict


def test_a_value_of_no_json_type_is_never_known_valid() -> None:
    """A tuple or a date (YAML's unquoted 2027-01-01 when read by another loader): the quick pass
    gives up, and the document goes through jsonschema, which decides."""
    document = {"version": 1, "keys": [{"name": "a", "model_whitelist": ("gpt-4o",)}]}
    assert list(schemacheck.errors(document))


def test_a_keyword_the_tests_do_not_know_is_left_to_jsonschema() -> None:
    assert schemarules.compile_rule({"type": "string", "format": "date"}) is None
    assert schemarules.compile_rule({"multipleOf": 2}) is None
    assert schemarules.compile_rule({"$ref": "#/$defs/key"}) is None


@pytest.mark.parametrize("role", list(schemacheck.KINDS))
@pytest.mark.parametrize(
    "document",
    [
        {"version": 1},  # a directory's settings file: no keys
        {"version": 1, "keys": []},
        {"version": 1, "keys": [{"name": "a"}]},
        {"keys": [{"name": "a"}]},  # a directory's file of keys: no version
        {"version": 2},
        {"version": 1, "defaults": {"limit_type": "hourly"}},
        {"version": 1, "keys": {"name": "a"}},  # keys not a list
    ],
)
def test_a_file_in_each_place_is_known_valid_exactly_when_jsonschema_finds_it_valid(
    role: str, document: dict[str, Any]
) -> None:
    assert (not list(schemacheck.errors(document, role))) == schemacheck.validator(role).is_valid(document)


@pytest.mark.parametrize(
    "value",
    [
        [*range(10_000)],  # numbers: a manifest's policy.require of 10,000 of them
        [1, *map(str, range(10_000))],  # text, and one number
        [[i] for i in range(10_000)],
    ],
    ids=["numbers", "text-and-a-number", "lists"],
)
def test_a_long_list_s_uniqueness_is_judged_in_a_moment(value: list[Any]) -> None:
    """Items not all text were compared two by two: 20,000 numbers in a manifest's policy.require
    took validate minutes in the quick pass alone (jsonschema, which sorts them: a second)."""
    test = schemarules.compile_rule({"uniqueItems": True})
    assert test is not None
    started = time.monotonic()
    assert test(value) and not test([*value, value[-1]])
    assert time.monotonic() - started < 2
