"""One account's usage from its key list (`api.inventory`, the two requests a plan makes):
each live key bound to its manifest key as the plan binds it (`planning.binding`: its
proxy_key, the state's record, else its name), the rest unmanaged (`ignore:` patterns left
out, as the plan leaves them) or, when another manifest root's state binds it and that root's
drift watches it, that root's (`planning.pruning.Others.managed_by`, the plan's `managed_by`).
The other roots' states are asked for only when the account has such keys. Nothing is written.
With --target only the targeted keys are shown, and no unmanaged key, as in a plan."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping, Sequence

from reconciler.api.inventory import Inventory
from reconciler.core.accounts import Account
from reconciler.core.keys import DesiredKey, LiveKey
from reconciler.core.usage import AccountUsage, KeyUsage
from reconciler.planning.binding import Bound, bind
from reconciler.planning.pruning import NOBODY, Others, nobody


def of_account(
    account: Account,
    keys: Sequence[DesiredKey],
    listed: Inventory,
    recorded: Mapping[str, str],
    targets: frozenset[str] = frozenset(),
    retiring: Mapping[str, str] | None = None,
    others: Callable[[], Others] = nobody,
) -> AccountUsage:
    """The manifest's keys in its order, then the unmanaged ones in the list's. `recorded`: the
    state's bindings (address -> fingerprint); `targets`: --target's addresses; `retiring`: each
    rotation under way's old key (address -> fingerprint), shown under its key's address until
    it is retired, as plan and drift count it: never unmanaged; `others`: what the other manifest
    roots' states hold, asked for only when a key is no manifest key's."""
    wanted = {k.address for k in keys}
    old = {a: fp for a, fp in (retiring or {}).items() if a in wanted}
    bindings = bind(keys, listed.keys, recorded, frozenset(old.values()))
    by_fingerprint = {live.fingerprint: live for live in listed.keys}
    bound = {k.address: b.live for k in keys if isinstance(b := bindings.by_address[k.address], Bound)}
    shown = [
        managed(account, live, k)
        for k in keys
        for live in _lives(bound.get(k.address), by_fingerprint.get(old.get(k.address, "")))
    ]
    found = NOBODY
    if targets:
        shown = [k for k in shown if k.address in targets]
    else:
        held = {live.fingerprint for live in bound.values()} | set(old.values())
        rest = [k for k in listed.keys if k.fingerprint not in held and not _ignored(k, account.ignore)]
        found = others() if rest else NOBODY
        shown += [unmanaged(account, live, found.managed_by(live)) for live in rest]
    note = "" if listed.complete else "the account's key list is unavailable: unmanaged keys are not shown"
    return AccountUsage(account, tuple(shown), listed.balance, note, others_unread=found.unknown)


def _lives(bound: LiveKey | None, old: LiveKey | None) -> list[LiveKey]:
    """A key's live keys: the one bound, and its rotation's old key until it is retired (once,
    also when it holds the address again: its successor gone)."""
    lives = [live for live in (bound, old) if live is not None]
    return lives[:1] if len(lives) == 2 and lives[0].fingerprint == lives[1].fingerprint else lives


def managed(account: Account, live: LiveKey, desired: DesiredKey) -> KeyUsage:
    return _usage(account, live, desired.address, desired.limit_type, desired.group)


def unmanaged(account: Account, live: LiveKey, managed_by: str = "") -> KeyUsage:
    """A key no manifest key of this root binds; `managed_by`: the other root whose it is ('' none)."""
    return _usage(account, live, None, None, managed_by=managed_by or None)


def _usage(
    account: Account,
    live: LiveKey,
    address: str | None,
    window: str | None,
    group: str | None = None,
    managed_by: str | None = None,
) -> KeyUsage:
    return KeyUsage(
        account=account.name,
        name=live.name,
        key=live.proxy_key.display,
        allocated=live.allocated_ammount,
        used=live.used_ammount,
        expires_at=live.expires_at,
        is_active=live.is_active,
        address=address,
        window=window,
        last_used=live.last_used,
        created_at=live.created_at,
        group=group,
        managed_by=managed_by,
    )


def _ignored(live: LiveKey, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(live.name, p) for p in patterns)


def unreadable(account: Account, why: Exception) -> AccountUsage:
    return AccountUsage(account, error=f"the account could not be read: {why}")
