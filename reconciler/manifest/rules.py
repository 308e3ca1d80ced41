"""Field rules a JSON Schema cannot express (`schemamessages` words the ones it can)."""

from __future__ import annotations

import functools
import ipaddress
import re
import time
from collections.abc import Mapping
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from reconciler.core.keys import MAX_EXPIRY, UNKNOWN_WINDOW, IPNetwork, parse_network
from reconciler.core.money import CENT
from reconciler.core.pathnames import undecodable
from reconciler.core.secrets import ProxyKey
from reconciler.core.times import iso
from reconciler.manifest import rotation

DEFAULT_CAP = Decimal(10000)  # the per-key cap the API documents as the default
LIMIT_TYPE_REQUIRED = (
    "no limit_type (set it on the key or in defaults): the API never reports limit_type, "
    "and an update that leaves it out resets the key to 'daily', so ehkeys must always send one"
)
_A_KEY = re.compile(r"ek-proxy-\S")  # a proxy key, as a literal one must start (the bare prefix is none)
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_WEEK = 7 * 24 * 3600


class FieldError(Exception):
    """One or more problems with a field; `problems` holds (list index or None, message)."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.problems: list[tuple[int | None, str]] = [(index, message)]


class Unresolved(FieldError):
    """A ${VAR} that is not set: an error where the key is needed, a notice offline."""


UNCHOSEN_WINDOW = (
    "limit_type is unknown (as `ehkeys import` writes it: the API never reports it): choose daily, "
    "weekly or monthly; until then plan and apply refuse this key"
)

# --- normalising one field --------------------------------------------------------------


def read(
    name: str, value: Any, env: Mapping[str, str], cap: Decimal | None, now: int | None
) -> tuple[Any, tuple[str, ...]]:
    """The typed value of one manifest field, and its warnings; raises FieldError with a message.
    `cap` is the manifest's per_key_cap, None when it sets none (DEFAULT_CAP applies). One call
    a field: a proxy key's ${VAR} is substituted once for its value and its warnings."""
    if name == "proxy_key":
        return _proxy_key(value, env)
    if name == "allocated_ammount":
        return _money(value, cap), ()
    if name in _WHITELISTS:
        found = _whitelist(name, value)
        return found, _open(found) if name == "ip_whitelist" else ()
    if name == "expires_at":
        moment = expiry(value)
        return moment, _expiry_warnings(moment, now)
    if name == "rotate":
        return rotation.read(value), ()
    if name == "limit_type" and value == UNKNOWN_WINDOW:
        return value, (UNCHOSEN_WINDOW,)
    return value, ()


def _whitelist(name: str, value: Any) -> Any:
    entries, made = tuple(value), _WHITELISTS[name]
    if all(type(entry) is str for entry in entries):  # keys share a few: each made once
        return made(entries)
    return made.__wrapped__(entries)  # 1 and True are one cache key, not one text


@functools.lru_cache(maxsize=4096)
def _models(value: tuple[Any, ...]) -> frozenset[str]:
    return frozenset(str(m).strip() for m in value)


def _proxy_key(raw: str, env: Mapping[str, str]) -> tuple[ProxyKey, tuple[str, ...]]:
    """The key, its surrounding whitespace stripped (a trailing newline in a secret is common;
    a warning says so); whitespace inside it is an error."""
    substituted, source = _substituted(raw, env)
    value = substituted.strip()
    if not value.startswith("ek-proxy-"):
        raise FieldError(f"{source} is not a proxy key: it must start with 'ek-proxy-'")
    if undecodable(value):  # an environment variable's bytes
        raise FieldError(f"{source} is not UTF-8, as a proxy key is: copy the key again")
    if len(value.split()) > 1:  # whitespace inside (str.split splits where isspace is true)
        raise FieldError(f"{source} has whitespace inside the key ({_kinds(value)}): a proxy key has none")
    if not 1 <= len(value) <= 256:
        raise FieldError(f"a proxy key is 1 to 256 characters (this one has {len(value)})")
    warnings = _written_in(raw)
    if len(value) != len(substituted):
        warnings += (_stripped_warning(substituted, source),)
    return ProxyKey(value), warnings


def _written_in(raw: str) -> tuple[str, ...]:
    """A key written in the manifest, or `${VAR:-default}` fallbacks that make one (the whole
    key, or its body after a written `ek-proxy-`): a secret in git, whether or not the defaults
    were used this time. Told as a literal is, by the prefix every proxy key has: what follows
    it is no sign (`ek-proxy-demo-…` may be a real key's value, and is one of the sandbox's)."""
    if "${" not in raw:
        return (_PLAIN_TEXT,)
    made = _ENV_REF.sub(lambda ref: ref.group(2) or "", raw).strip()  # the key the defaults make
    if not _A_KEY.match(made):
        return ()
    return (_DEFAULT_TEXT,) if any(default.strip() for _, default in _ENV_REF.findall(raw)) else ()


def _substituted(raw: str, env: Mapping[str, str]) -> tuple[str, str]:
    """The value with its ${VAR} references replaced, and where it came from, for messages."""
    if "${" not in raw:
        return raw, "the value"  # a literal: nothing to replace
    parts = _ENV_REF.split(raw)  # text, then (VAR, default or None, text) for each reference
    missing: list[str] = []
    sources: list[str] = []
    for at in range(1, len(parts), 3):
        var, default = parts[at], parts[at + 1]
        if env.get(var):
            sources.append(var)
            parts[at], parts[at + 1] = env[var], ""
        elif default is None:
            missing.append(f"{var} is {'empty' if var in env else 'not set'}")
            parts[at] = parts[at + 1] = ""
        else:  # as the shell's ${VAR:-default}: when VAR is unset or empty
            sources.append(f"the default of {var}")
            parts[at] = ""
    if missing:
        raise Unresolved(f"environment variable {missing[0]} (and has no :- default)")
    return "".join(parts), "the value" + (f" from {' and '.join(sources)}" if sources else "")


_SPACES = {" ": "a space", "\t": "a tab", "\n": "a newline", "\r": "a carriage return"}


def _kinds(text: str) -> str:
    """Which whitespace a secret holds, named without showing any of it."""
    found = sorted({_SPACES.get(c, "other whitespace") for c in text if c.isspace()})
    return " and ".join(found)


def _stripped_warning(value: str, source: str) -> str:
    lead, trail = value[: len(value) - len(value.lstrip())], value[len(value.rstrip()) :]
    where = " and ".join(side for side, part in (("leading", lead), ("trailing", trail)) if part)
    return f"{source} has {where} whitespace ({_kinds(lead + trail)}): ehkeys stripped it; fix the source"


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


@functools.lru_cache(maxsize=4096)
def _networks(entries: tuple[Any, ...]) -> frozenset[IPNetwork]:
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


_WHITELISTS = {"model_whitelist": _models, "ip_whitelist": _networks}
_PLAIN_TEXT = "plain-text proxy key in the manifest: it is a secret; use ${VAR} and set VAR in CI"
# One text for every key (the line shows which variable): 10,000 of them are one grouped line.
_DEFAULT_TEXT = (
    "plain-text proxy key in the manifest, as a ${VAR:-…} default: it is a secret in the file "
    "whether or not VAR is set; drop the default and set VAR in CI"
)


@functools.lru_cache(maxsize=4096)
def _open(nets: frozenset[IPNetwork]) -> tuple[str, ...]:
    """The warnings of an ip_whitelist: keys share a few whitelists, each said once made."""
    return tuple(f"{net} allows every IP address" for net in sorted(str(n) for n in nets if n.prefixlen == 0))


def _expiry_warnings(value: int, now: int | None) -> tuple[str, ...]:
    if value == -1:
        return ()
    current = int(time.time()) if now is None else now
    if value <= current:
        return (f"expires_at is in the past ({iso(value)}): the key is expired",)
    if value - current < _WEEK:
        return (f"expires_at is within 7 days ({iso(value)})",)
    return ()
