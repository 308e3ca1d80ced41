"""The links of a manifest root the checkout can stand for on a pull request's base
(`gitops.basefiles`): a YAML file that is a link the PR leaves alone, and whose target, followed
hop by hop in the checkout as the system follows it (a linked folder on the way too), is a file
the PR leaves alone too, reads the same on the base. It is kept as the checkout holds it (each
link met a link, the file it reaches copied), so a root with such a link costs what one without
links does (the PR's files), not a request per file and folder.

Any other link the loader reads (one the PR adds or re-points, one whose target or a link on
whose way it changes, a link out of the repository, into a folder and back out, to a folder, to
nothing, or a loop) has the root read whole from the base (`gitops.basetree`), as every link
once did. A link the loader
never reads (its name not a manifest file's: `keys/README.md`) never matters.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from reconciler.gitops.basehops import Incomplete, leads, undecodable
from reconciler.gitops.basetree import BaseTree
from reconciler.manifest.sources import MAX_HOPS, is_manifest_file


def read(top: Path, path: str) -> list[str]:
    """The links below folder `path` of the checkout that the loader reads by name (YAML, not
    hidden, outside hidden folders; a linked folder is not entered), from the repository's top."""
    found: list[str] = []
    for folder, subfolders, names in os.walk(top / path):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        here = Path(folder)
        links = (name for name in [*subfolders, *names] if is_manifest_file(name))
        found.extend((here / n).relative_to(top).as_posix() for n in links if (here / n).is_symlink())
    return sorted(found)


@dataclass(frozen=True)
class Kept:
    """What a link of the root reads, as the checkout holds it: each link the system meets on the
    way (a file's, or a folder's above a target), in order, with where it leads from the
    repository's top, then the regular file it reaches."""

    links: dict[str, str]
    file: str


def chain(top: Path, name: str, changed: Callable[[str], bool]) -> Kept | None:
    """Link `name` followed as the system follows it in the checkout, hop by hop (a folder link
    on a target's way too), when the base holds each hop and the file they reach as the checkout
    does: none of them, nor a folder above one, is a change of the PR (`changed`), each inside
    the repository, MAX_HOPS at most. None otherwise."""
    links: dict[str, str] = {}
    path = name
    while (link := _first_link(top, path)) is not None:
        step = _step(top, link)
        if step is None or changed(link) or link in links or len(links) >= MAX_HOPS:
            return None
        links[link] = step
        path = posixpath.normpath(step + path[len(link) :])  # step `.`: the repository's top
    named = [*links, *links.values(), path]
    if changed(path) or not (top / path).is_file() or any(undecodable(hop) for hop in named):
        return None
    return Kept(links, path)


def _first_link(top: Path, path: str) -> str | None:
    """The first of `path`, from the top down, and the folders above it that is a link in the
    checkout (None: none)."""
    parts = PurePosixPath(path).parts
    above = ("/".join(parts[:depth]) for depth in range(1, len(parts) + 1))
    return next((name for name in above if (top / name).is_symlink()), None)


def _step(top: Path, link: str) -> str | None:
    """Where `link` leads, from the repository's top, as `gitops.basetree` writes it (its target
    normalized); None: out of the repository, or into a folder and back out (whether that
    folder is a link its text does not say)."""
    try:
        return leads(link, os.readlink(top / link))
    except Incomplete:
        return None


def keep(tree: BaseTree, top: Path, kept: Kept) -> None:
    """A link `chain` gives, into the tree as the checkout holds it: each link it meets a link to
    where it leads, the file they reach copied."""
    for link, target in kept.links.items():
        tree.link(link, target)
    tree.write(kept.file, (top / kept.file).read_bytes())
