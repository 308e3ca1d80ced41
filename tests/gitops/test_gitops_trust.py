"""Which reviewed plan the apply job trusts, against the fake GitHub served for real.

Only a plan comment by the plan job's identity (`github-actions[bot]`, or `--plan-author`) is
read, and only an artifact of a run of the plan workflow (`--plan-workflow`), on a pull
request, for the PR's head commit. A look-alike comment by another app, or one naming the run
of another workflow (any workflow in the repository can comment as `github-actions[bot]` and
upload an artifact), sends nothing to ElectronHub and posts a fresh plan.
"""

from __future__ import annotations

import pytest

from reconciler.gitops.reviewed_plan import PlanMeta

from ..fakeanswers import app
from ..fakegithub import PLAN_WORKFLOW, FakeGitHub
from ..reliability_log import record
from . import test_gitops as gitops
from .test_gitops import Actions, apply_comment, manifest, plan_comment

pytestmark = pytest.mark.slow  # the GitOps jobs end to end: several jobs per test against the fake GitHub

hub = gitops.hub
actions = gitops.actions
EVIL = {"login": "evil-app[bot]", "id": 66600666, "type": "Bot"}


def _meta_comment(hub: FakeGitHub, number: int) -> int:
    """The id of the PR's plan comment."""
    return next(
        i for i, c in hub.comments.items() if c["issue"] == number and "ehkeys-plan-meta" in c["body"]
    )


def _point_at(hub: FakeGitHub, cid: int, run_id: str) -> None:
    """The comment now names another run (what a comment written by another workflow says)."""
    body = hub.comments[cid]["body"]
    meta = PlanMeta.find(body)
    assert meta is not None
    moved = PlanMeta(run_id, meta.head_sha, meta.digest, meta.artifact)
    hub.comments[cid]["body"] = body.replace(meta.line(), moved.line())


def _copy_artifact(hub: FakeGitHub, run_id: str) -> None:
    """The same plan.json, uploaded again by another run: its digest is the reviewed one."""
    original = next(iter(hub.artifacts.values()))
    copy = hub.upload(run_id, original["name"], {})
    hub.artifacts[copy]["zip"] = original["zip"]


def _nothing_applied(actions: Actions, before: dict[str, object], number: int) -> None:
    assert actions.live() == before, "nothing may be sent for a plan the plan job did not make"
    assert "Nothing was applied" in apply_comment(actions.hub, number)


def test_the_only_plan_comment_written_by_another_app_is_refused(actions: Actions, hub: FakeGitHub) -> None:
    actions.plan_pr(7, "h7", manifest(k0=11))
    hub.comments[_meta_comment(hub, 7)]["user"] = EVIL  # a valid-looking plan, by evil-app[bot]
    before = actions.live()
    code, out = actions.merge_and_apply(7, "m7", manifest(k0=11))
    assert code == 1, out
    assert "no ehkeys plan comment by github-actions[bot]" in out and "evil-app[bot]" in out
    assert "plan again" in out and "internal error" not in out
    _nothing_applied(actions, before, 7)
    record("gitops", "the only plan comment written by another GitHub App", 1, "refused, nothing sent")


def test_a_later_look_alike_by_another_app_is_ignored(actions: Actions, hub: FakeGitHub) -> None:
    actions.plan_pr(7, "h7", manifest(k0=11))
    actions.plan_pr(8, "h8", manifest(k0=99))  # a plan the reviewers of PR 7 never saw
    hub.comment_as(EVIL, 7, plan_comment(hub, 8))  # copied onto PR 7, after its own
    code, out = actions.merge_and_apply(7, "m7", manifest(k0=11))
    assert code == 0, out
    assert actions.live()["key-0"]["allocated_ammount"] == 11
    record("gitops", "a look-alike plan comment by another app after the plan job's", 1, "ignored")


def test_a_comment_an_app_wrote_on_behalf_of_the_plan_author_is_not_theirs(
    actions: Actions, hub: FakeGitHub
) -> None:
    """The plan job may write with a person's token (`--plan-author keys-deployer`); an app that
    person authorised writes as them too, but GitHub names the app: that comment is not read."""
    actions.plan_pr(7, "h7", manifest(k0=11))
    comment = hub.comments[_meta_comment(hub, 7)]
    comment.update(user={"login": "keys-deployer", "type": "User"}, performed_via_github_app=app("evil-app"))
    before = actions.live()
    options = ("--plan-author", "keys-deployer")
    code, out = actions.merge_and_apply(7, "m7", manifest(k0=11), gitops.MANIFEST, *options)
    assert code == 1 and "no ehkeys plan comment by keys-deployer" in out, out
    _nothing_applied(actions, before, 7)

    comment["performed_via_github_app"] = None  # written with the token itself
    code, out = actions.merge_and_apply(7, "m7", manifest(k0=11), gitops.MANIFEST, *options)
    assert code == 0, out


FORGED_RUNS = {
    "another workflow": (
        "h7",
        "pull_request",
        ".github/workflows/evil.yml",
        "its workflow is .github/workflows/evil.yml",
    ),
    "another head commit": (
        "h-other",
        "pull_request",
        PLAN_WORKFLOW,
        "it ran for commit h-other, not the PR's head h7",
    ),
    "a push": ("h7", "push", PLAN_WORKFLOW, "it ran on push, not on a pull request"),
}


@pytest.mark.parametrize("forged", FORGED_RUNS)
def test_an_artifact_of_another_run_is_refused(actions: Actions, hub: FakeGitHub, forged: str) -> None:
    head, event, path, said = FORGED_RUNS[forged]
    actions.plan_pr(7, "h7", manifest(k0=11))
    hub.start_run("6666", head, event, path)
    _copy_artifact(hub, "6666")
    _point_at(hub, _meta_comment(hub, 7), "6666")  # as github-actions[bot], from that run
    before = actions.live()
    code, out = actions.merge_and_apply(7, "m7", manifest(k0=11))
    assert code == 1, out
    assert "names run 6666, which is not a run of the plan workflow" in out and said in out
    assert "plan again" in out and "nothing was sent" in out
    _nothing_applied(actions, before, 7)
    record("gitops", f"a plan comment naming the artifact of {forged}'s run", 1, "refused, nothing sent")


def test_a_run_github_names_with_its_ref_is_the_plan_workflows(actions: Actions, hub: FakeGitHub) -> None:
    actions.plan_pr(7, "h7", manifest(k0=11))
    hub.runs["1001"]["path"] = f"{PLAN_WORKFLOW}@refs/heads/main"
    code, out = actions.merge_and_apply(7, "m7", manifest(k0=11))
    assert code == 0, out
    assert actions.live()["key-0"]["allocated_ammount"] == 11


def test_a_run_that_is_not_a_run_id_is_refused(actions: Actions, hub: FakeGitHub) -> None:
    actions.plan_pr(7, "h7", manifest(k0=11))
    _point_at(hub, _meta_comment(hub, 7), "../../contents/x")
    code, out = actions.merge_and_apply(7, "m7", manifest(k0=11))
    assert code == 1 and "which is not a run id" in out, out


def test_the_plan_author_and_workflow_are_options(actions: Actions, hub: FakeGitHub) -> None:
    ours = {"login": "keys-bot[bot]", "id": 5, "type": "Bot"}
    options = ("--plan-author", "keys-bot[bot]", "--plan-workflow", ".github/workflows/plan.yml")
    actions.plan_pr(7, "h7", manifest(k0=11))
    hub.comments[_meta_comment(hub, 7)]["user"] = ours  # the plan job ran with keys-bot's token
    hub.runs["1001"]["path"] = ".github/workflows/plan.yml"
    code, out = actions.merge_and_apply(7, "m7", manifest(k0=11), gitops.MANIFEST, *options)
    assert code == 0, out

    actions.plan_pr(8, "h8", manifest(k0=12))  # by github-actions[bot], not keys-bot[bot]
    code, out = actions.merge_and_apply(8, "m8", manifest(k0=12), gitops.MANIFEST, *options)
    assert code == 1 and "no ehkeys plan comment by keys-bot[bot]" in out and "github-actions[bot]" in out


def test_the_plan_job_never_edits_a_look_alike_comment_another_app_wrote_first(
    actions: Actions, hub: FakeGitHub
) -> None:
    from reconciler.render.plan import MARKER

    squatter = hub.comment_as(EVIL, 7, f"{MARKER}\nnot a plan\n")  # on the PR before the plan job
    actions.plan_pr(7, "h7", manifest(k0=11))
    assert hub.comments[squatter]["body"] == f"{MARKER}\nnot a plan\n", "another app's comment is theirs"
    ours = [
        c for c in hub.comments.values() if c["issue"] == 7 and c["user"]["login"] == "github-actions[bot]"
    ]
    assert len(ours) == 1 and "ehkeys-plan-meta" in ours[0]["body"]
    code, out = actions.merge_and_apply(7, "m7", manifest(k0=11))
    assert code == 0, out
    record(
        "gitops",
        "a look-alike plan comment another app wrote before the plan job",
        1,
        "left alone; the plan job posts its own",
    )
