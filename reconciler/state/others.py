"""Other manifests' states, as a pruning manifest consults them: a live key that another
manifest's state binds is that manifest's, and this one never prunes it (`planning.pruning`).

A state is a `state.json` in a `.ehkeys/` folder (`paths.default_state`: `.ehkeys/<manifest>/`,
`.ehkeys/<manifest>/<account>/`, or the earlier versions' `.ehkeys/` itself), or the copy a
conflict kept beside it on the state branch (`state.json.conflict-RUN`, which binds what its
run could not push). A sandbox run's states are those in a `sandbox/` folder, and only those:
the sandbox's keys are not the account's. This manifest's own (its `.ehkeys/<name>/` folder,
the state `--state` names, or one that names this manifest) are no other's.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from reconciler.state import paths as statepaths
from reconciler.state.format import Contents

STATE_FILE = statepaths.STATE_FILE
CONFLICT = STATE_FILE + ".conflict-"  # a run's copy its push could not write (state_branch)
JOURNAL = "journal.jsonl"


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
    found = set(contents.bindings.values()) | set(contents.protected)
    found |= {str(r["predecessor"]) for r in contents.rotations.values()}
    return found | {str(m["key"]) for m in contents.moves.values()}


def named(state: PurePath, contents: Contents) -> str:
    """Whose state it is, as a reviewer knows it: the manifest it names, from the repository's
    top (`state` is from there too); one written before states named theirs (or the earlier
    versions' state of a whole folder), a manifest of the folder holding its `.ehkeys/`."""
    if contents.manifest is None:
        parts = state.parts
        folder = "/".join(parts[: parts.index(statepaths.FOLDER)]) or "."
        return f"a manifest in {folder}/ (an older state, which names none)"
    return posixpath.normpath(posixpath.join(state.parent.as_posix(), contents.manifest))


@dataclass(frozen=True)
class Own:
    """What is this manifest's own: its state folder, the state `--state` names, the manifest."""

    folder: Path
    state: Path | None
    manifest: Path

    @classmethod
    def of(cls, manifests: Sequence[str], state: str | None) -> Own:
        folder = statepaths.base(manifests) / statepaths.FOLDER / statepaths.stem(manifests)
        chosen = Path(state).resolve() if state else None
        return cls(folder.resolve(), chosen, statepaths.owner(manifests).resolve())

    def holds(self, path: Path, contents: Contents | None = None) -> bool:
        """The state at `path` (where it is, or would be, in the checkout) is this manifest's."""
        path = path.resolve()
        if path.is_relative_to(self.folder) or path == self.state:
            return True
        recorded = contents.manifest if contents is not None else None
        return recorded is not None and (path.parent / recorded).resolve() == self.manifest


def found_below(top: Path, sandbox: bool) -> tuple[list[Path], list[str]]:
    """Every state file below `top`, a sandbox run's or not (hidden folders but `.ehkeys/` left
    out, as a directory manifest leaves them; links not followed), and each folder that could
    not be listed, with why: a state may be in it."""
    found, unlisted = [], []
    for folder, names, why in _walk(top):
        if why:
            unlisted.append(f"{folder}: {why}")
        found += [folder / n for n in names if is_state(folder / n, sandbox)]
    return sorted(found), unlisted


def _walk(top: Path) -> Iterator[tuple[Path, list[str], str]]:
    """Each folder below `top` (itself included): the names of its files, or why it cannot be read."""
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as entries:
                items = list(entries)
        except OSError as exc:
            yield folder, [], exc.strerror or str(exc)
            continue
        files = [e.name for e in items if e.is_file(follow_symlinks=False)]
        stack += [
            Path(e.path)
            for e in items
            if e.is_dir(follow_symlinks=False) and (not e.name.startswith(".") or e.name == statepaths.FOLDER)
        ]
        yield folder, files, ""


def repository_top(manifests: Sequence[str]) -> Path:
    """The top of the git checkout holding the manifest (the folder holding `.git`, walking up
    from the manifest's), else the manifest's own folder: the other manifests are there."""
    start = statepaths.base(manifests).resolve()
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start
