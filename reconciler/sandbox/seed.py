"""The sandbox's seed file: accounts, keys, rate limit, faults and clock, with sensible defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
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
            if not getattr(self, name) >= 0:
                raise BadSetting("faults", name, getattr(self, name), "expected milliseconds, 0 or more")
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


def _account(raw: Any, index: int) -> dict[str, Any]:
    where = f"accounts[{index}]"
    raw = _fields(raw, where, "user_id", "api_key")
    tier = raw.get("tier", DEFAULT_TIER)
    if tier not in TIERS:
        raise BadSetting(where, "tier", tier, f"expected one of {', '.join(TIERS)}")
    key_cap = raw.get("key_cap", TIERS[tier])
    if isinstance(key_cap, bool) or not isinstance(key_cap, int) or key_cap < 0:
        raise BadSetting(where, "key_cap", key_cap, "expected a whole number of keys, 0 or more")
    return {
        "user_id": str(raw["user_id"]),
        "api_key": str(raw["api_key"]),
        "balance": Decimal(str(raw.get("balance", 1000))),
        "per_key_cap": Decimal(str(raw.get("per_key_cap", 10000))),
        "tier": tier,
        "key_cap": key_cap,
    }


def _key(raw: Any, index: int) -> dict[str, Any]:
    raw = _fields(raw, f"keys[{index}]", "key", "user_id", "name")
    try:
        return _key_fields(raw)
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise Missing(f"keys[{index}]: a field of the wrong type ({exc})") from None


def _key_fields(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": str(raw["key"]),
        "user_id": str(raw["user_id"]),
        "name": str(raw["name"]),
        "expires_at": int(raw.get("expires_at", -1)),
        "allocated_ammount": Decimal(str(raw.get("allocated_ammount", 0))),
        "used_ammount": Decimal(str(raw.get("used_ammount", 0))),
        "limit_type": str(raw.get("limit_type", "daily")),
        "model_whitelist": [str(m) for m in raw.get("model_whitelist", [])],
        "ip_whitelist": [str(i) for i in raw.get("ip_whitelist", [])],
        "is_active": bool(raw.get("is_active", True)),
        "enabled_thinking": bool(raw.get("enabled_thinking", False)),
        "created_at": int(raw.get("created_at", EPOCH_2024)),
        "last_used": None if raw.get("last_used") is None else int(raw["last_used"]),
    }


def _typed(kind: type[T], raw: dict[str, Any]) -> T:
    """A RateLimit, Faults or Clock with every value converted to its field's type (or an error)."""
    defaults = kind()
    values: dict[str, Any] = {}
    for name, value in raw.items():
        current = getattr(defaults, name)  # AttributeError: an unknown knob
        if current is None:  # an optional whole number: Faults.seed, Clock.start
            values[name] = None if value is None else int(value)
        else:
            values[name] = type(current)(value)
    return kind(**values)


def parse(data: Any, source: str = "seed") -> Seed:
    """A Seed from plain data; raises ConfigError naming the source and the bad entry."""
    try:
        if not isinstance(data, dict):
            raise Missing(f"expected a mapping with `accounts:` and `keys:`, got {type(data).__name__}")
        accounts = [_account(a, i) for i, a in enumerate(_entries(data, "accounts", required=True))]
        keys = [_key(k, i) for i, k in enumerate(_entries(data, "keys", required=False))]
        rate = _typed(RateLimit, data.get("rate_limit") or {})
        faults = _typed(Faults, data.get("faults") or {})
        clock = _typed(Clock, data.get("clock") or {})
    except (BadSetting, Missing) as exc:
        raise ConfigError(f"{source}: invalid seed: {exc}") from exc
    except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError) as exc:
        raise ConfigError(f"{source}: invalid seed ({type(exc).__name__}: {exc})") from exc
    return Seed(accounts, keys, rate, faults, clock)


def load(path: str | None = None) -> Seed:
    """The seed at `path`, or the bundled demo seed."""
    try:
        if path is None:
            text = resources.files("reconciler.sandbox").joinpath("demo_seed.yaml").read_text()
        else:
            text = Path(path).read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read seed {path or 'demo_seed.yaml'}: {exc}") from exc
    return parse(data, path or "demo_seed.yaml")
