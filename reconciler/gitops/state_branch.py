"""The state kept on a branch of the repository, written through the contents API.

A protected default branch cannot take the state, and a run must not need a checkout to
push: so each state folder (`statepaths.default_state`: `.ehkeys/<manifest name>/` beside
the manifest, or its `sandbox/`) is mirrored at the same path on the branch `ehkeys-state`
(an orphan branch, made on first use); a branch that has the state only where earlier
versions kept it (`.ehkeys/`) has it pulled from there, and the run moves it. Pull before
planning; push after applying: only files whose content changed are written, each against
the `sha` it was read at, so a run with nothing to record writes nothing, and a concurrent
writer is a Conflict, never an overwrite. GitHub also refuses a write when another file's
write moved the branch meanwhile (several manifest roots push at once): a file still as it
was read is written again. What could not be pushed is kept on the branch beside it
(`state.json.conflict-RUN`), so nothing is lost. A journal that compacting
emptied or removed is deleted from the branch too (against its `sha`): left there, it would
be pulled back and replay its settled writes as pending.

A state the branch does not hold but the checkout does (committed beside the manifest, as
`ehkeys import` wrote it) is used for its bindings only (`unverified`): `committed`. The run
opens it as no verified apply's (a binding the account contradicts is never taken:
`planning.doubts`), and it goes to the branch only once the run changed it: pushed as read, the
next run would take it for a verified apply's. A journal committed beside it is the checkout's
too: removed when the branch holds the state (replayed over it, its snapshots would stand for
the last apply's), folded in and kept for its bindings when not.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from reconciler.core.errors import StateError
from reconciler.engine.settings import Workspace
from reconciler.gitops.hub import Conflict, GitHub, GitHubError, NotFound, pick
from reconciler.state import reading
from reconciler.state.files import atomic_write
from reconciler.state.format import Contents
from reconciler.state.paths import JOURNAL_FILE, SEEN_FILE
from reconciler.state.unverified import bindings_only

log = logging.getLogger("ehkeys")

BRANCH = "ehkeys-state"
TRIES = 3  # writes of a file still as read, refused because the branch moved under another write
STATE_FILE = "state.json"  # stands for the state file, whatever `--state` names it
FILES = (STATE_FILE, JOURNAL_FILE, SEEN_FILE)
FOLDED = (JOURNAL_FILE,)  # gone (or empty) here means nothing left to replay: compact() removed it
README = (
    "# ehkeys state\n\nWritten by the ehkeys workflows: each `.ehkeys/` folder holds the bindings of\n"
    "manifest ids to live keys (fingerprints, never keys) and the write-only values last applied.\n"
    "Do not merge this branch; delete a file to make ehkeys forget it.\n"
)


def remote_folder(state_path: Path, root: Path) -> PurePosixPath:
    """Where a state folder lives on the branch: its path in the repository."""
    folder = state_path.parent.resolve()
    try:
        return PurePosixPath(folder.relative_to(root.resolve()).as_posix())
    except ValueError:
        raise StateError(
            f"{state_path}: the state is outside the repository ({root}), so it cannot be kept on "
            f"the branch {BRANCH}; drop --state or point it inside the checkout"
        ) from None


@dataclass
class StateBranch:
    hub: GitHub
    root: Path
    branch: str = BRANCH
    read: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # remote path -> (sha, bytes)

    def pull(self, state_path: Path) -> list[str]:
        """Copy the branch's files of this state folder into the checkout; [] when none yet."""
        pulled = []
        for local, remote in _paths(state_path, self.root, FILES):
            found = self._get(remote)
            if found is None:
                continue
            self.read[remote] = found
            _write(local, found[1])
            pulled.append(remote)
        for local, remote in _paths(state_path, self.root, FOLDED) if self.holds(state_path) else ():
            if remote not in self.read:  # the checkout's (committed): replayed, it would undo the branch's
                _remove(local)
        return pulled

    def holds(self, state_path: Path) -> bool:
        """Whether `pull` found this folder's state file on the branch."""
        ((_, remote),) = _paths(state_path, self.root, (STATE_FILE,))
        return remote in self.read

    def push(self, state_path: Path, names: tuple[str, ...] = FILES, run: str = "") -> list[str]:
        """Write each file that changed since `pull`, and delete a pulled journal that is gone
        or empty here (compacted away); returns the remote paths written or deleted."""
        written = []
        for local, remote in _paths(state_path, self.root, names):
            data = local.read_bytes() if local.is_file() else None
            sha, before = self.read.get(remote, ("", b""))
            if not data and local.name in FOLDED:
                if remote in self.read and self._delete(remote, sha):
                    written.append(f"{remote} (deleted)")
            elif data is not None and (data != before or remote not in self.read):
                self._put_or_keep(remote, data, sha, run)
                written.append(remote)
        return written

    def _delete(self, remote: str, sha: str) -> bool:
        """Delete the file read at `sha`; a file written since (another run's) is kept."""
        body = {"message": f"ehkeys: {remote} folded into the state", "sha": sha, "branch": self.branch}
        for tries_left in reversed(range(TRIES)):
            try:
                self.hub.call("DELETE", f"/contents/{remote}", json=body)
            except NotFound:
                pass  # gone already (a lost answer, tried again), or the branch with it
            except Conflict:
                found = self._get(remote)
                if found is not None and found[0] == sha and tries_left:
                    continue  # the file is as read: another file's write moved the branch
                if found is not None:
                    log.warning("%s:%s changed since it was read (another run?): kept", self.branch, remote)
                    return False
            self.read.pop(remote, None)
            return True
        return False

    def _get(self, remote: str) -> tuple[str, bytes] | None:
        try:
            meta = self.hub.call("GET", f"/contents/{remote}", params={"ref": self.branch})
        except NotFound:
            return None  # no such file, or no branch yet: a first run
        if not isinstance(meta, dict) or meta.get("type") != "file":
            raise StateError(f"{self.branch}:{remote}: expected a file on the state branch")
        sha = pick(meta, f"GET /contents/{remote}", "sha", kind=str)
        if meta.get("encoding") == "base64" and meta.get("content"):
            return sha, _decoded(meta, f"GET /contents/{remote}")
        return sha, read_blob(self.hub, sha)  # over 1 MB: no inline content

    def _put_or_keep(self, remote: str, data: bytes, sha: str, run: str) -> None:
        for tries_left in reversed(range(TRIES)):
            try:
                return self._put(remote, data, sha)
            except Conflict as exc:
                found = self._get(remote)
                if found is not None and found[1] == data:  # a write whose answer was lost, tried again
                    self.read[remote] = found
                    return None
                if (found[0] if found else "") != sha or not tries_left:  # another run wrote this file
                    return self._keep_aside(remote, data, run, exc)
        return None

    def _keep_aside(self, remote: str, data: bytes, run: str, exc: Conflict) -> None:
        aside = f"{remote}.conflict-{run or 'local'}"
        self._put(aside, data, "")
        raise StateError(
            f"{self.branch}:{remote} changed while this run held it (another run?); this run's "
            f"copy is kept as {aside}: merge it by hand if it recorded something ({exc})"
        ) from exc

    def _put(self, remote: str, data: bytes, sha: str) -> None:
        body = {
            "message": f"ehkeys: record {remote}",
            "content": base64.b64encode(data).decode(),
            "branch": self.branch,
            **({"sha": sha} if sha else {}),
        }
        try:
            answer = self.hub.call("PUT", f"/contents/{remote}", json=body)
        except NotFound:  # no branch (yet, or deleted since the pull): a new one has no such file
            self._create_branch()
            self.read.clear()  # what was read came from the branch that is gone
            body.pop("sha", None)
            answer = self.hub.call("PUT", f"/contents/{remote}", json=body)
        self.read[remote] = (pick(answer, f"PUT /contents/{remote}", "content", "sha", kind=str), data)

    def _create_branch(self) -> None:
        """An orphan branch holding a README: the state never mixes with the code's history."""
        tree = self.hub.call(
            "POST",
            "/git/trees",
            json={"tree": [{"path": "README.md", "mode": "100644", "type": "blob", "content": README}]},
        )
        tree_sha = pick(tree, "POST /git/trees", "sha")
        first = {"message": "ehkeys: state branch", "tree": tree_sha, "parents": []}
        commit = self.hub.call("POST", "/git/commits", json=first)
        ref = {"ref": f"refs/heads/{self.branch}", "sha": pick(commit, "POST /git/commits", "sha")}
        with contextlib.suppress(Conflict):  # made meanwhile by another run: use it
            self.hub.call("POST", "/git/refs", json=ref)


@dataclass(frozen=True)
class Committed:
    """The states a run reads from the checkout, the branch holding none: for their bindings only."""

    names: tuple[str, ...] = ()  # their paths in the repository, as the log and the drift issue say
    unverified: frozenset[Path] = frozenset()  # where the run opens them (moved from an earlier place too)
    kept: dict[Path, Contents] = field(default_factory=dict)  # what each holds as read: `unchanged`

    def over(self, workspace: Workspace) -> Workspace:
        """The run's workspace, these states no verified apply's (`planning.doubts`)."""
        return replace(workspace, unverified=self.unverified) if self.unverified else workspace

    def unchanged(self, state: Path) -> bool:
        """Whether the run left this state (its journal replayed) as read from the checkout, moved
        or not: then it is no run's to push, and stays off the branch, where it would stand for a
        verified apply's. One that cannot be read now is pushed as it is."""
        try:
            return state in self.kept and _held(state) == self.kept[state]
        except StateError:
            return False


def committed(branch: StateBranch, states: Sequence[Path], earlier: Sequence[Path]) -> Committed:
    """The states this run reads from the checkout, the branch holding none (a first run, or the
    branch deleted), each kept for its bindings only (`unverified`) and said. Where earlier
    versions kept the state (`earlier`) counts only while none of `states` is here: the run then
    moves it into place (`statemigrate`), and opens it there."""
    here = [path for path in states if path.is_file()]
    found = [p for p in dict.fromkeys(here or [*states, *earlier]) if p.is_file() and not branch.holds(p)]
    named = [str(remote_folder(path, branch.root) / path.name) for path in found]
    for path, name in zip(found, named, strict=True):
        bindings_only(path)
        print(
            f"state: {name} from the checkout, for its bindings only: {unheld(branch.branch)}",
            file=sys.stderr,
        )
    kept = {path: _held(path) for path in found}
    moved = [path for path in found if path not in states]  # into each of `states` it may go
    kept |= {state: kept[moved[0]] for state in states if moved}
    return Committed(tuple(named), frozenset(kept), kept)


def _held(state: Path) -> Contents:
    """What a state holds, its journal replayed, whichever manifest or account it names."""
    found = reading.contents(state, state.parent / FOLDED[0])
    return replace(found, manifest=None, account=None)


def unheld(branch: str) -> str:
    """Why a state committed in the repository is not trusted as the last apply's, and what follows."""
    return (
        f"the branch {branch} holds no state for it (deleted, or no apply recorded one yet), and "
        "its snapshots are not the last verified apply's (changes since may be ehkeys' own): drift "
        'reports no key as changed outside ehkeys ("no verified apply recorded") until an apply '
        "records snapshots"
    )


def unheld_note(branch: str, named: Sequence[str]) -> str:
    """The drift issue's word that the states `named` were read from the repository ("": none)."""
    where = ", ".join(f"`{name}`" for name in named)
    return f"**The state was read from the repository** ({where}): {unheld(branch)}.\n\n" if named else ""


def _paths(state_path: Path, root: Path, names: tuple[str, ...]) -> list[tuple[Path, str]]:
    """Each file of the state folder, in the checkout and on the branch; the state file has the
    name `--state` gave it (its journal and drift-seen.json are always named so, beside it)."""
    folder = remote_folder(state_path, root)
    named = [state_path.name if name == STATE_FILE else name for name in names]
    return [(state_path.parent / name, str(folder / name)) for name in named]


def read_blob(hub: GitHub, sha: str) -> bytes:
    """A file's bytes by its blob `sha` (any size, where the contents API leaves out over 1 MB)."""
    return _decoded(hub.call("GET", f"/git/blobs/{sha}"), f"GET /git/blobs/{sha}")


def _decoded(answer: object, call: str) -> bytes:
    try:
        return base64.b64decode(pick(answer, call, "content", kind=str))
    except ValueError as exc:  # binascii.Error
        raise GitHubError(f"GitHub API {call}: the file's content is not base64 ({exc})") from exc


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise StateError(f"{path}: cannot remove the journal committed here ({exc.strerror})") from exc


def _write(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data)
    except OSError as exc:
        raise StateError(f"{path}: cannot write the state pulled from the branch ({exc.strerror})") from exc


__all__ = ["BRANCH", "GitHubError", "StateBranch", "read_blob", "remote_folder"]
