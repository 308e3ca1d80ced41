"""A plan its own check refused is never applied: rules-apart is checked by the plan job alone
(against the PR's base commit), so a PR that failed it and was merged all the same (branch
protection not requiring the check, an admin merging over it) has no plan to apply. The plan
job records the refusal in its comment's hidden line and in the artifact; the apply job sends
nothing, says why and what to do, and posts a fresh plan. Against the fake GitHub, served for
real, and the sandbox account."""

from __future__ import annotations

from decimal import Decimal

import yaml
from starlette.responses import JSONResponse

from reconciler.gitops.reviewed_plan import PlanMeta

from .. import githubspec
from ..helpers import ROOT
from ..reliability_log import record
from . import test_gitops as gitops
from .test_gitops import MANIFEST, UPLOADED, Actions, apply_comment, manifest, plan_comment
from .test_gitops_policy import with_rules
from .test_gitops_rules import BASE, plan, settled

pytestmark = gitops.pytestmark

hub = gitops.hub
actions = gitops.actions

RULES = with_rules(manifest(), policy={"max_allocation": 35})
LOOSENED = with_rules(manifest(k0=300), policy={"max_allocation": 1000})  # +290.00 on key-0, under 1,000
SPLIT = "rules-apart: this pull request changes the rules and 1 key"


def refused_pr(actions: Actions, number: int) -> None:
    """The base's max_allocation is 35; the PR raises it to 1,000 and gives key-0 300 in the same change."""
    settled(actions, RULES)
    actions.hub.commit(BASE, {MANIFEST: RULES})
    code, out = plan(actions, number, {MANIFEST: LOOSENED}, "--rules-apart")
    assert code == 4, out


def test_a_pr_that_failed_rules_apart_is_not_applied_after_its_merge(
    actions: Actions, hub: gitops.FakeGitHub
) -> None:
    refused_pr(actions, 8)
    comment = plan_comment(hub, 8)
    meta = PlanMeta.find(comment)
    assert meta is not None and meta.refused.startswith(SPLIT), comment
    assert "**Not a plan to apply:** plan `sha256:" in comment and "Reviewed plan" not in comment
    before, balance, calls = actions.live(), actions.balance(), len(hub.calls)

    code, out = actions.merge_and_apply(8, "m8", LOOSENED)
    assert code == 1, out
    assert f"PR #8: its plan failed the plan check ({SPLIT}: change the rules in a pull request" in out
    assert "nothing was sent" in out and "fresh: true" in out and "Traceback" not in out
    assert actions.live() == before and actions.balance() == balance == Decimal(500), "nothing charged"
    said = apply_comment(hub, 8)
    assert (
        said.startswith("<!-- ehkeys-apply -->") and "**Nothing was applied.** PR #8: its plan failed" in said
    )
    assert "fresh plan of `keys/keys.yaml` (not applied)" in said and "+290.00" in said
    assert not [c for c in hub.calls[calls:] if c.startswith("GET /actions/")], (
        "refused before any run's read"
    )
    record("gitops", "a PR that failed rules-apart, merged over the failed check", 1, "refused, nothing sent")


def test_a_refusal_removed_from_the_comment_is_still_read_in_the_artifact(
    actions: Actions, hub: gitops.FakeGitHub
) -> None:
    """Any workflow can edit a comment as github-actions[bot]: the run's own artifact says it too."""
    refused_pr(actions, 9)
    cid = next(i for i, c in hub.comments.items() if c["body"] == plan_comment(hub, 9))
    meta = PlanMeta.find(hub.comments[cid]["body"])
    assert meta is not None
    cleared = PlanMeta(meta.run_id, meta.head_sha, meta.digest, meta.artifact)
    hub.comments[cid]["body"] = hub.comments[cid]["body"].replace(meta.line(), cleared.line())
    before = actions.live()

    code, out = actions.merge_and_apply(9, "m9", LOOSENED)
    assert code == 1, out
    assert f"PR #9: its plan failed the plan check ({SPLIT}" in out, out
    assert actions.live() == before and actions.balance() == Decimal(500)
    record(
        "gitops", "a rules-apart refusal edited out of the plan comment", 1, "read in the artifact, refused"
    )


def test_a_plan_refused_for_a_base_github_would_not_give_is_applied_once_planned_again(
    actions: Actions, hub: gitops.FakeGitHub
) -> None:
    """What the refusal says to do: plan again (the base is read this time), then apply again."""
    settled(actions, RULES)
    hub.commit(BASE, {MANIFEST: RULES})
    text = with_rules(manifest(k0=20), policy={"max_allocation": 35})  # a key changed, no rule
    refused = githubspec.error(403, "Resource not accessible by integration")
    hub.faults["GET /contents/keys/keys.yaml"] = JSONResponse(refused, status_code=403)
    assert plan(actions, 10, {MANIFEST: text}, "--rules-apart")[0] == 4
    code, out = actions.merge_and_apply(10, "m10", text)
    assert code == 1 and "the rules could not be compared with the base's" in out, out
    assert (
        "run the plan job again, then this one" in out and actions.live()["key-0"]["allocated_ammount"] == 10
    )

    del hub.faults["GET /contents/keys/keys.yaml"]
    code, out = plan(actions, 10, {MANIFEST: text}, "--rules-apart")
    assert code == 0, out
    code, out = actions.merge_and_apply(10, "m10", text)
    assert code == 0 and "Charged net -10.00, as reviewed." in out, out
    assert actions.live()["key-0"]["allocated_ammount"] == 20 and actions.balance() == Decimal(490)
    shown = [b for b in hub.comments_on(10) if b.startswith("<!-- ehkeys-plan -->")]
    assert len(shown) == 1 and "Reviewed plan `sha256:" in shown[0], "the plan comment, not the apply's"


def test_the_tests_upload_what_the_action_uploads() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    upload = next(s for s in action["runs"]["steps"] if s.get("id") == "upload")
    assert upload["with"]["path"].split() == [f"ehkeys-out/{name}" for name in UPLOADED]
