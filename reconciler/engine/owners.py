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
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from reconciler.core.errors import StateError
from reconciler.engine.settings import Workspace
from reconciler.planning.pruning import Others, OtherStates
from reconciler.state import others, reading
from reconciler.state.format import Contents

Entry = Mapping[str, Any]  # a journal line
MADE = "its state records a create of a key of this name that it never saw land"


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


@dataclass
class Found:
    """The other roots' states read so far (the checkout's, the state branch's), as the plan
    asks for them: whose each live key is, and whose a key of a name may be."""

    owners: dict[str, str] = field(default_factory=dict)
    creating: dict[str, str] = field(default_factory=dict)

    def add(self, whose: str, where: str, contents: Contents, journal: Iterable[Entry]) -> None:
        """The state at `where` of the manifest `whose` (`others.named`), and its journal."""
        for fingerprint in others.held(contents):
            self.owners.setdefault(fingerprint, f"{whose} (its state binds it: {where})")
        for name in others.creating(contents, journal):
            self.creating.setdefault(name, f"{whose}'s ({MADE}: {where})")

    def others(self) -> Others:
        return Others(self.owners, creating=self.creating)


def _read(workspace: Workspace) -> Others:
    found = Found()
    top, own = others.repository_top(workspace.manifests), others.Own.of(workspace.manifests, workspace.state)
    unknown = in_checkout(found, top, own, workspace.connection.sandbox)
    return Others(unknown=unknown) if unknown else replace(found.others(), caveat=_outside(top))


def _outside(top: Path) -> str:
    """What a plan that prunes says when no git checkout holds the manifest ('' when one does)."""
    if (top / ".git").exists():
        return ""
    try:
        folder = os.path.relpath(top)
    except ValueError:  # another drive
        folder = str(top)
    return (
        f"prune: no git checkout holds {folder} (no .git above it): other manifests' states were looked "
        f"for only below {folder}/, so a key that the state of a manifest elsewhere binds is pruned here "
        "as any other. Plan in the git checkout that holds every manifest of this account"
    )


def in_checkout(
    found: Found, top: Path, own: others.Own, sandbox: bool, but: Collection[str] = (), said: str = ""
) -> str:
    """The other manifests' states below `top` (a run's own, and those at a path in `but`, left
    out) added to `found`, each shown with `said` after its path; why one cannot be read, or ''."""
    paths, unlisted = others.found_below(top, sandbox)
    for folder, why in (u for u in unlisted if not own.holds(u[0])):
        return f"{folder}: {why}: a folder of the checkout that cannot be listed may hold one"
    for path in (p for p in paths if not own.holds(p)):
        shown = path.relative_to(top).as_posix()
        if shown in but:
            continue
        try:
            contents, journal = _contents(Path(os.path.relpath(path)))  # named from here in what it says
        except StateError as exc:
            return str(exc)
        if not own.holds(path, contents):
            found.add(others.named_below(top, path, contents), shown + said, contents, journal)
    return ""


def _contents(path: Path) -> tuple[Contents, list[Entry]]:
    """The state and its journal replayed (a conflict's copy has none of its own)."""
    journal = path.parent / others.JOURNAL
    if path.name != others.STATE_FILE:
        return reading.snapshot(path, journal), []
    return reading.contents(path, journal), list(reading.entries(journal, False))
