"""One comment per pull request and manifest root, kept up to date, and one drift issue per
root, its findings edited only when they change.

Both are found by a hidden marker and the root's line (`roots`), so a push edits the plan
comment instead of adding one (the newest, if two runs raced to post it: `comments`, the
rule the apply job reads by too; the older copy is retired), two roots never edit each
other's, and the daily drift check edits the issue's findings only when their digest changes
(a drift report's Markdown carries `<!-- ehkeys-drift-digest: … -->`). Each run edits its
"Last checked" line (`checked`: the run's time and link), that line alone while the findings
stay the same: a schedule that stopped shows as an old date. An edit of an issue's body
notifies no one, and the job never comments on the issue but to close it.
"""

from __future__ import annotations

import contextlib
import datetime
import re

from reconciler.gitops.comments import Comment, own_comments
from reconciler.gitops.hub import GitHub, NotFound, by_bot, pick
from reconciler.gitops.reviewed_plan import LIMIT, clip
from reconciler.gitops.roots import OWN, UNNAMED, Root
from reconciler.gitops.trust import PLAN_AUTHOR

DRIFT_LABEL = "ehkeys-drift"
DRIFT_TITLE = "ehkeys: proxy keys drifted from the manifest"
_DIGEST = re.compile(r"<!-- ehkeys-drift-digest: ([0-9a-f]+) -->")
CHECKED = "<!-- ehkeys-drift-checked -->"
_CHECKED = re.compile(f"^{re.escape(CHECKED)}.*$", re.MULTILINE)


def upsert_comment(
    hub: GitHub, number: int, body: str, marker: str, author: str = PLAN_AUTHOR, root: Root = UNNAMED
) -> str:
    """Edit the comment on the PR that carries `marker`, is `root`'s and that `author` (the
    identity the jobs write with) wrote, the newest if there are several (`comments`: the one
    the apply job reads), or post it; older copies are retired. A look-alike by another app,
    which GitHub would not let this token edit, never blocks the job."""
    mine = body.startswith(marker) and root.line in body  # as `comments` tells the marker's
    body = clip(body if mine else root.stamp(body, marker), LIMIT, "")
    found = own_comments(hub, number, marker, author, root)
    said = _edit(hub, number, found.current, body) or _post(hub, number, body)
    for stale in found.stale:
        _retire(hub, number, stale, root)
    return said


def _edit(hub: GitHub, number: int, comment: Comment | None, body: str) -> str:
    """The comment made to say `body` (it may already): "updated"; "" when there is none."""
    if comment is None:
        return ""
    if comment.get("body") != body:
        where = pick(comment, f"GET /issues/{number}/comments", "id", kind=int)
        try:
            hub.call("PATCH", f"/issues/comments/{where}", json={"body": body})
        except NotFound:  # deleted since it was listed (by a person, or another run): post it anew
            return ""
    return "updated"


def _post(hub: GitHub, number: int, body: str) -> str:
    hub.call("POST", f"/issues/{number}/comments", json={"body": body})
    return "created"


def _retire(hub: GitHub, number: int, stale: Comment, root: Root) -> None:
    """An older copy (two first runs raced, each posting) loses its marker, so no job reads or
    edits it again: one request, once."""
    where = pick(stale, f"GET /issues/{number}/comments", "id", kind=int)
    of = f" for `{root.name}`" if root.name else ""
    note = f"_Superseded by the newer ehkeys comment{of} below: ehkeys keeps one per pull request and root._"
    with contextlib.suppress(NotFound):  # deleted since it was listed: nothing left to retire
        hub.call("PATCH", f"/issues/comments/{where}", json={"body": note})


def _edit_issue(hub: GitHub, number: int, old: str, body: str, title: str, root: Root) -> str:
    """The open issue `number` made to say `body`: all of it when the findings changed, else its
    "Last checked" line alone; "" when it was deleted since it was listed."""
    edit, said = {"body": body, "title": title}, f"updated #{number}"
    if same_findings(old, body) and root.rank(old) == OWN:
        kept = _checked_again(old, body)
        if kept == old:
            return f"unchanged #{number}"
        edit, said = {"body": kept}, f"unchanged #{number} (its last-checked line edited)"
    try:
        hub.call("PATCH", f"/issues/{number}", json=edit)
    except NotFound:
        return ""
    return said


def same_findings(old: str, new: str) -> bool:
    """Two drift reports say the same: equal digests (or equal text, without one)."""
    before, after = _DIGEST.search(old), _DIGEST.search(new)
    if before and after:
        return before.group(1) == after.group(1)
    return old.strip() == new.strip()


def checked(body: str, when: datetime.datetime, run_url: str) -> str:
    """The drift report `body` with its "Last checked" line: `when` (UTC) and the run's link,
    after its heading (and digest)."""
    run = f" ([the run]({run_url}))" if run_url else ""
    at = when.astimezone(datetime.timezone.utc)
    line = (
        f"{CHECKED}**Last checked:** {at:%Y-%m-%d %H:%M} UTC{run}: a date older than the schedule's "
        "means the check no longer runs.\n"
    )
    head, blank, rest = body.partition("\n\n")
    return f"{head}\n\n{line}\n{rest}" if blank else f"{body}\n\n{line}"


def _checked_again(old: str, new: str) -> str:
    """The issue's body `old` with the "Last checked" line of `new` (`new` itself when `old`, by
    an earlier ehkeys, has none; `old` when `new` has none)."""
    line = _CHECKED.search(new)
    if line is None:
        return old
    if _CHECKED.search(old) is None:
        return new
    return _CHECKED.sub(lambda _: line.group(0), old, count=1)


def drift_title(root: Root) -> str:
    return f"{DRIFT_TITLE} {root.name}" if root.name else DRIFT_TITLE


def sync_drift_issue(hub: GitHub, body: str, drifted: bool, root: Root = UNNAMED, close: bool = True) -> str:
    """One open issue per root while its keys drift: opened, edited when its findings change,
    closed in sync; not `close` (some account could not be checked): edited, never closed.
    `body` is the root's (`Root.stamp`): its line tells the roots' issues apart."""
    body, title = clip(body, LIMIT, ""), drift_title(root)
    listed = hub.pages("/issues", state="open", labels=DRIFT_LABEL)
    bots = [i for i in listed if "pull_request" not in i and by_bot(i)]  # a person's stays theirs
    issues = root.mine(bots, lambda i: str(i.get("body") or ""))
    numbers = [pick(i, "GET /issues", "number", kind=int) for i in issues]
    if issues and (drifted or not close):
        said = _edit_issue(hub, numbers[0], str(issues[0].get("body") or ""), body, title, root)
        if said:
            return said
        numbers = []  # deleted (410) since it was listed: a new issue tells the drift
    if drifted:
        created = hub.call("POST", "/issues", json={"title": title, "body": body, "labels": [DRIFT_LABEL]})
        return f"opened #{pick(created, 'POST /issues', 'number', kind=int)}"
    if not close:
        return "nothing open"
    for number in numbers:
        note = "The live keys match the manifest again; closing.\n\n" + body
        with contextlib.suppress(NotFound):  # deleted since it was listed: nothing left to close
            hub.call("POST", f"/issues/{number}/comments", json={"body": clip(note, LIMIT, "")})
            hub.call("PATCH", f"/issues/{number}", json={"state": "closed", "state_reason": "completed"})
    return f"closed #{', #'.join(map(str, numbers))}" if numbers else "in sync, nothing open"
