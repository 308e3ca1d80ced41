"""`ehkeys import`: write a manifest for keys that already exist, so that plan binds every one.

`--all` reads the account's list (one request) and writes id-based entries: no secret, no
`${VAR}`, names and unicode as readable YAML. Keys are then bound by name, or, where two
live keys share a name, by the state: with `--out FILE`, import records every key's
binding in the state beside FILE. `--key-env VAR...` writes entries with an id and `${VAR}`.
limit_type cannot be read from the API, and a window nobody chose is never sent: each entry
says `limit_type: unknown`, which the plan shows as a choice to make, and which apply refuses
to send (no update, no create) until the manifest names daily, weekly or monthly.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from reconciler.api.client import Client
from reconciler.api.errors import ApiError
from reconciler.api.inventory import once_each, read_keys
from reconciler.core.accounts import IMPLICIT, Account
from reconciler.core.errors import UsageError
from reconciler.core.keys import MAX_EXPIRY, UNKNOWN_WINDOW, LiveKey, sorted_networks
from reconciler.core.printable import printable
from reconciler.core.secrets import ProxyKey
from reconciler.core.times import iso
from reconciler.manifest.addresses import variable
from reconciler.manifest.envvars import environment
from reconciler.manifest.schemafile import MODELINE

HEADER = """\
# Written by `ehkeys import`. The API cannot report limit_type: each key says `unknown`
# below, and nothing is sent to a key until you choose its window (daily, weekly or monthly).
version: 1
keys:
"""
LIMIT_NOTE = "  # the API cannot report it: choose daily, weekly or monthly"


def account_of(name: str | None) -> Account:
    """The account `import --account NAME` declares (its key from $EH_<NAME>_API_KEY), else the one."""
    if name is None:
        return IMPLICIT
    return Account(name, key_var="EH_" + re.sub(r"[^A-Z0-9]", "_", name.upper()) + "_API_KEY", declared=True)


def header(account: Account, schema: bool = False) -> str:
    """The manifest's head: with a declared account, its `accounts:` entry and the file's `account:`;
    with `schema` (a manifest written to a file, the schema beside it), the modeline naming it."""
    head = (MODELINE if schema else "") + HEADER
    if not account.declared:
        return head
    declared = (
        f'accounts:\n  {account.name}: {{api_key: "${{{account.key_var}}}"}}\naccount: {account.name}\n'
    )
    return head.replace("keys:\n", declared + "keys:\n")


def env_name(name: str, taken: set[str]) -> str:
    """`EH_KEY_<NAME>`: upper case, non-alphanumerics as `_`, unique."""
    return _unique(variable(name), taken, "_")


def slug(name: str, taken: set[str]) -> str:
    """A manifest id from a name: lower case, non-alphanumerics as `-`, unique."""
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "key"
    return _unique(base, taken, "-")


def _unique(base: str, taken: set[str], sep: str) -> str:
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}{sep}{n}", n + 1
    taken.add(candidate)
    return candidate


def expiry(epoch: int) -> str:
    """expires_at as the manifest writes it, with a note when no manifest may ask for it."""
    if epoch == -1:
        return "never"
    if 0 <= epoch <= MAX_EXPIRY:
        return iso(epoch)
    return f"{epoch}  # {iso(epoch)}: no manifest may ask for this expiry; set one"


def entry(identity: Sequence[tuple[str, str]], key: LiveKey, notes: Sequence[str] = ()) -> str:
    """One manifest entry: `identity` are its first lines (`id`, and `proxy_key` for --key-env)."""
    fields: list[tuple[str, Any]] = [
        *identity,
        ("name", _text(key.name)),
        ("expires_at", expiry(key.expires_at)),
        ("allocated_ammount", f"{key.allocated_ammount:.2f}"),
        ("limit_type", UNKNOWN_WINDOW + LIMIT_NOTE),
        ("model_whitelist", _text(sorted(key.model_whitelist))),
        ("ip_whitelist", _text(sorted_networks(key.ip_whitelist))),
    ]
    if not key.is_active:
        fields.append(("is_active", "false"))
    lines = [f"  # {note}" for note in notes]
    lines += [("  - " if i == 0 else "    ") + f"{name}: {value}" for i, (name, value) in enumerate(fields)]
    return "\n".join(lines) + "\n"


def _text(value: Any) -> str:
    """JSON is YAML: quoted, unicode as itself but for what would not print (direction marks,
    format characters), as YAML escapes that read back the same: a PR shows the name as it is."""
    return printable(json.dumps(value, ensure_ascii=False))


async def from_env(client: Client, variables: Sequence[str], head: str = HEADER) -> str:
    """An entry a key, each with an id (two keys may share a name, as `--all` writes them) and
    its `${VAR}`; a key given twice (one variable twice, or two holding one key) is refused."""
    entries, taken, given = [], set[str](), dict[str, str]()
    for var, value in _values(variables).items():
        if given.setdefault(value.fingerprint, var) != var:
            raise UsageError(f"--key-env {var}: the same key as --key-env {given[value.fingerprint]}")
        try:
            key = await client.lookup(value)
        except ApiError as exc:
            raise UsageError(f"--key-env {var}: lookup failed: {exc.message}") from exc
        identity = [("id", _text(slug(key.name, taken))), ("proxy_key", _text(f"${{{var}}}"))]
        entries.append(entry(identity, key))
    return head + "".join(entries)


def _values(variables: Sequence[str]) -> dict[str, ProxyKey]:
    """Each variable's key, checked before any request; a variable named twice is read once."""
    env, found = environment(), {}
    for var in variables:
        value = env.get(var, "").strip()
        if not value:
            raise UsageError(f"--key-env {var}: the variable is not set")
        if not value.startswith("ek-proxy-"):
            raise UsageError(f"--key-env {var}: the value is not a proxy key (ek-proxy-…)")
        found[var] = ProxyKey(value)
    return found


async def from_account(client: Client, head: str = HEADER) -> tuple[str, dict[str, LiveKey]]:
    """The manifest text, and which live key each id is (for the state)."""
    keys, twice = once_each(await read_keys(client))
    shared = {name for name, n in Counter(k.name for k in keys).items() if n > 1}
    taken: set[str] = set()
    entries, bound = [], {}
    for key in keys:
        address = slug(key.name, taken)
        bound[address] = key
        notes = [_shared_note(key)] if key.name in shared else []
        notes += [_TWICE.format(key.proxy_key.display)] if key.fingerprint in twice else []
        entries.append(entry([("id", _text(address))], key, notes))
    return (head + "".join(entries) if entries else head.replace("keys:\n", "keys: []\n")), bound


def _shared_note(key: LiveKey) -> str:
    return (
        f"{key.proxy_key.display}: another live key has this name, so it is bound by the state "
        "that `import --out` records (or give it proxy_key), never by name"
    )


_TWICE = "{}: the account's key list gives this key twice: plan refuses it until the list gives it once"
