"""The loader's quick paths say exactly what the slow ones say: the schema's verdict on a
manifest, and the line and column of every key's fields (kept compactly, so that a warning
on each of 10,000 keys no longer parses the file a second time)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.manifest import schemacheck
from reconciler.manifest.yamlsrc import parse

from ..helpers import manifest_text

FIELD_NAMES = ["name", "id", "proxy_key", "expires_at", "allocated_ammount", "limit_type"]
FIELD_NAMES += ["model_whitelist", "ip_whitelist", "is_active", "absent", "protect", "allocated_amount"]
# Values that are equal in Python and not to JSON Schema (1, True, 1.0, Decimal 1) side by side.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0, 1, -1, 1.0, 0.5, Decimal(1), Decimal("12.5"), Decimal("-3"), 10**13]),
    st.sampled_from(["", "a", "never", "daily", "weekly", "gpt-4o", "10.0.0.0/8", "a/b", "x" * 30]),
    st.sampled_from(["2027-01-01", "ek-proxy-abc", "${EH_A}", "2027-13-45"]),
)
values = st.one_of(scalars, st.lists(scalars, max_size=3), st.dictionaries(st.sampled_from(["a"]), scalars))
# A name (mostly valid) and a few other fields: so that one wrong value is often the only one.
keys = st.fixed_dictionaries(
    {"name": st.one_of(st.sampled_from(["a", "b"]), scalars)},
    optional={name: values for name in FIELD_NAMES if name != "name"},
)
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))


def verdict(data: Any) -> bool:
    return not list(schemacheck.validator().iter_errors(data))


@pytest.mark.slow  # 400 generated documents, each judged twice (~5 s)
@SETTINGS
@given(items=st.lists(keys, min_size=1, max_size=4), repeat=st.booleans())
def test_the_quick_schema_pass_agrees_with_jsonschema(items: list[dict[str, Any]], repeat: bool) -> None:
    """Valid for the quick pass exactly when jsonschema finds no error, also when one value
    is remembered from an earlier key (the repeat) and compared with one equal in Python."""
    if repeat:
        items = items + [dict(item) for item in items]
    document = {"version": 1, "defaults": {"limit_type": "daily"}, "keys": items}
    assert (not list(schemacheck.errors(document))) == verdict(document)


def test_a_value_equal_in_python_to_a_valid_one_is_judged_on_its_own() -> None:
    """1 then True (a boolean is no amount), 0 then False, [1] then [True]: remembering the
    first verdict for the second would pass a manifest jsonschema refuses."""
    for good, bad, field in (
        (1, True, "allocated_ammount"),
        (0, False, "allocated_ammount"),
        (-1, True, "expires_at"),
        (["a"], [True], "model_whitelist"),
    ):
        document = {"version": 1, "keys": [{"name": "a", field: good}, {"name": "b", field: bad}]}
        assert verdict(document) is False
        assert list(schemacheck.errors(document)), (field, bad)


def test_an_invalid_manifest_gets_every_error_the_validator_reports() -> None:
    document = yaml.safe_load(manifest_text(3, allocated_ammount=5))
    document["keys"][1]["allocated_ammount"] = True  # a boolean where the schema wants a number
    document["keys"][2]["colour"] = "red"
    messages = sorted(e.message for e in schemacheck.errors(document))
    assert messages == sorted(e.message for e in schemacheck.validator().iter_errors(document))
    assert len(messages) == 2


def test_the_positions_of_every_key_field_match_a_full_parse() -> None:
    text = manifest_text(4, allocated_ammount=5, ip_whitelist=["10.0.0.0/8"])
    text += "  - name: block\n    limit_type: weekly\n\n    allocated_ammount: 7\n"
    text += "  - {name: flow,   proxy_key: 'ek-proxy-x', model_whitelist: [a, b]}\n"
    quick, full = parse(text), parse(text, complete=True)
    assert not quick.complete
    for index, item in enumerate(quick.data["keys"]):
        for name in item:
            path = ("keys", index, name)
            assert quick.knows(path)
            assert quick.position(path) == full.position(path), path
    assert quick.position(("keys", 0, "not-there")) == full.position(("keys", 0, "not-there"))
    assert not quick.knows(("keys", 0, "ip_whitelist", 0)) and not quick.knows(("keys", 0, "name"), key=True)


def test_the_string_rules_written_out_judge_as_jsonschema_does() -> None:
    """name, id and proxy_key are judged without jsonschema: on the edges of their lengths,
    a '/', a non-string, and characters outside the BMP, the verdicts are the validator's."""
    key = schemacheck.validator().schema["properties"]["keys"]["items"]
    samples = ["", "a", "a/b", "/", "x" * 25, "x" * 26, "y" * 64, "y" * 65, "😀" * 25, "😀" * 26, 7, None]
    for name in ("name", "id", "proxy_key"):
        rule = key["properties"][name]
        validator = schemacheck.validating()(rule)
        judge = schemacheck._judge(rule)
        assert [judge(s) for s in samples] == [validator.is_valid(s) for s in samples], name
