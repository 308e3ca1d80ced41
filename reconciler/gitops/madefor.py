"""What a plan was made for, in the plan job's own words: `made-for.json`, beside the plan in its
run's artifact (which no other run can write, as any workflow can edit a comment as
`github-actions[bot]`): the pull request, its base branch and commit as the event gave them
(`pull_request.base.ref`, `.sha`), its head commit, and the rules-apart verdict (`passed`,
`refused`, or `off`: not asked for).

The apply job reads it from the artifact it downloads anyway, and refuses a plan made for
another pull request (one of the same head commit, against another base), for a base branch
the merged pull request no longer has (retargeted after its plan: GitHub fires only `edited`,
which a plan workflow of the default types does not run on), or, when its own workflow asks
for rules-apart, one that does not say it passed. The run's `pull_requests` list is never
read: it is empty for a fork's pull request. An artifact without the record (made by ehkeys
before it wrote one) is applied as before, unless the apply job asks for rules-apart.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from reconciler.core.rulechanges import RulesReview
from reconciler.gitops.context import RunContext
from reconciler.gitops.hub import pick

MADE_FOR = "made-for.json"
MAX_RECORD = 64 * 1024  # bytes of it read: a few hundred are written
PASSED, REFUSED, OFF = "passed", "refused", "off"
VERDICTS = (PASSED, REFUSED, OFF)
AGAIN = (  # the apply job posts a fresh plan on the PR: read it, then apply it by hand (fresh: true)
    "plan again (before a merge: push a commit, or close and reopen the pull request; re-running "
    "the plan job replays its old event)"
)


@dataclass(frozen=True)
class MadeFor:
    pr: int
    base_ref: str
    base_sha: str
    head_sha: str
    rules_apart: str  # passed | refused | off

    @property
    def refused(self) -> bool:
        return self.rules_apart == REFUSED

    @classmethod
    def of(cls, ctx: RunContext, review: RulesReview | None, asked: bool) -> MadeFor | None:
        """The record of a pull request's plan job (None: the run is for no pull request)."""
        if ctx.pr_number is None:
            return None
        base = ctx.pull_request.get("base")
        ref, sha = (str(base.get(k) or "") if isinstance(base, dict) else "" for k in ("ref", "sha"))
        verdict = OFF if not asked else REFUSED if review is None or review.fails else PASSED
        return cls(ctx.pr_number, ref, sha, ctx.head_sha, verdict)

    def write(self, folder: Path) -> None:
        text = json.dumps({"format": 1, **asdict(self)}, indent=2, sort_keys=True)
        (folder / MADE_FOR).write_text(text + "\n", encoding="utf-8")

    @classmethod
    def read(cls, data: bytes) -> MadeFor:
        """The record as the plan job wrote it, or ValueError saying what is wrong with it."""
        found = json.loads(data.decode("utf-8"))
        if not isinstance(found, dict):
            raise ValueError("not a JSON object")
        pr = found.get("pr")
        if isinstance(pr, bool) or not isinstance(pr, int) or pr < 1:
            raise ValueError(f"pr is {_shown(pr)}, not a pull request's number")
        texts = [_text(found, name) for name in ("base_ref", "base_sha", "head_sha", "rules_apart")]
        if texts[3] not in VERDICTS:
            raise ValueError(f"rules_apart is {_shown(texts[3])}, not one of {', '.join(VERDICTS)}")
        return cls(pr, *texts)


def keep(folder: Path, ctx: RunContext, review: RulesReview | None, asked: bool) -> None:
    """The plan job's record beside its plan (none when the run is for no pull request)."""
    made_for = MadeFor.of(ctx, review, asked)
    if made_for:
        made_for.write(folder)


def _text(found: dict[str, Any], name: str) -> str:
    value = found.get(name)
    if not isinstance(value, str):
        raise ValueError(f"{name} is {_shown(value)}, not text")
    return value


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:40] + "…"


def mismatch(record: MadeFor, pull: dict[str, Any], run_id: str) -> str:
    """How the record differs from the merged pull request ("": it is the plan made for it)."""
    number: int = pick(pull, "GET /commits/SHA/pulls", "number", kind=int)
    base: str = pick(pull, "GET /commits/SHA/pulls", "base", "ref", kind=str)
    head: str = pick(pull, "GET /commits/SHA/pulls", "head", "sha", kind=str)
    made = f"the plan in run {run_id} was made for"
    if record.pr != number:
        return f"{made} PR #{record.pr}, not this one: its artifact is not this PR's plan: {AGAIN}"
    if record.head_sha != head:
        return f"{made} commit {record.head_sha[:12]}, not the PR's head {head[:12]}: {AGAIN}"
    if record.base_ref != base:
        return (
            f"{made} the base branch {record.base_ref or '(none)'}, but the PR merged into {base} "
            f"(its base was changed after the plan, whose checks read the other branch): {AGAIN}"
        )
    return ""


def unchecked(record: MadeFor | None, run_id: str) -> str:
    """Why a plan is not applied where the apply job asks for rules-apart ("": it passed)."""
    if record is None:
        return (
            f"the artifact of run {run_id} says no rules-apart verdict (made by an ehkeys from before "
            f"{MADE_FOR}), and this apply job applies only a plan that passed rules-apart: {AGAIN}"
        )
    if record.rules_apart == OFF:
        return (
            f"the plan in run {run_id} was made without rules-apart (its plan workflow does not set "
            "rules-apart: true), and this apply job applies only a plan that passed it: set it in the "
            f"plan workflow, then {AGAIN}"
        )
    return ""
