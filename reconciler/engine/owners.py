"""The other manifests' states in this checkout, for a plan that would prune (`planning.pruning`).

On the command line every manifest keeps its state beside it (`.ehkeys/<name>/`), so the
checkout holds the states of the manifests applied from it: every state file below the
repository's top (the folder holding `.git`, up from the manifest; without one, the manifest's
own folder) but this manifest's own is another's. They are looked for once a run, and only when
a key would be pruned. The GitOps jobs read theirs from the state branch (`gitops.otherstates`),
where a matrix job's checkout holds no other root's state.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from reconciler.core.errors import StateError
from reconciler.engine.settings import Workspace
from reconciler.planning.pruning import Others, OtherStates
from reconciler.state import others, reading
from reconciler.state.format import Contents


@dataclass
class CheckoutStates:
    """The other manifests' states below the repository's top, read on the first ask."""

    workspace: Workspace
    found: Others | None = None

    def read(self) -> Others:
        if self.found is None:
            self.found = _read(self.workspace)
        return self.found


def others_of(workspace: Workspace) -> OtherStates:
    """Where a run finds the other manifests' states: the caller's (the GitOps jobs: the state
    branch), else the checkout's."""
    return workspace.others if workspace.others is not None else CheckoutStates(workspace)


def _read(workspace: Workspace) -> Others:
    top = others.repository_top(workspace.manifests)
    own = others.Own.of(workspace.manifests, workspace.state)
    paths, unlisted = others.found_below(top, workspace.connection.sandbox)
    if unlisted:
        return Others(unknown=f"{unlisted[0]}: a folder of the checkout that cannot be listed may hold one")
    owners: dict[str, str] = {}
    for path in (p for p in paths if not own.holds(p)):
        try:
            contents = _contents(Path(os.path.relpath(path)))  # named from here in what it says
        except StateError as exc:
            return Others(unknown=str(exc))
        if own.holds(path, contents):
            continue
        shown = path.relative_to(top)
        label = f"{others.named(shown, contents)} (its state binds it: {shown.as_posix()})"
        for fingerprint in others.held(contents):
            owners.setdefault(fingerprint, label)
    return Others(owners)


def _contents(path: Path) -> Contents:
    """The state and its journal replayed (a conflict's copy has none of its own)."""
    journal = path.parent / others.JOURNAL
    if path.name != others.STATE_FILE:
        return reading.snapshot(path, journal)
    return reading.contents(path, journal)
