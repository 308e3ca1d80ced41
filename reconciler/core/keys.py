"""Typed keys: what the manifest asks for (DesiredKey) and what the API reports (LiveKey).

Money is Decimal, expiry is epoch seconds (-1 = never), whitelists are frozensets
(IP entries as networks, so `10.0.0.1` equals `10.0.0.1/32`). A desired field that is
None is *unmanaged*: the planner keeps its live value.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from reconciler.core.rotation import Rotation
from reconciler.core.secrets import ProxyKey
from reconciler.core.sinks import Sink

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

UPDATABLE = (
    "name",
    "expires_at",
    "allocated_ammount",
    "limit_type",
    "model_whitelist",
    "ip_whitelist",
)
"""The fields an update sets (and a manifest key manages, is_active aside), in the API's
spelling and in display order."""

WRITE_ONLY = ("limit_type",)
"""Fields the API accepts on update but never reports back."""

VISIBLE = tuple(f for f in UPDATABLE if f not in WRITE_ONLY)
"""The updatable fields the account's list reports back."""

MONEY = ("allocated_ammount", "used_ammount")
"""The fields that hold credits (Decimal)."""

UNKNOWN_WINDOW = "unknown"
"""`limit_type: unknown` (what `ehkeys import` writes): nobody chose the key's window, so
nothing that would send one (an update, a create) is planned until the manifest does."""

CREATE_DEFAULTS = {"limit_type": "daily"}
"""What a created key has where create takes nothing (the update's documented default)."""

MAX_EXPIRY = 253402300799
"""9999-12-31T23:59:59Z in epoch seconds: the latest expiry a date can show."""


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
    account: str = "default"  # the name of its account (core.accounts.DEFAULT when none is declared)
    group: str | None = None  # the group it belongs to (`groups:`), if any
    rotate: Rotation | None = None  # `rotate: {every, overlap}`: replaced by a successor when due
    deliver: tuple[Sink, ...] = ()  # where its value goes once it exists (`deliver:`)

    @property
    def managed(self) -> tuple[str, ...]:
        return tuple([f for f in UPDATABLE if getattr(self, f) is not None])  # a list: made sooner

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
        """The updatable fields the account reports, normalised."""
        return {f: getattr(self, f) for f in VISIBLE}


def parse_network(text: str) -> IPNetwork:
    """A bare address is its /32 (/128); raises ValueError on anything else."""
    return ipaddress.ip_network(text.strip(), strict=True)


@functools.lru_cache(maxsize=65536)
def _network_text(net: IPNetwork) -> str:
    return str(net)  # ipaddress formats every time; manifests repeat the same few ranges


def sorted_networks(nets: frozenset[IPNetwork]) -> list[str]:
    return list(_sorted_networks(nets))  # a list of its own: the caller may change it


@functools.lru_cache(maxsize=4096)
def _sorted_networks(nets: frozenset[IPNetwork]) -> tuple[str, ...]:
    """Keys share a few whitelists, and a plan sorts each key's several times."""
    ordered = sorted(nets, key=lambda n: (n.version, n.network_address, n.prefixlen))
    return tuple(_network_text(n) for n in ordered)
