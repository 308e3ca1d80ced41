"""What a key's address (its id, by default its name) becomes outside the manifest.

A created key's secret is handed over as `EH_KEY_<ADDRESS>=value` (`apply --secrets-out`,
`ehkeys reveal`). Two addresses that differ only in case or punctuation (`prod-backend`,
`prod.backend`, `Prod_Backend`) would become one variable, and the second line would shadow
the first in any env file: validation refuses them, naming both places.

In a manifest that declares accounts a key's address is shown `account/id`, and its variable
is made from that (`prod/backend`: `EH_KEY_PROD_BACKEND`), so the same id in two accounts
hands over two variables; the check runs across accounts (`prod-x/y` and `prod/x-y` collide).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from reconciler.core.keys import DesiredKey
from reconciler.manifest.diagnostics import Diagnostic

_NOT_NAME = re.compile(r"[^A-Z0-9]+")


def variable(address: str) -> str:
    """`EH_KEY_<ADDRESS>`: upper case, anything else as `_`."""
    return "EH_KEY_" + (_NOT_NAME.sub("_", address.upper()).strip("_") or "UNNAMED")


def shown(key: DesiredKey, declared: bool) -> str:
    """The key's address as shown: `account/id` when the manifest declares accounts."""
    return f"{key.account}/{key.address}" if declared else key.address


def shared_variables(keys: Iterable[DesiredKey], declared: bool = False) -> list[Diagnostic]:
    """An error on each key whose address becomes the variable of an earlier key's other address."""
    found: list[Diagnostic] = []
    first: dict[str, tuple[str, DesiredKey]] = {}
    for key in keys:
        mine = shown(key, declared)
        address, other = first.setdefault(variable(mine), (mine, key))
        if address != mine:  # the same address twice is a duplicate, said elsewhere
            found.append(_shared(key, other, declared))
    return found


def _shared(key: DesiredKey, other: DesiredKey, declared: bool) -> Diagnostic:
    loc = key.location
    mine, theirs = shown(key, declared), shown(other, declared)
    message = (
        f"{_kind(key)} {mine!r} and {_kind(other)} {theirs!r} at {other.location} "
        f"both become the variable "
        f"{variable(mine)} (apply --secrets-out, reveal): one secret would hide the other; "
        "give one of them another id"
    )
    return Diagnostic(loc.file, loc.line, loc.col, "", message)


def _kind(key: DesiredKey) -> str:
    return "name" if key.address == key.name else "id"
