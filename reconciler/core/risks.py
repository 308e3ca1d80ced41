"""The warnings a change carries because of what it does, in words: an allocation below what the
key used, a whitelist opened to every model or address. They follow from the change alone (its
live values and what it sends), so the planner says them and a saved plan read back is checked
to show them (`state.saved_shown`): one text, written here for both.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from decimal import Decimal

OPEN_NETWORKS = ("0.0.0.0/0", "::/0")


def exhausted(allocation: Decimal, used: Decimal) -> str:
    return (
        f"allocation {allocation:.2f} is below what the key has already used "
        f"({used:.2f}): the key is exhausted at once"
    )


def widened(
    models: Collection[object] | None, ips: Collection[object] | None, ips_added: Iterable[str]
) -> Iterator[str]:
    """An update's: `models`, `ips` the whitelists it changes to (None: not changed), `ips_added`
    the networks the IP whitelist gains."""
    if models is not None and not models:
        yield "model_whitelist becomes empty: every model will be allowed"
    if ips is not None and not ips:
        yield "ip_whitelist becomes empty: every IP address will be allowed"
    elif ips is not None:
        for net in ips_added:
            if net in OPEN_NETWORKS:
                yield f"ip_whitelist gains {net}: every IP address will be allowed"


def opened(models: Collection[object], ips: Collection[object]) -> Iterator[str]:
    """A create's: a new key that allows every model, or every address."""
    if not models:
        yield "the new key allows every model (model_whitelist is empty or not set)"
    if not ips:
        yield "the new key allows every IP address (ip_whitelist is empty or not set)"
