"""What a plan was made for, in its run's artifact (`made-for.json`): the apply job refuses a plan
made for another pull request (one of the same head commit, whose comment line was pasted into
this PR's), or checked against a base branch the PR no longer merges into (retargeted after its
plan: GitHub fires only `edited`, so no plan runs again), and, when it asks for rules-apart, a
plan that does not say it passed. A PR whose base merely advanced still applies; an artifact
from before the record applies as it did, unless the apply job asks for rules-apart. Against
the fake GitHub, served for real, and the sandbox account."""

from __future__ import annotations

import io
import json
import zipfile
from decimal import Decimal

import pytest

from reconciler.gitops.reviewed_plan import PlanMeta

from ..fakegithub import REPO, FakeGitHub
from ..reliability_log import record
from . import test_gitops as gitops
from .test_gitops import MANIFEST, Actions, manifest, plan_comment
from .test_gitops_policy import with_rules
from .test_gitops_refused import LOOSENED, RULES, refused_pr
from .test_gitops_rules import BASE, plan, settled

pytestmark = gitops.pytestmark

hub = gitops.hub
actions = gitops.actions

RULES_ONLY = "0be5" * 10  # a branch holding main and the PR's rules commit alone
KEYS_ONLY = with_rules(manifest(k0=20), policy={"max_allocation": 35})  # a key changed, no rule


def plan_on(actions: Actions, number: int, head: str, base: str, ref: str, *options: str) -> tuple[int, str]:
    """keys-plan on PR `number`, whose head `head` holds LOOSENED, against branch `ref` at `base`."""
    actions.hub.pulls.get(number) or actions.hub.open_pull(number, head, base=ref)
    actions.hub.pulls[number]["head"]["sha"] = head
    actions.hub.change(number, MANIFEST)
    pull = {
        "number": number,
        "head": {"sha": head, "repo": {"full_name": REPO}},
        "base": {"ref": ref, "sha": base},
    }
    ws = actions.checkout(LOOSENED, "pull_request", f"test-merge-{head}", {"pull_request": pull})
    actions.hub.start_run(str(1000 + actions.runs), head)
    code, out, err = actions.run("github", "plan", MANIFEST, "--sandbox", *actions.seeded, *options)
    if (ws / "ehkeys-out" / "plan.json").exists():
        actions.hub.upload(str(1000 + actions.runs), actions.outputs()["artifact"], gitops.kept(ws))
    assert actions.run("github", "comment", MANIFEST)[0] == 0
    return code, out + err


def untouched(actions: Actions, charged: Decimal = Decimal(500)) -> None:
    """Nothing sent: key-0 as the base has it, the balance as before."""
    assert actions.live()["key-0"]["allocated_ammount"] == 10 and actions.balance() == charged


def made_for(hub: FakeGitHub, artifact: int) -> dict[str, object]:
    with zipfile.ZipFile(io.BytesIO(hub.artifacts[artifact]["zip"])) as zipped:
        found: dict[str, object] = json.loads(zipped.read("made-for.json"))
        return found


def rewrite(hub: FakeGitHub, artifact: int, files: dict[str, bytes | None]) -> None:
    """The artifact as it would be with `files` in it (None: left out)."""
    with zipfile.ZipFile(io.BytesIO(hub.artifacts[artifact]["zip"])) as zipped:
        kept = {name: zipped.read(name) for name in zipped.namelist()}
    kept = {name: data for name, data in {**kept, **files}.items() if data is not None}
    hub.artifacts[artifact]["zip"] = hub.artifacts.pop(hub.upload("x", "x", kept))["zip"]


def test_a_pr_planned_against_a_rules_branch_then_retargeted_to_main_is_not_applied(
    actions: Actions, hub: FakeGitHub
) -> None:
    """No forgery: PR #8 is planned while its base is a branch already holding its rules (rules-apart
    passes), then its base is changed to main (`edited`: no plan runs again) and it is merged."""
    settled(actions, RULES)
    hub.commit(BASE, {MANIFEST: RULES})  # main: max_allocation 35
    hub.commit(RULES_ONLY, {MANIFEST: with_rules(manifest(), policy={"max_allocation": 1000})})
    code, out = plan_on(actions, 8, "head8", RULES_ONLY, "rules-only", "--rules-apart")
    assert code == 0, out
    meta = PlanMeta.find(plan_comment(hub, 8))
    assert meta is not None and not meta.refused
    hub.pulls[8]["base"]["ref"] = "main"  # retargeted

    code, out = actions.merge_and_apply(8, "m8", LOOSENED)
    assert code == 1, out
    assert "made for the base branch rules-only, but the PR merged into main" in out, out
    assert "plan again (before a merge: push a commit, or close and reopen the pull request" in out
    assert "Traceback" not in out
    assert "nothing was sent" in out and "as reviewed" not in out
    untouched(actions)
    record("gitops", "a PR planned against a rules-only branch, retargeted to main and merged", 1, "refused")


def test_a_comment_naming_another_prs_passing_run_of_the_same_head_is_not_applied(
    actions: Actions, hub: FakeGitHub
) -> None:
    """PR #8's plan is refused; PR #9, of the same head commit against a branch holding its rules,
    passes; PR #8's comment line is replaced by #9's (any workflow can edit the bot's comments)."""
    refused_pr(actions, 8)
    refused = PlanMeta.find(plan_comment(hub, 8))
    assert refused is not None and refused.refused
    hub.commit(RULES_ONLY, {MANIFEST: with_rules(manifest(), policy={"max_allocation": 1000})})
    code, out = plan_on(actions, 9, "head8", RULES_ONLY, "rules-only", "--rules-apart")
    assert code == 0, out
    passing = PlanMeta.find(plan_comment(hub, 9))
    assert passing is not None and not passing.refused
    cid = next(i for i, c in hub.comments.items() if c["body"] == plan_comment(hub, 8))
    hub.comments[cid]["body"] = hub.comments[cid]["body"].replace(refused.line(), passing.line())

    code, out = actions.merge_and_apply(8, "m8", LOOSENED)
    assert code == 1, out
    assert f"PR #8: the plan in run {passing.run_id} was made for PR #9, not this one" in out, out
    assert "nothing was sent" in out and "Traceback" not in out
    untouched(actions)
    record("gitops", "a refused PR's comment pointed at another PR's passing run of its head", 1, "refused")


def test_a_normal_pr_records_what_its_plan_was_made_for_and_applies(
    actions: Actions, hub: FakeGitHub
) -> None:
    settled(actions, RULES)
    hub.commit(BASE, {MANIFEST: RULES})
    code, out = plan(actions, 10, {MANIFEST: KEYS_ONLY}, "--rules-apart")
    assert code == 0, out
    said = made_for(hub, max(hub.artifacts))
    assert said == {
        "format": 1,
        "pr": 10,
        "base_ref": "main",
        "base_sha": BASE,
        "head_sha": "head10",
        "rules_apart": "passed",
    }
    code, out = actions.merge_and_apply(10, "m10", KEYS_ONLY, MANIFEST, "--rules-apart")
    assert code == 0 and "Charged net -10.00, as reviewed." in out, out
    assert actions.live()["key-0"]["allocated_ammount"] == 20 and actions.balance() == Decimal(490)


def test_a_pr_whose_base_branch_advanced_meanwhile_still_applies(actions: Actions, hub: FakeGitHub) -> None:
    """Another PR merged into main after this one's plan: the same base branch, another commit."""
    settled(actions, RULES)
    hub.commit(BASE, {MANIFEST: RULES})
    assert plan(actions, 11, {MANIFEST: KEYS_ONLY}, "--rules-apart")[0] == 0
    hub.open_pull(12, "docs12", ("docs/README.md",))
    assert actions.merge_and_apply(12, "m12", RULES)[0] == 0  # main advances; keys/ untouched
    assert made_for(hub, max(hub.artifacts))["base_sha"] == BASE

    code, out = actions.merge_and_apply(11, "m11", KEYS_ONLY, MANIFEST, "--rules-apart")
    assert code == 0 and "as reviewed" in out, out
    assert actions.live()["key-0"]["allocated_ammount"] == 20 and actions.balance() == Decimal(490)


def test_a_plan_made_without_rules_apart_applies_unless_the_apply_job_asks_for_it(
    actions: Actions, hub: FakeGitHub
) -> None:
    settled(actions, RULES)
    hub.commit(BASE, {MANIFEST: RULES})
    assert plan(actions, 13, {MANIFEST: KEYS_ONLY})[0] == 0
    assert made_for(hub, max(hub.artifacts))["rules_apart"] == "off"
    code, out = actions.merge_and_apply(13, "m13", KEYS_ONLY, MANIFEST, "--rules-apart")
    assert code == 1 and "was made without rules-apart" in out and "set it in the plan workflow" in out, out
    untouched(actions)
    code, out = actions.merge_and_apply(13, "m13", KEYS_ONLY)
    assert code == 0 and "as reviewed" in out, out


def test_an_artifact_from_before_the_record_applies_unless_the_apply_job_asks_for_rules_apart(
    actions: Actions, hub: FakeGitHub
) -> None:
    """Plans made by an ehkeys that wrote no made-for.json still apply as they did; with
    rules-apart asked by the apply job, a plan that does not say it passed is not applied."""
    settled(actions, RULES)
    hub.commit(BASE, {MANIFEST: RULES})
    assert plan(actions, 14, {MANIFEST: KEYS_ONLY}, "--rules-apart")[0] == 0
    rewrite(hub, max(hub.artifacts), {"made-for.json": None})
    code, out = actions.merge_and_apply(14, "m14", KEYS_ONLY, MANIFEST, "--rules-apart")
    assert code == 1 and "says no rules-apart verdict (made by an ehkeys from before made-for.json)" in out, (
        out
    )
    untouched(actions)
    code, out = actions.merge_and_apply(14, "m14", KEYS_ONLY)
    assert code == 0 and "as reviewed" in out, out
    record(
        "gitops",
        "a plan artifact from before made-for.json",
        1,
        "applied; refused where apply asks rules-apart",
    )


def test_a_refused_record_refuses_without_refused_txt(actions: Actions, hub: FakeGitHub) -> None:
    refused_pr(actions, 15)
    assert made_for(hub, max(hub.artifacts))["rules_apart"] == "refused"
    rewrite(hub, max(hub.artifacts), {"refused.txt": None})
    cid = next(i for i, c in hub.comments.items() if c["body"] == plan_comment(hub, 15))
    meta = PlanMeta.find(hub.comments[cid]["body"])
    assert meta is not None
    cleared = PlanMeta(meta.run_id, meta.head_sha, meta.digest, meta.artifact)
    hub.comments[cid]["body"] = hub.comments[cid]["body"].replace(meta.line(), cleared.line())
    code, out = actions.merge_and_apply(15, "m15", LOOSENED)
    assert code == 1 and "PR #15: its plan failed the plan check (rules-apart)" in out, out
    untouched(actions)


@pytest.mark.parametrize(
    "data",
    [b"{", b"[]", b'{"pr": "15"}', b"\xff", b"[" * 100_000, b" " * 70_000],
    ids=["cut", "list", "pr-text", "not-utf8", "deep", "huge"],
)
def test_a_record_that_cannot_be_read_refuses_with_a_message(
    actions: Actions, hub: FakeGitHub, data: bytes
) -> None:
    assert actions.plan_pr(16, "h16", manifest(k0=11))[0] == 0
    rewrite(hub, max(hub.artifacts), {"made-for.json": data})
    code, out = actions.merge_and_apply(16, "m16", manifest(k0=11))
    assert code == 1 and "holds a made-for.json that cannot be read" in out and "Traceback" not in out, out
    assert actions.live()["key-0"]["allocated_ammount"] == 10


def test_an_unknown_verdict_refuses(actions: Actions, hub: FakeGitHub) -> None:
    assert actions.plan_pr(17, "h17", manifest(k0=11))[0] == 0
    said = {**made_for(hub, max(hub.artifacts)), "rules_apart": "maybe"}
    rewrite(hub, max(hub.artifacts), {"made-for.json": json.dumps(said).encode()})
    code, out = actions.merge_and_apply(17, "m17", manifest(k0=11))
    assert code == 1 and 'rules_apart is "maybe", not one of passed, refused, off' in out, out
