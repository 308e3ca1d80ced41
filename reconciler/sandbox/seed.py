"""The sandbox's seed file: accounts, keys, rate limit, faults and clock, with sensible defaults."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml

from reconciler.core.errors import ConfigError

T = TypeVar("T", "RateLimit", "Faults", "Clock")
EPOCH_2024 = 1704067200
# Proxy keys an account may hold, by tier: proxy-create.mdx, "Limitations by Tier".
TIERS = {"free": 10, "basic": 15, "standard": 30, "pro": 50, "enterprise": 100}
# An account that names no tier: the most keys the docs allow, so that seeds written before
# the cap existed (the tests', the benchmarks') keep working as they did.
DEFAULT_TIER = "enterprise"
AMOUNTS = ("allocated_ammount", "used_ammount")  # a key's credits
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # as a manifest's ${VAR} names one
TIMES = {"expires_at": -1, "created_at": EPOCH_2024}  # a key's epoch seconds, and their defaults


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value))  # through its text: 0.1 stays 0.1


# How a RateLimit, Faults or Clock field of each type is read, and what a bad value is told.
RULES: dict[str, tuple[Callable[[Any], Any], str]] = {
    "int": (int, "a whole number"),
    "float": (float, "a number"),
    "bool": (bool, "true or false"),
}


class BadSetting(ValueError):
    """A seed setting out of its range, named by its seed section and field."""

    def __init__(self, section: str, field: str, value: object, rule: str) -> None:
        super().__init__(f"{section}.{field} {value!r}: {rule}")
        self.section, self.field, self.value, self.rule = section, field, value, rule


class Missing(ValueError):
    """A required part of the seed is absent or of the wrong shape; the message names where."""


def _entries(data: Any, section: str, *, required: bool) -> list[Any]:
    """`data[section]`: a list (a required one with at least one entry)."""
    value = data.get(section)
    if value is None and not required:
        return []
    if not isinstance(value, list) or (required and not value):
        got = "it is missing" if value is None else f"got {type(value).__name__}"
        raise Missing(f"`{section}:` must be a list of at least one entry ({got})")
    return value


def _as(where: str, name: str, value: Any, kind: Callable[[Any], Any], rule: str) -> Any:
    """`value` converted by `kind`, or BadSetting naming where, the field and the rule."""
    try:
        return kind(value)
    except (TypeError, ValueError, ArithmeticError):
        raise BadSetting(where, name, value, f"expected {rule}") from None


def _fields(raw: Any, where: str, *required: str) -> dict[str, Any]:
    """`raw`, a mapping holding every `required` field, or Missing naming `where` and the fields."""
    if not isinstance(raw, dict):
        raise Missing(f"{where}: expected a mapping of fields, got {type(raw).__name__}")
    absent = [name for name in required if raw.get(name) is None]
    if absent:
        raise Missing(f"{where}: {', '.join(absent)} missing (required: {', '.join(required)})")
    return raw


@dataclass(frozen=True)
class RateLimit:
    requests: int = 600
    window_s: float = 60.0
    cooldown_s: float = 0.0
    retry_after: bool = False  # the real service sends no Retry-After

    def __post_init__(self) -> None:
        for name, ok, rule in (
            ("requests", self.requests >= 1, "at least 1 request per window"),
            ("window_s", self.window_s > 0, "a window of more than 0 seconds"),
            ("cooldown_s", 0 <= self.cooldown_s < float("inf"), "a cooldown of 0 seconds or more, finite"),
        ):
            if not ok:  # NaN fails every comparison, so it lands here too
                raise BadSetting("rate_limit", name, getattr(self, name), f"expected {rule}")


MAX_DELAY_MS = 3_600_000  # an hour: far past any client's timeout


@dataclass(frozen=True)
class Faults:
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    rate_limited_rate: float = 0.0
    drop_rate: float = 0.0
    html_rate: float = 0.0
    hang_rate: float = 0.0  # never answer: for client timeout tests
    seed: int | None = None
    # GET /auth/proxy answers 404, as a service without the list endpoint would: clients
    # must fall back to per-key lookups (and cannot see unmanaged keys).
    list_unavailable: bool = False

    def __post_init__(self) -> None:
        for name in ("latency_ms", "jitter_ms"):
            if not 0 <= getattr(self, name) <= MAX_DELAY_MS:  # 1e308 made every request wait forever
                raise BadSetting(
                    "faults",
                    name,
                    getattr(self, name),
                    f"expected milliseconds, 0 to {MAX_DELAY_MS} (an hour)",
                )
        rates = ("error_rate", "rate_limited_rate", "drop_rate", "html_rate", "hang_rate")
        for name in rates:
            if not 0 <= getattr(self, name) <= 1:
                raise BadSetting("faults", name, getattr(self, name), "expected a share of requests, 0 to 1")
        total = sum(getattr(self, name) for name in rates)
        if total > 1:
            raise BadSetting("faults", "*_rate", total, "the fault rates add up to more than 1 in all")

    @property
    def any_random(self) -> bool:
        rates = (self.error_rate, self.rate_limited_rate, self.drop_rate, self.html_rate)
        return any(rates) or bool(self.hang_rate)


@dataclass(frozen=True)
class Clock:
    """The time the API reads (created_at of new keys, the future check of expires_at).

    `start` (epoch seconds) sets where it starts; it then runs on in real time. The docs'
    examples are written at 2024-01-01 (their created_at), so their create example, with an
    expires_at of 2025-01-01, is only valid on a clock that starts before it.
    """

    start: int | None = None

    def __post_init__(self) -> None:
        if self.start is not None and not self.start >= 0:
            raise BadSetting("clock", "start", self.start, "expected epoch seconds, 0 or more")


@dataclass(frozen=True)
class Seed:
    accounts: list[dict[str, Any]]
    keys: list[dict[str, Any]]
    rate_limit: RateLimit = field(default_factory=RateLimit)
    faults: Faults = field(default_factory=Faults)
    clock: Clock = field(default_factory=Clock)
    # A key's `variable:`: what a manifest's `${VAR}` reads in a --sandbox run where the
    # environment sets none (keys.example.yaml's `${EH_SUPPORT_KEY}`): VAR -> the key
    variables: dict[str, str] = field(default_factory=dict)


def _account(raw: Any, index: int) -> dict[str, Any]:
    where = f"accounts[{index}]"
    raw = _fields(raw, where, "user_id", "api_key")
    name = raw.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise BadSetting(where, "name", name, "expected the name of a manifest's account, like prod")
    tier = raw.get("tier", DEFAULT_TIER)
    if tier not in TIERS:
        raise BadSetting(where, "tier", tier, f"expected one of {', '.join(TIERS)}")
    key_cap = raw.get("key_cap", TIERS[tier])
    if isinstance(key_cap, bool) or not isinstance(key_cap, int) or key_cap < 0:
        raise BadSetting(where, "key_cap", key_cap, "expected a whole number of keys, 0 or more")
    return {
        "user_id": str(raw["user_id"]),
        "api_key": str(raw["api_key"]),
        "balance": _as(where, "balance", raw.get("balance", 1000), _decimal, "a number"),
        "per_key_cap": _as(where, "per_key_cap", raw.get("per_key_cap", 10000), _decimal, "a number"),
        "tier": tier,
        "key_cap": key_cap,
        "name": name,
        "rate_limit": _own_rate(raw.get("rate_limit"), where),
    }


def _own_rate(raw: Any, where: str) -> RateLimit | None:
    """An account's own rate limit (None: the seed's `rate_limit:`)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise Missing(f"{where}.rate_limit: expected a mapping of fields, got {type(raw).__name__}")
    return _typed(RateLimit, f"{where}.rate_limit", raw)


def _unique_names(accounts: list[dict[str, Any]]) -> None:
    """Each account name in one seed account only (the name a manifest's account is served by);
    each user_id and api_key too (the database holds them unique: a second one is no account)."""
    seen: dict[tuple[str, str], int] = {}
    for index, account in enumerate(accounts):
        for part in ("name", "user_id", "api_key"):
            value = account[part]
            if (part, value) in seen:
                shown = "" if part == "api_key" else f" {value!r}"  # an account key is a secret
                raise Missing(
                    f"accounts[{index}].{part}{shown}: already the {part} of accounts[{seen[part, value]}]"
                )
            if value is not None:
                seen[part, value] = index


def _unique_keys(keys: list[dict[str, Any]]) -> None:
    """Each proxy key once (the database holds it once); a proxy key is a secret: named by its place."""
    first: dict[str, int] = {}
    for index, key in enumerate(keys):
        if key["key"] in first:
            raise Missing(f"keys[{index}].key: already the key of keys[{first[key['key']]}]")
        first[key["key"]] = index


def _key(raw: Any, index: int) -> dict[str, Any]:
    where = f"keys[{index}]"
    raw = _fields(raw, where, "key", "user_id", "name")
    try:
        lists = {name: [str(v) for v in raw.get(name, [])] for name in ("model_whitelist", "ip_whitelist")}
    except TypeError as exc:
        raise Missing(f"{where}: a whitelist that is not a list ({exc})") from None
    return {
        "key": str(raw["key"]),
        "user_id": str(raw["user_id"]),
        "name": str(raw["name"]),
        **{name: _as(where, name, raw.get(name, 0), _decimal, "a number") for name in AMOUNTS},
        **{name: _as(where, name, raw.get(name, d), int, "epoch seconds") for name, d in TIMES.items()},
        "limit_type": str(raw.get("limit_type", "daily")),
        **lists,
        "is_active": bool(raw.get("is_active", True)),
        "enabled_thinking": bool(raw.get("enabled_thinking", False)),
        "last_used": _last_used(raw.get("last_used"), where),
    }


def _variables(raw_keys: list[Any]) -> dict[str, str]:
    """Each key's `variable:`, the name a manifest reads it from (`${EH_SUPPORT_KEY}`): a
    variable's name, one key's only."""
    found: dict[str, tuple[int, str]] = {}
    for index, raw in enumerate(raw_keys):
        name = raw.get("variable")
        if name is None:
            continue
        if not isinstance(name, str) or not _VARIABLE.fullmatch(name):
            raise BadSetting(f"keys[{index}]", "variable", name, "expected a name, like EH_SUPPORT_KEY")
        if name in found:
            raise Missing(f"keys[{index}].variable {name!r}: already the variable of keys[{found[name][0]}]")
        found[name] = (index, str(raw["key"]))
    return {name: key for name, (_, key) in found.items()}


def _last_used(value: Any, where: str) -> int | None:
    return None if value is None else int(_as(where, "last_used", value, int, "epoch seconds"))


def _typed(kind: type[T], section: str, raw: dict[str, Any]) -> T:
    """A RateLimit, Faults or Clock with every value converted to its field's type (or an error
    naming the section and the field)."""
    known = {f.name: f.type for f in fields(kind)}
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in known:
            raise BadSetting(section, name, value, f"no such setting (known: {', '.join(known)})")
        if value is None and "None" in str(known[name]):  # Faults.seed, Clock.start: optional
            values[name] = None
        else:
            convert, rule = RULES[str(known[name]).split(" ")[0]]
            values[name] = _as(section, name, value, convert, rule)
    return kind(**values)


def parse(data: Any, source: str = "seed") -> Seed:
    """A Seed from plain data; raises ConfigError naming the source and the bad entry."""
    try:
        if not isinstance(data, dict):
            raise Missing(f"expected a mapping with `accounts:` and `keys:`, got {type(data).__name__}")
        accounts = [_account(a, i) for i, a in enumerate(_entries(data, "accounts", required=True))]
        _unique_names(accounts)
        raw_keys = _entries(data, "keys", required=False)
        keys = [_key(k, i) for i, k in enumerate(raw_keys)]
        _unique_keys(keys)
        variables = _variables(raw_keys)
        rate = _typed(RateLimit, "rate_limit", data.get("rate_limit") or {})
        faults = _typed(Faults, "faults", data.get("faults") or {})
        clock = _typed(Clock, "clock", data.get("clock") or {})
    except (BadSetting, Missing) as exc:
        raise ConfigError(f"{source}: invalid seed: {exc}") from exc
    except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError) as exc:
        raise ConfigError(f"{source}: invalid seed ({type(exc).__name__}: {exc})") from exc
    return Seed(accounts, keys, rate, faults, clock, variables)


def load(path: str | None = None) -> Seed:
    """The seed at `path`, or the bundled demo seed."""
    try:
        if path is None:
            text = resources.files("reconciler.sandbox").joinpath("demo_seed.yaml").read_text()
        elif Path(path).exists() and not (Path(path).is_file() or Path(path).is_dir()):
            raise OSError(f"{path} is not a regular file: a device or a pipe")  # never read to no end
        else:
            text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        said = exc.strerror.lower() if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"cannot read seed {path or 'demo_seed.yaml'}: {said}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path or 'demo_seed.yaml'}: invalid seed: not YAML{_yaml_where(exc)}") from None
    except RecursionError:  # PyYAML's constructor recurses a level at a time
        raise ConfigError(f"{path or 'demo_seed.yaml'}: invalid seed: nested too deeply to read") from None
    return parse(data, path or "demo_seed.yaml")


def _yaml_where(exc: yaml.YAMLError) -> str:
    """` at line L, column C: what` on one line (PyYAML's own text spans five, naming no file)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f" at line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark else f": {problem}"
