"""What a manifest's schema error says: jsonschema's messages made clear, naming the field, the
rule and what to write instead, never a secret's value (`fileload` reports them at FILE:LINE).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from reconciler.core.keys import MAX_EXPIRY
from reconciler.core.times import iso
from reconciler.manifest import hints, policy, rotation
from reconciler.manifest.sinks import PATTERN_MESSAGES

if TYPE_CHECKING:  # only a document with errors has any, and jsonschema is imported then
    import jsonschema

ID_SLASH = "must not contain '/': a '/' will separate an account from an id"
ACCOUNT_NAME = (
    "must be lower-case letters, digits, '-' and '_', starting with a letter or digit, at most 32 "
    "(an account's name names its state folder and prefixes its keys' addresses, prod/backend)"
)
GROUP_NAME = "must be lower-case letters, digits, '-' and '_', starting with a letter or digit, at most 32"
API_KEY_REFERENCE = (
    "must be a reference to the environment variable that holds the account key, as ${VAR} "
    "(${EH_PROD_API_KEY}): an account key is a secret, never written in the manifest"
)
SECRET_FIELDS = {"proxy_key", "api_key", "token"}

NUMERIC_FIELDS = (
    *("version", "per_key_cap", "expires_at", "allocated_ammount", "max_debit"),
    *("max_allocation", "max_total_allocation", "max_net_debit", "warn_net_debit", "max_allocated"),
    "timeout",  # a command sink's: .nan passed its bounds, and every delivery then timed out
)


def misread_number(text: str) -> str:
    """Why an integer written as `text` (050, 0o62, 0x32) is refused, and what to write; .nan too."""
    if "." in text:
        return f"must be a number ({text} is 'not a number': every comparison with it is false)"
    value = int(text[2:], 8 if text[1] == "o" else 16) if text[:2] in ("0o", "0x") else int(text)
    if text[:2] == "0x":
        return f"{text} is hexadecimal: write it in decimal, {value}"
    if text[:2] == "0o":
        return f"{text} is octal: write it in decimal, {value}"
    digits = text.lstrip("+-")
    if set(digits) <= set("01234567"):
        return f"{text} has a leading zero, so YAML 1.1 tools read octal {int(digits, 8)}: write {value}"
    return f"{text} has a leading zero, so YAML 1.1 tools read text, not a number: write {value}"


_EXPECTED = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "array": "a list",
    "object": "a mapping",
    "boolean": "true or false",
}
_EXPIRES = (
    f"must be epoch seconds (an integer from -1 to {MAX_EXPIRY}, which is {iso(MAX_EXPIRY)}), "
    "'never', or an ISO-8601 date or datetime"
)

Message = tuple[tuple[Any, ...], str, bool]


def schema_messages(error: jsonschema.ValidationError) -> Iterator[Message]:
    """(relative path, message, point-at-the-key) for one schema error."""
    kind, path = error.validator, tuple(error.absolute_path)
    schema: Any = error.schema
    instance: Any = error.instance
    expected: Any = error.validator_value
    secret = bool(path) and path[-1] in SECRET_FIELDS
    got = "" if secret else f" (got {_short(instance)})"
    special = _account_message(error, path)
    if special is not None:
        yield special
    elif kind == "additionalProperties":
        yield from _extras(path, schema, instance)
    elif kind == "required":
        for missing in expected:
            if missing not in instance:
                yield (), f"missing required field '{missing}'", False
    elif kind == "type":
        names = [expected] if isinstance(expected, str) else expected
        yield (), "must be " + " or ".join(_EXPECTED.get(n, n) for n in names) + got, False
    elif kind == "anyOf" and path and path[-1] == "expires_at":
        yield (), _EXPIRES + got, False
    elif kind == "enum":
        yield (), "must be one of " + ", ".join(map(str, expected)) + got, False
    elif kind == "const":
        yield (), f"must be {expected!r}" + _as_written(expected, instance, got), False
    elif kind == "pattern" and path and path[-1] == "id":
        yield (), ID_SLASH + got, False
    elif kind in ("minLength", "maxLength"):
        yield (), f"{_length_rule(schema)} (got {len(instance)})", False
    elif kind in ("minimum", "exclusiveMinimum", "maximum"):
        op = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<="}[kind]
        yield (), f"must be {op} {expected}" + got, False
    else:
        yield (), "invalid value" if secret else error.message, False


def _account_message(error: jsonschema.ValidationError, path: tuple[Any, ...]) -> Message | None:
    """The messages jsonschema's would not make clear (or would make with the account key in
    them): of `accounts:`, `account:`, `groups:`, `max_lifetime`, and an empty mapping."""
    where = list(error.relative_schema_path)
    field = path[-1] if path else None
    if (duration := rotation.schema_message(str(error.validator), field, error.instance)) is not None:
        return (), duration, False
    if "propertyNames" in where and field == "groups":
        return (error.instance,), f"group name {error.instance!r} {GROUP_NAME}", True
    if "propertyNames" in where:  # a name under accounts: point at it
        return (error.instance,), f"account name {error.instance!r} {ACCOUNT_NAME}", True
    if error.validator == "pattern" and field == "group":
        return (), f"group {_short(error.instance)} {GROUP_NAME}", False
    if error.validator == "pattern" and field == "account":
        return (), f"account {_short(error.instance)} {ACCOUNT_NAME}", False
    if error.validator == "pattern" and field in PATTERN_MESSAGES:  # under deliver:
        got = "" if field == "token" else f" (got {_short(error.instance)})"
        return (), PATTERN_MESSAGES[field] + got, False
    if error.validator == "pattern" and field == "api_key":
        return (), API_KEY_REFERENCE, False
    if error.validator == "pattern" and field == "base_url":
        return (), f"must be an http:// or https:// URL (got {_short(error.instance)})", False
    if error.validator == "pattern" and field == "max_lifetime":
        return (), policy.lifetime_message(error.instance, _short(error.instance)), False
    if error.validator == "minProperties" and field == "accounts":
        return (), "must name an account (or leave it out: one account, $ELECTRONHUB_API_KEY)", False
    if error.validator == "minProperties":
        return (), "must not be empty: name at least one, or leave it out", False
    return None


def _extras(path: tuple[Any, ...], schema: Mapping[str, Any], instance: Any) -> Iterator[Message]:
    """Each field the schema does not know; a key's exception to what it cannot waive, said why."""
    excepted, allowed = path[-1:] == ("policy_exceptions",), list(schema.get("properties", {}))
    for extra in sorted(set(instance) - set(allowed)):
        said = (excepted and policy.not_excepted(extra, allowed)) or hints.unknown(extra, path, schema)
        yield (extra,), said, True


def _length_rule(schema: Mapping[str, Any]) -> str:
    low, high = schema.get("minLength"), schema.get("maxLength")
    if high is None:
        return f"must be at least {low} character{'s' if low != 1 else ''}"
    return f"must be {low or 0} to {high} characters"


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, Decimal) else str(value)  # scrubbed when printed
    return text if len(text) <= 40 else text[:37] + "..."


def _as_written(expected: Any, instance: Any, got: str) -> str:
    """`(got '1')` for `version: "1"`, saying why the two read alike: the quotes make it text."""
    if isinstance(instance, str) and not isinstance(expected, str) and instance == str(expected):
        return f"{got}: the number, without quotes"
    return got
