"""The policy in review: a pull request whose plan breaks the manifest's policy or budget fails
its plan job (exit 4) and still gets its plan comment, with the Policy section, against the
fake GitHub; the merge applies nothing."""

from __future__ import annotations

import pytest
import yaml

from ..fakegithub import REPO, FakeGitHub
from . import test_gitops as gitops
from .test_gitops import MANIFEST, Actions, apply_comment, manifest, plan_comment

pytestmark = pytest.mark.slow  # the GitOps jobs end to end against the fake GitHub

hub = gitops.hub
actions = gitops.actions


def with_rules(text: str, **rules: object) -> str:
    doc = yaml.safe_load(text)
    return yaml.safe_dump({"version": 1, **rules, "keys": doc["keys"]}, sort_keys=False)


def plan_pr(actions: Actions, number: int, head: str, text: str) -> tuple[int, int, str]:
    """keys-plan as the action runs it: the plan step, then the comment step (it runs always)."""
    actions.hub.open_pull(number, head)
    actions.hub.change(number, MANIFEST)
    payload = {"pull_request": {"number": number, "head": {"sha": head, "repo": {"full_name": REPO}}}}
    workspace = actions.checkout(text, "pull_request", f"test-merge-{head}", payload)
    actions.hub.start_run(str(1000 + actions.runs), head)
    code, out, err = actions.run("github", "plan", MANIFEST, "--sandbox", *actions.seeded)
    saved = workspace / "ehkeys-out" / "plan.json"
    actions.hub.upload(
        str(1000 + actions.runs), actions.outputs()["artifact"], {"plan.json": saved.read_bytes()}
    )
    comment = actions.run("github", "comment", MANIFEST)[0]
    return code, comment, out + err


def test_a_pr_over_its_budget_fails_the_check_and_its_comment_shows_the_policy(
    actions: Actions, hub: FakeGitHub
) -> None:
    text = with_rules(
        manifest(k0=40, analytics=30),  # +30.00 and a new 30.00: a net 60.00
        budget={"max_net_debit": 50, "warn_net_debit": 10},
        policy={"max_allocation": 35},
    )
    code, comment_code, out = plan_pr(actions, 7, "head7", text)
    assert code == 4, out
    assert comment_code == 0, "the comment is posted all the same"
    comment = plan_comment(hub, 7)
    lines = comment.splitlines()
    title = next(i for i, line in enumerate(lines) if line.startswith("### "))
    assert lines[title].endswith("0 errors, 2 policy violations, 1 budget warning.")
    assert lines[title + 2] == (  # under the title, where a reviewer looks first
        "> :warning: **Budget warning:** warn_net_debit: the plan debits a net 60.00 "
        "(60.00 debited, 0.00 refunded, est.), over 10.00"
    )
    assert (
        "**Policy: 2 violations, 1 warning.** The plan check fails, and apply refuses this plan." in comment
    )
    assert "- :x: max_allocation on k0: allocated_ammount 40.00 is over 35.00 (keys/keys.yaml:" in comment
    assert (
        "- :x: max_net_debit: the plan debits a net 60.00 (60.00 debited, 0.00 refunded, est.), over 50.00"
        in comment
    )
    assert "- :warning: warn_net_debit: the plan debits a net 60.00" in comment
    assert "Policy: 2 violations" in actions.summary()

    before = actions.live()
    code, out = actions.merge_and_apply(7, "merge7", text)
    assert code == 1 and "the plan breaks the policy" in out
    assert actions.live() == before, "nothing was sent"
    assert "ehkeys apply stopped" in apply_comment(hub, 7) and "max_allocation" in apply_comment(hub, 7)


def test_an_exception_is_listed_in_the_comment_with_its_reason(actions: Actions, hub: FakeGitHub) -> None:
    doc = yaml.safe_load(with_rules(manifest(k0=10), policy={"require": ["ip_whitelist"]}))
    for key in doc["keys"]:
        key["ip_whitelist"] = ["10.0.0.0/8"]
    doc["keys"][1]["ip_whitelist"] = []
    doc["keys"][1]["policy_exceptions"] = {"ip_whitelist": "partner calls from changing IPs"}
    code, _, out = plan_pr(actions, 8, "head8", yaml.safe_dump(doc, sort_keys=False))
    assert code == 0, out
    comment = plan_comment(hub, 8)
    assert "**Policy: every rule holds, 1 exception in force.** Rules in force: require." in comment
    assert (
        "- Exception: ip_whitelist waived on k1: partner calls from changing IPs (keys/keys.yaml:" in comment
    )
