"""The reviewed plan: the PR comment that shows it, and finding that plan again after the merge.

The plan job saves the plan (`plan.json`), uploads it as its run's artifact (named after its
manifest root: `roots`), and comments on the pull request with a hidden line naming the run,
the artifact, the commit the plan was made for and the file's sha256 (also shown to
reviewers). After the merge, the apply job finds the merged pull request of its commit, its
root's comment (only one the plan job's identity wrote), the run it names (only the plan
workflow's, on a pull request, for the PR's head: `trust`), and the run's artifact, whose
content must have the digest the comment shows. Anything missing or different is
NoReviewedPlan, which says why and to plan again: ehkeys never applies a plan nobody saw.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from reconciler.core.errors import Refused
from reconciler.gitops.comments import body, own_comments
from reconciler.gitops.hub import GitHub, NotFound, pick
from reconciler.gitops.roots import UNNAMED, Root
from reconciler.gitops.trust import Trust, run_mismatch
from reconciler.render.plan import MARKER

ARTIFACT = "ehkeys-plan"
PLAN_FILE = "plan.json"
LIMIT = 65_536  # characters GitHub takes in a comment
MAX_PLAN = 64 * 1024 * 1024  # bytes: a saved plan of many thousand keys, far below a zip bomb
_META = re.compile(r"<!-- ehkeys-plan-meta (\{.*?\}) -->")


class NoReviewedPlan(Refused):
    """The merged commit has no reviewed plan that can be applied; nothing was sent."""


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class PlanMeta:
    run_id: str
    head_sha: str
    digest: str
    artifact: str = ARTIFACT

    def line(self) -> str:
        return f"<!-- ehkeys-plan-meta {json.dumps(asdict(self), sort_keys=True)} -->"

    @classmethod
    def find(cls, body: str) -> PlanMeta | None:
        match = _META.search(body)
        if not match:
            return None
        try:
            data = json.loads(match.group(1))
            return cls(str(data["run_id"]), str(data["head_sha"]), str(data["digest"]), str(data["artifact"]))
        except (ValueError, KeyError, TypeError):
            return None


def comment_body(
    plan_markdown: str, meta: PlanMeta, run_url: str, artifact_url: str = "", root: Root = UNNAMED
) -> str:
    """The comment: hidden marker, root and meta first, the plan (cut to fit), the digest last."""
    head = "".join(f"{line}\n" for line in (MARKER, root.line, meta.line()) if line)
    where = f"[run]({run_url})" if run_url else f"run {meta.run_id}"
    tail = (
        f"\n---\nReviewed plan `{meta.digest}` for commit `{meta.head_sha[:12]}` ({where}). "
        "After the merge, ehkeys applies exactly this plan: keys whose live state moved since are "
        "skipped, and a manifest changed since is refused until planned again.\n"
    )
    room = LIMIT - len(head) - len(tail)
    return head + clip(plan_markdown.replace(MARKER + "\n", "", 1), room, artifact_url or run_url) + tail


def clip(text: str, room: int, link: str) -> str:
    """The text, or as many whole lines as fit with a note where the full plan is."""
    if len(text) <= room:
        return text
    where = f"[the run's artifact]({link})" if link else "the run's job summary"
    note = f"\n\n**Cut here: GitHub takes 65,536 characters.** All of it: {where}.\n"
    kept = text[: max(room - len(note) - len("</details>\n"), 0)].rsplit("\n", 1)[0]
    if kept.count("<details>") > kept.count("</details>"):
        kept += "\n</details>"
    return kept + note


@dataclass(frozen=True)
class Reviewed:
    pr: int
    meta: PlanMeta


def merged_pull(hub: GitHub, sha: str) -> dict[str, Any] | None:
    """The pull request whose merge made this commit, if one did."""
    for pull in hub.pages(f"/commits/{sha}/pulls"):
        if pull.get("merge_commit_sha") == sha and pull.get("merged_at"):
            return pull
    return None


def fetch(hub: GitHub, pull: dict[str, Any], out: Path, trust: Trust, root: Root = UNNAMED) -> Reviewed:
    """Write the pull request's reviewed plan of `root` to `out`, checked against its comment's digest."""
    number: int = pick(pull, "GET /commits/SHA/pulls", "number", kind=int)
    meta = _last_meta(hub, number, trust.author, root)
    head = pick(pull, "GET /commits/SHA/pulls", "head", "sha", kind=str)
    if meta.head_sha != head:
        raise NoReviewedPlan(
            f"PR #{number}: its plan comment is for commit {meta.head_sha[:12]}, but the PR merged "
            f"{head[:12]} (no plan finished for the last push): plan again; nothing was sent"
        )
    _check_run(hub, number, meta.run_id, head, trust.workflow)
    data = _artifact_file(hub, number, meta)
    if digest(data) != meta.digest:
        raise NoReviewedPlan(
            f"PR #{number}: the plan in run {meta.run_id} is {digest(data)}, not the reviewed "
            f"{meta.digest}: plan again; nothing was sent"
        )
    out.write_bytes(data)
    return Reviewed(number, meta)


def _last_meta(hub: GitHub, number: int, login: str, root: Root) -> PlanMeta:
    """What the plan comment of `root` says, the one the plan job edits (`comments`: the newest
    `login` wrote); a look-alike by anyone else is never read."""
    found = own_comments(hub, number, MARKER, login, root)
    of = f" for {root.name}" if root.name else ""
    if found.current is None:
        others, names = found.others, ", ".join(sorted(set(found.others)))
        ignored = f" (ignored {len(others)} by {names}: only {login}'s are trusted)" if others else ""
        raise NoReviewedPlan(
            f"PR #{number} has no ehkeys plan comment by {login}{of}{ignored}: plan again; nothing was sent"
        )
    meta = PlanMeta.find(body(found.current))
    if meta is None:
        raise NoReviewedPlan(
            f"PR #{number}: its ehkeys plan comment{of} names no plan (its last plan job made none): "
            "plan again; nothing was sent"
        )
    return meta


def _check_run(hub: GitHub, number: int, run_id: str, head: str, workflow: str) -> None:
    """The comment's run is the plan workflow's, on this pull request, for its head commit."""
    refused = f"PR #{number}: the plan comment names run {run_id}"
    mismatch = run_mismatch(_run(hub, run_id, refused), head, workflow)
    if mismatch:
        raise NoReviewedPlan(
            f"{refused}, which is not a run of the plan workflow for this PR's head: "
            f"{'; '.join(mismatch)}. Its artifact is not trusted: plan again; nothing was sent"
        )


def _run(hub: GitHub, run_id: str, refused: str) -> dict[str, Any]:
    """GET /actions/runs/{id}, with the fields the trust rests on (GitHub always sends them)."""
    if not run_id.isdigit():  # never a path of our own making in the URL
        raise NoReviewedPlan(f"{refused}, which is not a run id: plan again; nothing was sent")
    try:
        run = hub.call("GET", f"/actions/runs/{run_id}")
    except NotFound:
        raise NoReviewedPlan(
            f"{refused}, which GitHub does not know (deleted?): plan again; nothing was sent"
        ) from None
    for field in ("head_sha", "event", "path"):
        pick(run, f"GET /actions/runs/{run_id}", field, kind=str)
    found: dict[str, Any] = run
    return found


def _artifact_file(hub: GitHub, number: int, meta: PlanMeta) -> bytes:
    listed = hub.pages(f"/actions/runs/{meta.run_id}/artifacts", "artifacts", name=meta.artifact)
    live = [a for a in listed if a.get("name") == meta.artifact and not a.get("expired")]
    gone = NoReviewedPlan(
        f"PR #{number}: the artifact {meta.artifact} of run {meta.run_id} is gone (expired or "
        "deleted): plan again; nothing was sent"
    )
    if not live:
        raise gone
    artifact = pick(live[0], f"GET /actions/runs/{meta.run_id}/artifacts", "id", kind=int)
    try:
        archive = hub.download(f"/actions/artifacts/{artifact}/zip", MAX_PLAN)
    except NotFound:  # expired or deleted since it was listed
        raise gone from None
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
            if zipped.getinfo(PLAN_FILE).file_size > MAX_PLAN:  # reading stops at the size it declares
                raise zipfile.BadZipFile(f"{PLAN_FILE} unpacks to over {MAX_PLAN:,} bytes")
            return zipped.read(PLAN_FILE)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise NoReviewedPlan(
            f"PR #{number}: the artifact of run {meta.run_id} holds no readable {PLAN_FILE} ({exc}): "
            "plan again; nothing was sent"
        ) from exc
