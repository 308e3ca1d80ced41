"""Keys that say the same thing twice: an id or name twice in one account, a proxy key twice
anywhere. The same id in two accounts (`prod/backend`, `staging/backend`) is two keys.

An address is claimed by every key entry that names one, whether or not the key has other
errors: `validate` says a duplicate id in the same run as a bad allocation on one of the two,
not once that is fixed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from reconciler.core.keys import DesiredKey, Location
from reconciler.manifest.addresses import shown
from reconciler.manifest.diagnostics import ERROR, WARNING, Diagnostic


@dataclass(frozen=True)
class Claim:
    """The address a key entry takes in its account."""

    account: str
    address: str
    by_name: bool  # the entry has no id: its name is its address
    location: Location

    @classmethod
    def of(cls, key: DesiredKey) -> Claim:
        return cls(key.account, key.address, key.address == key.name, key.location)


def duplicates(
    keys: Iterable[DesiredKey], claims: Iterable[Claim], declared: bool = False
) -> list[Diagnostic]:
    """`declared`: the manifest declares accounts, and messages name the key's."""
    found, twice = _addresses(claims, declared)
    by_key: dict[str, DesiredKey] = {}
    by_name: dict[object, DesiredKey] = {}
    for key in keys:
        loc = key.location
        first = by_key.setdefault(key.proxy_key.fingerprint, key) if key.proxy_key else key
        if first is not key:  # the value is a secret: name the places, never the key
            mine, theirs = shown(key, declared), shown(first, declared)
            msg = f"{mine!r} has the same proxy_key as {theirs!r} at {first.location}"
            found.append(_at(loc, "duplicate proxy_key: " + msg, key.address))
        if loc in twice:
            continue
        first = by_name.setdefault((key.account, key.name) if declared else key.name, key)
        if first is not key:
            where = f" in account {key.account}" if declared else ""
            msg = f"name {key.name!r} is also used{where} at {first.location}: "
            msg += "these keys are never bound by name"
            found.append(_at(loc, msg, key.address, WARNING))
    return found


def _addresses(claims: Iterable[Claim], declared: bool) -> tuple[list[Diagnostic], set[Location]]:
    """An error on each entry whose address an earlier one in its account took, and where."""
    found: list[Diagnostic] = []
    twice: set[Location] = set()
    first_of: dict[object, Claim] = {}
    for claim in claims:
        first = first_of.setdefault((claim.account, claim.address) if declared else claim.address, claim)
        if first is claim:
            continue
        what = "name" if claim.by_name and first.by_name else "id"
        where = f" in account {claim.account}" if declared else ""
        msg = f"duplicate {what} {claim.address!r}{where}: already the id (or name) of the key at "
        loc = claim.location
        found.append(_at(loc, msg + str(first.location), claim.address))
        twice.add(loc)
    return found, twice


def _at(where: Location, message: str, address: str, severity: str = ERROR) -> Diagnostic:
    """A problem of the key entry at `where`, naming that key (`address`: its id, else its name)
    as every problem of one key does: JSON's `key`."""
    return Diagnostic(where.file, where.line, where.col, "", message, severity, key_id=address)
