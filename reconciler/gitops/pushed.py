"""Every pull request a push merged, oldest first: the apply job applies none it did not look for.

One push can land several pull requests: a merge queue that merges a group at once, a
fast-forward over several merges, the push of a local merge of two PRs. The push event names
the branch's commit before the push and after it; GitHub's compare (`GET
/compare/{before}...{after}`, 100 commits a page) lists the commits between, each with its
parents, and the files the push changes (up to 300, on its first page only: compare pages its
commits, never its files). The branch's first-parent line from `after` back to `before` is what
the branch moved through (a merge commit, a squashed commit, a queue's commit, each rebased
commit), and each of its commits is asked which merged pull request made it (`GET
/commits/{sha}/pulls`: the one whose `merge_commit_sha` it is; a rebased commit before the last
is its PR's too). A commit of that line no PR made is `loose` (a direct push, or a local merge
GitHub did not record as the PR's).

A step of that line is one of its commits against its first parent (`GET /compare/{parent}...{sha}`,
its files): the steps' files together are every file the push changed on the way. They are read
when the push's own files do not settle it, the first step that changes the root (or may: more
files than compare lists) ending the reading:
- the push's files leave the root alone but the line has several commits: its steps but the last
  (the root may have changed on the way, and back: then its pull requests are read, `undone`, so
  that each one that changed it is told why its reviewed plan was not applied);
- more files than compare lists (the push's are unknown): every step, when there are several;
  none changing the root leaves it alone, else the push may change it.

Requests: one for the compare (one more per 100 commits past the first 100); for a push whose
files leave the root alone, one per step read (none for a line of one commit, or of more than
MAX_UNDONE_STEPS steps: then said unread, as a step GitHub did not answer is); otherwise one
per step read when its files are unknown, then one per commit of the first-parent line. None
for a push whose `before` is its commit (the branch did not move: nothing merged). What cannot
be read so is `Unreadable`, said and never guessed: a push that created the branch (`before`
all zeros), one that rewrote it (compare: not `ahead`, the first-parent line does not reach
`before`, or `before` is gone), one of more commits than are read. A push whose files leave the
root alone but whose first-parent line cannot be followed has its steps unread, and says so
(`Push.unread`): no PR whose change it undid can be told. An event without `before`
(a run by hand, not a push) looks up its own commit alone, as an earlier ehkeys did.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from reconciler.core.errors import Refused
from reconciler.gitops.context import SHA, RunContext
from reconciler.gitops.hub import PAGE, GitHub, GitHubError, NotFound, pick

MAX_COMMITS = 1000  # a push's commits read: 10 pages of compare
MAX_LINE = 100  # commits of its first-parent line asked after, one request each
MAX_FILES = 300  # compare lists no more: a push of more may change anything
MAX_UNDONE_STEPS = 10  # steps read only to tell PRs whose change the push undid (a push of more: unread)
FRESH = "To apply the manifest as merged, read the fresh plan and run keys-apply by hand (fresh: true)"
NOTHING_SENT = f"no reviewed plan is applied; nothing was sent. {FRESH}"
Pull = dict[str, Any]
Touches = Callable[[Sequence[str]], bool]


class Unreadable(Refused):
    """What a push merged cannot be told; nothing is applied. `why`: the cause alone, when a
    push whose files leave the root alone says it (`Push.unread`)."""

    why: str = ""


@dataclass(frozen=True)
class Push:
    """`merged`: the PRs, oldest first; `loose`: commits of the first-parent line no PR made;
    `files`: what the push changes (renames by both names), None when not known (no compare,
    or past 300 files and a step's too); `commits`: how many it adds (0: not compared);
    `undone`: its files leave the root alone, but a step changed it (or may have): `merged` and
    `loose` are read all the same (else none are, for such a push); `unread`: its files leave
    the root alone, but its steps were not read (a line that cannot be followed, too long, an
    answer GitHub did not give), and why (then no PR is told)."""

    merged: tuple[Pull, ...] = ()
    loose: tuple[str, ...] = ()
    files: tuple[str, ...] | None = None
    commits: int = 0
    undone: bool = False
    unread: str = ""


def read(hub: GitHub, ctx: RunContext, touches: Touches) -> Push:
    """What the push merged; only its files when they (or its steps') show that it leaves the
    root alone (`touches` says false), its pull requests not looked for then, unless a step
    changed the root on the way (`Push.undone`)."""
    before = ctx.before
    if before is None:  # no push: the commit alone
        pull = merged_pull(hub, ctx.sha)
        return Push(merged=(pull,)) if pull else Push(loose=(ctx.sha,))
    if not before.strip("0"):
        raise Unreadable(
            "this push created the branch (its `before` is all zeros): what it merged cannot be told: "
            + NOTHING_SENT
        )
    if not SHA.fullmatch(ctx.sha):
        raise Unreadable(
            f"GITHUB_SHA {ctx.sha[:80]!r} is not a commit, so what the push merged cannot be told: "
            + NOTHING_SENT
        )
    if before == ctx.sha:  # the branch did not move (compare: "identical", not a rewrite)
        return Push(files=())
    commits, files = _compared(hub, before, ctx.sha, bool(ctx.event.get("forced")))
    if files is not None and not touches(files):
        return _left_alone(hub, Push(files=files, commits=len(commits)), commits, before, ctx.sha, touches)
    line = first_parents(commits, before, ctx.sha)
    if files is None and len(line) > 1:  # one step is the push: its files as unknown
        stepped = steps(hub, before, line, touches)
        if stepped is not None:
            return Push(files=stepped, commits=len(commits))
    merged, loose = _merges(hub, line)
    return Push(merged, loose, files, len(commits))


def _left_alone(
    hub: GitHub, alone: Push, commits: list[dict[str, Any]], before: str, after: str, touches: Touches
) -> Push:
    """A push whose files leave the root alone: `alone`, unless a step of its line but the last
    changed the root (or may have: then it was changed back), when its pull requests are read.
    Nothing is applied either way: what cannot be read so (a line that cannot be followed, or of
    more than MAX_UNDONE_STEPS steps, an answer GitHub did not give) is said unread, never red."""
    try:
        line = first_parents(commits, before, after)
    except Unreadable as exc:  # its steps cannot be told: the push's own files still leave the root alone
        return replace(alone, unread=exc.why) if len(commits) > 1 else alone
    if len(line) - 1 > MAX_UNDONE_STEPS:
        most = MAX_UNDONE_STEPS + 1
        return replace(alone, unread=f"{len(line)} commits on its line: steps are read for {most} at most")
    try:
        if steps(hub, before, line[:-1], touches) is not None:
            return alone
        merged, loose = _merges(hub, line)
    except GitHubError as exc:
        return replace(alone, unread=str(exc))
    return replace(alone, merged=merged, loose=loose, undone=True)


def steps(hub: GitHub, before: str, line: tuple[str, ...], touches: Touches) -> tuple[str, ...] | None:
    """The files the steps of `line` (from `before`) change, each commit against its first parent,
    one compare each; None at the first that changes the root or may (past compare's 300 files)."""
    found: list[str] = []
    for parent, sha in zip((before, *line), line, strict=False):  # each commit after the one before it
        answer = hub.call("GET", f"/compare/{parent}...{sha}", params={"per_page": 1})
        files = changed_files(answer, f"GET /compare/{parent[:12]}...{sha[:12]}")
        if files is None or touches(files):
            return None
        found += files
    return tuple(dict.fromkeys(found))


def merged_pull(hub: GitHub, sha: str) -> Pull | None:
    """The pull request whose merge made this commit, if one did."""
    return next((p for p in _merged_pulls(hub, sha) if p.get("merge_commit_sha") == sha), None)


def _merged_pulls(hub: GitHub, sha: str) -> list[Pull]:
    """The merged pull requests GitHub associates with the commit."""
    return [p for p in hub.pages(f"/commits/{sha}/pulls") if p.get("merged_at")]


def _merges(hub: GitHub, line: tuple[str, ...]) -> tuple[tuple[Pull, ...], tuple[str, ...]]:
    """The PRs that made the first-parent line, oldest first, and its commits no PR made (a
    rebased commit is its PR's, whose merge commit is the PR's last, further on the line)."""
    merged: list[Pull] = []
    loose: list[str] = []
    for sha in line:
        pulls = _merged_pulls(hub, sha)
        own = [p for p in pulls if p.get("merge_commit_sha") == sha][:1]
        merged += own
        if not own and not any(p.get("merge_commit_sha") in line for p in pulls):
            loose.append(sha)
    return tuple(merged), tuple(loose)


def _compared(
    hub: GitHub, before: str, after: str, forced: bool
) -> tuple[list[dict[str, Any]], tuple[str, ...] | None]:
    """The commits between `before` and `after` (each with its parents) and the files they
    change (None: more than compare lists)."""
    path, shown = f"/compare/{before}...{after}", f"{before[:12]}...{after[:12]}"
    call = f"GET /compare/{shown}"
    try:
        first = hub.call("GET", path, params={"per_page": PAGE, "page": 1})
    except NotFound:
        raise Unreadable(
            f"GitHub cannot compare {shown} (the commit before the push is gone: a forced push?), so what "
            f"the push merged cannot be told: {NOTHING_SENT}"
        ) from None
    status, total = pick(first, call, "status", kind=str), pick(first, call, "total_commits", kind=int)
    if status != "ahead":
        how = "a forced push: " if forced else ""
        raise Unreadable(
            f"this push rewrote the branch ({how}GitHub's compare of {shown} says {status!r}, not 'ahead'), "
            f"so what it merged cannot be told: {NOTHING_SENT}"
        )
    if total > MAX_COMMITS:
        raise Unreadable(
            f"this push adds {total:,} commits, more than the {MAX_COMMITS:,} ehkeys reads: {NOTHING_SENT}"
        )
    commits = _commits(first, call)
    for page in range(2, -(-total // PAGE) + 1):
        commits += _commits(hub.call("GET", path, params={"per_page": PAGE, "page": page}), call)
    return commits, changed_files(first, call)


def _commits(answer: Any, call: str) -> list[dict[str, Any]]:
    listed = pick(answer, call, "commits", kind=list)
    for commit in listed:
        pick(commit, call, "sha", kind=str)
        if not all(
            isinstance(p, dict) and isinstance(p.get("sha"), str)
            for p in pick(commit, call, "parents", kind=list)
        ):
            raise GitHubError(f"GitHub API {call}: the answer has no usable `commits.parents`")
    found: list[dict[str, Any]] = listed
    return found


def changed_files(answer: Any, call: str) -> tuple[str, ...] | None:
    """Every path the push changes (a renamed file by both names); None past compare's 300, or
    when the answer lists none (not an empty list: what is not listed may be anything)."""
    if not isinstance(answer, dict):
        raise GitHubError(f"GitHub API {call}: the answer is not an object")
    listed = answer.get("files")
    if not isinstance(listed, list) or len(listed) >= MAX_FILES:
        return None
    names = [pick(f, call, "filename", kind=str) for f in listed]
    before = [f["previous_filename"] for f in listed if isinstance(f.get("previous_filename"), str)]
    return (*names, *before)


def first_parents(commits: list[dict[str, Any]], before: str, after: str) -> tuple[str, ...]:
    """The branch's first-parent line from `after` back to `before` (not included), oldest first."""
    parents = {c["sha"]: [p["sha"] for p in c["parents"]] for c in commits}
    line: list[str] = []
    sha = after
    while sha != before:
        if sha not in parents or not parents[sha]:
            raise _unfollowed(
                f"the branch's first-parent line from {after[:12]} does not reach {before[:12]}, the commit "
                f"before the push (a merge that took another branch as its first parent?)",
                ", so what the push merged cannot be told",
            )
        if len(line) == MAX_LINE:
            raise _unfollowed(
                f"this push moves the branch through more than {MAX_LINE} commits (its first-parent line)",
                ", more than ehkeys asks GitHub about",
            )
        line.append(sha)
        sha = parents[sha][0]
    return tuple(reversed(line))


def _unfollowed(why: str, so: str) -> Unreadable:
    """The first-parent line cannot be followed: `why`, and what that means for the push."""
    found = Unreadable(f"{why}{so}: {NOTHING_SENT}")
    found.why = why
    return found
