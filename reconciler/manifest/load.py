"""Load a manifest: read, parse, validate against schemas/manifest.schema.json, normalise.

The schema is the single statement of the format's shape; this package adds what a schema
cannot say (environment references, IP networks, dates, accounts, duplicates across files,
the per-key cap) and turns every problem into a Diagnostic with file, line and column.

`load` reads ONE manifest: a file, a directory, or a file of a directory manifest (which reads
the whole of it). `layout.sources` says which manifests several inputs are; each is loaded on
its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from reconciler.core.accounts import DEFAULT, Account
from reconciler.core.heap import gc_paused
from reconciler.core.jsonvalue import to_json_value
from reconciler.core.keys import DesiredKey
from reconciler.core.policy import Group, KeyRules, Violation, Waiver
from reconciler.manifest import addresses, groups, layout, policy, settings, sinks, unset
from reconciler.manifest.diagnostics import Diagnostic, ordered
from reconciler.manifest.duplicates import duplicates
from reconciler.manifest.envvars import checked_environment, proxy_key_variables
from reconciler.manifest.fileload import MAX_FILE_BYTES, FileLoader

__all__ = ["MAX_FILE_BYTES", "LoadResult", "Manifest", "load"]


@dataclass(frozen=True)
class Manifest:
    keys: tuple[DesiredKey, ...]
    files: tuple[str, ...]
    accounts: tuple[Account, ...] = (Account(),)  # each key names one of them (`key.account`)
    violations: tuple[Violation, ...] = ()  # what its keys break of their account's policy
    waivers: tuple[Waiver, ...] = ()  # the keys' exceptions in force
    groups: tuple[Group, ...] = ()  # teams' groups of keys (`groups:`; a key's `group:`)
    rules: Mapping[tuple[str, str], KeyRules] = field(default_factory=dict)  # by (account, address)
    secret_vars: frozenset[str] = frozenset()  # what its proxy_key fields read: never a command's
    caps: Mapping[tuple[str, str], Decimal | None] = field(
        default_factory=dict
    )  # per_key_cap in force, by key

    def __repr__(self) -> str:  # short, like Plan's: asyncio may format it
        return f"<Manifest of {len(self.keys)} keys from {', '.join(self.files)}>"

    def account(self, name: str) -> Account:
        return next(a for a in self.accounts if a.name == name)

    def keys_of(self, account: str) -> tuple[DesiredKey, ...]:
        return tuple(k for k in self.keys if k.account == account)

    def rules_of(self, account: str) -> dict[str, KeyRules]:
        """Address -> what each key of `account` is judged by (one without rules or exceptions: none)."""
        return {address: rules for (name, address), rules in self.rules.items() if name == account}

    def address(self, key: DesiredKey) -> str:
        """The key's address as shown: `prod/backend` when the manifest declares accounts."""
        return self.account(key.account).address(key.address)

    @property
    def digest(self) -> str:
        """Identifies the desired state (not the bytes): comments and layout do not count."""
        rows = [[_identity(k), {f: to_json_value(v) for f, v in k.values().items()}] for k in self.keys]
        identity = [rows, _settings_identity(self.accounts)]
        ruled = [a.name for a in self.accounts if a.policy or a.budget]
        if ruled or self.waivers or self.groups:  # without a policy: the digest it always had
            policies = [[a.name, a.policy.identity(), a.budget.identity()] for a in self.accounts]
            policies += [[g.name, g.policy.identity(), g.budget.identity()] for g in self.groups]
            waived = sorted([w.account, w.address, w.rule, w.reason] for w in self.waivers)
            identity.append([policies, waived])
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def _settings_identity(accounts: tuple[Account, ...]) -> list[Any]:
    """The accounts' settings as the digest counts them (one undeclared account: as it always was)."""
    if len(accounts) == 1 and not accounts[0].declared:
        only = accounts[0]
        return [only.prune, list(only.ignore), only.key_cap]
    return [
        [
            a.name,
            a.key_var,
            a.base_url,
            a.prune,
            list(a.ignore),
            a.key_cap,
            str(a.per_key_cap),
            str(a.max_debit),
        ]
        for a in accounts
    ]


def _identity(key: DesiredKey) -> list[Any]:
    secret = key.proxy_key.fingerprint if key.proxy_key else None
    identity: list[Any] = [key.address, secret, key.is_active, key.absent, key.protect]
    identity = identity if key.account == DEFAULT else [*identity, key.account]
    identity = identity if key.group is None else [*identity, {"group": key.group}]
    identity = identity if not key.deliver else [*identity, {"deliver": [s.ident for s in key.deliver]}]
    rotate = key.rotate
    return identity if rotate is None else [*identity, {"rotate": [str(rotate.every), str(rotate.overlap)]}]


@dataclass
class LoadResult:
    manifest: Manifest | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)  # of the policy: errors to `validate`

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]


def load(
    inputs: Sequence[str],
    env: Mapping[str, str] | None = None,
    now: int | None = None,
    offline: bool = False,
    fallback: Mapping[str, str] | None = None,
) -> LoadResult:
    """Every problem in every file, not just the first; a Manifest only when none is an error.
    `offline` (validate): a ${VAR} that is not set is a notice, not an error. `fallback`: what
    ${VAR} reads where `env` sets no VAR (a --sandbox run: its seed's keys' variables)."""
    files, diagnostics = layout.files(inputs)
    env = _environment(env, fallback, diagnostics)
    with gc_paused():
        loaders = [FileLoader(file, env, now, offline, role) for file, role in files]
        for loader in loaders:
            loader.read()
        if offline:  # validate: what plan, apply and deliver will need, said as notices
            diagnostics.extend(unset.notices(loaders, env))
        resolved = settings.resolve(loaders, diagnostics)
        diagnostics.extend(settings.shared_keys(resolved, loaders))
        keys = [key for loader in loaders for key in loader.keys(resolved.context)]
    for loader in loaders:
        diagnostics.extend(loader.diagnostics)
    diagnostics.extend(_across_files(keys, loaders, resolved))
    violations = [v for loader in loaders for v in loader.violations]
    result = LoadResult(None, ordered(set(diagnostics)), violations)  # a schema may say one thing twice
    if not result.errors and files:
        names = tuple(file for file, _ in files)
        waivers = tuple(w for loader in loaders for w in loader.waivers)
        found = (tuple(violations), waivers, resolved.groups)
        rules = {at: ruled for loader in loaders for at, ruled in loader.rules.items()}
        secret_vars = proxy_key_variables(loader.data for loader in loaders)
        caps = {at: cap for loader in loaders for at, cap in loader.caps.items()}
        result.manifest = Manifest(tuple(keys), names, resolved.accounts, *found, rules, secret_vars, caps)
    return result


def _environment(
    env: Mapping[str, str] | None, fallback: Mapping[str, str] | None, diagnostics: list[Diagnostic]
) -> Mapping[str, str]:
    """What ${VAR} reads: `env`, else the process's (its problems added to `diagnostics`), over
    `fallback`'s."""
    if env is None:
        env, problems = checked_environment()
        diagnostics.extend(problems)
    return {**fallback, **env} if fallback else env


def _across_files(
    keys: list[DesiredKey], loaders: list[FileLoader], resolved: settings.Resolved
) -> list[Diagnostic]:
    """The problems no one file shows: duplicates, shared variables and sinks, unjoined groups,
    budgets that never warn, a sink's token that is an account's key."""
    claims = [claim for loader in loaders for claim in loader.claims]
    budgets = [a.budget for a in resolved.accounts] + [g.budget for g in resolved.groups]
    return [
        *duplicates(keys, claims, resolved.declared),
        *addresses.shared_variables(keys, resolved.declared),
        *sinks.clashes(keys, resolved.declared),
        *groups.unjoined(resolved.context.groups or {}, loaders),
        *policy.never_warns(budgets),
        *sinks.account_tokens(keys, resolved.accounts),
    ]
