"""Sending one operation: the request each kind makes, and what its answer means.

The operations themselves (`core.operations`) are values: what a change sends and what it
does to a key. How each goes over the wire lives here, beside the applier that sends them.
A body never holds the proxy key: the target is added at send time.
"""

from __future__ import annotations

import contextlib
import functools

from reconciler.api.client import Client
from reconciler.api.errors import NotFound
from reconciler.core.operations import Create, Operation, Remove, Toggle, Update
from reconciler.core.secrets import ProxyKey


class ToggleMismatch(Exception):
    """The toggle's answer says the key ended in the other state: someone flipped it too."""


@functools.singledispatch
async def send(op: Operation, client: Client, target: ProxyKey | None) -> ProxyKey | None:
    """Send it; returns the key it leaves (a new one for a create, None once removed)."""
    raise TypeError(f"no way to send a {type(op).__name__}")


@send.register
async def _create(op: Create, client: Client, target: ProxyKey | None) -> ProxyKey | None:
    """Not idempotent: never retried once it may have left (the client knows)."""
    answer = await client.create(dict(op.body))
    return ProxyKey(str(answer["key"]))


@send.register
async def _update(op: Update, client: Client, target: ProxyKey | None) -> ProxyKey | None:
    """A complete, absolute body: safe to repeat."""
    assert target is not None
    await client.update({"proxy_key": target.reveal(), **op.body})
    return target


@send.register
async def _toggle(op: Toggle, client: Client, target: ProxyKey | None) -> ProxyKey | None:
    """An answer of the other state means the key was so already: another run flipped it
    since the list was read, and this toggle undid that. Flipped back once, it is as both
    runs wanted."""
    assert target is not None
    status = await client.toggle(target)
    if status is not op.to:
        status = await client.toggle(target)
    if status is not op.to:
        raise ToggleMismatch(f"the toggle answered is_active={status}, not {op.to}")
    return target


@send.register
async def _remove(op: Remove, client: Client, target: ProxyKey | None) -> ProxyKey | None:
    """A 404 means the key is gone already (a lost answer, retried): the list confirms."""
    assert target is not None
    with contextlib.suppress(NotFound):
        await client.remove(target)
    return None
