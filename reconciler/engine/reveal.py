"""`reveal`: managed keys' values, read from the account's list (a created key's value is
nowhere else), as `NAME=value` lines; appended to a 0600 file, or returned to the caller."""

from __future__ import annotations

import asyncio

from reconciler.api import inventory
from reconciler.apply.secretsout import SecretsFile
from reconciler.core.errors import UsageError
from reconciler.core.keys import DesiredKey
from reconciler.engine.console import Console
from reconciler.engine.settings import RevealSettings
from reconciler.engine.workspace import open_workspace, select
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
    opened = open_workspace(settings.workspace, console)
    keys = select(opened.manifest.keys, settings.ids)
    async with opened.target.client() as client:
        live = await inventory.read_keys(client)
    found = binding.bind(opened.manifest.keys, live, opened.state.bindings).by_address  # all: none mistaken
    missing = [k.address for k in keys if not isinstance(found[k.address], binding.Bound)]
    if missing:
        raise UsageError(f"{', '.join(missing)}: not found in the account (plan shows why)")
    return [_line(key, found[key.address]) for key in keys]


def _line(key: DesiredKey, bound: binding.Binding) -> str:
    assert isinstance(bound, binding.Bound)
    return f"{variable(key.address)}={bound.live.proxy_key.reveal()}"
