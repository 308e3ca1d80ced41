"""Accounts: an ElectronHub account a manifest's keys live in, with the settings that are the
account's (its key, where the API is, its caps, prune, ignore, the most an apply may debit).

A manifest without `accounts:` has one, `DEFAULT`, whose key is `$ELECTRONHUB_API_KEY` as it
always was; its keys' addresses are their ids. With `accounts:`, a key's address is shown
`account/id`, and ids and names are unique per account.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from reconciler.core.keys import Location
from reconciler.core.policy import NO_BUDGET, NO_POLICY, Budget, Policy

DEFAULT = "default"
"""The name of the one account of a manifest that declares none."""

DEFAULT_KEY_VAR = "ELECTRONHUB_API_KEY"
"""Where the account key of a manifest without `accounts:` is read from."""


@dataclass(frozen=True)
class Account:
    """One account as a manifest declares it (or the implicit one)."""

    name: str = DEFAULT
    key_var: str = DEFAULT_KEY_VAR  # the environment variable holding its account key
    base_url: str | None = None  # None: --base-url, $ELECTRONHUB_BASE_URL, the service
    key_cap: int | None = None  # the account's key limit, checked before any create
    per_key_cap: Decimal | None = None  # the most one key may be allocated (None: the default)
    prune: bool = False  # delete live keys that no manifest key holds (ignore: spares)
    prune_at: Location | None = None  # where prune was turned on, for the plan's reasons
    ignore: tuple[str, ...] = ()  # name patterns of keys managed elsewhere
    max_debit: Decimal | None = None  # the most one apply may debit this account (gross)
    declared: bool = False  # from an `accounts:` section: addresses are shown `name/id`
    policy: Policy = NO_POLICY  # the top-level rules, the account's own in place of those it names
    budget: Budget = NO_BUDGET  # likewise: what one plan may do to the account's credits

    def address(self, key_address: str) -> str:
        """A key's address as shown: `prod/backend` in a manifest that declares accounts."""
        return f"{self.name}/{key_address}" if self.declared else key_address


IMPLICIT = Account()
"""The one account of a manifest that declares none."""


@dataclass(frozen=True)
class Endpoint:
    """Where a plan was made: the API's base URL and which account key (its fingerprint, never
    the key). A reviewed plan is applied only where it was made (`state.saved_where`)."""

    url: str
    account_key: str  # the key's fingerprint (sha256:…); "" when none was set
