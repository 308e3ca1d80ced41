"""Two manifest roots in one repository, `keys/payments/` and `keys/research/`, each its own
account, through the jobs the workflows' matrix runs (one job per root, one workflow run for
both), against the fake GitHub: no collision of comments, artifacts, state or drift issue; a
pull request that touches one root plans and applies only that one.

Each job is a fresh checkout of the whole repository (both roots), as a matrix job's is.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.engine import target as session
from reconciler.gitops.reviewed_plan import PlanMeta
from reconciler.sandbox import Sandbox
from reconciler.sandbox import seed as seeds

from ..fakegithub import REPO, FakeGitHub
from ..helpers import API_KEY
from ..reliability_log import record
from . import test_gitops as gitops
from .test_gitops import Actions, manifest

pytestmark = pytest.mark.slow  # the GitOps jobs end to end: several jobs per test against the fake GitHub

hub = gitops.hub
actions = gitops.actions
PAYMENTS, RESEARCH = "keys/payments", "keys/research"
ROOTS = (PAYMENTS, RESEARCH)
STATE = {root: f"{root}/.ehkeys/{root.rsplit('/', 1)[1]}/sandbox/state.json" for root in ROOTS}


def research(**allocations: float) -> str:
    keys = [
        {
            "id": f"r{i}",
            "name": f"r-{i}",
            "allocated_ammount": allocations.get(f"r{i}", 20),
            "limit_type": "daily",
        }
        for i in range(3)
    ]
    return yaml.safe_dump({"version": 1, "keys": keys}, sort_keys=False)


def research_seed() -> dict[str, Any]:
    """The research account: keys of its own (other names, other values) and its own balance."""
    keys = [
        {
            "key": f"ek-proxy-research-{i:06d}-secretpart",
            "user_id": "u1",
            "name": f"r-{i}",
            "expires_at": -1,
            "allocated_ammount": 20.0,
            "used_ammount": 1.0,
            "model_whitelist": [],
            "ip_whitelist": [],
        }
        for i in range(3)
    ]
    return {"accounts": [{"user_id": "u1", "api_key": API_KEY, "balance": 300.0}], "keys": keys}


class Repo(Actions):
    """The repository of two roots; `self.main` is what each root's manifest says on its branch."""

    def __init__(self, tmp: Path, hub: FakeGitHub, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
        super().__init__(tmp, hub, monkeypatch, capsys)  # the payments account
        self.seeds = {PAYMENTS: self.seed, RESEARCH: tmp / "research-seed.yaml"}
        self.seeds[RESEARCH].write_text(yaml.safe_dump(research_seed()))
        self.accounts = {PAYMENTS: self.account, RESEARCH: tmp / "research.db"}
        Sandbox.open(self.accounts[RESEARCH], seeds.load(str(self.seeds[RESEARCH])))
        self.main = {PAYMENTS: manifest(), RESEARCH: research()}
        self.run_ids = 2000

    def job(self, root: str, texts: dict[str, str], event: str, sha: str, payload: dict[str, Any]) -> Path:
        """One matrix job: a fresh checkout of both roots, this root's account."""
        workspace = self.checkout(texts[root], event, sha, payload, f"{root}/keys.yaml")
        for other in ROOTS:
            (workspace / other).mkdir(parents=True, exist_ok=True)
            (workspace / other / "keys.yaml").write_text(texts[other])
        self.mp.setenv("GITHUB_RUN_ID", str(self.run_ids))  # the matrix's jobs share their run
        self.mp.setattr(session, "SANDBOX_DB", self.accounts[root])
        return workspace

    def plan(self, number: int, head: str, texts: dict[str, str]) -> dict[str, str]:
        """keys-plan on a push to the PR: its files are the roots whose text differs from main."""
        self.run_ids += 1
        self.hub.pulls.get(number) or self.hub.open_pull(number, head)
        self.hub.pulls[number].update(head={"sha": head}, files=[])
        self.hub.change(number, *(f"{r}/keys.yaml" for r in ROOTS if texts[r] != self.main[r]))
        self.hub.start_run(str(self.run_ids), head)
        payload = {"pull_request": {"number": number, "head": {"sha": head, "repo": {"full_name": REPO}}}}
        said = {}
        for root in ROOTS:
            workspace = self.job(root, texts, "pull_request", f"test-merge-{head}", payload)
            code, out, err = self.run(
                "github", "plan", root, "--sandbox", "--sandbox-seed", str(self.seeds[root])
            )
            saved = workspace / "ehkeys-out" / "plan.json"
            if saved.exists():
                self.hub.upload(
                    str(self.run_ids), self.outputs()["artifact"], {"plan.json": saved.read_bytes()}
                )
            comment = self.run("github", "comment", root)
            assert code == 0 and comment[0] == 0, (out, err, comment)
            said[root] = out + err + comment[1] + self.summary()
        return said

    def merge(self, number: int, sha: str, texts: dict[str, str]) -> dict[str, tuple[int, str]]:
        """keys-apply on the push of the merge: one job per root."""
        self.hub.merge(number, sha)
        self.main = dict(texts)
        self.run_ids += 1
        done = {}
        for root in ROOTS:
            self.job(root, texts, "push", sha, {"after": sha})
            code, out, err = self.run(
                "github", "apply", root, "--sandbox", "--sandbox-seed", str(self.seeds[root])
            )
            done[root] = (code, out + err + self.summary())
        return done

    def drift(self, text: str = "") -> tuple[int, str]:
        """keys-drift: one job per root; the issue lines each printed."""
        self.run_ids += 1
        said = []
        for root in ROOTS:
            self.job(root, self.main, "schedule", "main-head", {})
            code, out, err = self.run(
                "github", "drift", root, "--sandbox", "--sandbox-seed", str(self.seeds[root])
            )
            assert code == 0, out + err
            said += [f"{root}: {line}" for line in out.splitlines() if line.startswith("drift issue:")]
        return 0, "\n".join(said)

    def allocations(self, root: str) -> dict[str, str]:
        db = sqlite3.connect(self.accounts[root])
        rows = db.execute("SELECT name, allocated_ammount FROM keys WHERE user_id = 'u1'").fetchall()
        return {name: str(amount) for name, amount in rows}

    def sql_in(self, root: str, statement: str) -> None:
        with sqlite3.connect(self.accounts[root]) as db:
            db.execute(statement)


@pytest.fixture
def repo(tmp_path: Path, hub: FakeGitHub, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Repo:
    return Repo(tmp_path, hub, monkeypatch, capsys)


def comments(hub: FakeGitHub, number: int, marker: str) -> dict[str, str]:
    """The PR's comments that carry `marker`, by the root each names."""
    found = {}
    for body in hub.comments_on(number):
        if marker in body:
            root = body.split("<!-- ehkeys-root: ", 1)[1].split(" -->", 1)[0] if "ehkeys-root" in body else ""
            assert root not in found, f"two {marker} comments for {root!r}"
            found[root] = body
    return found


def plans(hub: FakeGitHub, number: int) -> dict[str, str]:
    return comments(hub, number, "<!-- ehkeys-plan -->")


def test_two_roots_plan_apply_and_keep_state_without_colliding(repo: Repo, hub: FakeGitHub) -> None:
    both = {PAYMENTS: manifest(k0=25, analytics=5), RESEARCH: research(r0=30)}
    repo.plan(1, "h1", both)
    shown = plans(hub, 1)
    assert sorted(shown) == [PAYMENTS, RESEARCH]
    assert "### ehkeys plan `keys/payments`" in shown[PAYMENTS] and "analytics" in shown[PAYMENTS]
    assert "### ehkeys plan `keys/research`" in shown[RESEARCH] and "analytics" not in shown[RESEARCH]
    metas = {root: PlanMeta.find(body) for root, body in shown.items()}
    names = {root: meta.artifact for root, meta in metas.items() if meta}
    assert len(set(names.values())) == 2, names
    uploaded = sorted(a["name"] for a in hub.artifacts.values() if a["run"] == str(repo.run_ids))
    assert uploaded == sorted(names.values()), "both roots' plans in one run, under names of their own"

    hub.raced[f"PUT /contents/{RESEARCH}/"] = 1  # payments' write moved the branch meanwhile
    done = repo.merge(1, "m1", both)
    assert done[PAYMENTS][0] == 0 and done[RESEARCH][0] == 0, done
    assert repo.allocations(PAYMENTS)["key-0"] == "25" and "analytics" in repo.allocations(PAYMENTS)
    assert repo.allocations(RESEARCH)["r-0"] == "30" and "analytics" not in repo.allocations(RESEARCH)
    applied = comments(hub, 1, "<!-- ehkeys-apply -->")
    assert sorted(applied) == [PAYMENTS, RESEARCH]
    assert "### ehkeys apply `keys/research`" in applied[RESEARCH] and "r-0" in applied[RESEARCH]

    branch = hub.branches["ehkeys-state"]
    assert not any(".conflict-" in path for path in branch), sorted(branch)
    kept = {root: json.loads(branch[STATE[root]])["bindings"] for root in ROOTS}
    assert set(kept[PAYMENTS]) == {"k0", "k1", "k2", "analytics"} and set(kept[RESEARCH]) == {
        "r0",
        "r1",
        "r2",
    }

    later = {PAYMENTS: both[PAYMENTS], RESEARCH: research(r0=30, r1=25)}
    assert "No changes" not in repo.plan(2, "h2", later)[RESEARCH]
    assert "0 to create, 1 to update" in plans(hub, 2)[RESEARCH], "research's state, not payments'"
    record(
        "gitops",
        "two manifest roots (two accounts) planned in one run and applied at once",
        1,
        "a comment, an artifact and a state file each; a write that lost the branch's race tried again",
    )


def test_a_pr_that_touches_one_root_plans_and_applies_only_it(repo: Repo, hub: FakeGitHub) -> None:
    said = repo.plan(3, "h3", {PAYMENTS: repo.main[PAYMENTS], RESEARCH: research(r1=40)})
    assert "PR #3 changes no file of keys/payments" in said[PAYMENTS] and "not planned" in said[PAYMENTS]
    assert "plan comment none: not planned" in said[PAYMENTS]
    assert sorted(plans(hub, 3)) == [RESEARCH], "no comment for a root the PR leaves alone"
    assert [a["name"] for a in hub.artifacts.values()] == [PlanMeta.find(plans(hub, 3)[RESEARCH]).artifact]

    touched = {PAYMENTS: manifest(k2=12), RESEARCH: research(r1=40)}
    repo.plan(3, "h3b", touched)  # a second push touches payments too
    assert "key-2" in plans(hub, 3)[PAYMENTS] and "ehkeys-plan-meta" in plans(hub, 3)[PAYMENTS]
    said = repo.plan(3, "h3c", {PAYMENTS: repo.main[PAYMENTS], RESEARCH: research(r1=40)})  # reverted
    retired = plans(hub, 3)[PAYMENTS]
    assert (
        "not planned" in retired and "PR #3 changes no file" in retired and "ehkeys-plan-meta" not in retired
    )
    assert "plan comment updated: not planned" in said[PAYMENTS]

    before = repo.allocations(PAYMENTS)
    done = repo.merge(3, "m3", {PAYMENTS: repo.main[PAYMENTS], RESEARCH: research(r1=40)})
    assert done[PAYMENTS][0] == 0 and "nothing to plan or apply" in done[PAYMENTS][1]
    assert done[RESEARCH][0] == 0 and repo.allocations(RESEARCH)["r-1"] == "40"
    assert repo.allocations(PAYMENTS) == before
    assert sorted(comments(hub, 3, "<!-- ehkeys-apply -->")) == [RESEARCH]
    record(
        "gitops",
        "a PR that touches one of two manifest roots (and one push that touched both, reverted)",
        1,
        "only that root planned and applied; the other's comment says it is not planned; exit 0",
    )


def drift_issues(hub: FakeGitHub) -> dict[str, dict[str, Any]]:
    found = {}
    for issue in hub.issues.values():
        if "ehkeys-drift" in issue.get("labels", []) and issue["state"] == "open":
            root = issue["body"].split("<!-- ehkeys-root: ", 1)[1].split(" -->", 1)[0]
            assert root not in found, f"two open drift issues for {root}"
            found[root] = issue
    return found


def test_each_root_has_its_own_drift_issue(repo: Repo, hub: FakeGitHub) -> None:
    both = {PAYMENTS: manifest(k0=11), RESEARCH: research(r0=21)}
    repo.plan(1, "h1", both)
    assert all(code == 0 for code, _ in repo.merge(1, "m1", both).values())
    said = repo.drift()[1]
    assert "keys/payments: drift issue: in sync" in said and "keys/research: drift issue: in sync" in said

    repo.sql_in(RESEARCH, "UPDATE keys SET name = 'renamed' WHERE name = 'r-1'")
    said = repo.drift()[1]
    assert "keys/payments: drift issue: in sync, nothing open" in said
    assert "keys/research: drift issue: opened" in said
    issues = drift_issues(hub)
    assert sorted(issues) == [RESEARCH] and issues[RESEARCH]["title"].endswith("keys/research")

    repo.sql_in(PAYMENTS, "UPDATE keys SET name = 'moved' WHERE name = 'key-1'")
    said = repo.drift()[1]
    assert "keys/payments: drift issue: opened" in said and "keys/research: drift issue: unchanged" in said
    assert sorted(drift_issues(hub)) == [PAYMENTS, RESEARCH]

    repo.sql_in(RESEARCH, "UPDATE keys SET name = 'r-1' WHERE name = 'renamed'")
    said = repo.drift()[1]
    assert "keys/research: drift issue: closed" in said and "keys/payments: drift issue: unchanged" in said
    assert sorted(drift_issues(hub)) == [PAYMENTS] and "moved" in drift_issues(hub)[PAYMENTS]["body"]
    record("gitops", "two manifest roots drifting one after the other", 1, "an issue each, closed each alone")


# --- one root, as every repository had it before roots were named --------------------------


def plan_as_before_roots(actions: Actions, hub: FakeGitHub, number: int, head: str, text: str) -> str:
    """What the earlier action did on a PR: its artifact `ehkeys-plan`, its comment without a
    root line (`github comment` given no manifest writes the same)."""
    hub.open_pull(number, head, (gitops.MANIFEST,))
    payload = {"pull_request": {"number": number, "head": {"sha": head, "repo": {"full_name": REPO}}}}
    workspace = actions.checkout(text, "pull_request", f"test-merge-{head}", payload)
    hub.start_run(str(1000 + actions.runs), head)
    assert actions.run("github", "plan", gitops.MANIFEST, "--sandbox", *actions.seeded)[0] == 0
    saved = (workspace / "ehkeys-out" / "plan.json").read_bytes()
    hub.upload(str(1000 + actions.runs), "ehkeys-plan", {"plan.json": saved})
    assert actions.run("github", "comment")[0] == 0
    earlier = gitops.plan_comment(hub, number)
    assert "ehkeys-root" not in earlier and '"artifact": "ehkeys-plan"' in earlier
    return earlier


def test_a_pr_planned_before_the_upgrade_is_applied_and_its_comment_kept(
    actions: Actions, hub: FakeGitHub
) -> None:
    """The plan comment and artifact an earlier version left are found after the upgrade: the
    merge applies that plan; on another PR, a new push edits that comment, adding none."""
    text = manifest(k0=25)
    plan_as_before_roots(actions, hub, 12, "h1", text)
    code, out = actions.merge_and_apply(12, "m1", text)
    assert code == 0, out
    assert actions.live()["key-0"]["allocated_ammount"] == 25
    assert "<!-- ehkeys-root: keys/keys.yaml -->" in gitops.apply_comment(hub, 12)

    plan_as_before_roots(actions, hub, 13, "h2", manifest(k0=25, k1=11))
    assert actions.plan_pr(13, "h3", manifest(k0=25, k1=12))[0] == 0
    assert len(plans(hub, 13)) == 1, "the earlier comment is edited, not joined by another"
    assert "<!-- ehkeys-root: keys/keys.yaml -->" in gitops.plan_comment(hub, 13)
    assert "12.00" in gitops.plan_comment(hub, 13)
    record(
        "gitops",
        "a PR planned by the version before manifest roots, merged after the upgrade",
        1,
        "its comment and artifact found and applied; a new push edits that comment",
    )


def test_a_drift_issue_opened_before_the_upgrade_is_kept_not_doubled(
    actions: Actions, hub: FakeGitHub
) -> None:
    text = manifest(k0=15)
    actions.plan_pr(1, "h1", text)
    assert actions.merge_and_apply(1, "m1", text)[0] == 0
    earlier = "<!-- ehkeys-drift -->\n### ehkeys drift: 1 changed\n<!-- ehkeys-drift-digest: 00 -->\nold\n"
    hub.issues[40] = {
        "number": 40,
        "state": "open",
        "labels": ["ehkeys-drift"],
        "title": "ehkeys: proxy keys drifted from the manifest",
        "body": earlier,
        "user": {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"},
    }
    actions.sql("UPDATE keys SET name = 'renamed' WHERE name = 'key-1'")
    code, out = actions.drift(text)
    assert code == 0 and "drift issue: updated #40" in out, out
    issue = hub.issues[40]
    assert (
        issue["title"].endswith("keys/keys.yaml") and "<!-- ehkeys-root: keys/keys.yaml -->" in issue["body"]
    )
    assert [i for i in hub.issues.values() if "ehkeys-drift" in i.get("labels", [])] == [issue]
    actions.sql("UPDATE keys SET name = 'key-1' WHERE name = 'renamed'")
    assert "drift issue: closed #40" in actions.drift(text)[1]


def test_a_root_is_touched_by_the_paths_when_modified_names(actions: Actions, hub: FakeGitHub) -> None:
    """Like Atlantis' when_modified: this repository plans its demo when the action changes."""
    code, out = actions.plan_pr(1, "h1", manifest(k0=12), gitops.MANIFEST, ("action.yml",))
    assert code == 0 and "PR #1 changes no file of keys/keys.yaml" in out and hub.comments_on(1) == []
    assert "not planned" in actions.summary()
    code, out = actions.plan_pr(1, "h2", manifest(k0=12), gitops.MANIFEST, (), "--when-modified", "*.yml")
    assert code == 0 and "key-0" in gitops.plan_comment(hub, 1)
