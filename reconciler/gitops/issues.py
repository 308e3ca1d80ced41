"""One comment per pull request, kept up to date, and one drift issue, edited only when it changes.

Both are found by a hidden marker, so a push edits the plan comment instead of adding one,
and the daily drift check edits the issue only when its findings' digest changes (a drift
report's Markdown carries `<!-- ehkeys-drift-digest: … -->`): watchers are notified when
something new happened, not every morning.
"""

from __future__ import annotations

import re

from reconciler.gitops.hub import GitHub, by_bot, pick
from reconciler.gitops.reviewed_plan import LIMIT, clip
from reconciler.gitops.trust import PLAN_AUTHOR, written_by

DRIFT_LABEL = "ehkeys-drift"
DRIFT_TITLE = "ehkeys: proxy keys drifted from the manifest"
_DIGEST = re.compile(r"<!-- ehkeys-drift-digest: ([0-9a-f]+) -->")


def upsert_comment(hub: GitHub, number: int, body: str, marker: str, author: str = PLAN_AUTHOR) -> str:
    """Edit the one comment on the PR that carries `marker` and that `author` (the identity the
    jobs write with) wrote, or post it: a look-alike by another app, which GitHub would not let
    this token edit, never blocks the job."""
    body = clip(body if marker in body else f"{marker}\n{body}", LIMIT, "")
    for comment in hub.pages(f"/issues/{number}/comments"):
        if marker in (comment.get("body") or "") and written_by(comment, author):
            if comment.get("body") != body:
                where = pick(comment, f"GET /issues/{number}/comments", "id", kind=int)
                hub.call("PATCH", f"/issues/comments/{where}", json={"body": body})
            return "updated"
    hub.call("POST", f"/issues/{number}/comments", json={"body": body})
    return "created"


def same_findings(old: str, new: str) -> bool:
    """Two drift reports say the same: equal digests (or equal text, without one)."""
    before, after = _DIGEST.search(old), _DIGEST.search(new)
    if before and after:
        return before.group(1) == after.group(1)
    return old.strip() == new.strip()


def sync_drift_issue(hub: GitHub, body: str, drifted: bool) -> str:
    """One open issue while keys drift: opened, edited when its findings change, closed in sync."""
    body = clip(body, LIMIT, "")
    listed = hub.pages("/issues", state="open", labels=DRIFT_LABEL)
    issues = [i for i in listed if "pull_request" not in i and by_bot(i)]  # a person's stays theirs
    numbers = [pick(i, "GET /issues", "number", kind=int) for i in issues]
    if drifted and issues:
        number = numbers[0]
        if same_findings(issues[0].get("body") or "", body):
            return f"unchanged #{number}"
        hub.call("PATCH", f"/issues/{number}", json={"body": body})
        return f"updated #{number}"
    if drifted:
        created = hub.call(
            "POST", "/issues", json={"title": DRIFT_TITLE, "body": body, "labels": [DRIFT_LABEL]}
        )
        return f"opened #{pick(created, 'POST /issues', 'number', kind=int)}"
    for number in numbers:
        note = "The live keys match the manifest again; closing.\n\n" + body
        hub.call("POST", f"/issues/{number}/comments", json={"body": clip(note, LIMIT, "")})
        hub.call("PATCH", f"/issues/{number}", json={"state": "closed", "state_reason": "completed"})
    return f"closed #{', #'.join(map(str, numbers))}" if numbers else "in sync, nothing open"
