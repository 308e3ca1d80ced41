"""The other manifest roots' states on the state branch, for a plan that would prune.

A matrix job's checkout holds no state: each root's is on the branch `ehkeys-state`, at its
`.ehkeys/` folder's path (`state_branch`). So a root whose plan would prune a key finds the
other roots' there: one listing of the branch's tree (`GET /git/trees/BRANCH?recursive=1`),
then a blob read of each other root's state file (and of a journal left beside it), once a
job; none of it when nothing would be pruned. A branch not made yet holds no state. A listing
GitHub cut short (`truncated`), or a state that cannot be read, prunes nothing
(`planning.pruning`): it may bind any of the keys.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from reconciler.core.errors import StateError
from reconciler.engine.settings import Workspace
from reconciler.gitops.hub import GitHub, GitHubError, NotFound, pick
from reconciler.gitops.state_branch import BRANCH, read_blob
from reconciler.planning.pruning import Others
from reconciler.state import others, reading
from reconciler.state.format import Contents

TREE = "GET /git/trees/{branch}"


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

    def read(self) -> Others:
        if self.found is None:
            self.found = self._read()
        return self.found

    def _read(self) -> Others:
        try:
            files = self._files()
        except NotFound:
            return Others()  # no state branch yet: no root has kept a state
        except GitHubError as exc:
            return Others(unknown=f"the files of the state branch {self.branch} cannot be listed: {exc}")
        own = others.Own.of(self.workspace.manifests, self.workspace.state)
        sandbox = self.workspace.connection.sandbox
        owners: dict[str, str] = {}
        for path in sorted(p for p in files if others.is_state(PurePosixPath(p), sandbox)):
            if own.holds(self.top / path):
                continue
            try:
                contents = self._contents(path, files)
            except (GitHubError, StateError) as exc:
                return Others(unknown=f"{self.branch}:{path}: {exc}")
            if own.holds(self.top / path, contents):
                continue
            label = (
                f"{others.named(PurePosixPath(path), contents)} (its state binds it: {self.branch}:{path})"
            )
            for fingerprint in others.held(contents):
                owners.setdefault(fingerprint, label)
        return Others(owners)

    def _files(self) -> dict[str, str]:
        """The branch's files, path -> blob sha, in one request; GitHubError when it cut the list."""
        call = TREE.format(branch=self.branch)
        tree = self.hub.call("GET", f"/git/trees/{self.branch}", params={"recursive": "1"})
        if not isinstance(tree, dict) or tree.get("truncated") is not False:
            raise GitHubError(f"GitHub API {call}: the listing is cut short (or has no `truncated: false`)")
        entries: list[Any] = pick(tree, call, "tree", kind=list)
        return {
            pick(e, call, "path", kind=str): pick(e, call, "sha", kind=str)
            for e in entries
            if isinstance(e, dict) and e.get("type") == "blob"
        }

    def _contents(self, path: str, files: dict[str, str]) -> Contents:
        """A state file, its journal (when the branch has one beside it) replayed over it."""
        journal = str(PurePosixPath(path).parent / others.JOURNAL)
        logged = PurePosixPath(path).name == others.STATE_FILE and journal in files
        data = read_blob(self.hub, files[path])
        lines = read_blob(self.hub, files[journal]) if logged else b""
        return reading.from_bytes(data, lines, f"{self.branch}:{path}", f"{self.branch}:{journal}")
