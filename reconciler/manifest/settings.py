"""The settings a manifest states once for all its keys: its accounts and, as the defaults of
every account, prune, ignore, key_cap, per_key_cap, policy and budget.

A directory manifest states them in its `ehkeys.yaml`; one set in another of its files is an
error saying to move it there (naming both places when both set it). The files of a folder
without one may each set them, as before: prune, key_cap, accounts, policy and budget must then agree,
ignore patterns add up, and each file keeps its own per_key_cap and defaults.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from reconciler.core.accounts import Account
from reconciler.core.hosts import DEFAULT_BASE_URL, shown_url, url_problem
from reconciler.core.keys import Location
from reconciler.core.policy import Budget, Group, Policy
from reconciler.manifest import groups, policy
from reconciler.manifest.diagnostics import WARNING, Diagnostic
from reconciler.manifest.fileload import FileLoader, Setting
from reconciler.manifest.keycontext import Given, KeyContext
from reconciler.manifest.layout import SETTINGS, TEAM

NAMES = ("accounts", "defaults", "prune", "ignore", "key_cap", "per_key_cap", "policy", "budget", "groups")
"""A directory manifest's settings: in its ehkeys.yaml only."""
_SHARED = ("prune", "ignore", "key_cap", "accounts", "policy", "budget", "groups")  # one for a folder
_VAR = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


@dataclass(frozen=True)
class Resolved:
    accounts: tuple[Account, ...]
    context: KeyContext
    groups: tuple[Group, ...] = ()

    @property
    def declared(self) -> bool:
        return any(account.declared for account in self.accounts)


def resolve(loaders: Sequence[FileLoader], diagnostics: list[Diagnostic]) -> Resolved:
    """The manifest's accounts, and what its files' keys take from it."""
    settings = next((loader for loader in loaders if loader.role == SETTINGS), None)
    if settings is None:
        found = _merged(loaders, diagnostics)
        cap = _agreed(loader.setting("per_key_cap") for loader in loaders)
        return _resolved(found, cap, None)
    diagnostics.extend(_misplaced(loaders, settings))
    found = {name: s for name in NAMES if (s := settings.setting(name)) is not None}
    return _resolved(found, _decimal(found.get("per_key_cap")), settings)


def shared_keys(resolved: Resolved, loaders: Sequence[FileLoader]) -> list[Diagnostic]:
    """An error on each account whose key is read from the variable of an earlier account with
    the same base URL: both would be one account, each seeing the other's keys as unmanaged
    (and pruning them), each creating its keys in the other."""
    owner = next((s.owner for loader in loaders if (s := loader.setting("accounts")) is not None), None)
    first: dict[tuple[str, str | None], str] = {}
    found = []
    for account in resolved.accounts:
        if not account.declared or not account.key_var or owner is None:
            continue
        where = (account.key_var, (account.base_url or DEFAULT_BASE_URL).rstrip("/"))  # written or not
        other = first.setdefault(where, account.name)
        if other != account.name:
            at = owner.location(("accounts", account.name, "api_key"))
            message = (
                f"${{{account.key_var}}} is already the key of account {other}: two accounts on one "
                "account key are one account, each creating its keys in the other and seeing the "
                "other's as unmanaged (prune: true deletes them); give each account its own variable"
            )
            found.append(_diagnostic(at, f"accounts.{account.name}.api_key", message))
    return found


def _resolved(found: dict[str, Setting], cap: Decimal | None, settings: FileLoader | None) -> Resolved:
    top = _top(found, cap)
    declared = found.get("accounts")
    teams = groups.read(found.get("groups"))
    declared_groups = tuple(frame.group for frame in teams.values())
    if declared is None:
        only = Account(**top)
        policies = {only.name: only.policy}
        context = KeyContext(
            cap=cap if settings else None, defaults=settings, policies=policies, groups=teams
        )
        return Resolved((only,), context, declared_groups)
    entries = declared.value if isinstance(declared.value, dict) else {}
    accounts = tuple(_account(name, raw, declared.owner, top) for name, raw in entries.items())
    where = _at(declared.owner.location(("accounts",), key=True))
    context = KeyContext(
        accounts={a.name: _own_cap(a.name, entries, declared.owner) for a in accounts},
        where=where,
        cap=cap if settings else None,
        defaults=settings,
        unchecked=not isinstance(declared.value, dict),
        policies={a.name: a.policy for a in accounts},
        groups=teams,
        deliveries=_deliveries(entries, declared.owner),
    )
    return Resolved(accounts, context, declared_groups)


def _deliveries(entries: dict[str, Any], owner: FileLoader) -> dict[str, Given]:
    """Each account's own `deliver:` (accounts.NAME.deliver), where it is."""
    found = {name: _own(name, raw, owner) for name, raw in entries.items()}
    return {name: (owner, ("accounts", name), own) for name, own in found.items() if "deliver" in own}


def _top(found: dict[str, Setting], cap: Decimal | None) -> dict[str, Any]:
    """The top-level settings, as Account's fields: every account's defaults."""
    prune = found.get("prune")
    key_cap = found.get("key_cap")
    return {
        "prune": prune is not None and prune.value is True,
        "prune_at": prune.where if prune is not None and prune.value is True else None,
        "ignore": tuple(found["ignore"].value) if "ignore" in found else (),
        "key_cap": key_cap.value if key_cap is not None else None,
        "per_key_cap": cap,
        "policy": _policy(found.get("policy")),
        "budget": _budget(found.get("budget")),
    }


def _policy(setting: Setting | None) -> Policy:
    if setting is None:
        return Policy()
    owner = setting.owner
    return policy.read_policy(setting.value, ("policy",), owner.bad_paths, owner.report, owner.location)


def _budget(setting: Setting | None) -> Budget:
    if setting is None:
        return Budget()
    owner = setting.owner
    return policy.read_budget(setting.value, ("budget",), owner.bad_paths, owner.location)


def _account(name: str, raw: Any, owner: FileLoader, top: dict[str, Any]) -> Account:
    """One declared account: its own settings, else the top-level ones."""
    own = _own(name, raw, owner)
    match = _VAR.match(str(own.get("api_key", "")))
    prune, prune_at = top["prune"], top["prune_at"]
    if "prune" in own:
        prune = own["prune"]
        prune_at = owner.location(("accounts", name, "prune")) if prune else None
    return Account(
        name=name,
        key_var=match.group(1) if match else "",
        base_url=_base_url(name, own, owner),
        key_cap=own.get("key_cap", top["key_cap"]),
        per_key_cap=_decimal_of(own.get("per_key_cap")) or top["per_key_cap"],
        prune=prune,
        prune_at=prune_at,
        ignore=(*top["ignore"], *own.get("ignore", ())),
        max_debit=_decimal_of(own.get("max_debit")),
        declared=True,
        policy=top["policy"].under(_own_policy(name, own, owner)),
        budget=top["budget"].under(_own_budget(name, own, owner)),
    )


def _base_url(name: str, own: dict[str, Any], owner: FileLoader) -> str | None:
    """The account's base URL; one the client would refuse is an error at its place (validate
    passed it, and the plan then stopped that account)."""
    url = own.get("base_url")
    problem = url_problem(url) if url is not None else ""
    if problem:
        owner.report(("accounts", name, "base_url"), f"base URL {shown_url(str(url))}: {problem}")
        return None
    return None if url is None else str(url)


def _own_policy(name: str, own: dict[str, Any], owner: FileLoader) -> Policy:
    path = ("accounts", name, "policy")
    return policy.read_policy(own.get("policy"), path, owner.bad_paths, owner.report, owner.location)


def _own_budget(name: str, own: dict[str, Any], owner: FileLoader) -> Budget:
    path = ("accounts", name, "budget")
    return policy.read_budget(own.get("budget"), path, owner.bad_paths, owner.location)


def _own(name: str, raw: Any, owner: FileLoader) -> dict[str, Any]:
    """An account's fields that the schema found right."""
    if not isinstance(raw, dict):
        return {}
    return {f: v for f, v in raw.items() if ("accounts", name, f) not in owner.bad_paths}


def _own_cap(name: str, entries: dict[str, Any], owner: FileLoader) -> Decimal | None:
    return _decimal_of(_own(name, entries.get(name), owner).get("per_key_cap"))


def _decimal(setting: Setting | None) -> Decimal | None:
    return _decimal_of(setting.value) if setting is not None else None


def _decimal_of(value: Any) -> Decimal | None:
    return Decimal(value) if isinstance(value, (int, Decimal)) and not isinstance(value, bool) else None


def _agreed(settings: Any) -> Decimal | None:
    """The per_key_cap the files of a folder agree on (each keeps its own for its keys)."""
    values = {_decimal(s) for s in settings if s is not None}
    return values.pop() if len(values) == 1 else None


def _merged(loaders: Sequence[FileLoader], diagnostics: list[Diagnostic]) -> dict[str, Setting]:
    """prune, key_cap and accounts from whichever file sets them (two may not disagree); the
    ignore patterns of every file."""
    found: dict[str, Setting] = {}
    for loader in loaders:
        for name in _SHARED:
            setting = loader.setting(name)
            first = found.get(name)
            if setting is None:
                continue
            if first is None:
                found[name] = setting
            elif name == "ignore":
                found[name] = Setting([*first.value, *setting.value], first.where, first.owner)
            elif first.value != setting.value:
                msg = f"{name} is set differently in {_at(first.where)}: set it in one file"
                diagnostics.append(_diagnostic(setting.where, name, msg))
    return found


def _misplaced(loaders: Sequence[FileLoader], settings: FileLoader) -> list[Diagnostic]:
    """A setting in a directory manifest's other files: said where it belongs."""
    found = []
    for loader in (loader for loader in loaders if loader.role == TEAM):
        for name in (name for name in NAMES if name in loader.data):
            where = loader.location((name,), key=True)
            found.append(_misplaced_one(name, loader.data[name], where, settings))
    return found


def _misplaced_one(name: str, value: Any, where: Location, settings: FileLoader) -> Diagnostic:
    home = settings.file
    if name not in settings.data:
        message = (
            f"{name} is a setting of the whole directory manifest: move it to {home}, "
            "where its settings are stated once for every file's keys"
        )
        return _diagnostic(where, name, message)
    there = _at(settings.location((name,), key=True))
    if settings.data[name] == value:
        message = f"{name} is already set, to the same value, in {there}: remove it here"
        return _diagnostic(where, name, message, WARNING)
    message = (
        f"{name} is set differently in {there}: a directory manifest states its settings once, "
        f"in {home}; remove it here"
    )
    return _diagnostic(where, name, message)


def _at(where: Location) -> str:
    return f"{where.file}:{where.line}"


def _diagnostic(where: Location, path: str, message: str, severity: str = "error") -> Diagnostic:
    return Diagnostic(where.file, where.line, where.col, path, message, severity)
