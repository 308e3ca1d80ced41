"""Other manifests' states, as a pruning manifest consults them: a live key that another
manifest's state binds is that manifest's, and this one never prunes it (`planning.pruning`).

A state is a `state.json` in a `.ehkeys/` folder (`paths.default_state`: `.ehkeys/<manifest>/`,
`.ehkeys/<manifest>/<account>/`, or the earlier versions' `.ehkeys/` itself), or the copy a
conflict kept beside it on the state branch (`state.json.conflict-RUN`, which binds what its
run could not push). A sandbox run's states are those in a `sandbox/` folder, and only those:
the sandbox's keys are not the account's. Nor is one sandbox another's: a `--sandbox` run's
account is the `sandbox.db` in the `.ehkeys/` folder beside its manifest, so its state is about
that database only (`Search`). This manifest's own (its `.ehkeys/<name>/` folder, the state
`--state` names, or one that names this manifest) are no other's.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath
from typing import Any

from reconciler.core.errors import StateError
from reconciler.state import migrate as statemigrate
from reconciler.state import paths as statepaths
from reconciler.state.format import Contents
from reconciler.state.journal import track_create

STATE_FILE = statepaths.STATE_FILE
CONFLICT = STATE_FILE + ".conflict-"  # a run's copy its push could not write (state_branch)
JOURNAL = statepaths.JOURNAL_FILE
STATE_DEPTH = 3  # .ehkeys/<manifest>/<account>/sandbox/state.json: no state lies deeper
MAX_FOLDERS = 50_000  # folders a run looks through for states (0.4 s, 1.1 s cold, on a 2-core machine)


def is_state(path: PurePath, sandbox: bool) -> bool:
    """A state file (or a conflict's copy of one) of a run of this kind."""
    if statepaths.FOLDER not in path.parts[:-1]:
        return False
    if path.name != STATE_FILE and not path.name.startswith(CONFLICT):
        return False
    return (path.parent.name == statepaths.SANDBOX) == sandbox


def held(contents: Contents) -> set[str]:
    """The fingerprints of the live keys a state holds: those it binds to its manifest's ids
    (also those its manifest dropped since: it leaves them alone, they stay its own), those it
    remembers protected, a rotation's predecessor and a move's key not yet deleted."""
    return {fingerprint for fingerprint, _, _ in claims(contents)}


def claims(contents: Contents) -> list[tuple[str, str, bool]]:
    """`held`, each with the id it holds the key for (a binding's, a protected key's, a rotation's),
    and whether that id is its manifest's in another account (a move's key, the id moved there)."""
    found = [(fp, address, False) for address, fp in contents.bindings.items()]
    found += [(fp, address, False) for fp, address in contents.protected.items()]
    found += [(str(r["predecessor"]), address, False) for address, r in contents.rotations.items()]
    return found + [(str(m["key"]), address, True) for address, m in contents.moves.items()]


def creating(contents: Contents, journal: Iterable[Mapping[str, Any]]) -> set[str]:
    """The names of the keys a state's manifest may have made that it binds to nothing yet: a
    create its journal announced and never saw land (its run cut off), a rotation's successor
    (its record names it). Its next run asks which live key it is: until then, one of that name
    may be its own."""
    pending: set[str] = set()
    names: dict[str, str] = {}
    for entry in journal:
        track_create(entry, pending)
        if entry.get("operation") == "create" and isinstance(entry.get("name"), str):
            names[str(entry.get("address"))] = entry["name"]
    return {names[a] for a in pending if a in names} | {str(r["name"]) for r in contents.rotations.values()}


def named(state: PurePath, contents: Contents) -> str:
    """Whose state it is, as a reviewer knows it: the manifest it names, from the repository's
    top (`state` is from there too); one written before states named theirs (or the earlier
    versions' state of a whole folder), a manifest of the folder holding its `.ehkeys/`."""
    if contents.manifest is None:
        parts = state.parts
        folder = "/".join(parts[: parts.index(statepaths.FOLDER)]) or "."
        return f"a manifest in {folder}/ (an older state, which names none)"
    return posixpath.normpath(posixpath.join(state.parent.as_posix(), contents.manifest))


def named_below(top: Path, state: Path, contents: Contents) -> str:
    """`named`, of a state in the checkout below `top`: the manifest it names found from where the
    state truly is (its `.ehkeys/` may be a link), from the top (or whole, when outside it)."""
    relative = PurePosixPath(state.relative_to(top).as_posix())
    if contents.manifest is None:
        return named(relative, contents)
    manifest = (state.parent / contents.manifest).resolve()
    top = top.resolve()
    return manifest.relative_to(top).as_posix() if manifest.is_relative_to(top) else str(manifest)


@dataclass(frozen=True)
class Own:
    """What is this manifest's own: its state folder, the state `--state` names, the manifest,
    and where earlier versions kept its state (`legacy`, when it is alone in its folder: as
    `statemigrate` moves it; a copy may stay behind, on the state branch)."""

    folder: Path
    state: Path | None
    manifest: Path
    legacy: frozenset[Path] = frozenset()

    @classmethod
    def of(cls, manifests: Sequence[str], state: str | None) -> Own:
        folder = statepaths.base(manifests) / statepaths.FOLDER / statepaths.stem(manifests)
        chosen = Path(state).resolve() if state else None
        legacy = [statepaths.legacy_state(manifests, sandbox) for sandbox in (False, True)]
        alone = not state and not statemigrate.other_manifests(manifests)
        mine = frozenset(p.resolve() for p in legacy) if alone else frozenset()
        return cls(folder.resolve(), chosen, statepaths.owner(manifests).resolve(), mine)

    def holds(self, path: Path, contents: Contents | None = None) -> bool:
        """The state at `path` (where it is, or would be, in the checkout) is this manifest's."""
        path = path.resolve()
        if path.is_relative_to(self.folder) or path == self.state:
            return True
        if contents is None:
            return False
        if contents.manifest is None:  # an older state: this manifest's where it kept its state
            return path in self.legacy
        return (path.parent / contents.manifest).resolve() == self.manifest


@dataclass(frozen=True)
class Search:
    """Where a run looks for the other manifests' states: a run against an account, below the
    repository's `top`, every state but a sandbox run's; a `--sandbox` run, only the sandbox runs'
    states in its own `.ehkeys/` folder (`box`), beside the `sandbox.db` it runs against. A state
    written against another folder's sandbox database is about another account: every database
    filled from one seed has the same keys, so its bindings would claim this one's, a trial beside
    another manifest blocked by it. Manifests of one folder share its database, and see each other."""

    top: Path
    box: Path | None = None

    @classmethod
    def of(cls, manifests: Sequence[str], sandbox: bool, top: Path | None = None) -> Search:
        """The search of a run of `manifests` (from `top`, else their repository's top)."""
        box = statepaths.base(manifests).resolve() / statepaths.FOLDER if sandbox else None
        return cls(repository_top(manifests) if top is None else top, box)

    @property
    def sandbox(self) -> bool:
        return self.box is not None

    def takes(self, path: PurePath) -> bool:
        """The state file at `path` (from the top: the state branch's) is one this run takes."""
        if not is_state(path, self.sandbox):
            return False
        return self.box is None or (self.top / path).resolve().is_relative_to(self.box.resolve())

    def found(self) -> tuple[list[Path], list[tuple[Path, str]]]:
        """The states this run takes in the checkout (`found_below`), each folder unlisted."""
        if self.box is not None and not os.path.lexists(self.box):
            return [], []  # no sandbox run's state beside this manifest yet
        return found_below(self.top, self.sandbox, self.box)


def found_below(
    top: Path, sandbox: bool, box: Path | None = None
) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Every state file below `top` (only in the `.ehkeys/` folder `box` when given), a sandbox
    run's or not (hidden folders but `.ehkeys/` left out, as a directory manifest leaves them;
    links not followed, but in and to a `.ehkeys/` folder: a state kept elsewhere by a link is
    still its manifest's), and each folder that could not be listed, with why: a state may be in
    it. StateError beyond MAX_FOLDERS folders (a manifest in a home folder, no `.git` above it):
    not all of them were looked through."""
    found, unlisted = [], []
    walked = _walk(box, 0) if box is not None else _walk(top)
    for count, (folder, names, why) in enumerate(walked, 1):
        if count > MAX_FOLDERS:
            raise StateError(
                f"{top}: more than {MAX_FOLDERS:,} folders below it, more than a run looks through for "
                "other manifests' states: keep the manifests that share an account in a git checkout of "
                "their own (the folder holding .git bounds the search)"
            )
        if why:
            unlisted.append((folder, why))
        found += [folder / n for n in names if is_state(folder / n, sandbox)]
    return sorted(found), unlisted


def _walk(top: Path, depth: int = -1) -> Iterator[tuple[Path, list[str], str]]:
    """Each folder below `top` (itself included; at `depth` 0 a `.ehkeys/` folder): the names of
    its files, or why it cannot be read. A `.ehkeys/` folder is walked STATE_DEPTH deep, its links
    followed, each folder once."""
    stack: list[tuple[Path, int]] = [(top, depth)]  # a folder, and its depth below its .ehkeys (-1: none)
    seen: set[str] = set()
    while stack:
        folder, depth = stack.pop()
        try:
            with os.scandir(folder) as entries:
                items = list(entries)
        except OSError as exc:
            why = "a link that leads nowhere" if folder.is_symlink() else exc.strerror or str(exc)
            yield folder, [], why
            continue
        if depth >= 0:
            real = os.path.realpath(folder)
            if real in seen:
                continue  # a link back to a state folder walked already
            seen.add(real)
        stack += [(Path(e.path), d) for e in items if (d := _below(e, depth)) is not None]
        yield folder, [e.name for e in items if e.is_file(follow_symlinks=depth >= 0)], ""


def _below(entry: os.DirEntry[str], depth: int) -> int | None:
    """The depth to walk `entry` at (below its `.ehkeys/`, -1 outside one), None: not walked."""
    if depth >= 0:  # in a state folder: its links are where the states are
        return depth + 1 if depth < STATE_DEPTH and _folder(entry) else None
    if entry.name == statepaths.FOLDER:
        return 0 if _folder(entry) else None
    hidden = entry.name.startswith(".")
    return -1 if not hidden and entry.is_dir(follow_symlinks=False) else None


def _folder(entry: os.DirEntry[str]) -> bool:
    """A folder, or a link to one or to nothing (which cannot be listed: a state may be there)."""
    return entry.is_dir() or (entry.is_symlink() and not os.path.exists(entry.path))


def repository_top(manifests: Sequence[str]) -> Path:
    """The top of the git checkout holding the manifest (the folder holding `.git`, walking up
    from the manifest's), else the manifest's own folder: the other manifests are there."""
    start = statepaths.base(manifests).resolve()
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start
