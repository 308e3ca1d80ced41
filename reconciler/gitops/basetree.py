"""A manifest input as it is on a pull request's base commit, read through the contents API
into a folder the way a checkout holds it: each file at its path, each link a link to its
target's path there (the target read too). So the loader, which reads a file once by its real
path and walks a folder without entering linked folders (`manifest.sources`), reads the base as
it reads the checkout: a file that two links reach, or a link and the walk, is one file, named
as the walk first reaches it, never two copies of its keys.

A folder is one request plus one per YAML file or folder in it (hidden ones aside; a folder
holding its own `ehkeys.yaml` is another manifest, as `manifest.sources.walk` reads a checkout:
a stand-in for that file stops the loader's walk there too). A link the folder lists is read by
its blob (its target, as git keeps it), then its target's file. GitHub answers a link to a
normal file with that file, at its own path, and a link to anything else with the link itself;
it follows no linked folder above a path (Not Found), so a target below one is read where the
system finds it, each folder link on its way written as a link and followed in turn.
A folder of 1,000 entries, or a link out of the repository, is `Incomplete`; an input the
commit lacks, `Absent`. What is written where: `gitops.basefolder`.
"""

from __future__ import annotations

import base64
import os
import posixpath
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from reconciler.core.pathnames import shown
from reconciler.gitops.basefolder import BaseFolder
from reconciler.gitops.basehops import TOP, Incomplete, folders, leads, undecodable
from reconciler.gitops.hub import GitHub, GitHubError, NotFound, pick
from reconciler.manifest.sources import MAX_HOPS, SETTINGS_FILE, is_manifest_file

NO_COMMIT = "No commit found"  # GitHub's 404 for a ref it does not know (a path it lacks: Not Found)
LISTED_AT_MOST = 1000  # entries of a folder the contents API lists (the rest: left out, unsaid)


class Absent(Exception):
    """The input is not on the base commit."""


class BaseTree(BaseFolder):
    """The base commit `base`'s files, written into `folder` as a checkout has them."""

    def __init__(
        self, hub: GitHub, base: str, folder: Path, module: Callable[[str], None] | None = None
    ) -> None:
        super().__init__(folder)
        self.hub, self.base = hub, base
        self.module = module or _no_module  # a submodule's files into the folder (else Incomplete)
        self.listed: set[str] = set()  # the folders read whole: a file they lack is not there
        self.hops = 0  # links followed to reach the one being read

    def input(self, path: str) -> bool:
        """Input `path` (a file or a folder) into the folder; False when the commit lacks it."""
        try:
            self._fetch(path, top=True)
        except Absent:
            self._through(path)
            return False
        return True

    def file(self, path: str) -> bool:
        """A file the PR changes, as on the base; False when the commit lacks it. A link there to
        a folder is a link alone, as the loader enters no linked folder (read as an input, one to
        `..` was the whole repository, a request per file)."""
        try:
            answer = self._get(path, top=True)
        except Absent:
            self._through(path)
            return False
        if isinstance(answer, list):  # a folder there: walked, as the loader walks one
            for inner, _ in self._folder(path, answer, top=False):
                self._fetch(inner)
        else:
            self._entry(path, answer, top=False)
        return True

    def _through(self, path: str) -> None:
        """For an input the commit lacks: a folder above it that is a link or a submodule there
        is `Incomplete` (the contents API reads no path through one; a checkout does)."""
        parts = PurePosixPath(path).parts
        for depth in range(1, len(parts)):
            above = "/".join(parts[:depth])
            try:
                answer = self._get(above)
            except NotFound:
                return
            kind = "a folder" if isinstance(answer, list) else _kind(answer, above)
            if kind != "a folder":
                raise Incomplete(f"{above} is {kind} on the base: the contents API reads no path through it")

    def settings(self, path: str) -> bool:
        """Whether the base holds `path` (a folder's `ehkeys.yaml`) as a file, as a checkout's
        loader asks it (a link followed): read into the folder unless it is there already."""
        place = self.folder.joinpath(*PurePosixPath(path).parts)
        known = self._linked(path) or posixpath.dirname(path) in self.listed  # its folder read
        if not known and not os.path.lexists(place):
            try:
                self._fetch(path)
            except NotFound as exc:
                if NO_COMMIT in str(exc):
                    raise
        return path in self.stand_ins or place.is_file()

    def _fetch(self, path: str, top: bool = False) -> None:
        """`path` into the folder: a file, a link, or a folder and what is below it, a folder at a
        time (git nests folders hundreds deep, a checkout too: never a Python call deeper each)."""
        todo = [(path, top, True)]
        while todo:
            here, first, is_folder = todo.pop()
            if not first and (here in self.listed or (not is_folder and not self._missing(here))):
                continue  # read already, since it was listed (through a link, say)
            answer = self._get(here, first)
            if isinstance(answer, list):
                todo += reversed([(inner, False, kind) for inner, kind in self._folder(here, answer, first)])
            else:
                self._entry(here, answer, first)

    def _get(self, path: str, top: bool = False) -> Any:
        if undecodable(path):  # a link's target as git keeps it: bytes; a URL's path is UTF-8
            raise Incomplete(f"{shown(path)} is not UTF-8: the contents API cannot be asked for it")
        try:  # each part percent-encoded: git allows `#`, `?`, `%` in a name, a URL path does not
            return self.hub.call("GET", f"/contents/{quote(path)}", params={"ref": self.base})
        except NotFound as exc:
            if top and NO_COMMIT not in str(exc):
                raise Absent from None
            raise

    def _entry(self, path: str, answer: Any, top: bool) -> None:
        """A file, or a link GitHub did not follow (to a folder, another link, nothing, outside)."""
        kind = answer.get("type") if isinstance(answer, dict) else type(answer).__name__
        if kind == "file":
            self._file(path, answer, top)
        elif kind == "symlink":
            self._link(path, self._target_of(path, answer), top)
        elif kind == "submodule":
            self.module(path)
        else:
            raise GitHubError(f"GitHub API GET /contents/{path}: a {kind}, not a file or folder")

    def _folder(self, path: str, entries: list[Any], top: bool) -> list[tuple[str, bool]]:
        """Folder `path` as listed: its links read, and its folders and YAML files to read (each
        with whether it is a folder), in order; none for another manifest's (a stand-in)."""
        call = f"GET /contents/{path}"
        if len(entries) >= LISTED_AT_MOST:
            raise Incomplete(
                f"the folder {path or '.'} lists {len(entries):,} entries, the most GitHub's contents API "
                "gives: the rest are not read"
            )
        named = [tuple(pick(e, call, field, kind=str) for field in ("name", "type", "sha")) for e in entries]
        # GitHub lists a submodule as a file that no URL downloads (a file's is always given)
        modules = {
            n
            for e, (n, kind, _) in zip(entries, named, strict=True)
            if kind == "file" and "download_url" in e and e["download_url"] is None
        }
        if not top and any(n == SETTINGS_FILE and kind in ("file", "symlink") for n, kind, _ in named):
            self.stand_in(f"{path}/{SETTINGS_FILE}")  # a directory manifest of its own
            return []
        (self._place(path) if path else self.folder).mkdir(parents=True, exist_ok=True)
        self.listed.add(path)
        todo: list[tuple[str, bool]] = []
        for name, kind, sha in named:
            if "/" in name or name.startswith("."):
                continue  # hidden (.ehkeys, .git), or not one name
            inner = f"{path}/{name}" if path else name
            if inner in self.listed or (kind != "dir" and not self._missing(inner)):
                continue  # read already (the input, before the directory manifest it is in)
            if kind == "file" and name in modules:
                self.module(inner)
                continue
            if kind == "dir" or (kind == "file" and is_manifest_file(name)):
                todo.append((inner, kind == "dir"))
            elif kind == "symlink" and is_manifest_file(name):
                self._link(inner, os.fsdecode(self._blob(sha)))
        return todo

    def _file(self, path: str, answer: dict[str, Any], top: bool) -> None:
        """A file's answer; or, for a link GitHub followed, its target's, at the target's own path:
        where the link leads is for its own text to say (GitHub's reading of `a/b/../c` need not
        be the system's, through a folder link `a/b`), read as its folder lists it."""
        real = answer.get("path")
        if isinstance(real, str) and real not in ("", path):
            self._valid(real)  # not a path in the repository: GitHubError, before any request
            target = self._text(path)
            if leads(path, target, self.hops) != real:
                return self._link(path, target, top)  # not where GitHub went: followed hop by hop
            self._symlink(path, real)
            path = real
        if self._missing(path):
            self.write(path, self._content(answer, f"GET /contents/{path}"))
        return None

    def _text(self, path: str) -> str:
        """Link `path`'s own target, as git keeps it: its blob, by the sha its folder lists."""
        folder, name = posixpath.split(path)
        entries, call = self._get(folder), f"GET /contents/{folder}"
        found = (
            [e for e in entries if isinstance(e, dict) and e.get("name") == name]
            if isinstance(entries, list)
            else []
        )
        if len(found) == 1 and found[0].get("type") == "symlink":
            return os.fsdecode(self._blob(pick(found[0], call, "sha", kind=str)))
        if isinstance(entries, list) and len(entries) >= LISTED_AT_MOST:
            raise Incomplete(f"{path} is a link GitHub followed, in a folder of more entries than it lists")
        raise GitHubError(f"GitHub API {call}: lists no link {name}, which GitHub followed to another file")

    def _link(self, path: str, target: str, top: bool = False) -> None:
        """Link `path` to `target` (as git keeps it), and its target read when it is not yet."""
        joined, before = leads(path, target, self.hops), self.hops
        self._symlink(path, joined)
        try:
            self.hops += 1
            real = self._known(path, joined)
            if real == TOP and top:  # an input linked to the top (`keys -> ..`): the whole of it
                self._fetch("", top)
            elif real != TOP and self._missing(real):  # the top: a folder, there already
                self._target(path, real, top)
        finally:
            self.hops = before

    def _target(self, path: str, joined: str, top: bool) -> None:
        """A link's target: a file (or another link); a folder, which the loader's walk does not
        enter (an input that is a link to a folder: read as the folder)."""
        joined, answer = self._reached(path, joined)
        if isinstance(answer, list) and top:
            for inner, _ in self._folder(joined, answer, top):
                self._fetch(inner)
        elif isinstance(answer, list):
            self._place(joined).mkdir(parents=True, exist_ok=True)
        else:
            self._entry(joined, answer, top)

    def _reached(self, path: str, joined: str) -> tuple[str, Any]:
        """Link `path`'s target `joined` where the system finds it on the base, and GitHub's
        answer there: the contents API follows no folder link (`shared/policy.yaml`, `shared ->
        config/shared`: Not Found), so each folder on the way that is a link on the base is
        written as one and followed, hop by hop, as a checkout resolves it."""
        while True:
            try:
                return joined, self._get(joined)
            except NotFound:
                folder = self._folder_link(joined)
                if folder is None:
                    raise Incomplete(f"{path} is a link to {joined}, which is not on the commit") from None
            self._symlink(folder[0], leads(*folder, self.hops))
            if folder[0] not in self.written:  # a file or folder written here: the answers disagree
                raise Incomplete(f"{folder[0]} is a link on the base, and not one as read before")
            joined = self._known(path, joined)

    def _folder_link(self, path: str) -> tuple[str, str] | None:
        """The first folder above `path` that is a link on the base, and its target (None: none,
        `path` is not on the commit); a submodule there is `Incomplete`."""
        for above in folders(path):
            place = self.folder.joinpath(*PurePosixPath(above).parts)
            if above in self.listed or (place.is_dir() and not place.is_symlink()):
                continue  # a folder read from the base, or above a file of it: a real one there
            try:
                answer = self._get(above)
            except NotFound:
                return None
            kind = answer.get("type") if isinstance(answer, dict) else None
            if kind == "submodule":
                raise Incomplete(f"{above} is a submodule on the base: the contents API reads nothing in it")
            if kind == "symlink":
                return above, self._target_of(above, answer)
            if not isinstance(answer, list):
                return None
        return None

    def _known(self, path: str, joined: str) -> str:
        """`joined` with each folder above it that is a link written here replaced by its target,
        hop by hop (each one counted in link `path`'s chain)."""
        while (above := next((f for f in folders(joined) if f in self.written), None)) is not None:
            if self.hops >= MAX_HOPS:
                raise Incomplete(f"{path} is the {MAX_HOPS}th link of a chain: more than a checkout follows")
            self.hops += 1
            joined = posixpath.normpath(self.written[above] + joined[len(above) :])  # `.`: the top
        return joined

    def _target_of(self, path: str, answer: dict[str, Any]) -> str:
        """Link `path`'s target, as git keeps it: GitHub's JSON spells a byte that is not UTF-8 as
        U+FFFD, which names another file (a decoy), so a target holding one is read from its blob."""
        target: str = pick(answer, f"GET /contents/{path}", "target", kind=str)
        if "\ufffd" not in target:
            return target
        return os.fsdecode(self._blob(pick(answer, f"GET /contents/{path}", "sha", kind=str)))

    def _content(self, meta: dict[str, Any], call: str) -> bytes:
        """A file's bytes: inline, or (over 1 MB, `encoding: none`) its blob."""
        if meta.get("encoding") != "base64" or not meta.get("content"):
            return self._blob(pick(meta, call, "sha", kind=str))
        return _decoded(meta, call)

    def _blob(self, sha: str) -> bytes:
        return _decoded(self.hub.call("GET", f"/git/blobs/{sha}"), f"GET /git/blobs/{sha}")


def _no_module(path: str) -> None:
    raise Incomplete(
        f"{path} is a submodule: its files are another repository's, which the contents API does not read"
    )


def _kind(answer: Any, path: str) -> str:
    """What a path is, by its answer: a link GitHub followed is answered with its target's file."""
    kind = answer.get("type") if isinstance(answer, dict) else None
    if kind == "file" and answer.get("path") not in (None, path):
        return "a link"
    return {"symlink": "a link", "submodule": "a submodule"}.get(str(kind), f"a {kind}")


def _decoded(meta: Any, call: str) -> bytes:
    try:
        return base64.b64decode(pick(meta, call, "content", kind=str))
    except ValueError as exc:  # binascii.Error
        raise GitHubError(f"GitHub API {call}: the file's content is not base64 ({exc})") from exc
