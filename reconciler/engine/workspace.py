"""A run's workspace opened: the manifest loaded, its state (a sandbox run keeps its own), and
where the API is; which keys the run covers (`--target`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.core.errors import EhkeysError, UsageError
from reconciler.core.keys import DesiredKey
from reconciler.engine.console import Console
from reconciler.engine.settings import Workspace
from reconciler.engine.target import Target
from reconciler.manifest import load as manifest
from reconciler.planning.planner import Desired
from reconciler.state import migrate as statemigrate
from reconciler.state import paths as statepaths
from reconciler.state.store import State


class ManifestInvalid(EhkeysError):
    """The manifest has errors (already shown)."""


@dataclass(frozen=True)
class Opened:
    manifest: manifest.Manifest
    state: State
    target: Target


def load_manifest(paths: Sequence[str], console: Console) -> manifest.Manifest:
    result = manifest.load(paths)
    console.diagnostics(result.diagnostics)
    if result.manifest is None:
        raise ManifestInvalid(f"the manifest has {len(result.errors)} error(s); nothing was sent")
    return result.manifest


def state_path(workspace: Workspace) -> Path:
    """`--state`, else the manifest's own (`statepaths.default_state`: `.ehkeys/<name>/state.json`
    beside it; the sandbox's in `.ehkeys/<name>/sandbox/`, so a trial on the sandbox never
    teaches the real account's plan anything)."""
    if workspace.state:
        return Path(workspace.state)
    return statepaths.default_state(workspace.manifests, workspace.connection.sandbox)


def legacy_state(workspace: Workspace) -> Path | None:
    """Where earlier versions kept the state, for a run that moves it (`statemigrate`); none
    with --state."""
    if workspace.state:
        return None
    return statepaths.legacy_state(workspace.manifests, workspace.connection.sandbox)


def open_workspace(workspace: Workspace, console: Console) -> Opened:
    """The manifest, its state, and where the API is (the sandbox opened if it is that)."""
    loaded = load_manifest(workspace.manifests, console)
    target = Target.of(workspace.connection, workspace.manifests)
    path = state_path(workspace)
    if not workspace.state:
        statemigrate.adopt_legacy(workspace.manifests, target.is_sandbox)
    if workspace.connection.sandbox and workspace.connection.sandbox_reset and not workspace.state:
        _start_over(path)  # the sandbox starts afresh: so does what ehkeys remembered of it
    return Opened(loaded, State(path, statepaths.owner(workspace.manifests)), target)


def _start_over(state: Path) -> None:
    for name in (state.name, "journal.jsonl", "drift-seen.json"):
        (state.parent / name).unlink(missing_ok=True)


def desired(loaded: manifest.Manifest, targets: Sequence[str]) -> Desired:
    """The manifest's keys, or only those named by --target (an address or a name; each must exist)."""
    chosen = frozenset(k.address for k in select(loaded.keys, targets)) if targets else frozenset()
    (account,) = loaded.accounts  # one account per run, until the engine plans each of several
    return Desired(loaded.keys, account.prune, account.ignore, account.key_cap, chosen)


def select(keys: Sequence[DesiredKey], targets: Sequence[str]) -> list[DesiredKey]:
    """The keys each target names: an id, else a name; one that could be two keys is refused."""
    if not targets:
        return list(keys)
    chosen: dict[str, DesiredKey] = {}
    for target in targets:
        matches = {k.address: k for k in keys if target in (k.address, k.name)}
        if not matches:
            raise UsageError(f"--target {target!r}: no key with that id or name in the manifest")
        if len(matches) > 1:
            raise UsageError(
                f"--target {target!r}: the id or name of {len(matches)} keys; name one by its id"
            )
        chosen.update(matches)
    return [k for k in keys if k.address in chosen]
