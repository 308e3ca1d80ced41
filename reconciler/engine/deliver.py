"""`deliver`: the current value of each named key (or of every key with sinks) delivered to its
sinks again, read from its account's list (one request per account), each sink on its own, under
the account's apply lock; every delivery journalled as an apply's are, and the ones owed from
earlier runs settled when they succeed."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Sequence

from reconciler.api import inventory
from reconciler.apply.deliveries import Delivery, hidden
from reconciler.core.errors import UsageError
from reconciler.core.keys import DesiredKey
from reconciler.core.sinks import Delivered
from reconciler.engine import loop, stopping
from reconciler.engine.console import Console
from reconciler.engine.plan import doubted
from reconciler.engine.settings import DeliverSettings
from reconciler.engine.workspace import Opened, accounts_of, load_manifest, open_each, select, state_path
from reconciler.planning import binding
from reconciler.planning.doubts import refusal
from reconciler.state import lock as statelock

NOT_THERE = "the key is not in the account (`ehkeys plan` shows why; apply creates it)"
UNSETTLED = (
    "a rotation of this key is under way and its successor's create was never confirmed: its value "
    "is not known here (the state still binds the old key); `ehkeys apply` finds the successor and "
    "delivers it"
)


def run(settings: DeliverSettings, console: Console) -> list[Delivered]:
    """Every delivery made, in the manifest's order; a key not in its account fails each sink."""
    return loop.run(_run(settings, console))


async def _run(settings: DeliverSettings, console: Console) -> list[Delivered]:
    loaded = load_manifest(settings.workspace.manifests, console, settings.workspace.connection)
    accounts_of(loaded, settings.workspace)  # each --account named must be the manifest's
    wanted = _wanted(loaded.keys, settings.ids, settings.workspace.accounts)
    workspace = dataclasses.replace(
        settings.workspace, targets=tuple(k.address for k in wanted) and settings.ids
    )
    accounts = [a for a in accounts_of(loaded, workspace) if any(k.account == a.name for k in wanted)]
    done: list[Delivered] = []
    with contextlib.ExitStack() as locks:
        for path in sorted({state_path(workspace, a) for a in accounts}):
            with stopping.waiting():  # another run's: a stop ends the wait at once, nothing being sent
                locks.enter_context(statelock.held(path, settings.lock_timeout))
        for opened in open_each(loaded, accounts, workspace):
            mine = [k for k in wanted if k.account == opened.account.name]
            done += await _account(opened, mine, workspace.throwaway_runner)
            opened.state.flush()
    return done


def _wanted(keys: Sequence[DesiredKey], ids: Sequence[str], accounts: Sequence[str]) -> list[DesiredKey]:
    """The keys asked for (each must have sinks), or every key with sinks; never an absent one."""
    named = select(keys, ids, option="deliver ")
    chosen = [k for k in named if not accounts or k.account in accounts]
    if ids and len(chosen) < len(named):
        left = ", ".join(f"{k.account}/{k.address}" for k in named if k not in chosen)
        raise UsageError(f"{left}: in an account --account leaves out; nothing was delivered")
    bare = [k.address for k in chosen if not k.deliver or k.absent]
    if ids and bare:
        raise UsageError(f"{', '.join(bare)}: no deliver: sinks (or absent: true): nothing to deliver")
    found = [k for k in chosen if k.deliver and not k.absent]
    if not found:
        raise UsageError("no key of the manifest has deliver: sinks: nothing to deliver")
    return found


async def _account(opened: Opened, keys: list[DesiredKey], throwaway_runner: bool) -> list[Delivered]:
    """The account's keys read once, each asked-for key's value delivered to its sinks (on a
    runner thrown away with its job: `Workspace.throwaway_runner`)."""
    async with opened.target.client() as client:
        live = await inventory.read_keys(client)
    doubts = doubted(opened.keys, opened.state, live, opened.others)
    if doubts:  # a state read from the checkout that the account contradicts: no value is guessed
        why = refusal(opened.state.path, doubts)
        return [
            Delivered(opened.account.address(k.address), s.describe(), False, why)
            for k in keys
            for s in k.deliver
        ]
    found = binding.bind(opened.keys, live, opened.state.bindings).by_address
    secrets = hidden(opened.manifest.accounts, os.environ, opened.manifest.secret_vars)
    delivery = Delivery(opened.state, opened.account, os.environ, secrets, throwaway_runner)
    done: list[Delivered] = []
    for key in keys:
        bound = found.get(key.address)
        if key.address in _unsettled(opened):  # the old key's value would go, then it retires
            shown = opened.account.address(key.address)
            done += [Delivered(shown, sink.describe(), False, UNSETTLED) for sink in key.deliver]
        elif isinstance(bound, binding.Bound):
            done += (await delivery.deliver(key, bound.live.proxy_key)).results
        else:  # why plan cannot bind it (two live keys of its name, ...), else not there
            shown, why = opened.account.address(key.address), (bound and bound.problem) or NOT_THERE
            done += [Delivered(shown, sink.describe(), False, why) for sink in key.deliver]
    return done


def _unsettled(opened: Opened) -> set[str]:
    """The addresses whose rotation's successor is not bound yet: a run cut off after its create
    was sent (the state binds the predecessor until the list shows the successor)."""
    state = opened.state
    return {a for a, r in state.rotations.items() if state.bindings.get(a) in (None, r["predecessor"])}
