"""Field rules a JSON Schema cannot express, and readable messages for those it can."""

from __future__ import annotations

import functools
import ipaddress
import re
import time
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import jsonschema

from reconciler.core.keys import MAX_EXPIRY, IPNetwork, parse_network
from reconciler.core.money import CENT
from reconciler.core.secrets import ProxyKey
from reconciler.core.times import iso
from reconciler.manifest import hints, policy
from reconciler.manifest.sinks import PATTERN_MESSAGES

DEFAULT_CAP = Decimal(10000)  # the per-key cap the API documents as the default
LIMIT_TYPE_REQUIRED = (
    "no limit_type (set it on the key or in defaults): the API never reports limit_type, "
    "and an update that leaves it out resets the key to 'daily', so ehkeys must always send one"
)
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
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_SECRET_FIELDS = {"proxy_key", "api_key", "token"}
_WEEK = 7 * 24 * 3600


class FieldError(Exception):
    """One or more problems with a field; `problems` holds (list index or None, message)."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.problems: list[tuple[int | None, str]] = [(index, message)]


class Unresolved(FieldError):
    """A ${VAR} that is not set: an error where the key is needed, a notice offline."""


# --- normalising one field --------------------------------------------------------------


def normalise(name: str, value: Any, env: Mapping[str, str], cap: Decimal | None) -> Any:
    """The typed value of one manifest field; raises FieldError with a message. `cap` is the
    manifest's per_key_cap, None when it sets none (DEFAULT_CAP applies)."""
    if name == "proxy_key":
        return _proxy_key(value, env)
    if name == "expires_at":
        return expiry(value)
    if name == "allocated_ammount":
        return _money(value, cap)
    if name == "model_whitelist":
        return frozenset(str(m).strip() for m in value)
    if name == "ip_whitelist":
        return _networks(value)
    return value


def _proxy_key(raw: str, env: Mapping[str, str]) -> ProxyKey:
    """The key, its surrounding whitespace stripped (a trailing newline in a secret is common;
    field_warnings says so); whitespace inside it is an error."""
    value, source = _substituted(raw, env)
    value = value.strip()
    if not value.startswith("ek-proxy-"):
        raise FieldError(f"{source} is not a proxy key: it must start with 'ek-proxy-'")
    if len(value.split()) > 1:  # whitespace inside (str.split splits where isspace is true)
        raise FieldError(f"{source} has whitespace inside the key ({_kinds(value)}): a proxy key has none")
    if not 1 <= len(value) <= 256:
        raise FieldError(f"a proxy key is 1 to 256 characters (this one has {len(value)})")
    return ProxyKey(value)


def _substituted(raw: str, env: Mapping[str, str]) -> tuple[str, str]:
    """The value with its ${VAR} references replaced, and where it came from, for messages."""
    if "${" not in raw:
        return raw, "the value"  # a literal: nothing to replace
    missing: list[str] = []
    sources: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        var, default = match.group(1), match.group(2)
        if env.get(var):
            sources.append(var)
            return env[var]
        if default is None:
            missing.append(f"{var} is {'empty' if var in env else 'not set'}")
            return ""
        sources.append(f"the default of {var}")
        return default  # as the shell's ${VAR:-default}: when VAR is unset or empty

    value = _ENV_REF.sub(substitute, raw)
    if missing:
        raise Unresolved(f"environment variable {missing[0]} (and has no :- default)")
    return value, "the value" + (f" from {' and '.join(sources)}" if sources else "")


_SPACES = {" ": "a space", "\t": "a tab", "\n": "a newline", "\r": "a carriage return"}


def _kinds(text: str) -> str:
    """Which whitespace a secret holds, named without showing any of it."""
    found = sorted({_SPACES.get(c, "other whitespace") for c in text if c.isspace()})
    return " and ".join(found)


def _stripped_warnings(raw: str, env: Mapping[str, str]) -> Iterator[str]:
    value, source = _substituted(raw, env)
    lead, trail = value[: len(value) - len(value.lstrip())], value[len(value.rstrip()) :]
    if lead or trail:
        where = " and ".join(side for side, part in (("leading", lead), ("trailing", trail)) if part)
        yield f"{source} has {where} whitespace ({_kinds(lead + trail)}): ehkeys stripped it; fix the source"


def expiry(value: Any) -> int:
    """Epoch seconds from an int, 'never', or an ISO-8601 date/datetime (UTC if no zone)."""
    if value == -1 or value == "never":
        return -1
    if isinstance(value, int) and not isinstance(value, bool):
        return _in_range(value, str(value))
    text = str(value).strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        else:
            moment = datetime.fromisoformat(re.sub(r"\s*[Zz]$", "+00:00", text))
    except ValueError as exc:
        raise FieldError(f"impossible date or time {text!r}: {exc}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return _in_range(int(moment.timestamp()), text)


def _in_range(epoch: int, text: str) -> int:
    if epoch > MAX_EXPIRY:
        raise FieldError(f"{text!r} is after {iso(MAX_EXPIRY)}, the latest expiry ehkeys accepts")
    if epoch < 0:
        raise FieldError(f"{text!r} is before 1970: write -1 or 'never' for no expiry")
    return epoch


def _money(value: Any, cap: Decimal | None) -> Decimal:
    amount = Decimal(value) if isinstance(value, (int, Decimal)) else Decimal("NaN")
    if not amount.is_finite():
        raise FieldError("must be a finite number of credits")
    if amount != amount.quantize(CENT):
        raise FieldError(f"{amount} has more than 2 decimal places: credits are counted in cents")
    if amount > (DEFAULT_CAP if cap is None else cap):
        raise FieldError(f"{amount} exceeds the per-key cap of {_cap(cap)}")
    return amount


def _cap(cap: Decimal | None) -> str:
    if cap is not None:
        return f"{cap} (per_key_cap)"
    return (
        f"{DEFAULT_CAP}, the default: the manifest sets no per_key_cap (set it to your tier's cap "
        "if that allows more)"
    )


def _networks(entries: list[Any]) -> frozenset[IPNetwork]:
    nets: list[IPNetwork] = []
    problems: list[tuple[int | None, str]] = []
    for index, entry in enumerate(entries):
        try:
            nets.append(_network(str(entry)))
        except FieldError as exc:
            problems.append((index, exc.problems[0][1]))
    if problems:
        error = FieldError(problems[0][1])
        error.problems = problems
        raise error
    return frozenset(nets)


@functools.lru_cache(maxsize=4096)
def _parsed(entry: str) -> IPNetwork:
    """A manifest repeats its networks across keys: each distinct text is parsed once."""
    return parse_network(entry)


def _network(entry: str) -> IPNetwork:
    try:
        return _parsed(entry)
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        raise FieldError(f"{entry!r} is not an IP address or CIDR block") from None
    raise FieldError(f"{entry!r} has host bits set; did you mean {str(loose)!r}?")


WARNED_FIELDS = frozenset({"proxy_key", "expires_at", "ip_whitelist"})  # the fields field_warnings reads


def field_warnings(
    name: str, raw: Any, value: Any, now: int | None, env: Mapping[str, str] | None = None
) -> Iterator[str]:
    if name == "proxy_key" and isinstance(raw, str) and "${" not in raw:
        yield "plain-text proxy key in the manifest: it is a secret; use ${VAR} and set VAR in CI"
    if name == "proxy_key" and env is not None:
        yield from _stripped_warnings(raw, env)
    if name == "expires_at" and value != -1:
        current = int(time.time()) if now is None else now
        if value <= current:
            yield f"expires_at is in the past ({iso(value)}): the key is expired"
        elif value - current < _WEEK:
            yield f"expires_at is within 7 days ({iso(value)})"
    if name == "ip_whitelist":
        for net in sorted(str(n) for n in value if n.prefixlen == 0):
            yield f"{net} allows every IP address"


NUMERIC_FIELDS = (
    *("version", "per_key_cap", "expires_at", "allocated_ammount", "max_debit"),
    *("max_allocation", "max_total_allocation", "max_net_debit", "warn_net_debit", "max_allocated"),
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


# --- messages for schema errors ----------------------------------------------------------

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
    secret = bool(path) and path[-1] in _SECRET_FIELDS
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
        yield (), f"must be {expected!r}" + got, False
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
