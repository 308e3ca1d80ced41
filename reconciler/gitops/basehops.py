"""One hop of a link on a pull request's base: where it leads from the repository's top, as the
system follows it in a checkout (`gitops.basetree` reads the base's links so, `gitops.baselinks`
the checkout's), or `Incomplete` where that cannot be told from its text: out of the
repository, into a folder and back out, or past the links Linux follows in one chain.
"""

from __future__ import annotations

import posixpath
from pathlib import PurePosixPath

from reconciler.manifest.sources import MAX_HOPS

TOP = "."  # where a link to the repository's top leads (`shared -> .`, `a/b -> ..`)


class Incomplete(Exception):
    """Some of the base's files cannot be read through the contents API: compared, the rest
    would say rules changed, or not, that did not."""


def leads(path: str, target: str, hops: int = 0) -> str:
    """Where link `path` (from the repository's top, through real folders) leads, its target
    `target` as git keeps it, normalized (TOP: the top itself); `hops`: the links followed
    before it in its chain."""
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    if target.startswith("/") or joined == ".." or joined.startswith("../"):
        raise Incomplete(f"{path} is a link out of the repository ({target})")
    if any(part.casefold() == ".git" for part in PurePosixPath(joined).parts):
        raise Incomplete(
            f"{path} is a link into .git ({target}), which no commit holds: a checkout's is the runner's own"
        )
    if climbs_back(target):
        raise Incomplete(
            f"{path} is a link whose target goes into a folder and back out ({target}): where it "
            "leads depends on whether that folder is a link, which its text does not say"
        )
    if hops >= MAX_HOPS:
        raise Incomplete(f"{path} is the {MAX_HOPS}th link of a chain: more than a checkout follows")
    return joined


def climbs_back(target: str) -> bool:
    """Whether a link's target has a `..` after a folder name (`a/b/../c`): the system resolves it
    through `a/b`, which may be a link elsewhere; its text, normalised, says `a/c`."""
    parts = PurePosixPath(target).parts
    named = [index for index, part in enumerate(parts) if part not in ("..", ".")]
    return bool(named) and ".." in parts[named[0] :]


def folders(path: str) -> list[str]:
    """The folders above `path`, from the top down (where the system meets a folder link first)."""
    parts = PurePosixPath(path).parts
    return ["/".join(parts[:depth]) for depth in range(1, len(parts))]


def undecodable(name: str) -> bool:
    """Whether a name is not UTF-8 (git allows any bytes; os.walk and readlink spell such a byte as
    a lone surrogate): GitHub's JSON cannot spell it as the checkout does, so whether the PR
    changes it cannot be told."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
