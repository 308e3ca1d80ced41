"""The other manifest roots' states on the state branch, for a plan with unmanaged keys.

A matrix job's checkout holds no state: each root's is on the branch `ehkeys-state`, at its
`.ehkeys/` folder's path (`state_branch`). So a root whose plan has unmanaged keys (to prune
them, or to tell its drift whose they are) finds the other roots' there: one listing of the
branch's tree (`GET /git/trees/BRANCH?recursive=1`), then a blob read of each other root's
state file (and of a journal left beside it), once a job; none of it when no key is
unmanaged. A branch not made yet holds no state. A listing GitHub cut short (`truncated`), or
a state that cannot be read, prunes nothing (`planning.pruning`): it may bind any of the keys,
and drift counts each as unmanaged here, saying why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from reconciler.core.errors import StateError
from reconciler.engine.owners import Entry, Found, in_checkout
from reconciler.engine.settings import Workspace
from reconciler.gitops.hub import GitHub, GitHubError, NotFound, pick
from reconciler.gitops.state_branch import BRANCH, read_blob
from reconciler.planning.pruning import Others
from reconciler.state import others, reading
from reconciler.state.format import Contents

TREE = "GET /git/trees/{branch}"
MAX_READS = 200  # blobs a job reads for the other roots' states: a request each (a token has 1,000 an hour)
MAX_BYTES = 32 * 1024 * 1024  # a state file bigger than this is none (tens of thousands of keys)
SHA = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")  # a git object's name (SHA-1, or SHA-256)


def with_branch_states(workspace: Workspace, hub: GitHub, top: Path, branch: str = BRANCH) -> Workspace:
    """A job's workspace whose other roots' states are those on the state branch."""
    return replace(workspace, others=BranchStates(hub, top, workspace, branch))


@dataclass
class BranchStates:
    """The other roots' states on `branch`, read on the first ask; `top`: the checkout, whose
    paths the branch's mirror; `workspace`: the job's (its own states are no other's)."""

    hub: GitHub
    top: Path
    workspace: Workspace
    branch: str = BRANCH
    found: Others | None = None
    blobs: dict[str, bytes] = field(default_factory=dict, repr=False)  # sha -> bytes, read this job

    def read(self) -> Others:
        if self.found is None:
            self.found = self._read()
        return self.found

    def _read(self) -> Others:
        try:
            files = self._files()
        except NotFound:
            files = {}  # no state branch yet: no root has kept a state there
        except GitHubError as exc:
            return Others(unknown=f"the files of the state branch {self.branch} cannot be listed: {exc}")
        own = others.Own.of(self.workspace.manifests, self.workspace.state)
        search = others.Search.of(
            self.workspace.manifests, self.workspace.connection.sandbox, self.top.resolve()
        )
        found = Found(self.top)
        unknown = self._on_branch(files, own, found, search) or in_checkout(
            found, search, own, but=files, said=f", in the checkout: {self._none}"
        )
        return Others(unknown=unknown) if unknown else found.others()

    @property
    def _none(self) -> str:
        return f"the branch {self.branch} holds none there"

    def _on_branch(self, files: dict[str, Blob], own: others.Own, found: Found, search: others.Search) -> str:
        """The other roots' states on the branch that `search` takes added to `found`; why one
        cannot be read, or ''."""
        states = [p for p in sorted(files) if search.takes(PurePosixPath(p))]
        states = [p for p in states if not own.holds(self.top / p)]
        unknown = self._too_much([f for p in states for f in (p, _journal(p, files)) if f], files)
        for path in states if not unknown else ():
            try:
                contents, journal = self._contents(path, files)
                if not own.holds(self.top / path, contents):
                    whose = others.named(PurePosixPath(path), contents)
                    found.add(whose, f"{self.branch}:{path}", contents, journal, self.top / path)
            except (GitHubError, StateError) as exc:
                return f"{self.branch}:{path}: {exc}"
        return unknown

    def _too_much(self, paths: list[str], files: dict[str, Blob]) -> str:
        """Why the files at `paths` are not read ('' when they are): more than a job reads (a
        request each), or one bigger than a state is."""
        reads = len({files[p].sha for p in paths})
        if reads > MAX_READS:
            return (
                f"the state branch {self.branch} holds {reads} files of other roots' states, more than "
                f"the {MAX_READS} a job reads (a request to GitHub each): remove from it the states of "
                "roots that are gone and the ….conflict-RUN copies merged by hand"
            )
        for path in (p for p in paths if (files[p].size or 0) > MAX_BYTES):
            size = files[path].size
            return f"{self.branch}:{path}: {size:,} bytes, more than a state holds ({MAX_BYTES:,})"
        return ""

    def _files(self) -> dict[str, Blob]:
        """The branch's files in one request; GitHubError when it cut the list, or names what no
        git tree holds."""
        call = TREE.format(branch=self.branch)
        tree = self.hub.call("GET", f"/git/trees/{self.branch}", params={"recursive": "1"})
        if not isinstance(tree, dict) or tree.get("truncated") is not False:
            raise GitHubError(f"GitHub API {call}: the listing is cut short (or has no `truncated: false`)")
        entries: list[Any] = pick(tree, call, "tree", kind=list)
        blobs = [e for e in entries if isinstance(e, dict) and e.get("type") == "blob"]
        return dict(_blob(e, call) for e in blobs)

    def _contents(self, path: str, files: dict[str, Blob]) -> tuple[Contents, list[Entry]]:
        """A state file, its journal (when the branch has one beside it) replayed over it."""
        journal = _journal(path, files)
        data = self._read_blob(files[path].sha)
        lines = self._read_blob(files[journal].sha) if journal else b""
        where = f"{self.branch}:{journal or PurePosixPath(path).parent / others.JOURNAL}"
        contents = reading.from_bytes(data, lines, f"{self.branch}:{path}", where)
        return contents, list(reading.entries(Path(where), False, lines))

    def _read_blob(self, sha: str) -> bytes:
        """A blob, read once a job (conflict copies of one state are one blob)."""
        if sha not in self.blobs:
            self.blobs[sha] = read_blob(self.hub, sha)
        return self.blobs[sha]


@dataclass(frozen=True)
class Blob:
    """A file of the branch: its blob's name, and its size when the listing says it."""

    sha: str
    size: int | None


def _blob(entry: dict[str, Any], call: str) -> tuple[str, Blob]:
    """A listing's file; GitHubError for a path or a name no git tree holds (a `sha` goes into a
    blob's URL: `../../user` would read another endpoint)."""
    path, sha = pick(entry, call, "path", kind=str), pick(entry, call, "sha", kind=str)
    if "\x00" in path or any(part in ("", ".", "..") for part in path.split("/")):
        raise GitHubError(f"GitHub API {call}: the listing names a path no git tree holds: {path!r}")
    if not SHA.fullmatch(sha):
        raise GitHubError(f"GitHub API {call}: the listing names no git object by {sha!r} (for {path!r})")
    size = entry.get("size")
    return path, Blob(sha, size if isinstance(size, int) else None)


def _journal(path: str, files: dict[str, Blob]) -> str:
    """The journal beside a state file on the branch ('' for none, or for a conflict's copy)."""
    journal = str(PurePosixPath(path).parent / others.JOURNAL)
    return journal if PurePosixPath(path).name == others.STATE_FILE and journal in files else ""
