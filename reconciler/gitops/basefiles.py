"""A manifest input's files as on a pull request's base, from the head's checkout: every file
the PR does not change is the same there, so only those it changes are asked for (a folder of
300 files and a one-line change: one request, not 301; GITHUB_TOKEN allows some 1,000 an
hour). A file the PR adds (or a rename's or copy's new name) is not on the base; one it
changes or removes (or a rename's old name) is the base's, fetched (a link there: as a link,
`gitops.basetree`); the rest are copied. YAML files only, hidden ones aside, as
`manifest.sources.walk` reads a folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from reconciler.gitops.basetree import BaseTree
from reconciler.gitops.roots import PullFiles
from reconciler.manifest.sources import is_manifest_file, walk


@dataclass(frozen=True)
class Checkout:
    """The head's checkout (`top`, the repository's) and the files the PR changes."""

    top: Path
    files: PullFiles


def assemble(local: Checkout, path: str, tree: BaseTree) -> bool:
    """Input `path`'s files as on the base, into the tree's folder (the changed ones read from
    the base). Whether any of them is there."""
    changes = local.files.not_on_base | local.files.from_base
    copied = [name for name in _files(local.top, path) if name not in changes]
    for name in copied:
        tree.write(name, (local.top / name).read_bytes())
    changed = [name for name in sorted(local.files.from_base) if _within(name, path)]
    fetched = [name for name in changed if tree.input(name)]
    return bool(copied or fetched)


def plain(local: Checkout, path: str) -> bool:
    """Whether input `path`'s files in the checkout are what the base holds less the PR's
    changes: no link among them (its target may be a file the PR changes that the loader's
    walk never names, or outside the root), no submodule (its files are another repository's,
    bumped by a commit the PR's list names as the folder alone, as it names any change that is
    a folder here)."""
    whole = local.top / path
    if whole.is_symlink() or not whole.is_dir():
        return not whole.is_symlink()
    if any(
        (local.top / name).is_dir()
        for name in local.files.names
        if name == path or name.startswith(path + "/")
    ):
        return False
    for here, folders, names in os.walk(whole):
        entries = [Path(here) / name for name in [*folders, *names]]
        if any(entry.is_symlink() or (entry.name == ".git" and Path(here) != local.top) for entry in entries):
            return False
    return True


def _files(top: Path, path: str) -> list[str]:
    """The checkout's files of input `path` (a file: itself), from the repository's top."""
    whole = top / path
    if whole.is_file():
        return [path]
    files, _ = walk(whole)  # as the loader reads a folder: its own YAML files, hidden ones aside
    return [file.relative_to(top).as_posix() for file in files]


def _within(name: str, path: str) -> bool:
    """Whether the loader reads file `name` for input `path` (the input itself, or a YAML file
    below its folder outside hidden ones)."""
    if name == path:
        return True
    if path and not name.startswith(path + "/"):
        return False
    below = PurePosixPath(name[len(path) :].lstrip("/")).parts
    return all(not part.startswith(".") for part in below) and is_manifest_file(below[-1])
