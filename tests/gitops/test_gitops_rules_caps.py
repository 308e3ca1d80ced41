"""The rules in review count an account's ceilings too: `max_debit` (the most one apply may
debit it) and the tier's `key_cap` and `per_key_cap` (the top level's in every account that
sets none). Raised in the pull request that uses the room, they were not said, and rules-apart
passed it. Against the fake GitHub, served for real."""

from __future__ import annotations

from typing import Any

import yaml

from ..fakegithub import FakeGitHub
from . import test_gitops as gitops
from .test_gitops import MANIFEST, Actions, manifest, plan_comment
from .test_gitops_rules import BASE, plan, settled

pytestmark = gitops.pytestmark

hub = gitops.hub
actions = gitops.actions


def in_prod(text: str, **prod: Any) -> str:
    """The manifest's keys in one declared account, prod (its settings `prod`)."""
    keys = [{**key, "account": "prod"} for key in yaml.safe_load(text)["keys"]]
    accounts = {"prod": {"api_key": "${ELECTRONHUB_API_KEY}", **prod}}
    return yaml.safe_dump({"version": 1, "accounts": accounts, "keys": keys}, sort_keys=False)


def test_rules_apart_fails_a_pr_that_raises_max_debit_and_spends_it(
    actions: Actions, hub: FakeGitHub
) -> None:
    hub.commit(BASE, {MANIFEST: in_prod(manifest(), max_debit=20)})
    code, out = plan(actions, 60, {MANIFEST: in_prod(manifest(k0=300), max_debit=400)}, "--rules-apart")
    assert code == 4, out
    comment = plan_comment(hub, 60)
    assert "> - max_debit (account prod): 20.00 -> 400.00, looser" in comment
    assert "rules-apart: this pull request changes the rules and" in comment


def test_a_top_level_key_cap_raised_is_a_rule_change_of_the_account(
    actions: Actions, hub: FakeGitHub
) -> None:
    """The top level's key_cap is every account's that sets none: raised with a key created in
    the room, the plan check fails under rules-apart; alone, it passes, counted in the headline."""
    base = yaml.safe_dump({**yaml.safe_load(manifest()), "key_cap": 3}, sort_keys=False)
    hub.commit(BASE, {MANIFEST: base})
    settled(actions, base)
    raised = yaml.safe_dump({**yaml.safe_load(manifest(extra=5)), "key_cap": 4}, sort_keys=False)
    code, out = plan(actions, 61, {MANIFEST: raised}, "--rules-apart")
    assert code == 4, out
    assert "> - key_cap: 3 -> 4, looser" in plan_comment(hub, 61)
    alone = yaml.safe_dump({**yaml.safe_load(manifest()), "key_cap": 4}, sort_keys=False)
    code, out = plan(actions, 62, {MANIFEST: alone}, "--rules-apart")
    assert code == 0, out
    comment = plan_comment(hub, 62)
    assert next(line for line in comment.splitlines() if line.startswith("### ")).endswith(" 1 rule changed.")
    assert "rules-apart: this pull request changes only the rules: it passes" in comment


def test_a_per_key_cap_removed_says_the_default_in_force(actions: Actions, hub: FakeGitHub) -> None:
    base = yaml.safe_dump({**yaml.safe_load(manifest()), "per_key_cap": 50}, sort_keys=False)
    hub.commit(BASE, {MANIFEST: base})
    code, out = plan(actions, 63, {MANIFEST: manifest(k0=60)}, "--rules-apart")
    assert code == 4, out
    assert "> - per_key_cap: 50.00 -> (not set: the default 10,000.00), looser" in plan_comment(hub, 63)


def environment(cap: int, prefix: str, amount: int = 10) -> str:
    keys = [
        {
            "id": f"{prefix}{i}",
            "name": f"{prefix}-{i}",
            "allocated_ammount": amount if i == 0 else 10,
            "limit_type": "daily",
        }
        for i in range(2)
    ]
    return yaml.safe_dump({"version": 1, "per_key_cap": cap, "keys": keys}, sort_keys=False)


def test_rules_apart_fails_a_pr_raising_one_file_s_own_per_key_cap_and_using_it(
    actions: Actions, hub: FakeGitHub
) -> None:
    """keys/ holds no ehkeys.yaml: a file per environment, each its own per_key_cap (the account
    has none both sides agree on: nothing was said, and rules-apart passed)."""
    hub.commit(BASE, {"keys/prod.yaml": environment(100, "p"), "keys/staging.yaml": environment(20, "s")})
    head = {"keys/prod.yaml": environment(100, "p"), "keys/staging.yaml": environment(5000, "s", amount=400)}
    code, out = plan(actions, 66, head, "--rules-apart", root="keys", changed=("keys/staging.yaml",))
    assert code == 4, out
    assert "> - per_key_cap (key s0): 20.00 -> 5,000.00, looser" in plan_comment(hub, 66)
