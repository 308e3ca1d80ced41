"""Where a saved plan was made: each account's part records the API's base URL and the account
key's fingerprint (never the key), and `apply --plan` refuses a part whose account is not the
one this run would send to, before any request: a plan reviewed against one account (the
sandbox, staging, another team's key) is never charged to another. A part saved before ehkeys
recorded this says nothing, and is applied as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reconciler.core.accounts import Account, Endpoint
from reconciler.core.errors import StalePlan, StateError
from reconciler.core.printable import printable

if TYPE_CHECKING:
    from reconciler.state.saved_plan import SavedPlan

_FIELDS = ("url", "account_key")


def encode(endpoint: Endpoint | None) -> dict[str, Any]:
    """The part's `api` entry (none for a plan of an account that was not opened)."""
    return {"api": {"url": endpoint.url, "account_key": endpoint.account_key}} if endpoint else {}


def decode(path: str, part: Mapping[str, Any], required: bool) -> Endpoint | None:
    """The part's endpoint; None for a part saved before ehkeys recorded it (format 3 or 4: a
    format 5 part always has one, so an entry removed by hand is refused, not unchecked)."""
    if "api" not in part and not required:
        return None
    data = part.get("api")
    if (
        not isinstance(data, dict)
        or sorted(data) != sorted(_FIELDS)
        or not all(isinstance(data[f], str) for f in _FIELDS)
    ):
        raise StateError(
            f"{path}: its api entry is not a base URL and a key fingerprint (edited by hand?): plan again; "
            "nothing was sent"
        )
    return Endpoint(data["url"], data["account_key"])


def check(part: SavedPlan, account: Account, now: Endpoint) -> None:
    """StalePlan when this run would send the part to another API or with another account key."""
    path, made = part.path, part.plan.endpoint
    if made is None or made == now or not part.changes:
        return  # a part with nothing to apply charges nothing (an account the plan could not read)
    was = f"its part for account {account.name} was" if account.declared else "it was"
    if made.url != now.url:
        why = f"{was} planned against {printable(made.url)}, and this run sends to {printable(now.url)}"
    else:
        why = f"{was} planned with another account key than {account.key_var} holds now (another account?)"
    raise StalePlan(
        f"{path}: {why}: a reviewed plan is applied only to the account it was planned against; "
        "plan again against this one; nothing was sent"
    )
