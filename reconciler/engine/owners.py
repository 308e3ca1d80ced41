"""The other manifests' states in this checkout, for a plan with unmanaged keys (`planning.pruning`).

On the command line every manifest keeps its state beside it (`.ehkeys/<name>/`), so the
checkout holds the states of the manifests applied from it: every state file below the
repository's top (the folder holding `.git`, up from the manifest; without one, the manifest's
own folder) but this manifest's own is another's; a `--sandbox` run's, only those beside the
sandbox database it runs against (`others.Search`). They are looked for once a run, and only when
the account has unmanaged keys. The GitOps jobs read theirs from the state branch (`gitops.otherstates`),
where a matrix job's checkout holds no other root's state. A key a state binds is left to that
root's drift only when its drift watches it (`Found.add`): any other claim keeps it this root's
drift, never hidden in every root.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from reconciler.core.errors import StateError
from reconciler.core.keys import DesiredKey
from reconciler.core.printable import printable
from reconciler.engine.settings import Workspace
from reconciler.manifest.load import Manifest, load
from reconciler.planning.pruning import Others, OtherStates, Owner, claim
from reconciler.state import others, reading
from reconciler.state import paths as statepaths
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
    claims: list[tuple[str, Owner]] = field(default_factory=list)  # each account's (`Others.of`)
    named: dict[str, Owner] = field(default_factory=dict)
    loaded: dict[Path, Manifest | None] = field(default_factory=dict)
    protected: dict[str, tuple[Owner, str]] = field(default_factory=dict)  # `Others.protected`

    def add(self, whose: str, where: str, contents: Contents, journal: Iterable[Entry], path: Path) -> None:
        """The state at `where` (`path` in the checkout, or where it would be) of the manifest
        `whose` (`others.named`), and its journal; StateError when that manifest is in the
        checkout and cannot be read. A key it binds is left to `whose` only when the drift of
        `whose` watches it: its own state binds it to an id it names (`unwatched`)."""
        manifest, aside = self._root(whose, contents, path)
        keys = () if manifest is None else _keys(manifest, contents.account)
        ids, anywhere = {k.address for k in keys}, {k.address for k in manifest.keys} if manifest else set()
        for fingerprint, address, moved in others.claims(contents):
            named = address in (anywhere if moved else ids)
            unwatched = aside or ("" if named else dropped(address, whose))
            owner = Owner(
                whose, f"its state binds it: {where}", unwatched=unwatched, account=contents.account
            )
            self.claims.append((fingerprint, owner))
        for fingerprint, address in contents.protected.items():
            why = f"its state remembers it protected, as {printable(address)!r}: {where}"
            self.protected.setdefault(fingerprint, (Owner(whose, why), address))
        unwatched = by_name(whose)
        for name in others.creating(contents, journal):
            self.named.setdefault(name, Owner(whose, f"{MADE}: {where}", True, unwatched))
        for name in {k.name for k in keys if not k.absent and k.address not in contents.bindings}:
            self.named.setdefault(name, Owner(whose, ADOPTS, True, unwatched))

    def _root(self, whose: str, contents: Contents, state: Path) -> tuple[Manifest | None, str]:
        """The manifest the state names, when the checkout holds it (its next apply adopts the
        keys it names by name), and why its drift does not read this state ('' when it does)."""
        if contents.manifest is None:
            return None, OLDER
        path, top = (self.top / whose).resolve(), self.top.resolve()
        if path == top or not path.is_relative_to(top):
            return None, OUTSIDE  # a path a state writes: never the runner's disk, nor the whole checkout
        if path not in self.loaded:
            self.loaded[path] = _manifest(path, whose)
        found = self.loaded[path]
        if found is None:
            return None, gone(whose)
        if state.name != others.STATE_FILE:
            return found, COPY
        kept = _kept(path, state, contents.account)
        return found, "" if kept.resolve() == state.resolve() else aside(whose, kept.relative_to(top))

    def others(self) -> Others:
        owners: dict[str, Owner] = {}
        for fingerprint, owner in self.claims:
            claim(owners, fingerprint, owner)
        return Others(owners, by_name=self.named, claims=tuple(self.claims), protected=self.protected)


def _keys(manifest: Manifest, account: str | None) -> tuple[DesiredKey, ...]:
    return manifest.keys_of(account) if account else manifest.keys


def _kept(manifest: Path, state: Path, account: str | None) -> Path:
    """Where `manifest` keeps the state `state` would be (a sandbox run's, or not): beside it, or
    beside a link to it in the folder that holds the state's `.ehkeys/` (a root that is a link)."""
    sandbox = state.parent.name == statepaths.SANDBOX
    kept = statepaths.default_state([str(manifest)], sandbox, account)
    parts = state.parts
    if kept.resolve() == state.resolve() or statepaths.FOLDER not in parts:
        return kept
    folder = Path(*parts[: len(parts) - 1 - parts[::-1].index(statepaths.FOLDER)])
    try:
        links = [e for e in folder.iterdir() if e.is_symlink() and e.resolve() == manifest]
    except OSError:
        return kept
    found = (statepaths.default_state([str(link)], sandbox, account) for link in links)
    return next((p for p in found if p.resolve() == state.resolve()), kept)


OLDER = "an older state, which names no manifest: no drift reads it"
OUTSIDE = "it names a manifest outside the checkout, which no drift here reads"
COPY = "a copy a run could not push, which no drift reads (merge it into its state.json by hand)"


def by_name(whose: str) -> str:
    return f"a name tells no account, so until its state binds the key, {whose}'s drift may never see it"


def gone(whose: str) -> str:
    return (
        f"{whose} is not in the checkout, so no root's drift watches it (remove the state of a root "
        "that is gone)"
    )


def aside(whose: str, kept: Path) -> str:
    return f"{whose} keeps its state in {kept.as_posix()}: its drift does not read this one"


def dropped(address: str, whose: str) -> str:
    return (
        f"it binds it to {printable(address)}, which {whose} no longer names, so its drift lists it "
        "as unmanaged too"
    )


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
    search = others.Search.of(workspace.manifests, workspace.connection.sandbox)
    own, found = others.Own.of(workspace.manifests, workspace.state), Found(search.top)
    unknown = in_checkout(found, search, own)
    if unknown:
        return Others(unknown=unknown)
    return replace(found.others(), caveat="" if search.sandbox else _outside(search.top))


def _here(path: Path) -> str:
    """`path` from the working directory, as messages name files; as it is when there is none
    (removed under the shell: every path of the run is absolute, `cli.workdir`)."""
    try:
        return os.path.relpath(path)
    except (ValueError, FileNotFoundError):  # another drive; the working directory removed
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
    found: Found, search: others.Search, own: others.Own, but: Collection[str] = (), said: str = ""
) -> str:
    """The other manifests' states the run takes in the checkout (`search`: a run's own, and those
    at a path in `but`, left out) added to `found`, each shown with `said` after its path; why one
    cannot be read, or ''."""
    top = search.top
    try:
        paths, unlisted = search.found()
    except StateError as exc:
        return str(exc)
    for folder, why in (u for u in unlisted if not own.holds(u[0])):
        return f"{folder}: {why}: a folder of the checkout that cannot be listed may hold one"
    for path in (p for p in paths if not own.holds(p)):
        shown = path.relative_to(top).as_posix()
        if shown in but:
            continue
        try:
            contents, journal = _contents(Path(_here(path)))  # named from here in what it says
            if not own.holds(path, contents):
                found.add(others.named_below(top, path, contents), shown + said, contents, journal, path)
        except StateError as exc:
            return str(exc)
    return ""


def _contents(path: Path) -> tuple[Contents, list[Entry]]:
    """The state and its journal replayed (a conflict's copy has none of its own)."""
    journal = path.parent / others.JOURNAL
    if path.name != others.STATE_FILE:
        return reading.snapshot(path, journal), []
    return reading.contents(path, journal), list(reading.entries(journal, False))
