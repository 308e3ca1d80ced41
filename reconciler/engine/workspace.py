"""A run's workspace opened: the manifest loaded and, for each of its accounts the run covers
(`--account`), that account's state (a sandbox run keeps its own) and where its API is; which
keys the run covers (`--target`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.core.accounts import DEFAULT, DEFAULT_KEY_VAR, IMPLICIT, Account
from reconciler.core.errors import EhkeysError, UsageError
from reconciler.core.keys import DesiredKey
from reconciler.core.plans import Move
from reconciler.engine.console import Console
from reconciler.engine.owners import others_of
from reconciler.engine.settings import Connection, Workspace
from reconciler.engine.target import Target, sandbox_variables
from reconciler.manifest import hints
from reconciler.manifest import load as manifest
from reconciler.planning.planner import Desired
from reconciler.planning.pruning import ForAccount, OtherStates
from reconciler.state import migrate as statemigrate
from reconciler.state import paths as statepaths
from reconciler.state import reading as statereading
from reconciler.state.store import State

JOURNAL = statepaths.JOURNAL_FILE  # beside each state file


class ManifestInvalid(EhkeysError):
    """The manifest has errors (already shown)."""


@dataclass(frozen=True)
class Opened:
    """One account of the manifest, opened: its keys, its state, where its API is."""

    manifest: manifest.Manifest
    account: Account
    state: State
    target: Target
    others: OtherStates = field(compare=False)  # where the other roots' states are (read once a run)

    @property
    def keys(self) -> tuple[DesiredKey, ...]:
        return self.manifest.keys_of(self.account.name)


def load_manifest(paths: Sequence[str], console: Console, connection: Connection) -> manifest.Manifest:
    result = manifest.load(paths, fallback=sandbox_variables(connection))
    console.diagnostics(result.diagnostics)
    if result.manifest is None:
        raise ManifestInvalid(
            f"the manifest has {_errors(len(result.errors))}: the account was neither read nor changed"
        )
    return result.manifest


def _errors(count: int) -> str:
    return f"{count} error" + ("" if count == 1 else "s")


def state_path(workspace: Workspace, account: Account = IMPLICIT) -> Path:
    """`--state`, else the account's own (`statepaths.default_state`: `.ehkeys/<name>/state.json`
    beside the manifest, `.ehkeys/<name>/<account>/` for an account it declares; the sandbox's
    in `sandbox/` below, so a trial on the sandbox never teaches the real account's plan anything)."""
    if workspace.state:
        return Path(workspace.state)
    name = account.name if account.declared else None
    return statepaths.default_state(workspace.manifests, workspace.connection.sandbox, name)


def state_paths(workspace: Workspace) -> list[Path]:
    """Every state the run uses, one per account it covers (the GitOps jobs pull and push each).
    A manifest that cannot be read names its one default state: the run itself says what is wrong."""
    loaded = manifest.load(workspace.manifests, offline=True).manifest
    if loaded is None:
        return [state_path(workspace)]
    try:
        return [state_path(workspace, account) for account in accounts_of(loaded, workspace)]
    except UsageError:
        return [state_path(workspace)]


def legacy_state(workspace: Workspace) -> Path | None:
    """Where earlier versions kept the state, for a run that moves it (`statemigrate`); none
    with --state."""
    if workspace.state:
        return None
    return statepaths.legacy_state(workspace.manifests, workspace.connection.sandbox)


def _no_such_account(accounts: tuple[Account, ...]) -> str:
    """Why an --account name is unknown: the accounts there are, or that the manifest declares
    none (its one account, `default`, is no name a user wrote)."""
    if not any(a.declared for a in accounts):
        return "the manifest declares no accounts (it has no `accounts:`): drop --account"
    return f"the manifest has no such account ({', '.join(sorted(a.name for a in accounts))})"


def accounts_of(loaded: manifest.Manifest, workspace: Workspace) -> tuple[Account, ...]:
    """The accounts the run covers: every one, or those --account names (each must exist), and
    with --target only those holding a targeted key."""
    chosen = loaded.accounts
    if workspace.accounts:
        known = {a.name for a in loaded.accounts}
        for name in workspace.accounts:
            if name not in known:
                hint = hints.closest(name, known)
                raise UsageError(f"--account {name!r}: {_no_such_account(loaded.accounts)}{hint}")
        chosen = tuple(a for a in chosen if a.name in workspace.accounts)
    if workspace.targets:
        chosen = _holding(loaded.keys, workspace.targets, chosen)
    if workspace.state and len(chosen) > 1:
        raise UsageError(
            f"--state names one state, but the run covers {len(chosen)} accounts "
            f"({', '.join(a.name for a in chosen)}): pass --account NAME with it"
        )
    return chosen


def _holding(
    keys: Sequence[DesiredKey], targets: Sequence[str], chosen: Sequence[Account]
) -> tuple[Account, ...]:
    """The chosen accounts holding a targeted key; a target whose key is in an account that
    --account leaves out is refused, naming both (the run would plan nothing for it)."""
    names = {a.name for a in chosen}
    for target in targets:
        (key,) = select(keys, (target,))
        if key.account not in names:
            raise UsageError(
                f"--target {target!r}: a key of account {key.account}, which --account leaves out "
                f"(the run covers {', '.join(sorted(names))}): add --account {key.account}, or drop --account"
            )
    held = {k.account for k in select(keys, targets)}
    return tuple(a for a in chosen if a.name in held)


def open_accounts(workspace: Workspace, console: Console) -> list[Opened]:
    """The manifest, and each account the run covers opened (the sandbox's if it is that)."""
    loaded = load_manifest(workspace.manifests, console, workspace.connection)
    for warning in forgotten(loaded, workspace):
        console.warning(warning)
    return open_each(loaded, accounts_of(loaded, workspace), workspace)


def forgotten(loaded: manifest.Manifest, workspace: Workspace) -> list[str]:
    """What is said of each account whose state binds keys but which the manifest no longer
    declares: its keys stay in it, no longer managed by anyone."""
    if workspace.state or not any(a.declared for a in loaded.accounts):
        return []
    declared = {a.name for a in loaded.accounts}
    said = []
    for name, path in statepaths.account_states(workspace.manifests, workspace.connection.sandbox).items():
        try:
            bound = (
                sorted(statereading.contents(path, path.parent / JOURNAL).bindings)
                if name not in declared
                else []
            )
        except EhkeysError:
            continue  # a state that cannot be read is said so where it is used
        if bound:
            said.append(
                f"account {name} is no longer declared, but its state ({path}) binds {len(bound)} "
                f"key(s) ({', '.join(bound[:5])}{' …' if len(bound) > 5 else ''}): they stay in that "
                f"account, their credits allocated, managed by nobody. To delete them, declare {name} "
                f"again with those keys absent: true; to forget them, remove {path.parent}/"
            )
    return said


def open_each(loaded: manifest.Manifest, accounts: Sequence[Account], workspace: Workspace) -> list[Opened]:
    """Each account opened; one sandbox (opened, and with --sandbox-reset refilled, once) serves all.
    Where each state is kept is settled first: one that cannot be (`state_path`) makes no sandbox."""
    for account in accounts:
        state_path(workspace, account)
    targets = Target.of_each(workspace.connection, workspace.manifests, accounts, loaded.accounts)
    others = others_of(workspace)  # one for the run: read once, whichever account asks first
    return [open_account(loaded, target, workspace, others) for target in targets]


def open_account(
    loaded: manifest.Manifest, target: Target, workspace: Workspace, others: OtherStates
) -> Opened:
    account = target.account
    path = state_path(workspace, account)
    if not workspace.state and not account.declared:
        statemigrate.adopt_legacy(workspace.manifests, target.is_sandbox)
    elif not workspace.state and not target.is_sandbox:
        statemigrate.adopt_undeclared(workspace.manifests, [a.name for a in loaded.accounts], _former(loaded))
    if workspace.connection.sandbox and workspace.connection.sandbox_reset and not workspace.state:
        _start_over(path)  # the sandbox starts afresh: so does what ehkeys remembered of it
    owner = statepaths.owner(workspace.manifests)
    unverified = path.resolve() in {p.resolve() for p in workspace.unverified}
    declared = account.name if account.declared else None
    state = State(path, owner, declared, unverified)
    return Opened(loaded, account, state, target, ForAccount(others, declared))  # its account's claims


def _former(loaded: manifest.Manifest) -> str | None:
    """The declared account whose key is the one $ELECTRONHUB_API_KEY holds: the account the
    manifest's state was kept for before it declared accounts (None: not exactly one)."""
    key = os.environ.get(DEFAULT_KEY_VAR)
    found = [a.name for a in loaded.accounts if key and os.environ.get(a.key_var) == key]
    return found[0] if len(found) == 1 else None


def _start_over(state: Path) -> None:
    for name in (state.name, statepaths.JOURNAL_FILE, statepaths.SEEN_FILE):
        (state.parent / name).unlink(missing_ok=True)


def desired(
    loaded: manifest.Manifest, targets: Sequence[str], account: str = DEFAULT, moves: Sequence[Move] = ()
) -> Desired:
    """The account's keys, or only those named by --target (an address or a name; each must
    exist); the keys that `moves` take out of the account or bring into it."""
    settings, keys = loaded.account(account), loaded.keys_of(account)
    chosen = frozenset(k.address for k in select(keys, targets, strict=False)) if targets else frozenset()
    moved_out = {m.address: m.target for m in moves if m.source == account}
    moved_in = {m.address: m.source for m in moves if m.target == account}
    planned = chosen or frozenset(k.address for k in keys)
    mine = {k.address for k in keys}
    elsewhere = {k.address: k.account for k in loaded.keys if k.account != account and k.address not in mine}
    live_elsewhere = frozenset(k.address for k in loaded.keys if k.address in elsewhere and not k.absent)
    return Desired(
        keys,
        settings.prune,
        settings.ignore,
        settings.key_cap,
        chosen,
        moved_out,
        moved_in,
        settings.prune_at,
        settings.policy,
        settings.budget,
        [v for v in loaded.violations if v.account == account and v.address in planned],
        [w for w in loaded.waivers if w.account == account and w.address in planned],
        loaded.rules_of(account),
        loaded.groups,
        elsewhere,
        live_elsewhere=live_elsewhere,
    )


def select(
    keys: Sequence[DesiredKey], targets: Sequence[str], strict: bool = True, option: str = "--target "
) -> list[DesiredKey]:
    """The keys each target names: an address (`prod/backend` where accounts are declared), an
    id, else a name; one that could be two keys is refused. `strict`: each target must name one.
    `option`: how the messages name what the user gave (`--target `; reveal's IDs: nothing)."""
    if not targets:
        return list(keys)
    chosen: dict[tuple[str, str], DesiredKey] = {}
    for target in targets:
        matches = _named(keys, target)
        if strict and not matches:
            raise UsageError(f"{option}{target!r}: {_unknown(keys, target)}")
        if len(matches) > 1:
            shown = ", ".join(_shown(k) for k in matches.values())
            raise UsageError(
                f"{option}{target!r}: the id or name of {len(matches)} keys ({shown}); "
                "name one by its address"
            )
        chosen.update(matches)
    return [k for k in keys if (k.account, k.address) in chosen]


def _named(keys: Sequence[DesiredKey], target: str) -> dict[tuple[str, str], DesiredKey]:
    """The keys whose address or id is `target`, else those whose name is: an id is exact, so
    `dup` is the key of that id though another key is named `dup` too."""
    by_id = {(k.account, k.address): k for k in keys if target in (k.address, f"{k.account}/{k.address}")}
    return by_id or {(k.account, k.address): k for k in keys if k.name == target}


def _shown(key: DesiredKey) -> str:
    """A key as the user names it: its address (`prod/backend` where accounts are declared)."""
    return key.address if key.account == DEFAULT else f"{key.account}/{key.address}"


def _unknown(keys: Sequence[DesiredKey], target: str) -> str:
    """Why a target names no key; for `prod/backend`, where a key `backend` is if it is elsewhere."""
    _, _, rest = target.rpartition("/")
    elsewhere = [_shown(k) for k in keys if rest and "/" in target and rest in (k.address, k.name)]
    if elsewhere:
        return f"no such key in the manifest; {rest!r} is {' and '.join(elsewhere)}"
    named = {spelled for k in keys for spelled in (_shown(k), k.name)}
    return f"no key with that id or name in the manifest{hints.closest(target, sorted(named))}"
