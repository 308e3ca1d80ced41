"""The rules a pull request changes: its root read as it is on the PR's base commit, through the
contents API (a shallow checkout has no base commit), loaded offline with the same loader,
and its rules compared with the head's (`manifest.rulediff`).

Only the files the PR changes are asked for, the rest taken from the checkout
(`gitops.basefiles`), when GitHub lists them all; else the whole root is read: a file is one
request, a folder one request plus one per file or folder in it (YAML files and folders only,
hidden ones aside, a folder holding its own `ehkeys.yaml` another manifest, as
`manifest.sources.walk` reads a checkout); a YAML file that is a link, its target's (one out
of the repository: the comparison would be incomplete). The root missing on the base is new:
nothing to compare (one of several inputs missing: that one is new, the others are compared). A base that
does not load, or an API error, is said, never a traceback: the rules could not be compared
(rules-apart then fails the check; without it the plan stands).
"""

from __future__ import annotations

import base64
import posixpath
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from reconciler.core.plans import Plans
from reconciler.core.rulechanges import RulesReview
from reconciler.gitops import basefiles
from reconciler.gitops.basefiles import Checkout
from reconciler.gitops.context import RunContext
from reconciler.gitops.hub import GitHub, GitHubError, NotFound, pick
from reconciler.gitops.roots import PullFiles, Root
from reconciler.manifest.layout import root_of
from reconciler.manifest.load import Manifest, load
from reconciler.manifest.rulediff import changed_rules
from reconciler.manifest.sources import SETTINGS_FILE, is_manifest_file
from reconciler.render import rules

NO_COMMIT = "No commit found"  # GitHub's 404 for a ref it does not know (a path it lacks: Not Found)


LISTED_AT_MOST = 1000  # entries of a folder the contents API lists (the rest: left out, unsaid)


class _Absent(Exception):
    """The root (each of its inputs) is not on the base commit."""


class _Incomplete(Exception):
    """Some of the base's files cannot be read through the contents API: compared, the rest
    would say rules changed, or not, that did not."""


def review(
    hub: GitHub,
    ctx: RunContext,
    manifests: Sequence[str],
    head: Manifest,
    plans: Plans,
    apart: bool,
    files: PullFiles | None = None,
) -> RulesReview | None:
    """The head's rules against the base's (None: not a pull request's run); with `apart`
    (rules-apart), judged by how many keys `plans` change. `files`: the PR's, when GitHub
    lists them all (else each file of the base is asked for)."""
    if ctx.pr_number is None:
        return None
    base, local = _base_sha(ctx), Checkout(ctx.workspace, files) if files and files.complete else None
    found = compare(hub, base, _inputs(manifests, ctx.workspace), head, local) if base else None
    if found is None and apart:
        found = RulesReview(problem="the event names no base commit (pull_request.base.sha)")
    if found is None or not apart:
        return found
    return found.judged(sum(c.action.changes_something for p in plans.each for c in p.changes))


def _base_sha(ctx: RunContext) -> str:
    base = ctx.pull_request.get("base")
    sha = base.get("sha") if isinstance(base, dict) else None
    return sha if isinstance(sha, str) else ""


def _inputs(manifests: Sequence[str], top: Path) -> list[str | None]:
    """Each manifest as the loader reads it (a file of a directory manifest: its folder), from
    the repository's top (None: outside it)."""
    wholes = [root_of(Path(m)) or Path(m) for m in manifests]
    return list(Root.of([str(w) for w in wholes], top).paths)


def compare(
    hub: GitHub, base: str, inputs: Sequence[str | None], head: Manifest, local: Checkout | None = None
) -> RulesReview:
    """The rules of `inputs` (paths from the repository's top) on commit `base` against `head`'s;
    with `local`, only the files the PR changes are asked for."""
    if any(path is None for path in inputs):
        return RulesReview(base, problem="the manifest is outside the repository")
    try:
        with tempfile.TemporaryDirectory(prefix="ehkeys-base-") as folder:
            loaded = _load_base(hub, base, [str(path) for path in inputs], Path(folder), local)
    except _Absent:
        return RulesReview(base, absent=True)
    except _Incomplete as exc:
        return RulesReview(base, problem=f"the comparison would be incomplete: {exc}")
    except GitHubError as exc:
        return RulesReview(base, problem=str(exc))
    except OSError as exc:  # the temporary folder: full, or not writable
        return RulesReview(base, problem=f"its files could not be written to a temporary folder ({exc})")
    if isinstance(loaded, str):
        return RulesReview(base, problem=f"the manifest there does not load: {loaded}")
    return RulesReview(base, changed_rules(loaded, head))


def _load_base(
    hub: GitHub, base: str, paths: Sequence[str], folder: Path, local: Checkout | None
) -> Manifest | str:
    """The base's manifest, loaded offline from `folder` (no variable is needed for rules), or
    its first error (its place from the repository's top)."""
    (folder / ".git").mkdir()  # the repository's top: a file's directory manifest is looked for below it
    found = [path for path in paths if _input(hub, base, path, folder, local)]
    if not found:
        raise _Absent
    result = load([str(folder / path) for path in found], env={}, offline=True)
    if result.manifest is not None:
        return result.manifest
    first = result.errors[0].text() if result.errors else "it holds no manifest"
    return first.replace(f"{folder}/", "")


def _input(hub: GitHub, base: str, path: str, folder: Path, local: Checkout | None) -> bool:
    """Input `path` as on the base, into `folder`: from the checkout and the PR's changes, or,
    without them or where the checkout cannot stand for the base (a link, a submodule: what it
    reads is not a file the PR's list names), read whole from the base."""
    if local is None or not basefiles.plain(local, path):
        return _present(hub, base, path, folder)
    return basefiles.assemble(local, path, folder, _fetched(hub, base))


def _present(hub: GitHub, base: str, path: str, folder: Path) -> bool:
    """Whether input `path` is on the base, fetched (one new in the PR: the others are compared)."""
    try:
        _fetch(hub, base, path, folder, top=True)
    except _Absent:
        return False
    return True


def _fetched(hub: GitHub, base: str) -> Callable[[str, Path], bool]:
    """Fetches one file the PR changes from the base into a folder: whether it is there."""
    return lambda path, folder: _present(hub, base, path, folder)


def _fetch(hub: GitHub, base: str, path: str, folder: Path, top: bool = False) -> None:
    """A file, or a folder's YAML files and folders, from commit `base` into `folder`."""
    call = f"GET /contents/{path}"
    try:  # each part percent-encoded: git allows `#`, `?`, `%` in a name, a URL path does not
        answer = hub.call("GET", f"/contents/{quote(path)}", params={"ref": base})
    except NotFound as exc:
        if top and NO_COMMIT not in str(exc):
            raise _Absent from None
        raise
    if isinstance(answer, list):
        _folder(hub, base, path, folder, answer, top)
    elif isinstance(answer, dict) and answer.get("type") == "file":
        _write(folder, path, _content(hub, answer, call))
    elif isinstance(answer, dict) and answer.get("type") == "symlink":
        _write(folder, path, _linked(hub, base, path, answer))
    else:
        kind = answer.get("type") if isinstance(answer, dict) else type(answer).__name__
        raise GitHubError(f"GitHub API {call}: a {kind}, not a file or folder")


def _folder(hub: GitHub, base: str, path: str, folder: Path, entries: list[Any], top: bool) -> None:
    call = f"GET /contents/{path}"
    if len(entries) >= LISTED_AT_MOST:
        raise _Incomplete(
            f"the folder {path or '.'} lists {len(entries):,} entries, the most GitHub's contents API "
            "gives: the rest are not read"
        )
    named = [(pick(e, call, "name", kind=str), pick(e, call, "type", kind=str)) for e in entries]
    if not top and {(SETTINGS_FILE, "file"), (SETTINGS_FILE, "symlink")} & set(named):
        return  # a directory manifest of its own: none of this one's files
    (folder / path).mkdir(parents=True, exist_ok=True)
    for name, kind in named:
        if "/" in name or name.startswith("."):
            continue  # hidden (.ehkeys, .git), or not one name
        if kind == "dir" or (kind in ("file", "symlink") and is_manifest_file(name)):
            _fetch(hub, base, f"{path}/{name}" if path else name, folder)


def _linked(hub: GitHub, base: str, path: str, link: dict[str, Any]) -> bytes:
    """The file a link names, as a checkout reads it (GitHub answers a link to a file with the
    file; to anything else, with the link): its target's, within the repository."""
    target = pick(link, f"GET /contents/{path}", "target", kind=str)
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    if target.startswith("/") or joined == ".." or joined.startswith("../"):
        raise _Incomplete(f"{path} is a link out of the repository ({target})")
    call = f"GET /contents/{joined}"
    answer = hub.call("GET", f"/contents/{quote(joined)}", params={"ref": base})
    if not isinstance(answer, dict) or answer.get("type") != "file":
        raise _Incomplete(f"{path} is a link to {joined}, not to a file")
    return _content(hub, answer, call)


def _content(hub: GitHub, meta: dict[str, Any], call: str) -> bytes:
    """A file's bytes: inline, or (over 1 MB, `encoding: none`) its blob."""
    if meta.get("encoding") != "base64" or not meta.get("content"):
        sha = pick(meta, call, "sha", kind=str)
        call, meta = f"GET /git/blobs/{sha}", hub.call("GET", f"/git/blobs/{sha}")
    try:
        return base64.b64decode(pick(meta, call, "content", kind=str))
    except ValueError as exc:  # binascii.Error
        raise GitHubError(f"GitHub API {call}: the file's content is not base64 ({exc})") from exc


def _write(folder: Path, path: str, data: bytes) -> None:
    parts = PurePosixPath(path).parts
    if not parts or ".." in parts or PurePosixPath(path).is_absolute():
        raise GitHubError(f"GitHub API GET /contents: {path!r} is not a path in the repository")
    target = folder.joinpath(*parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def tell(found: RulesReview | None) -> None:
    """What the review found, on stderr (the comment and the summary show it too)."""
    lines = rules.said(found)
    if found is not None and not lines:
        print(f"rules: unchanged since the base {found.base[:12]}", file=sys.stderr)
    for said in lines:
        print(f"rules: {said.strip()}", file=sys.stderr)
