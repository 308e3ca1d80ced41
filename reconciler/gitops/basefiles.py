"""A manifest input's files as on a pull request's base, from the head's checkout: every file
the PR does not change is the same there, so only those it changes are asked for (a folder of
300 files and a one-line change: one request, not 301; GITHUB_TOKEN allows some 1,000 an
hour). A file the PR adds (or a rename's or copy's new name) is not on the base; one it
changes or removes (or a rename's old name) is the base's, fetched (a link there: as a link,
`gitops.basetree`); the rest are copied, a link the PR leaves alone with its target kept as a
link (`gitops.baselinks`). YAML files only, hidden ones aside, as `manifest.sources.walk` reads
a folder.

The files are those the BASE's layout gives the input: a folder below it that holds an
`ehkeys.yaml` on the base is another manifest there (a stand-in for that file stops the
loader's walk), whatever the checkout holds; one that holds it only in the checkout is the
input's on the base, its files with it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from reconciler.gitops import basehops, baselinks
from reconciler.gitops.basehops import Incomplete
from reconciler.gitops.basetree import BaseTree
from reconciler.gitops.roots import PullFiles
from reconciler.manifest.sources import SETTINGS_FILE, is_manifest_file


@dataclass(frozen=True)
class Checkout:
    """The head's checkout (`top`, the repository's) and the files the PR changes."""

    top: Path
    files: PullFiles

    def changed(self, name: str) -> bool:
        """Whether the PR changes `name` or a path above it (a folder there was a file, a link or a
        submodule on one side)."""
        parts = PurePosixPath(name).parts
        return any("/".join(parts[:depth]) in self.files.names for depth in range(1, len(parts) + 1))


def assemble(local: Checkout, path: str, tree: BaseTree) -> bool:
    """Input `path`'s files as on the base, into the tree's folder (the changed ones read from
    the base). Whether any of them is there."""
    if (local.top / path).is_file():
        return _one(local, path, tree)
    kept = _kept(local, path, tree)
    others = _others(local, path, tree)
    ours = [name for name in [*_files(local.top, path), *kept] if not _below(name, others)]
    copied = [name for name in ours if not local.changed(name) and name not in kept]
    for name in copied:
        tree.write(name, (local.top / name).read_bytes())
    changed = [
        name for name in sorted(local.files.from_base) if _read(name, path) and not _below(name, others)
    ]
    fetched = [name for name in changed if tree.file(name)]
    return bool(copied or fetched or [name for name in ours if name in kept])


def _kept(local: Checkout, path: str, tree: BaseTree) -> list[str]:
    """The links below input `path` the loader reads, each kept as the checkout holds it
    (`gitops.baselinks`: `plain` has said each one reads the same on the base; a submodule's
    that does not is `Incomplete`)."""
    names = baselinks.read(local.top, path)
    for name in names:
        kept = baselinks.chain(local.top, name, local.changed)
        if kept is None:
            raise Incomplete(
                f"{name} is a link that the pull request changes, or whose target it changes (or one out of "
                "the repository, or to no file): the checkout cannot stand for the base"
            )
        baselinks.keep(tree, local.top, kept)
    return names


def _one(local: Checkout, path: str, tree: BaseTree) -> bool:
    """A file input: the base's when the PR changes it, else the checkout's."""
    if path in local.files.from_base:
        return tree.input(path)
    if path in local.files.not_on_base:
        return False
    tree.write(path, (local.top / path).read_bytes())
    return True


def _others(local: Checkout, path: str, tree: BaseTree) -> list[str]:
    """The folders below input `path` that are other manifests on the base (each holds an
    `ehkeys.yaml` there), outermost only, each with a stand-in for that file."""
    found: list[str] = []
    for folder in sorted(_settled(local, path), key=lambda f: (f.count("/"), f)):
        settings = f"{folder}/{SETTINGS_FILE}"
        if _below(folder, found) or not settled(local, tree, settings):
            continue
        found.append(folder)
        tree.stand_in(settings)
    return found


def _settled(local: Checkout, path: str) -> set[str]:
    """The folders below `path` holding an `ehkeys.yaml` in the checkout or on the base."""
    changed = {name for name in local.files.names if _read(name, path)}
    here = {str(PurePosixPath(name).parent) for name in changed if PurePosixPath(name).name == SETTINGS_FILE}
    for folder, subfolders, names in os.walk(local.top / path):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        if SETTINGS_FILE in names:
            here.add(Path(folder).relative_to(local.top).as_posix())
    return {folder for folder in here if folder != (path or ".") and folder != path}


def settled(local: Checkout, tree: BaseTree, settings: str) -> bool:
    """Whether the base holds `settings` (an `ehkeys.yaml`) as a file: the checkout's, unless
    the PR changes it or it is a link (whose target the PR may change): then read from the base."""
    if settings in local.files.from_base or (local.top / settings).is_symlink():
        return tree.settings(settings)
    return not local.changed(settings) and (local.top / settings).is_file()


def _files(top: Path, path: str) -> list[str]:
    """The checkout's YAML files below folder `path` (hidden ones aside), its folders that hold
    an `ehkeys.yaml` entered too (the base's layout says which are the input's)."""
    found: list[str] = []
    for folder, subfolders, names in os.walk(top / path):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        here = Path(folder).relative_to(top)
        found.extend((here / name).as_posix() for name in sorted(names) if is_manifest_file(name))
    return found


def _below(name: str, folders: list[str]) -> bool:
    return any(name.startswith(folder + "/") for folder in folders)


def plain(local: Checkout, path: str) -> bool:
    """Whether input `path`'s files in the checkout are what the base holds less the PR's
    changes: it is there, as on the base (no folder above it, nor itself unless a file it
    changes, is a change of the PR, a link or a submodule: the base's path may lead elsewhere);
    no link among them the loader reads but one the checkout can stand for (`gitops.baselinks`:
    the PR leaves it and its target alone; another's target may be a file the PR changes that
    the loader's walk never names), no submodule the PR changes (its files are another
    repository's, bumped by a commit the PR's list names as the folder alone, as it names any
    change that is a folder here; one it leaves alone is at the base's commit)."""
    whole = local.top / path
    if not _steady(local, path) or whole.is_symlink() or path in local.files.not_on_base:
        return False
    if not whole.is_dir():
        return whole.is_file()
    if any(_unplain(local, name) for name in local.files.names if _under(name, path)) or _unnamed(whole):
        return False
    return all(baselinks.chain(local.top, name, local.changed) for name in baselinks.read(local.top, path))


def _unnamed(folder: Path) -> bool:
    """Whether a name below `folder` is not UTF-8 (`basehops.undecodable`)."""
    walked = os.walk(folder)
    return any(basehops.undecodable(name) for _, folders, names in walked for name in [*folders, *names])


def _under(name: str, path: str) -> bool:
    return not path or name == path or name.startswith(path + "/")


def _unplain(local: Checkout, name: str) -> bool:
    """Whether a path the PR changes may be a submodule on the base: a folder in the checkout
    (a bumped submodule is listed as the folder alone), or a name gone from it that the loader
    would not read (a removed submodule is listed so; a removed README costs a full read)."""
    here = local.top / name
    gone = name in local.files.from_base and not os.path.lexists(here)
    return here.is_dir() or (gone and not is_manifest_file(PurePosixPath(name).name))


def module(local: Checkout | None, tree: BaseTree, path: str) -> None:
    """A submodule of the base (`path`): its files as the checkout holds them, when the PR leaves
    it at its commit (the checkout's are then the base's); else `Incomplete`."""
    whole = local.top / path if local is not None else None
    if local is None or whole is None or local.changed(path) or whole.is_symlink() or not whole.is_dir():
        changes = " the pull request changes" if local is not None and local.changed(path) else ""
        raise Incomplete(
            f"{path} is a submodule{changes}: its files on the base are another repository's, at a commit "
            "the contents API does not read"
        )
    assemble(local, path, tree)


def _steady(local: Checkout, path: str) -> bool:
    """Whether each folder above `path` is one on the base as in the checkout (not a change of
    the PR, a link or a submodule's top)."""
    parts = PurePosixPath(path).parts
    above = ["/".join(parts[:depth]) for depth in range(1, len(parts))]
    return not any(
        name in local.files.names or (local.top / name).is_symlink() or (local.top / name / ".git").exists()
        for name in above
    )


def _read(name: str, path: str) -> bool:
    """Whether file `name` is below folder `path` where a walk reads it (a YAML file outside
    hidden folders)."""
    if path and not name.startswith(path + "/"):
        return False
    below = PurePosixPath(name[len(path) :].lstrip("/")).parts
    return bool(below) and all(not part.startswith(".") for part in below) and is_manifest_file(below[-1])
