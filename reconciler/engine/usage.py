"""`usage`: where the credit goes. Each account the run covers is read with the two requests a
plan makes (its key list and its balance), in parallel; nothing is planned, sent or written.
An account that cannot be read is shown with why, and the others are (a manifest without
`accounts:` fails as `plan` does)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from reconciler.api import inventory
from reconciler.core.heap import frozen_heap
from reconciler.core.rotation import Rotating
from reconciler.core.usage import AccountUsage, UsageView
from reconciler.drift import usage
from reconciler.engine import loop
from reconciler.engine.console import Console
from reconciler.engine.plan import ACCOUNT_ERRORS
from reconciler.engine.settings import UsageSettings
from reconciler.engine.workspace import Opened, open_accounts, select
from reconciler.planning.planner import Desired, Recorded
from reconciler.planning.pruning import Others
from reconciler.planning.rotation import Rotations


def view(settings: UsageSettings, console: Console) -> UsageView:
    return loop.run(_view(settings, console))


async def _view(settings: UsageSettings, console: Console) -> UsageView:
    opened = open_accounts(settings.workspace, console)
    targets = settings.workspace.targets
    with frozen_heap():
        found = await asyncio.gather(*(_account(one, targets) for one in opened))
    return UsageView(int(time.time()), settings.unused_days, tuple(found))


async def _account(opened: Opened, targets: Sequence[str]) -> AccountUsage:
    try:
        async with opened.target.client() as client:
            listed = await inventory.read(client, opened.keys)
    except ACCOUNT_ERRORS as exc:
        if not opened.account.declared:
            raise
        return usage.unreadable(opened.account, exc)
    return of_opened(opened, listed, targets)


def of_opened(
    opened: Opened,
    listed: inventory.Inventory,
    targets: Sequence[str] = (),
    others: Callable[[], Others] | None = None,
) -> AccountUsage:
    """One opened account's usage from its key list (drift's, too: it has read the list).
    `others`: whose the keys no manifest key binds are; by default the other manifest roots'
    states as a plan reads them (`opened.others`: once a run, only when the account has such a
    key); drift gives its plan's answer."""
    picked = select(opened.keys, targets, strict=False) if targets else []
    chosen = frozenset(k.address for k in picked)
    rotating = {address: Rotating.from_data(r) for address, r in opened.state.rotations.items()}
    retiring = {address: r.predecessor for address, r in rotating.items()}
    bindings = _bindings(opened, listed, rotating)
    whose = others or opened.others.read
    return usage.of_account(opened.account, opened.keys, listed, bindings, chosen, retiring, whose)


def _bindings(opened: Opened, listed: inventory.Inventory, rotating: dict[str, Rotating]) -> dict[str, str]:
    """The state's bindings as the plan reads them: a rotation's successor whose create answer a
    cut-off run never recorded is the key's (adopted, as the plan adopts it), never unmanaged."""
    recorded = Recorded(opened.state.bindings, rotations=rotating)
    return dict(Rotations(Desired(opened.keys), listed, recorded, int(time.time())).bindings)
