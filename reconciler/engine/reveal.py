"""`reveal`: managed keys' values, read from each account's list (a created key's value is
nowhere else), as `NAME=value` lines; appended to a 0600 file, or returned to the caller. A key
is named by its address (`prod/backend` where the manifest declares accounts), id or name."""

from __future__ import annotations

import dataclasses

from reconciler.api import inventory
from reconciler.apply.secretsout import NotWritten, SecretsFile
from reconciler.core.errors import UsageError
from reconciler.core.keys import DesiredKey
from reconciler.engine import loop
from reconciler.engine.console import Console
from reconciler.engine.settings import RevealSettings
from reconciler.engine.workspace import Opened, accounts_of, load_manifest, open_each, select
from reconciler.manifest.addresses import variable
from reconciler.manifest.load import Manifest
from reconciler.planning import binding


@dataclasses.dataclass(frozen=True)
class Revealed:
    """What reveal found: the `NAME=value` lines to print, or, with `--out`, the NAMEs appended
    there (never a value)."""

    lines: list[str]
    written: list[str]


def run(settings: RevealSettings, console: Console) -> Revealed:
    """The `NAME=value` lines, in the manifest's order; with `settings.out` appended there (none
    returned, only their names). The file is checked before any request."""
    out = SecretsFile(settings.out, "--out") if settings.out else None
    lines = loop.run(_read(settings, console))
    if out is None:
        return Revealed(lines, [])
    try:
        out.add_lines(lines)
    except NotWritten as exc:
        raise UsageError(str(exc)) from None
    return Revealed([], [line.partition("=")[0] for line in lines])


async def _read(settings: RevealSettings, console: Console) -> list[str]:
    """Only the accounts holding a key asked for are opened: `--state` is one account's state,
    so with it the keys asked for must be in one account (`--account` says which)."""
    loaded = load_manifest(settings.workspace.manifests, console, settings.workspace.connection)
    wanted = _wanted(loaded, settings)
    held = sorted({k.account for k in wanted})
    if settings.workspace.state and len(held) > 1:
        raise UsageError(
            f"--state names one account's state, but the keys asked for are in {len(held)} accounts "
            f"({', '.join(held)}): pass --account NAME with it, or reveal one account's keys at a time"
        )
    addresses = tuple(f"{k.account}/{k.address}" for k in wanted)  # each names one key, in its account
    workspace = dataclasses.replace(settings.workspace, targets=addresses)
    opened = open_each(loaded, accounts_of(loaded, workspace), workspace)
    found: dict[tuple[str, str], str] = {}
    for one in opened:
        found.update(await _account(one, [k for k in wanted if k.account == one.account.name]))
    return [found[(k.account, k.address)] for k in wanted]


def _wanted(loaded: Manifest, settings: RevealSettings) -> list[DesiredKey]:
    """The keys the IDs name, among the accounts --account chooses (each name checked): there an
    id of keys in two accounts names one; a key only in an account left out is refused by name."""
    every = dataclasses.replace(settings.workspace, state=None)
    chosen = {a.name for a in accounts_of(loaded, every)}
    keys = [k for k in loaded.keys if k.account in chosen]
    for asked in settings.ids:
        if select(keys, (asked,), strict=False, option="reveal "):
            continue
        elsewhere = select(loaded.keys, (asked,), strict=False, option="reveal ")
        if elsewhere:
            account = elsewhere[0].account
            raise UsageError(
                f"reveal {asked!r}: a key of account {account}, which --account leaves out (the run "
                f"covers {', '.join(sorted(chosen))}): add --account {account}, or drop --account"
            )
    return select(keys, settings.ids, option="reveal ")


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
