"""Which manifest an input names on a pull request's base, by the BASE's layout, as
`manifest.layout.root_of` says it in a checkout: the nearest folder at or above the input (a
file's: its folder) whose `ehkeys.yaml` the base holds as a file, up to the repository's top.
The input is taken as the workflow gives it, its links not followed in the checkout: where a
link leads on the base, and which directory manifest a team file or sub-folder is in there, is
the base's to say (a PR that re-points a link, makes the root a link, or removes or adds an
`ehkeys.yaml` would otherwise have the base read as the head lays it out).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

from reconciler.gitops.basetree import BaseTree
from reconciler.manifest.sources import SETTINGS_FILE, SUFFIXES


def given(manifest: str, top: Path) -> str | None:
    """`manifest` from the repository's top as given (POSIX, "" the top), its links not
    followed; None: outside the repository."""
    where = os.path.abspath(manifest)
    for start in dict.fromkeys((os.path.abspath(top), os.path.realpath(top))):
        try:
            relative = PurePosixPath(Path(os.path.relpath(where, start)).as_posix())
        except ValueError:  # another drive
            continue
        if relative.parts[:1] != ("..",):
            return "" if str(relative) == "." else str(relative)
    return None


def located(tree: BaseTree, path: str, settled: Callable[[str], bool]) -> str | None:
    """The folder of the directory manifest input `path` is in on the base (read into the
    tree's folder, a file: `path` itself, or absent there); None: in none. `settled(file)`:
    whether the base holds that `ehkeys.yaml` as a file."""
    place = tree.folder / path if path else tree.folder
    if place.is_file() and not path.endswith(SUFFIXES):
        return None
    start = path if place.is_dir() else posixpath.dirname(path)
    return next((folder for folder in _upward(start) if settled(_settings(folder))), None)


def _upward(folder: str) -> Iterator[str]:
    yield folder
    while folder:
        folder = posixpath.dirname(folder)
        yield folder


def _settings(folder: str) -> str:
    return f"{folder}/{SETTINGS_FILE}" if folder else SETTINGS_FILE
