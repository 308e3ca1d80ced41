"""Several manifest roots in one repository: what each GitOps job leaves is keyed by its root.

A root is what the action is given as `manifest` (`keys/payments/`, `keys.prod.yaml`), named
by its path from the top of the repository. The action runs once per root (a matrix), and
no two roots share anything:

- the plan and apply comments on a pull request carry `<!-- ehkeys-root: keys/payments -->`
  and name the root in their heading; a root edits only its own;
- the plan artifact is `ehkeys-plan-<root as a name>-<8 hex>` (the comment's hidden line
  names it, so the apply job finds the one its root's comment shows);
- the drift issue carries the root line and names the root in its title;
- the state is the manifest's own (`.ehkeys/<name>/` beside it), at the same path on the
  state branch.

Comments and issues written before roots were named (no root line) are adopted by a root
that finds none of its own: a repository that upgrades keeps its open PRs and its drift issue.

A pull request touches a root when one of its changed files (GitHub's list, renames by both
names) is the root's file or lies below its folder, or matches a `--when-modified` pattern
(the syntax of a workflow's `paths:` filter): Atlantis' `when_modified`.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from reconciler.core.errors import UsageError
from reconciler.core.pathnames import refusal, shown, undecodable
from reconciler.gitops import rootlinks
from reconciler.gitops.hub import GitHub, pick

LINE = "<!-- ehkeys-root: {} -->"
_LINE = re.compile(r"<!-- ehkeys-root: (.*?) -->")
ARTIFACT = "ehkeys-plan"  # the artifact of an unnamed root, as every plan was called before roots
MAX_FILES = 3000  # GET /pulls/{n}/files lists no more: a PR of more files may touch anything
OWN, ADOPTED = 2, 1  # how a comment or issue belongs to a root: its own line, or no line yet
Item = TypeVar("Item")


@dataclass(frozen=True)
class Root:
    """`paths`: each manifest from the repository's top (POSIX; "" the whole repository, None
    outside it); `name` those paths as one text (`.` the top; "" unnamed: `github comment`
    given no manifest, as an earlier action called it)."""

    name: str = ""
    paths: tuple[str | None, ...] = ()
    within: tuple[str, ...] = ()  # what else a change to touches the root (`rootlinks.within`)

    @classmethod
    def of(cls, manifests: Sequence[str], top: Path) -> Root:
        """The root of `manifests`; UsageError when one's path (from the top, its links followed:
        what names the artifact, the comments, the state) is not UTF-8."""
        paths = tuple(_from_top(Path(m), top) for m in manifests)
        for given, path in zip(manifests, paths, strict=True):
            _named(given, path)
        names = (m if p is None else p or "." for p, m in zip(paths, manifests, strict=True))
        return cls(", ".join(names), paths, rootlinks.within(manifests, top))

    @property
    def line(self) -> str:
        return LINE.format(self.name) if self.name else ""

    @property
    def artifact(self) -> str:
        """The plan artifact's name: unique per root, and a name upload-artifact takes."""
        if not self.name:
            return ARTIFACT
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", self.name).strip("-.")[:60] or "top"
        return f"{ARTIFACT}-{slug}-{hashlib.sha256(self.name.encode()).hexdigest()[:8]}"

    def heading(self, title: str) -> str:
        return f"{title} `{self.name}`" if self.name else title

    def stamp(self, body: str, marker: str, heading: str = "") -> str:
        """`body` (Markdown that starts with `marker`, or not) as this root's: the marker, then
        the root line; and the root's name in its `### heading`, if one is given."""
        rest = body.replace(f"{marker}\n", "", 1)
        if heading:
            rest = rest.replace(f"### {heading}", f"### {self.heading(heading)}", 1)
        return "\n".join(part for part in (marker, self.line, rest) if part)

    def rank(self, body: str) -> int:
        """OWN: the body names this root; ADOPTED: it names none (written before roots were
        named, or this root is unnamed); 0: another root's."""
        found = _LINE.search(body)
        if found is None:
            return OWN if not self.name else ADOPTED
        if found.group(1) == self.name:
            return OWN
        return ADOPTED if not self.name else 0

    def mine(self, items: Iterable[Item], body: Callable[[Item], str]) -> list[Item]:
        """The items of this root: its own, else those written before roots were named."""
        ranked = [(self.rank(body(item)), item) for item in items]
        best = max((rank for rank, _ in ranked), default=0)
        return [item for rank, item in ranked if rank and rank == best]

    def touched(self, files: Iterable[str], when_modified: Sequence[str] = ()) -> bool:
        patterns = [glob(p) for p in when_modified]
        return any(self._holds(f) or any(p.fullmatch(f) for p in patterns) for f in files)

    def _holds(self, file: str) -> bool:
        """`file` is at, below or above a path the root loads (a folder above one: a link there
        re-pointed, or a folder that was one)."""
        return any(p is None or p == "" or _related(file, p) for p in (*self.paths, *self.within))


UNNAMED = Root()


def _named(given: str, path: str | None) -> None:
    """A root whose path is not UTF-8 (as given, or where its links lead) is refused: GitHub
    spells names in UTF-8, so no artifact, comment or state could name it."""
    if undecodable(given) or (path is not None and undecodable(path)):
        leads = (
            "" if path is None or path == given else f" (its path from the repository's top: {shown(path)})"
        )
        what = f"the manifest root {shown(given)}{leads} is a name that"
        raise UsageError(refusal(what, "rename it, and point any link there"))


def _related(file: str, path: str) -> bool:
    return file == path or file.startswith(path + "/") or path.startswith(file + "/")


def _from_top(manifest: Path, top: Path) -> str | None:
    """The manifest's path from the repository's top, POSIX ("" the top itself, None outside)."""
    try:
        where = Path(os.path.realpath(manifest))  # never raising on a loop, as resolve() does before 3.13
        relative = PurePosixPath(Path(os.path.relpath(where, os.path.realpath(top))).as_posix())
    except ValueError:  # another drive
        return None
    if relative.parts[:1] == ("..",):
        return None
    return "" if str(relative) == "." else str(relative)


def glob(pattern: str) -> re.Pattern[str]:
    """A workflow `paths:` pattern: `*` within a folder, `**` across folders (`**/` also none),
    `?` one character; a plain path (no wildcard) also matches everything below it."""
    pattern = pattern.strip().removeprefix("./")
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        else:
            out.append({"*": "[^/]*", "?": "[^/]"}.get(pattern[i], re.escape(pattern[i])))
            i += 1
    plain = not any(c in pattern for c in "*?")
    return re.compile("".join(out).rstrip("/") + ("(/.*)?" if plain else ""))


@dataclass(frozen=True)
class PullFiles:
    """The files a pull request changes (GET /pulls/{n}/files): every path (a renamed file by
    both its names); those not on its base (added, or a rename's or copy's new name); those
    that differ there (any other, a rename's old name). `complete`: False when GitHub lists no
    more than its 3,000 and the PR may change more (then it may touch any root)."""

    names: tuple[str, ...] = ()
    not_on_base: frozenset[str] = frozenset()
    from_base: frozenset[str] = frozenset()
    complete: bool = True

    @classmethod
    def of(cls, hub: GitHub, number: int) -> PullFiles:
        listed = hub.pages(f"/pulls/{number}/files")
        call = f"GET /pulls/{number}/files"
        names = [pick(f, call, "filename", kind=str) for f in listed]
        before = [str(f["previous_filename"]) for f in listed if _renamed(f)]
        new = {n for n, f in zip(names, listed, strict=True) if f.get("status") in _NEW}
        return cls(
            (*names, *before), frozenset(new), frozenset({*names, *before} - new), len(listed) < MAX_FILES
        )


_NEW = ("added", "renamed", "copied")  # GitHub's statuses of a path the base does not have


def _renamed(entry: dict[str, Any]) -> bool:
    return isinstance(entry.get("previous_filename"), str) and bool(entry["previous_filename"])


def untouched(
    hub: GitHub, root: Root, number: int, when_modified: Sequence[str], files: PullFiles | None = None
) -> str | None:
    """Why the pull request leaves this root alone (None: it touches it, or cannot be told);
    `files`: its files, when already asked."""
    files = files or PullFiles.of(hub, number)
    if not files.complete or root.touched(files.names, when_modified):
        return None
    return (
        f"PR #{number} changes no file of {root.name or 'the manifest'} ({len(files.names)} changed "
        "file(s) elsewhere): nothing to plan or apply for it"
    )
