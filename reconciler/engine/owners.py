"""The other manifests' states in this checkout, for a plan with unmanaged keys (`planning.pruning`).

On the command line every manifest keeps its state beside it (`.ehkeys/<name>/`), so the
checkout holds the states of the manifests applied from it: every state file below the
repository's top (the folder holding `.git`, up from the manifest; without one, the manifest's
own folder) but this manifest's own is another's. They are looked for once a run, and only when
the account has unmanaged keys. The GitOps jobs read theirs from the state branch (`gitops.otherstates`),
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
from reconciler.manifest.load import Manifest, load
from reconciler.planning.pruning import Others, OtherStates, Owner
from reconciler.state import others, reading
from reconciler.state.format import Contents

Entry = Mapping[str, Any]  # a journal line
MADE = "its state records a create of a key of this name that it never saw land"
ADOPTS = (
    "its manifest names a key so that its state binds to no key yet: its next apply adopts this one by name"
)


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
    asks for them: whose each live key is, and whose a key of a name may be; `top`: the
    checkout, holding the manifests they name."""

    top: Path
    owners: dict[str, Owner] = field(default_factory=dict)
    named: dict[str, Owner] = field(default_factory=dict)
    loaded: dict[Path, Manifest | None] = field(default_factory=dict)

    def add(self, whose: str, where: str, contents: Contents, journal: Iterable[Entry]) -> None:
        """The state at `where` of the manifest `whose` (`others.named`), and its journal;
        StateError when that manifest is in the checkout and cannot be read."""
        for fingerprint in others.held(contents):
            self.owners.setdefault(fingerprint, Owner(whose, f"its state binds it: {where}"))
        for name in others.creating(contents, journal):
            self.named.setdefault(name, Owner(whose, f"{MADE}: {where}", maybe=True))
        for name in self._unbound(whose, contents) if contents.manifest is not None else ():
            self.named.setdefault(name, Owner(whose, ADOPTS, maybe=True))

    def _unbound(self, whose: str, contents: Contents) -> set[str]:
        """The names of the keys the manifest names that its state binds to no key yet: its next
        apply adopts a live key of each name (a key moving there from here, say)."""
        path, top = (self.top / whose).resolve(), self.top.resolve()
        if path == top or not path.is_relative_to(top):
            return set()  # a path a state writes: never the runner's disk, nor the whole checkout
        if path not in self.loaded:
            self.loaded[path] = _manifest(path, whose)
        found = self.loaded[path]
        keys = () if found is None else found.keys_of(contents.account) if contents.account else found.keys
        return {k.name for k in keys if not k.absent and k.address not in contents.bindings}

    def others(self) -> Others:
        return Others(self.owners, by_name=self.named)


def _manifest(path: Path, whose: str) -> Manifest | None:
    """The manifest at `path`, offline (None: it is gone); StateError when it cannot be read."""
    if not path.exists():
        return None
    result = load([_here(path)], env={}, offline=True)
    if result.manifest is None:
        first = result.errors[0].text() if result.errors else "it holds no manifest"
        raise StateError(f"{whose}, whose next apply may adopt a key by its name, cannot be read: {first}")
    return result.manifest


def _read(workspace: Workspace) -> Others:
    top, own = others.repository_top(workspace.manifests), others.Own.of(workspace.manifests, workspace.state)
    found = Found(top)
    unknown = in_checkout(found, top, own, workspace.connection.sandbox)
    return Others(unknown=unknown) if unknown else replace(found.others(), caveat=_outside(top))


def _here(path: Path) -> str:
    """`path` from the working directory, as messages name files."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive
        return str(path)


def _outside(top: Path) -> str:
    """What a plan that prunes says when no git checkout holds the manifest ('' when one does)."""
    if (top / ".git").exists():
        return ""
    folder = _here(top)
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
            if not own.holds(path, contents):
                found.add(others.named_below(top, path, contents), shown + said, contents, journal)
        except StateError as exc:
            return str(exc)
    return ""


def _contents(path: Path) -> tuple[Contents, list[Entry]]:
    """The state and its journal replayed (a conflict's copy has none of its own)."""
    journal = path.parent / others.JOURNAL
    if path.name != others.STATE_FILE:
        return reading.snapshot(path, journal), []
    return reading.contents(path, journal), list(reading.entries(journal, False))
