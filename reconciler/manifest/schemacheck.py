"""The manifest against schemas/manifest.schema.json: every error, as jsonschema reports it.

A valid manifest (the usual case) is told apart quickly, without jsonschema: the document
without its keys, then each key's fields one by one, each rule a plain test (`schemarules`),
the verdict for each field value remembered (a manifest repeats the same whitelists, amounts
and limit types across its keys). Any doubt, and any error, sends the whole document through
jsonschema, imported only then, so messages are exactly the validator's. (Validating 10,000
keys through jsonschema took 1.6 s; importing it, ~60 ms of every command's start.)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from reconciler.manifest import resources, schemarules
from reconciler.manifest.layout import SETTINGS, STANDALONE, TEAM

if TYPE_CHECKING:
    import jsonschema

# The key schema's keywords that the quick pass applies itself; any other: no quick pass.
_OBJECT_KEYWORDS = {"type", "required", "additionalProperties", "properties", "description", "title"}


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """The schema with its local `#/$defs/...` references resolved once, up front.

    Same rules, same validator; resolving a reference per field per key was half the
    time of validating a 10,000-key manifest.
    """
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/$defs/") and len(node) == 1:
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


_SCHEMA = resources.schema("manifest")
_INLINED = _inline(_SCHEMA, _SCHEMA["$defs"])
KINDS = {STANDALONE: "manifest_file", SETTINGS: "settings_file", TEAM: "keys_file"}
"""The schema's kind of file (`$defs`) for each place a file has (`layout`). An editor cannot tell
a directory manifest's ehkeys.yaml from a file of its own: the schema's top level accepts a file
of any kind (`anyOf`), and validate checks each file against its own kind's `required` instead."""


def required(role: str = STANDALONE) -> tuple[str, ...]:
    """The top-level fields a file in that place must have: a manifest file on its own, version
    and keys; a directory manifest's settings file, version; its other files, keys."""
    return tuple(_SCHEMA["$defs"][KINDS[role]]["required"])


def _of_kind(role: str) -> dict[str, Any]:
    """The schema a file in that place is checked with: the kind's `required` for the `anyOf`."""
    schema = {name: value for name, value in _INLINED.items() if name != "anyOf"}
    return {**schema, "required": list(required(role))}


def errors(data: Any, role: str = STANDALONE) -> Iterator[jsonschema.ValidationError]:
    """Every schema error in the document, a file in that place (none when the quick pass finds it valid)."""
    quick = _quick_pass(role)
    if quick is not None and quick.valid(data):
        return iter(())
    return validator(role).iter_errors(data)


@functools.cache
def validator(role: str = STANDALONE) -> jsonschema.Draft202012Validator:
    """jsonschema's validator for a file in that place (a manifest file on its own, as validate checks it)."""
    return validating()(_of_kind(role))


@functools.cache
def validating() -> type[jsonschema.Draft202012Validator]:
    """Draft 2020-12 as jsonschema makes it, its `pattern` read as JSON Schema means it
    (`schemarules.ecma`: a final `$` is the end of the text, never before a final newline)."""
    import jsonschema  # only a document the quick pass doubts pays for importing it (~60 ms)

    def pattern(checker: Any, text: str, instance: Any, schema: Any) -> Iterator[jsonschema.ValidationError]:
        if checker.is_type(instance, "string") and not schemarules.ecma(text).search(instance):
            yield jsonschema.ValidationError(f"{instance!r} does not match {text!r}")

    extended: type[jsonschema.Draft202012Validator] = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
        jsonschema.Draft202012Validator, {"pattern": pattern}
    )
    return extended


@functools.cache
def _quick_pass(role: str) -> _Quick | None:
    return _quick(_of_kind(role))


def _judge(rule: dict[str, Any]) -> Callable[[Any], bool]:
    """Whether a value meets `rule`: its plain test (`schemarules`), or jsonschema's verdict
    for a rule that has none (no rule of the shipped schema)."""
    test = schemarules.compile_rule(rule)
    if test is not None:
        return test
    return validating()(rule).is_valid  # a rule beyond the plain tests: jsonschema imported then


class _Quick:
    """Is the document valid? The keys one field at a time, each field value's verdict kept."""

    def __init__(self, top: dict[str, Any], key: dict[str, Any]) -> None:
        self.top = _judge(top)
        self.fields = {name: _judge(rule) for name, rule in key["properties"].items()}
        self.plain = frozenset(n for n, rule in key["properties"].items() if schemarules.plain_string(rule))
        self.names = frozenset(self.fields)
        self.required = frozenset(key.get("required", ()))

    def valid(self, data: Any) -> bool:
        if not isinstance(data, dict) or not isinstance(data.get("keys", []), list):
            return False
        seen: dict[tuple[str, Any], bool] = {}  # (field, value) -> valid, for this document
        try:  # no keys (a directory manifest's settings file): the top's `required` says if it needs them
            return self.top(data) and all(self._key(item, seen) for item in data.get("keys", []))
        except (TypeError, ArithmeticError, RecursionError):  # a value of no JSON type, a NaN
            return False  # not known valid: jsonschema decides

    def _key(self, item: Any, seen: dict[tuple[str, Any], bool]) -> bool:
        if not isinstance(item, dict) or not self.required <= item.keys() or not item.keys() <= self.names:
            return False
        valid = True
        for name, value in item.items():  # a loop, not all(...): no generator resumed a field
            valid = self._field(name, value, seen)
            if not valid:
                break
        return valid

    def _field(self, name: str, value: Any, seen: dict[tuple[str, Any], bool]) -> bool:
        if name in self.plain:  # a test cheaper than remembering it, and different in every key
            return self.fields[name](value)
        try:
            memo = (name, _frozen(value))
            verdict = seen.get(memo)
        except TypeError:  # unhashable (a mapping; a signalling NaN): judged every time
            return self.fields[name](value)
        if verdict is None:
            verdict = seen[memo] = self.fields[name](value)
        return verdict


def _frozen(value: Any) -> Any:
    """A key that tells apart what the schema tells apart (1, True, 1.0 and Decimal 1 are
    equal in Python, not in JSON Schema): the type with the value. A mapping stays one, so
    that hashing it raises TypeError."""
    if isinstance(value, list):
        return (list, tuple(map(_frozen, value)))
    return (type(value), value)


def _quick(schema: dict[str, Any]) -> _Quick | None:
    """The quick pass, when the key schema is the plain object it is written as today."""
    keys = schema.get("properties", {}).get("keys", {})
    key = keys.get("items")
    plain = (
        isinstance(key, dict)
        and set(key) <= _OBJECT_KEYWORDS
        and key.get("type") == "object"
        and key.get("additionalProperties") is False
        and set(keys) <= {"type", "items", "description"}
    )
    if not plain:
        return None
    top = {**schema, "properties": {**schema["properties"], "keys": {"type": "array"}}}
    return _Quick(top, key)
