"""What a manifest root loads besides the paths it resolves to, for which pull requests touch it
(`roots.Root.touched`): each path as given (a link the PR re-points, a folder link above it),
the directory manifest a team file or sub-folder lies in (the whole of one loads, its
ehkeys.yaml too), and the links the loader reads below it with each hop of their targets, as
the text says and where the system finds it (a file outside the root a link leads to; a folder
link on the way). A change at, below or above any of them touches the root: over-counting
plans a root more often (2 requests an account), under-counting leaves a change unreviewed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from reconciler.manifest.layout import root_of
from reconciler.manifest.sources import SETTINGS_FILE, is_manifest_file

MAX_HOPS = 40  # links followed in one chain, as Linux follows them


def within(manifests: Sequence[str], top: Path) -> tuple[str, ...]:
    """The paths from the repository's top (POSIX) that the roots of `manifests` load."""
    found: list[Path] = []
    for manifest in manifests:
        given = Path(os.path.abspath(manifest))
        folder = root_of(given)
        found += [given, *([folder] if folder else [])]
        for link in _links(folder or given):
            found += _hops(link)
    starts = dict.fromkeys((Path(os.path.abspath(top)), Path(os.path.realpath(top))))  # getcwd's is real
    named = (_named(path, start) for path in found for start in starts)
    return tuple(dict.fromkeys(path for path in named if path is not None))


def _links(place: Path) -> list[Path]:
    """The links the loader reads below `place` (YAML, not hidden, its own manifest's: a folder
    holding another ehkeys.yaml is another's), and `place` itself if it is one. A folder that
    cannot be read holds none (the loader says so itself)."""
    found = [place] if place.is_symlink() else []
    if not place.is_dir():
        return found
    for folder, subfolders, names in os.walk(place):
        here = Path(folder)
        if here != place and (here / SETTINGS_FILE).exists():
            subfolders[:] = []
            continue
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        found += [
            here / name for name in [*subfolders, *names] if is_manifest_file(name) and _linked(here / name)
        ]
    return found


def _linked(path: Path) -> bool:
    try:
        return path.is_symlink()
    except OSError:  # a folder listed but not entered
        return False


def _hops(link: Path) -> list[Path]:
    """Each link of a chain as its text leads and where the system finds it (its folder's real
    path: a folder link on the way), then where it ends (never raising on a loop)."""
    hops, here = [link], link
    while _linked(here) and len(hops) <= MAX_HOPS:
        target = os.readlink(here)
        hops += [Path(os.path.normpath(here.parent / target)), Path(os.path.realpath(here.parent)) / target]
        here = Path(os.path.normpath(hops[-1]))
        hops[-1] = here
    return [*hops, Path(os.path.realpath(link))]


def _named(path: Path, top: Path) -> str | None:
    """`path` from `top`, POSIX ("" the top), as written; None outside it."""
    try:
        relative = Path(os.path.relpath(path, top)).as_posix()
    except ValueError:  # another drive
        return None
    return None if relative == ".." or relative.startswith("../") else "" if relative == "." else relative
