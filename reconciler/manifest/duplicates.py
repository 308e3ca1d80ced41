"""Keys that say the same thing twice: an id or name twice in one account, a proxy key twice
anywhere. The same id in two accounts (`prod/backend`, `staging/backend`) is two keys."""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.core.keys import DesiredKey
from reconciler.manifest.addresses import shown
from reconciler.manifest.diagnostics import WARNING, Diagnostic


def duplicates(keys: Iterable[DesiredKey], declared: bool = False) -> list[Diagnostic]:
    """`declared`: the manifest declares accounts, and messages name the key's."""
    found: list[Diagnostic] = []
    by_key: dict[str, DesiredKey] = {}
    by_name: dict[object, DesiredKey] = {}
    by_address: dict[object, DesiredKey] = {}
    for key in keys:
        loc = key.location
        first = by_key.setdefault(key.proxy_key.fingerprint, key) if key.proxy_key else key
        if first is not key:  # the value is a secret: name the places, never the key
            mine, theirs = shown(key, declared), shown(first, declared)
            msg = f"{mine!r} has the same proxy_key as {theirs!r} at {first.location}"
            found.append(Diagnostic(loc.file, loc.line, loc.col, "", "duplicate proxy_key: " + msg))
        first = by_address.setdefault((key.account, key.address) if declared else key.address, key)
        if first is not key:
            what = "name" if key.address == key.name and first.address == first.name else "id"
            where = f" in account {key.account}" if declared else ""
            msg = f"duplicate {what} {key.address!r}{where}: already the id (or name) of the key at "
            msg += str(first.location)
            found.append(Diagnostic(loc.file, loc.line, loc.col, "", msg))
            continue
        first = by_name.setdefault((key.account, key.name) if declared else key.name, key)
        if first is not key:
            where = f" in account {key.account}" if declared else ""
            msg = f"name {key.name!r} is also used{where} at {first.location}: "
            msg += "these keys are never bound by name"
            found.append(Diagnostic(loc.file, loc.line, loc.col, "", msg, WARNING))
    return found
