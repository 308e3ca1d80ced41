"""The reviewed plan: the PR comment that shows it, and finding that plan again after the merge.

The plan job saves the plan (`plan.json`), uploads it as its run's artifact (named after its
manifest root: `roots`), and comments on the pull request with a hidden line naming the run,
the artifact, the commit the plan was made for and the file's sha256 (also shown to
reviewers). After the merge, the apply job finds the merged pull request of its root (`batch`), its
root's comment (only one the plan job's identity wrote), the run it names (only the plan
workflow's, on a pull request, for the PR's head: `trust`), and the run's artifact, whose
content must have the digest the comment shows. Anything missing or different is
NoReviewedPlan, which says why and to plan again: ehkeys never applies a plan nobody saw.

Nor one its check refused: rules-apart is checked by the plan job alone (against the PR's
base), so its refusal is written in the comment's hidden line (`refused`) and beside the plan
in the artifact (`refused.txt`: the run's own word, which no other workflow can edit, as any
can the comment); either one makes the apply job refuse the plan, saying why and what to do.
The comment is a hint only: what the plan was made for (the PR, its base branch, its head, the
verdict) is read in the artifact (`madefor`), and a plan made for another PR or base refused.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import re
import zipfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from reconciler.core.errors import Refused
from reconciler.gitops.comments import body, own_comments
from reconciler.gitops.hub import GitHub, NotFound, pick
from reconciler.gitops.madefor import MADE_FOR, MAX_RECORD, MadeFor, mismatch, unchecked
from reconciler.gitops.roots import UNNAMED, Root
from reconciler.gitops.trust import Trust, run_mismatch
from reconciler.render.plan import MARKER

ARTIFACT = "ehkeys-plan"
PLAN_FILE = "plan.json"
REFUSED = "refused.txt"  # beside it: why a check only the plan job makes failed (never applied)
MAX_REFUSAL = 4096  # bytes of it quoted
LIMIT = 65_536  # characters GitHub takes in a comment
MAX_PLAN = 64 * 1024 * 1024  # bytes: a saved plan of many thousand keys, far below a zip bomb
_META = re.compile(r"<!-- ehkeys-plan-meta (\{.*?\}) -->")
_INERT = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


class NoReviewedPlan(Refused):
    """The merged commit has no reviewed plan that can be applied; nothing was sent."""


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class PlanMeta:
    """`refused`: why a check only the plan job makes (rules-apart) failed: never applied."""

    run_id: str
    head_sha: str
    digest: str
    artifact: str = ARTIFACT
    refused: str = ""

    def line(self) -> str:
        data = {name: value for name, value in asdict(self).items() if value or name != "refused"}
        text = json.dumps(data, sort_keys=True)  # `<`, `>`, `&` as JSON escapes: it stays one HTML comment
        return f"<!-- ehkeys-plan-meta {text.translate(_INERT)} -->"

    @classmethod
    def find(cls, body: str) -> PlanMeta | None:
        match = _META.search(body)
        if not match:
            return None
        try:
            data = json.loads(match.group(1))
            meta = cls(*(str(data[k]) for k in ("run_id", "head_sha", "digest", "artifact")))
            refused = data.get("refused")  # any value but none (or "") refuses: it fails closed
            return meta if refused in (None, "") else replace(meta, refused=str(refused))
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class Artifact:
    """Where the plan's artifact is, and the day GitHub deletes it ("": not said)."""

    url: str = ""
    until: str = ""

    @classmethod
    def of(cls, url: str, retention: str | None, today: datetime.date) -> Artifact:
        """The artifact uploaded today, kept for the run's `GITHUB_RETENTION_DAYS` (the days
        Actions keeps its artifacts): no request, and no permission the plan job lacks (listing
        a private repository's artifacts takes `actions: read`). Unsaid when Actions does not say."""
        days = (
            int(retention)
            if retention and retention.isascii() and retention.isdigit() and 0 < int(retention) <= 400
            else 0
        )
        return cls(url, (today + datetime.timedelta(days=days)).isoformat() if days else "")


def comment_body(
    plan_markdown: str, meta: PlanMeta, run_url: str, artifact: Artifact = Artifact(), root: Root = UNNAMED
) -> str:
    """The comment: hidden marker, root and meta first, the plan (cut to fit), the digest last."""
    head = "".join(f"{line}\n" for line in (MARKER, root.line, meta.line()) if line)
    where = f"[run]({run_url})" if run_url else f"run {meta.run_id}"
    until = f" (by {artifact.until}, when GitHub deletes this plan's artifact)" if artifact.until else ""
    tail = (
        f"\n---\nReviewed plan `{meta.digest}` for commit `{meta.head_sha[:12]}` ({where}). "
        f"After the merge{until}, ehkeys applies exactly this plan: keys whose live state moved since "
        "are skipped, and a manifest changed since is refused until planned again.\n"
    )
    if meta.refused:
        tail = (
            f"\n---\n**Not a plan to apply:** plan `{meta.digest}` for commit `{meta.head_sha[:12]}` "
            f"({where}) failed the plan check, so ehkeys never applies it, not even after a merge: push "
            "a change that passes (or, if the check failed on a GitHub error, run the plan job again), "
            "or apply a fresh plan by hand after the merge.\n"
        )
    room = LIMIT - len(head) - len(tail)
    return head + clip(plan_markdown.replace(MARKER + "\n", "", 1), room, artifact.url or run_url) + tail


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
    if meta.refused:
        raise NoReviewedPlan(refused(number, meta.refused))
    _check_run(hub, number, meta.run_id, head, trust.workflow)
    kept = _artifact_file(hub, number, meta)
    if kept.refusal:  # the run's own word, if its comment was edited since (any workflow can)
        raise NoReviewedPlan(refused(number, kept.refusal))
    _check_made_for(kept.made_for, pull, meta, trust)
    data = kept.plan
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


def refused(number: int, why: str) -> str:
    """Why a plan its check refused is not applied after the merge, and what to do."""
    why = " ".join(why.split()).rstrip(".")
    return (
        f"PR #{number}: its plan failed the plan check ({why}), and a plan that failed its check is "
        "never applied: nothing was sent. Now that it is merged: to split it, revert the merge and "
        "merge the rules in a pull request of their own, then the keys; if the check failed on a GitHub "
        "error, run the plan job again, then this one; to apply the merged manifest as it is, read the "
        "fresh plan and run keys-apply by hand (fresh: true)"
    )


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


def _check_made_for(record: MadeFor | None, pull: dict[str, Any], meta: PlanMeta, trust: Trust) -> None:
    """The plan is the one its run made for this PR, against the base it merged into; with
    rules-apart asked by the apply job, one that passed it (never one that did not say)."""
    number: int = pick(pull, "GET /commits/SHA/pulls", "number", kind=int)
    why = mismatch(record, pull, meta.run_id) if record else ""
    if record and not why and record.refused:
        raise NoReviewedPlan(refused(number, "rules-apart"))
    why = why or (unchecked(record, meta.run_id) if trust.rules_apart else "")
    if why:
        raise NoReviewedPlan(f"PR #{number}: {why}; nothing was sent")


@dataclass(frozen=True)
class Kept:
    """What the plan job kept in its artifact: the plan, its refusal ("": none), its record."""

    plan: bytes
    refusal: str = ""
    made_for: MadeFor | None = None


def _artifact_file(hub: GitHub, number: int, meta: PlanMeta) -> Kept:
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
    return _unzipped(archive, number, meta)


def _unzipped(archive: bytes, number: int, meta: PlanMeta) -> Kept:
    """The artifact's plan, the plan job's refusal when it holds one (`refused.txt`), and what
    the plan was made for (`made-for.json`; None when an earlier ehkeys wrote none)."""
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
            if zipped.getinfo(PLAN_FILE).file_size > MAX_PLAN:  # reading stops at the size it declares
                raise zipfile.BadZipFile(f"{PLAN_FILE} unpacks to over {MAX_PLAN:,} bytes")
            plan, refusal = zipped.read(PLAN_FILE), _verdict(zipped)
            return Kept(plan, refusal, _made_for(zipped, number, meta))
    except (zipfile.BadZipFile, KeyError) as exc:
        raise NoReviewedPlan(
            f"PR #{number}: the artifact of run {meta.run_id} holds no readable {PLAN_FILE} ({exc}): "
            "plan again; nothing was sent"
        ) from exc


def _made_for(zipped: zipfile.ZipFile, number: int, meta: PlanMeta) -> MadeFor | None:
    """The plan job's record (None: none, an earlier ehkeys); one it cannot read refuses."""
    if MADE_FOR not in zipped.namelist():
        return None
    try:
        with zipped.open(MADE_FOR) as said:
            data = said.read(MAX_RECORD + 1)
        if len(data) > MAX_RECORD:
            raise ValueError(f"over {MAX_RECORD:,} bytes")
        return MadeFor.read(data)
    except (ValueError, RecursionError, zipfile.BadZipFile) as exc:  # UnicodeDecodeError is a ValueError
        raise NoReviewedPlan(
            f"PR #{number}: the artifact of run {meta.run_id} holds a {MADE_FOR} that cannot be read "
            f"({exc}): plan again; nothing was sent"
        ) from None


def _verdict(zipped: zipfile.ZipFile) -> str:
    """The plan job's refusal the artifact holds ("": none); the file there at all refuses."""
    if REFUSED not in zipped.namelist():
        return ""
    with zipped.open(REFUSED) as said:
        return said.read(MAX_REFUSAL).decode("utf-8", "replace").strip() or REFUSED
