"""Which of a pull request's comments is a job's own, for one marker (the plan's, the apply's)
and manifest root: one rule, for the job that writes it and the job that reads it.

A comment is the marker's when its body starts with it (the jobs write it first): a comment
that only quotes it (the apply job's fresh plan quotes the plan's) is not. It is trusted only
when the jobs' identity wrote it (`trust.written_by`), and it is the root's by its root line
(`Root.mine`). A job keeps one such comment, edited on each run; when there are two (two first
runs that raced, each posting), the NEWEST is the one in force: the plan job edits it, the
apply job reads it, and the older ones are stale (the next edit retires them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reconciler.gitops.hub import GitHub
from reconciler.gitops.roots import Root
from reconciler.gitops.trust import author, written_by

Comment = dict[str, Any]


def body(comment: Comment) -> str:
    return str(comment.get("body") or "")


@dataclass(frozen=True)
class Own:
    """`current`: the one in force (None: none yet); `stale`: older copies, oldest first;
    `others`: who wrote look-alikes (by another identity: never edited, never read)."""

    current: Comment | None = None
    stale: tuple[Comment, ...] = ()
    others: tuple[str, ...] = ()

    @classmethod
    def of(cls, listed: list[Comment], marker: str, login: str, root: Root) -> Own:
        """Of the comments as GitHub lists them, oldest first."""
        marked = [c for c in listed if body(c).startswith(marker)]
        others = tuple(author(c) for c in marked if not written_by(c, login))
        mine = root.mine([c for c in marked if written_by(c, login)], body)
        return cls(mine[-1], tuple(mine[:-1]), others) if mine else cls(others=others)


def own_comments(hub: GitHub, number: int, marker: str, login: str, root: Root) -> Own:
    """The PR's comments of `marker` and `root` that `login` (the jobs' identity) wrote."""
    return Own.of(hub.pages(f"/issues/{number}/comments"), marker, login, root)
