"""Which sandbox account serves a manifest's account, by the account's name.

A seed account with `name: prod` serves the manifest's account `prod` (seeded: its balance, caps,
rate limit and keys as the seed says). The implicit account of a manifest that declares none,
`core.accounts.DEFAULT`, is served by the seed's account named so, else by its first account (the
one a single-account `--sandbox` run has always used). Any other name gets an account of its own
on its first use, as the bundled demo seed's first account starts (balance, per-key cap, tier, key
cap; the rate limit is the seed's) and with no keys; the database remembers it, so the name gets
the same account (and key) on every run against the same file.
"""

from __future__ import annotations

import functools
import sqlite3
from typing import Any

from reconciler.core.accounts import DEFAULT
from reconciler.core.errors import ConfigError
from reconciler.sandbox import seed as seeds
from reconciler.sandbox.seed import Seed
from reconciler.sandbox.store import Store

TEMPLATE_FIELDS = ("balance", "per_key_cap", "tier", "key_cap")


def seeded(seed: Seed, name: str) -> dict[str, Any] | None:
    """The seed's account serving the name, or None (the name gets an account of its own)."""
    named = next((a for a in seed.accounts if a["name"] == name), None)
    if named is None and name == DEFAULT:
        return seed.accounts[0]
    return named


def api_key_for(store: Store, seed: Seed, name: str) -> str:
    """The API key of the sandbox account serving the manifest's account `name`."""
    account = seeded(seed, name)
    if account is None:
        return store.account_for(name, template())
    keys = [k for k in seed.keys if k["user_id"] == account["user_id"]]
    try:
        store.add_missing(account, keys)  # a seed that names it after the database was made
    except sqlite3.IntegrityError:
        raise ConfigError(
            f"sandbox database {store.path}: the seed's account {account['user_id']} ({name}) "
            "clashes with what the database holds (a key or API key of another account): "
            "start it over from the seed with --sandbox-reset"
        ) from None
    return str(account["api_key"])


@functools.cache
def _bundled_first() -> tuple[tuple[str, Any], ...]:
    first = seeds.load().accounts[0]
    return tuple((field, first[field]) for field in TEMPLATE_FIELDS)


def template() -> dict[str, Any]:
    """How an account made on first use starts: as the bundled demo seed's first account."""
    return dict(_bundled_first())
