"""The account's live state, read in as few requests as the API allows.

One `GET /auth/proxy` (every key of the account, values included) and one `GET /user/me`
(the balance), whatever the number of keys: requests are the scarce resource (5 to 100 a
minute per account, a 180 s cooldown on overrun). Only when the list endpoint is
unavailable (404/405, or an answer that is not a list of keys) are the manifest's keys
looked up one by one, by their proxy_key; the plan then says that unmanaged keys cannot
be seen. An Inventory belongs to one account (one API key): a manifest naming several
accounts would read one per account.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from reconciler.api.answers import live_keys
from reconciler.api.client import Client
from reconciler.api.concurrency import Progress, bounded
from reconciler.api.errors import RUN_ERRORS, ApiError, BadResponse, NotFound, TooLarge
from reconciler.core.keys import DesiredKey, LiveKey
from reconciler.core.secrets import ProxyKey

LIST_UNAVAILABLE = (404, 405)


@dataclass(frozen=True)
class Inventory:
    keys: tuple[LiveKey, ...]
    balance: Decimal | None
    complete: bool = True  # False: keys were looked up one by one (unmanaged keys unseen)
    failures: Mapping[str, str] = field(default_factory=dict)  # address -> why its lookup failed
    fallback_note: str = ""
    listed_twice: frozenset[str] = frozenset()  # fingerprints of keys the list gave more than once
    clock: int | None = None  # the API's time when it was read (its answers' Date), if it said

    @property
    def count(self) -> int:
        return len(self.keys)


async def read(client: Client, desired: Sequence[DesiredKey]) -> Inventory:
    """The balance and every key of the account: two requests."""
    balance, listed = await asyncio.gather(client.balance(), client.list_keys(), return_exceptions=True)
    if isinstance(balance, BaseException):
        raise balance  # both were awaited (return_exceptions): nothing is left pending
    if isinstance(listed, BaseException):
        if not isinstance(listed, ApiError) or not _list_unavailable(listed):
            raise listed
        return await _looked_up(client, desired, balance, listed)
    try:
        keys, twice = once_each(live_keys(listed))
    except BadResponse as exc:
        return await _looked_up(client, desired, balance, exc)
    return Inventory(keys, balance, listed_twice=twice, clock=client.server_time)


def once_each(keys: Sequence[LiveKey]) -> tuple[tuple[LiveKey, ...], frozenset[str]]:
    """Each key once (its first entry), and the fingerprints of those the list gave twice or more:
    two entries of one key may disagree, so neither is trusted (the planner refuses the key)."""
    first: dict[str, LiveKey] = {}
    twice = {k.fingerprint for k in keys if first.setdefault(k.fingerprint, k) is not k}
    return tuple(first.values()), frozenset(twice)


async def read_keys(client: Client) -> tuple[LiveKey, ...]:
    """The account's keys alone: one request (the check after an apply wave)."""
    return tuple(live_keys(await client.list_keys()))


def _list_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, TooLarge) or not isinstance(exc, ApiError):
        return False
    return exc.status in LIST_UNAVAILABLE or isinstance(exc, BadResponse)


async def _looked_up(
    client: Client, desired: Sequence[DesiredKey], balance: Decimal, why: ApiError
) -> Inventory:
    keys = [k for k in desired if k.proxy_key is not None]
    progress = Progress(len(keys), "looking up keys")
    results = await bounded(lambda k: _lookup(client, k.proxy_key, progress), keys, client.parallelism)
    progress.done()
    found = tuple(r for r in results if isinstance(r, LiveKey))
    failures = {k.address: r for k, r in zip(keys, results, strict=True) if isinstance(r, str)}
    note = (
        f"the account's key list is unavailable ({why.message}): the manifest's keys were looked up "
        "one by one, and keys outside the manifest (unmanaged) cannot be seen"
    )
    return Inventory(found, balance, complete=False, failures=failures, fallback_note=note)


async def _lookup(client: Client, proxy_key: ProxyKey | None, progress: Progress) -> LiveKey | str | None:
    """The key, None when it does not exist, or why the lookup failed."""
    assert proxy_key is not None
    try:
        return await client.lookup(proxy_key)
    except NotFound:
        return None
    except RUN_ERRORS:  # about the account or the API, not this key: stop
        raise
    except ApiError as exc:
        return exc.message
    finally:
        progress.step()
