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
from collections.abc import Callable, Sequence
from pathlib import Path

from reconciler.gitops import baseroot
from reconciler.manifest.layout import root_of
from reconciler.manifest.sources import MAX_HOPS, SETTINGS_FILE, is_manifest_file


def within(manifests: Sequence[str], top: Path) -> tuple[str, ...]:
    """The paths from the repository's top (POSIX) that the roots of `manifests` load."""
    found: list[Path] = []
    for manifest in manifests:
        given = Path(os.path.abspath(manifest))
        folder = root_of(given)
        for place in [given, *([folder] if folder else [])]:
            found += _met(place)
            if _inside(place, top):
                found += [hop for link in _links(place) for hop in _met(link)]
    named = (baseroot.given(str(path), top) for path in found)
    return tuple(dict.fromkeys(form for name in named if name is not None for form in _spellings(name)))


def _links(place: Path) -> list[Path]:
    """The links the loader reads below `place` (YAML files, not hidden, its own manifest's: a
    folder holding another ehkeys.yaml file is another's). A folder that cannot be read holds
    none (the loader says so itself)."""
    if not _is(place, Path.is_dir):
        return []
    found: list[Path] = []
    for folder, subfolders, names in os.walk(place):
        here = Path(folder)
        if here != place and _is(here / SETTINGS_FILE, Path.is_file):
            subfolders[:] = []
            continue
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        read = (here / name for name in names if is_manifest_file(name))
        found += [path for path in read if _is(path, Path.is_symlink) and not _is(path, Path.is_dir)]
    return found


def _met(path: Path) -> list[Path]:
    """Every link the system meets reaching `path`, as its text says and where it finds it: each
    folder link above it, `path` itself if a link, and the same again for each target (a chain
    of MAX_HOPS links at most, as Linux follows them); then where it ends."""
    met, todo, hops = [path], [path], 0
    while todo and hops < MAX_HOPS:
        here = todo.pop()
        for step in [*_above(here), here]:
            real = Path(os.path.realpath(step.parent)) / step.name  # where the system finds it
            met += [step, real]
            if _is(real, Path.is_symlink):
                hops += 1
                target = Path(os.path.normpath(real.parent / os.readlink(real)))
                todo.append(target)
    return [*met, Path(os.path.realpath(path))]


def _above(path: Path) -> list[Path]:
    """The folders above `path` that are links (a folder link on the way)."""
    return [folder for folder in reversed(path.parents) if _is(folder, Path.is_symlink)]


def _inside(place: Path, top: Path) -> bool:
    """Whether `place` (through its links) is in the repository: a root linked to / is not walked."""
    real, repository = os.path.realpath(place), os.path.realpath(top)
    return real == repository or real.startswith(repository + os.sep)


def _is(path: Path, test: Callable[[Path], bool]) -> bool:
    try:
        return test(path)
    except OSError:  # a folder listed but not entered
        return False


def _spellings(name: str) -> list[str]:
    """A name as the file system gives it, and as GitHub spells one that is not UTF-8 (U+FFFD
    for each byte that is not, which Python holds as a lone surrogate)."""
    lossy = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return list(dict.fromkeys((name, lossy)))
