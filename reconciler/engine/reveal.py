"""`reveal`: managed keys' values, read from each account's list (a created key's value is
nowhere else), as `NAME=value` lines; appended to a 0600 file, or returned to the caller. A key
is named by its address (`prod/backend` where the manifest declares accounts), id or name."""

from __future__ import annotations

import asyncio

from reconciler.api import inventory
from reconciler.apply.secretsout import SecretsFile
from reconciler.core.errors import UsageError
from reconciler.core.keys import DesiredKey
from reconciler.engine.console import Console
from reconciler.engine.settings import RevealSettings
from reconciler.engine.workspace import Opened, open_accounts, select
from reconciler.manifest.addresses import variable
from reconciler.planning import binding


def run(settings: RevealSettings, console: Console) -> list[str]:
    """The `NAME=value` lines, in the order asked; with `settings.out` appended there (and none
    returned). The file is checked before any request."""
    out = SecretsFile(settings.out, "--out") if settings.out else None
    lines = asyncio.run(_read(settings, console))
    if out is None:
        return lines
    for line in lines:
        out.add_line(line)
    return []


async def _read(settings: RevealSettings, console: Console) -> list[str]:
    opened = open_accounts(settings.workspace, console)
    wanted = select([k for one in opened for k in one.keys], settings.ids, label="reveal")
    found: dict[tuple[str, str], str] = {}
    for one in opened:
        found.update(await _account(one, [k for k in wanted if k.account == one.account.name]))
    return [found[(k.account, k.address)] for k in wanted]


async def _account(opened: Opened, keys: list[DesiredKey]) -> dict[tuple[str, str], str]:
    """Each key's line, read from its account's list (none asked: no request)."""
    if not keys:
        return {}
    async with opened.target.client() as client:
        live = await inventory.read_keys(client)
    found = binding.bind(opened.keys, live, opened.state.bindings).by_address  # all: none mistaken
    missing = [
        opened.account.address(k.address) for k in keys if not isinstance(found[k.address], binding.Bound)
    ]
    if missing:
        raise UsageError(f"{', '.join(missing)}: not found in the account (plan shows why)")
    return {(k.account, k.address): _line(opened, k, found[k.address]) for k in keys}


def _line(opened: Opened, key: DesiredKey, bound: binding.Binding) -> str:
    assert isinstance(bound, binding.Bound)
    return f"{variable(opened.account.address(key.address))}={bound.live.proxy_key.reveal()}"
