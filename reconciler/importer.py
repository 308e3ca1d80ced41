"""`ehkeys import`: write a manifest for keys that already exist, so plan finds them in sync.

The manifest refers to each key through an environment variable (`${VAR}`), never the
secret itself. limit_type cannot be read from the API, so it is written as `daily` with a
comment asking for the real value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from reconciler.apierrors import ApiError
from reconciler.client import Client, live_key
from reconciler.errors import UsageError
from reconciler.manifest import environment
from reconciler.model import MAX_EXPIRY, LiveKey, ProxyKey, iso, sorted_networks

HEADER = """\
# yaml-language-server: $schema=schemas/manifest.schema.json
# Written by `ehkeys import`. Every proxy key is a ${VAR} reference: set those variables
# (CI secrets) before `ehkeys plan`. limit_type cannot be read from the API: each key says
# `daily` below; set the real spend window before the first apply.
version: 1
keys:
"""


UNVERIFIED = "  # UNVERIFIED: the API cannot report limit_type; set it"


def env_name(name: str, taken: set[str]) -> str:
    """`EH_KEY_<NAME>`: upper case, non-alphanumerics as `_`, unique."""
    base = "EH_KEY_" + (re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_") or "UNNAMED")
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}_{n}", n + 1
    taken.add(candidate)
    return candidate


def expiry(epoch: int) -> tuple[str, str]:
    """expires_at as the manifest writes it, and a note when no manifest may ask for it."""
    if epoch == -1:
        return "never", ""
    if 0 <= epoch <= MAX_EXPIRY:
        return iso(epoch), ""
    return str(epoch), f"  # {iso(epoch)}: no manifest may ask for this expiry; set one"


def entry(var: str, key: LiveKey, secret: str | None = None) -> str:
    expires, expires_note = expiry(key.expires_at)
    notes = {
        "limit_type": "  # UNVERIFIED: the API cannot report limit_type; set it",
        "expires_at": expires_note,
    }
    fields: list[tuple[str, Any]] = [
        ("proxy_key", f"${{{var}}}"),
        ("name", key.name),
        ("expires_at", expires),
        ("allocated_ammount", f"{key.allocated_ammount:.2f}"),
        ("limit_type", "daily"),
        ("model_whitelist", sorted(key.model_whitelist)),
        ("ip_whitelist", sorted_networks(key.ip_whitelist)),
    ]
    lines = []
    for i, (field, value) in enumerate(fields):
        text = value if field in ("expires_at", "allocated_ammount") else json.dumps(value)
        lines.append(("  - " if i == 0 else "    ") + f"{field}: {text}{notes.get(field, '')}")
    if not key.is_active:
        lines.insert(0, "  # this key is inactive; an update cannot re-activate it")
    if secret:
        lines.insert(0, f"  # set {var} to the key ending in {ProxyKey(secret).display[-5:]}")
    return "\n".join(lines) + "\n"


async def from_env(client: Client, variables: Sequence[str]) -> str:
    entries = []
    env = environment()
    for var in variables:
        value = env.get(var)
        if not value:
            raise UsageError(f"--key-env {var}: the variable is not set")
        if not value.startswith("ek-proxy-"):
            raise UsageError(f"--key-env {var}: the value is not a proxy key (ek-proxy-…)")
        try:
            entries.append(entry(var, await client.lookup(ProxyKey(value))))
        except ApiError as exc:
            raise UsageError(f"--key-env {var}: lookup failed: {exc.message}") from exc
    return HEADER + "".join(entries)


async def from_account(client: Client) -> str:
    taken: set[str] = set()
    entries = []
    for raw in await client.list_keys():
        key = live_key(raw)
        entries.append(entry(env_name(key.name, taken), key, str(raw.get("key", ""))))
    if not entries:
        return HEADER.replace("keys:\n", "keys: []\n")
    return HEADER + "".join(entries)
