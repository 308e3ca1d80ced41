"""Typed keys: what the manifest asks for (DesiredKey) and what the API reports (LiveKey).

Money is Decimal, expiry is epoch seconds (-1 = never), whitelists are frozensets
(IP entries as networks, so `10.0.0.1` equals `10.0.0.1/32`). A desired field that is
None is *unmanaged*: the planner keeps its live value.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

FIELDS = (
    "name",
    "expires_at",
    "allocated_ammount",
    "limit_type",
    "model_whitelist",
    "ip_whitelist",
)
"""The fields an update sets, in the API's spelling and in display order."""

WRITE_ONLY = ("limit_type",)
"""Fields the API accepts on update but never reports back."""

UNKNOWN_WINDOW = "unknown"
"""`limit_type: unknown` (what `ehkeys import` writes): nobody chose the key's window, so
nothing that would send one (an update, a create) is planned until the manifest does."""

CENT = Decimal("0.01")

MAX_EXPIRY = 253402300799
"""9999-12-31T23:59:59Z in epoch seconds: the latest expiry a date can show."""

# A key runs from `ek-` to the next whitespace, quote, bracket or list delimiter, so that a
# key with unusual characters is hidden whole; a sentence's full stop or colon after it is
# not part of it. `…` is a key character: a redacted key scrubs to itself.
_KEY_CHAR = r"[^\s\"'`<>()\[\]{},;|]"
_SECRET_RE = re.compile(rf"ek-{_KEY_CHAR}{{3,}}(?<![.:!?])")
_REDACTED_RE = re.compile(r"ek-(?:proxy-)?….{0,4}", re.S)
_BEARER_RE = re.compile(rf"(?i)(bearer\s+){_KEY_CHAR}{{8,}}")  # a token, not "Bearer token"


def redact(secret: str) -> str:
    """`ek-proxy-…abcd`: enough to recognise a key, never enough to use it.

    Idempotent: a redacted key ends with the same four characters, so it redacts to itself;
    so does a placeholder such as `ek-proxy-…` in a message (it was `ek-proxy-…xy-…`), and the
    bare prefix `ek-proxy-` a message names (it was `ek-proxy-…oxy-`): neither is a key.
    """
    if _REDACTED_RE.fullmatch(secret) or secret == "ek-proxy-":
        return secret  # already redacted, a placeholder (prefix, `…`, <= 4 characters), or the prefix
    prefix = "ek-proxy-" if secret.startswith("ek-proxy-") else "ek-"
    return f"{prefix}…{secret[-4:]}"


def scrub(text: str) -> str:
    """Redact anything that looks like an ElectronHub key, or a bearer token, in free text.

    `scrub(scrub(text)) == scrub(text)`: already redacted keys are left as they are.
    """
    text = _SECRET_RE.sub(lambda m: redact(m.group(0)), text)
    return _BEARER_RE.sub(lambda m: f"{m.group(1)}…", text)  # after: a redaction can lengthen a value


def fingerprint(secret: str) -> str:
    """A stable, non-reversible identifier of a key, safe to commit."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:24]


class ProxyKey:
    """A proxy key that prints redacted: `str()`, `repr()` and f-strings never leak it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for a request body and nothing else."""
        return self._value

    @property
    def display(self) -> str:
        return redact(self._value)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self._value)

    def __repr__(self) -> str:
        return f"ProxyKey({self.display})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ProxyKey) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Location:
    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class DesiredKey:
    """One key as the manifest wants it; None marks an unmanaged field.

    `address` is the key's identity in the manifest (its `id`, else its name): stable
    across renames, never the secret. `proxy_key` is optional: a key is found in the
    account by its proxy key, else by the address recorded in the state, else by name.
    """

    address: str
    name: str
    location: Location
    proxy_key: ProxyKey | None = None
    limit_type: str | None = None
    expires_at: int | None = None
    allocated_ammount: Decimal | None = None
    model_whitelist: frozenset[str] | None = None
    ip_whitelist: frozenset[IPNetwork] | None = None
    is_active: bool | None = None
    absent: bool = False
    protect: bool = False

    @property
    def managed(self) -> tuple[str, ...]:
        return tuple(f for f in FIELDS if getattr(self, f) is not None)

    def values(self) -> dict[str, Any]:
        """Managed fields only, normalised."""
        return {f: getattr(self, f) for f in self.managed}


@dataclass(frozen=True)
class LiveKey:
    """One key as the account reports it (no limit_type: the API never says)."""

    proxy_key: ProxyKey = field(repr=False, compare=False)
    name: str
    expires_at: int
    allocated_ammount: Decimal
    used_ammount: Decimal
    is_active: bool
    model_whitelist: frozenset[str]
    ip_whitelist: frozenset[IPNetwork]
    created_at: int | None = None
    last_used: int | None = None

    @property
    def fingerprint(self) -> str:
        return self.proxy_key.fingerprint

    @property
    def unused(self) -> Decimal:
        """What deleting the key gives back to the account."""
        return max(self.allocated_ammount - self.used_ammount, Decimal(0))

    def values(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in FIELDS if f not in WRITE_ONLY}


def iso(epoch: int) -> str:
    """Epoch seconds as `YYYY-MM-DDTHH:MM:SSZ` (UTC). Never raises: a moment no calendar date
    can show (an API may report one) stays a number, and says so."""
    try:
        moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return f"{epoch} (epoch seconds, {'after 9999' if epoch > 0 else 'before year 1'})"
    return moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def parse_network(text: str) -> IPNetwork:
    """A bare address is its /32 (/128); raises ValueError on anything else."""
    return ipaddress.ip_network(text.strip(), strict=True)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic collector while building many acyclic objects (keys, plans).

    With ~20 objects per key, the default thresholds rescan the growing heap again and
    again: a third of the time of loading 10,000 keys, and growing faster than the keys.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep what is built so far (the loaded manifest, ~20 objects per key) out of the cyclic
    collector's passes while a command talks to the API: it all lives until the command ends,
    and rescanning it during the requests cost ~50 ms of a 2,000-key plan (bench scenario 1).
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()  # a library caller's later garbage must stay collectable


@functools.lru_cache(maxsize=65536)
def _network_text(net: IPNetwork) -> str:
    return str(net)  # ipaddress formats every time; manifests repeat the same few ranges


def sorted_networks(nets: frozenset[IPNetwork]) -> list[str]:
    ordered = sorted(nets, key=lambda n: (n.version, n.network_address, n.prefixlen))
    return [_network_text(n) for n in ordered]


MONEY = ("allocated_ammount", "used_ammount")


def from_json_value(name: str, value: Any) -> Any:
    """`to_json_value` undone for one field, known by its name (a saved plan read back):
    money as the exact Decimal of its text, whitelists as sets (IP entries as networks)."""
    if value is None:
        return None
    if name in MONEY:
        return Decimal(str(value))
    if name == "model_whitelist":
        return frozenset(str(v) for v in value)
    if name == "ip_whitelist":
        return frozenset(parse_network(str(v)) for v in value)
    return value


def to_json_value(value: Any) -> Any:
    """A normalised field value as plain JSON (sorted lists, money as a 2-place number)."""
    if isinstance(value, Decimal):
        return float(value)  # serialisation only: a 2-place Decimal round-trips exactly
    if isinstance(value, frozenset):
        items = list(value)
        if items and not isinstance(items[0], str):
            return sorted_networks(value)
        return sorted(items)
    return value
