"""Where the credit goes: each key's allocation and use, and the same rolled up per account
(and per group, where keys name one), as `ehkeys usage` and the drift issue show them.

Values only: `drift.usage` fills them from an account's key list, `render.usage` shows them.
The window (`limit_type`) is the manifest's: the API never reports it. A key is *unused*
when nothing used it for the view's `unused_days`: since its `last_used`, or since it was
created when it was never used (a key the API gives neither date of counts as unused).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from reconciler.core.accounts import Account
from reconciler.core.money import ZERO

DAY = 86400
PERCENT = Decimal("0.1")  # a share of an allocation is shown to a tenth of a percent
UNUSED_DAYS = 30  # the default of --unused-days
NO_GROUP = "(none)"
"""The roll-up of keys of no group (unmanaged ones too): JSON's `groups` is keyed by name and a
key is never null, and no group can be named so (a group's name has no parentheses)."""


def percent(used: Decimal, allocated: Decimal) -> Decimal | None:
    """`used` as a percentage of `allocated`, to a tenth; None when nothing is allocated."""
    if allocated <= 0:
        return None
    return (used * 100 / allocated).quantize(PERCENT)


@dataclass(frozen=True)
class KeyUsage:
    """One live key: the manifest's (`address` set), another manifest root's (`managed_by`: that
    root, whose drift watches it, as the plan's `managed_by` names it), or unmanaged (neither)."""

    account: str
    name: str
    key: str  # redacted: ek-proxy-…abcd
    allocated: Decimal
    used: Decimal
    expires_at: int  # epoch seconds, -1 never
    is_active: bool
    address: str | None = None  # the manifest key's address; None: unmanaged
    window: str | None = None  # limit_type as the manifest says; None: unmanaged, or not set
    last_used: int | None = None  # epoch seconds; None: never used
    created_at: int | None = None
    group: str | None = None  # the manifest key's group, where the manifest has groups
    managed_by: str | None = None  # another manifest root whose state binds it (keys/search)

    @property
    def managed(self) -> bool:
        """This manifest's key."""
        return self.address is not None

    @property
    def unmanaged(self) -> bool:
        """Neither this manifest's key nor another manifest root's."""
        return self.address is None and self.managed_by is None

    @property
    def percent(self) -> Decimal | None:
        return percent(self.used, self.allocated)

    def idle_days(self, now: int) -> int | None:
        """Whole days since it was last used (or, never used, since it was created); None when
        the API gave neither date."""
        since = self.last_used if self.last_used is not None else self.created_at
        return None if since is None else max(now - since, 0) // DAY


@dataclass(frozen=True)
class Rollup:
    """Keys added up: an account's, a group's, or every key of the view."""

    name: str
    allocated: Decimal
    used: Decimal
    keys: int
    unmanaged: int  # of no manifest root (another root's keys are not counted)
    unused: int
    elsewhere: int = 0  # another manifest root's

    @property
    def percent(self) -> Decimal | None:
        return percent(self.used, self.allocated)


@dataclass(frozen=True)
class AccountUsage:
    """One account's keys, as listed; or why the account could not be read (`error`)."""

    account: Account
    keys: tuple[KeyUsage, ...] = ()
    balance: Decimal | None = None  # the account's credits not allocated to any key
    note: str = ""  # the list was unavailable: unmanaged keys unseen
    error: str = ""
    others_unread: str = ""  # why whether another manifest root manages its unmanaged keys is unknown


@dataclass(frozen=True)
class UsageView:
    """Every account the run covers, as of `now`; keys idle `unused_days` or more are unused."""

    now: int
    unused_days: int
    accounts: tuple[AccountUsage, ...]

    @property
    def keys(self) -> list[KeyUsage]:
        return [k for a in self.accounts for k in a.keys]

    def unused(self, key: KeyUsage) -> bool:
        idle = key.idle_days(self.now)
        return idle is None or idle >= self.unused_days

    @property
    def unused_keys(self) -> list[KeyUsage]:
        return [k for k in self.keys if self.unused(k)]

    def rollup(self, name: str, keys: Sequence[KeyUsage]) -> Rollup:
        return Rollup(
            name,
            sum((k.allocated for k in keys), ZERO),
            sum((k.used for k in keys), ZERO),
            len(keys),
            sum(1 for k in keys if k.unmanaged),
            sum(1 for k in keys if self.unused(k)),
            sum(1 for k in keys if k.managed_by),
        )

    @property
    def total(self) -> Rollup:
        return self.rollup("total", self.keys)

    def per_account(self) -> list[Rollup]:
        return [self.rollup(a.account.name, a.keys) for a in self.accounts]

    @property
    def has_groups(self) -> bool:
        return any(k.group for k in self.keys)

    def per_group(self) -> list[Rollup]:
        """A roll-up per group, in the order they first come; keys of no group last, as NO_GROUP."""
        return _grouped(self, lambda k: k.group or NO_GROUP) if self.has_groups else []

    @property
    def others_unread(self) -> list[str]:
        """Why another manifest root's state could not be read, each once (the accounts share them)."""
        return list(dict.fromkeys(a.others_unread for a in self.accounts if a.others_unread))

    @property
    def declared(self) -> bool:
        """The manifest declares its accounts: each is shown by name."""
        return any(a.account.declared for a in self.accounts)


def _grouped(view: UsageView, group_of: Callable[[KeyUsage], str]) -> list[Rollup]:
    groups: dict[str, list[KeyUsage]] = {}
    for key in view.keys:
        groups.setdefault(group_of(key), []).append(key)
    order = sorted(groups, key=lambda name: name == NO_GROUP)  # stable: first seen, NO_GROUP last
    return [view.rollup(name, groups[name]) for name in order]
