"""The links of a manifest root the checkout can stand for on a pull request's base
(`gitops.basefiles`): a YAML file that is a link the PR leaves alone, and whose target, followed
hop by hop in the checkout, is a file the PR leaves alone too, reads the same on the base. It is
kept as the checkout holds it (each hop a link, the file it reaches copied), so a root with such
a link costs what one without links does (the PR's files), not a request per file and folder.

Any other link the loader reads (one the PR adds or re-points, one whose target it changes, a
link out of the repository, through a linked folder, to a folder, to nothing, or a loop) has the
root read whole from the base (`gitops.basetree`), as every link once did. A link the loader
never reads (its name not a manifest file's: `keys/README.md`) never matters.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path, PurePosixPath

from reconciler.gitops.basetree import MAX_HOPS, BaseTree, climbs_back
from reconciler.manifest.sources import is_manifest_file


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


def chain(top: Path, name: str, changed: Callable[[str], bool]) -> list[str] | None:
    """Link `name`, each link after it, then the regular file they reach (paths from the
    repository's top), when the base holds them all as the checkout does: none of them, nor a
    folder above one, is a change of the PR (`changed`), each hop inside the repository through
    real folders. None otherwise."""
    hops = [name]
    while (top / hops[-1]).is_symlink():
        step = _step(top, hops[-1])
        if step is None or changed(hops[-1]) or step in hops or len(hops) > MAX_HOPS:
            return None
        hops.append(step)
    if changed(hops[-1]) or not (top / hops[-1]).is_file() or any(undecodable(hop) for hop in hops):
        return None
    return hops


def undecodable(name: str) -> bool:
    """Whether a name is not UTF-8 (git allows any bytes; os.walk and readlink spell such a byte as
    a lone surrogate): GitHub's JSON cannot spell it as the checkout does, so whether the PR
    changes it cannot be told."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _step(top: Path, link: str) -> str | None:
    """Where `link` leads, from the repository's top, as `gitops.basetree` writes it (its target
    normalized); None: out of the repository, or through a folder that is not a real one in the
    checkout (a link, or nothing: there the checkout would resolve it elsewhere)."""
    target = os.readlink(top / link)
    raw = posixpath.join(posixpath.dirname(link), target)
    joined = posixpath.normpath(raw)
    if target.startswith("/") or joined == ".." or joined.startswith("../") or climbs_back(target):
        return None
    parts = PurePosixPath(raw).parts
    above = (top.joinpath(*parts[:depth]) for depth in range(1, len(parts)))
    return joined if all(p.is_dir() and not p.is_symlink() for p in above) else None


def keep(tree: BaseTree, top: Path, hops: list[str]) -> None:
    """A link `chain` gives, into the tree as the checkout holds it: each hop a link to the next,
    the file they reach copied."""
    for link, target in pairwise(hops):
        tree.link(link, target)
    tree.write(hops[-1], (top / hops[-1]).read_bytes())
