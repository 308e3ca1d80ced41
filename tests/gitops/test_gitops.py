"""The GitOps loop end to end: the jobs the composite action runs, against a fake GitHub API
(tests/fakegithub.py, served for real) and one sandbox account that outlives each run.

Each simulated run is a fresh checkout (a new directory, nothing left from the last run),
with the environment Actions gives a step; the state survives only on its branch.
"""

from __future__ import annotations

import datetime
import io
import json
import re
import sqlite3
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.responses import JSONResponse, RedirectResponse, Response

from reconciler.apply import applier
from reconciler.cli.main import main
from reconciler.core import operations
from reconciler.engine import target as session
from reconciler.gitops import hub as ghapi
from reconciler.gitops import reviewed_plan as ghplan
from reconciler.gitops.roots import Root
from reconciler.sandbox import Sandbox
from reconciler.sandbox import seed as seeds

from ..fakegithub import BOT, REPO, FakeGitHub, on_actions
from ..helpers import API_KEY, live_sandbox, sandbox_state_dir, seed_data
from ..reliability_log import record
from ..render.test_mermaid import block_of as mermaid_block
from ..render.test_mermaid import parse as parse_mermaid
from ..state.test_saved_plan_parts import put_together

pytestmark = pytest.mark.slow  # the GitOps jobs end to end: several jobs per test against the fake GitHub

MANIFEST = "keys/keys.yaml"
STATE_ON_BRANCH = f"{sandbox_state_dir(MANIFEST).as_posix()}/state.json"  # keys/.ehkeys/keys/sandbox/…
JOURNAL_ON_BRANCH = STATE_ON_BRANCH.replace("state.json", "journal.jsonl")
UPLOADED = ("plan.json", "plan.md", "refused.txt", "made-for.json")  # action.yml's upload step, its `path:`
CHECKED = "<!-- ehkeys-drift-checked -->"  # the drift issue's "Last checked" line starts so


def manifest(**allocations: float) -> str:
    keys = [
        {
            "id": f"k{i}",
            "name": f"key-{i}",
            "allocated_ammount": allocations.get(f"k{i}", 10),
            "limit_type": "daily",
        }
        for i in range(3)
    ]
    keys += [
        {"id": k, "name": k, "allocated_ammount": v, "limit_type": "weekly"}
        for k, v in allocations.items()
        if not k.startswith("k")
    ]
    return yaml.safe_dump({"version": 1, "keys": keys}, sort_keys=False)


def kept(workspace: Path) -> dict[str, bytes]:
    """What the action uploads as the plan's artifact: the files of its `path:` the plan job left."""
    out = workspace / "ehkeys-out"
    return {name: (out / name).read_bytes() for name in UPLOADED if (out / name).exists()}


class Actions:
    """Runs the jobs as the workflows do, each in a fresh checkout."""

    def __init__(self, tmp: Path, hub: FakeGitHub, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
        self.tmp, self.hub, self.mp, self.capsys = tmp, hub, monkeypatch, capsys
        self.runs = 0
        self.committed: dict[str, bytes] = {}  # files committed beside the manifest, in each checkout
        self.seed = tmp / "seed.yaml"
        self.seed.write_text(yaml.safe_dump(seed_data(3, used_ammount=2.0, balance=500.0)))
        self.account = tmp / "account.db"
        monkeypatch.setattr(session, "SANDBOX_DB", self.account)
        Sandbox.open(self.account, seeds.load(str(self.seed)))  # the account, before any run

    def checkout(
        self, text: str, event: str, sha: str, payload: dict[str, Any], where: str = MANIFEST
    ) -> Path:
        self.runs += 1
        workspace = self.tmp / f"run-{self.runs}"
        (workspace / where).parent.mkdir(parents=True)
        (workspace / where).write_text(text)
        for path, data in self.committed.items():
            (workspace / path).parent.mkdir(parents=True, exist_ok=True)
            (workspace / path).write_bytes(data)
        (self.tmp / f"event-{self.runs}.json").write_text(json.dumps(payload))
        summary = self.tmp / f"summary-{self.runs}.md"
        (self.tmp / f"output-{self.runs}").write_text("")
        for name, value in {
            "GITHUB_OUTPUT": str(self.tmp / f"output-{self.runs}"),
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_RUN_ID": str(1000 + self.runs),
            "GITHUB_SHA": sha,
            "GITHUB_EVENT_NAME": event,
            "GITHUB_EVENT_PATH": str(self.tmp / f"event-{self.runs}.json"),
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_ACTIONS": "true",
        }.items():
            self.mp.setenv(name, value)
        self.mp.chdir(workspace)
        return workspace

    @property
    def seeded(self) -> tuple[str, ...]:
        return ("--sandbox-seed", str(self.seed))

    def run(self, *argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = self.capsys.readouterr()
        return code, out, err

    def outputs(self) -> dict[str, str]:
        """What the last run's step set as its outputs (GITHUB_OUTPUT)."""
        lines = (self.tmp / f"output-{self.runs}").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines)

    def plan_pr(
        self,
        number: int,
        head: str,
        text: str,
        where: str = MANIFEST,
        changes: tuple[str, ...] | None = None,
        *options: str,
    ) -> tuple[int, str]:
        """keys-plan on a PR that changes `changes` (default: the manifest): plan, upload the
        artifact under the name the plan step gave, comment."""
        self.hub.pulls.get(number) or self.hub.open_pull(number, head)
        self.hub.pulls[number]["head"]["sha"] = head
        self.hub.change(number, *(changes if changes is not None else (where,)))
        base = {"ref": self.hub.pulls[number]["base"]["ref"]}  # no sha: the rules are not compared
        pull = {"number": number, "head": {"sha": head, "repo": {"full_name": REPO}}, "base": base}
        workspace = self.checkout(text, "pull_request", f"test-merge-{head}", {"pull_request": pull}, where)
        self.hub.start_run(str(1000 + self.runs), head)  # a run of keys-plan.yml for the PR's head
        code, out, err = self.run("github", "plan", where, "--sandbox", *self.seeded, *options)
        planned = (workspace / "ehkeys-out" / "plan.json").exists()
        if planned:
            name = self.outputs()["artifact"]
            self.hub.upload(str(1000 + self.runs), name, kept(workspace))
        comment = self.run("github", "comment", where)
        assert comment[0] == (0 if planned else code), comment  # a plan with errors is commented too
        return code, out + err

    def merge_and_apply(
        self, number: int | None, sha: str, text: str, where: str = MANIFEST, *options: str
    ) -> tuple[int, str]:
        """keys-apply on the push of a merge commit (number None: a push without a PR)."""
        if number is not None:
            self.hub.merge(number, sha)
        self.checkout(text, "push", sha, {"after": sha}, where)
        code, out, err = self.run("github", "apply", where, "--sandbox", *self.seeded, *options)
        return code, out + err

    def live(self) -> dict[str, dict[str, Any]]:
        db = sqlite3.connect(self.account)
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT * FROM keys WHERE user_id = 'u1'")
        return {r["name"]: {**dict(r), "allocated_ammount": Decimal(r["allocated_ammount"])} for r in rows}

    def balance(self) -> Decimal:
        with sqlite3.connect(self.account) as db:
            (found,) = db.execute("SELECT balance FROM accounts WHERE user_id = 'u1'").fetchone()
        return Decimal(str(found))

    def set_used(self, name: str, used: str) -> None:
        self.sql("UPDATE keys SET used_ammount = ? WHERE name = ?", used, name)

    def sql(self, statement: str, *params: Any) -> None:
        """A change made behind ehkeys' back (the dashboard)."""
        with sqlite3.connect(self.account) as db:
            db.execute(statement, params)

    def drift(self, text: str, *options: str) -> tuple[int, str]:
        """keys-drift on its schedule."""
        self.checkout(text, "schedule", "main-head", {})
        seeded = ("--sandbox", "--sandbox-seed", str(self.seed))
        code, out, err = self.run("github", "drift", MANIFEST, *seeded, *options)
        return code, out + err

    def summary(self) -> str:
        path = self.tmp / f"summary-{self.runs}.md"
        return path.read_text() if path.exists() else ""


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    monkeypatch.setattr(ghapi, "BACKOFF", (0.0, 0.0))  # a gateway error is tried again, at once
    with on_actions(fake, monkeypatch):
        monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.example")
        yield fake


@pytest.fixture
def actions(tmp_path: Path, hub: FakeGitHub, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Actions:
    return Actions(tmp_path, hub, monkeypatch, capsys)


def plan_comment(hub: FakeGitHub, number: int) -> str:
    return next(b for b in hub.comments_on(number) if "<!-- ehkeys-plan -->" in b)


def apply_comment(hub: FakeGitHub, number: int) -> str:
    return next(b for b in hub.comments_on(number) if "<!-- ehkeys-apply -->" in b)


# --- what was reviewed is what is applied -----------------------------------------------------


def test_the_reviewed_plan_is_applied_and_its_result_commented(actions: Actions, hub: FakeGitHub) -> None:
    text = manifest(k0=25, analytics=5)
    actions.mp.setenv("GITHUB_RETENTION_DAYS", "30")  # as Actions sets it: the repository's retention
    code, _ = actions.plan_pr(12, "head1", text)
    assert code == 0
    comment = plan_comment(hub, 12)
    assert "Reviewed plan `sha256:" in comment and "head1" in comment and "1 to create" in comment
    day = (datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=30)).isoformat()
    assert f"After the merge (by {day}, when GitHub deletes this plan's artifact), ehkeys applies" in comment
    assert not [call for call in hub.calls if "/artifacts" in call], "no request, no actions: read needed"

    code, out = actions.merge_and_apply(12, "merge1", text)
    assert code == 0, out
    live = actions.live()
    assert live["key-0"]["allocated_ammount"] == 25 and "analytics" in live
    result = apply_comment(hub, 12)
    assert "| created |" in result and "| updated |" in result and "as reviewed" in result
    assert "ehkeys apply" in actions.summary()
    assert not hub.leaked_token, "the artifact storage (another origin) saw the GitHub token"


@pytest.mark.parametrize("retention", [None, "", "0", "forever", "401", "²"])  # ² is a digit int() refuses
def test_a_plan_comment_says_no_expiry_actions_did_not_give(
    actions: Actions, hub: FakeGitHub, retention: str | None
) -> None:
    """The artifact's day of deletion is a courtesy: without a retention Actions gave (a run
    elsewhere, or a value no repository can set) it is left unsaid, the plan shown all the same."""
    if retention is None:
        actions.mp.delenv("GITHUB_RETENTION_DAYS", raising=False)  # CI's own run sets it
    else:
        actions.mp.setenv("GITHUB_RETENTION_DAYS", retention)
    assert actions.plan_pr(12, "head1", manifest(k0=25))[0] == 0
    comment = plan_comment(hub, 12)
    assert "After the merge, ehkeys applies exactly this plan" in comment and "3 to update" in comment


def test_a_key_that_moved_after_review_is_skipped_and_named(actions: Actions, hub: FakeGitHub) -> None:
    text = manifest(k0=1, k1=30)  # k0: a refund that depends on used_ammount; k1: a debit
    actions.plan_pr(3, "h", text)
    actions.set_used("key-0", "0.5")  # spent after the review: the refund is no longer the reviewed one
    code, out = actions.merge_and_apply(3, "m", text)
    assert code == 3, out
    live = actions.live()
    assert live["key-0"]["allocated_ammount"] == 10 and live["key-1"]["allocated_ammount"] == 10
    result = apply_comment(hub, 3)
    assert "key-0" in result and "skipped" in result and "used_ammount" in result
    assert "these debits counted on it (the refund of key-0" in result  # key-1's raise, not sent
    record(
        "gitops",
        "a key whose used_ammount moved between the PR review and the merge",
        1,
        "skipped and named with the value that moved; the debits that counted on its refund skipped",
    )


def test_a_manifest_changed_after_the_plan_is_refused_and_planned_again(
    actions: Actions, hub: FakeGitHub
) -> None:
    base = {"k0": 10}
    actions.plan_pr(1, "a1", manifest(**{**base, "k1": 20}))
    actions.plan_pr(2, "b1", manifest(**{**base, "k2": 40}))  # planned against the same main
    assert actions.merge_and_apply(1, "m1", manifest(k1=20))[0] == 0
    before = actions.live()
    code, out = actions.merge_and_apply(2, "m2", manifest(k1=20, k2=40))  # main now has both
    assert code == 1 and "plan again" in out
    assert actions.live() == before, "nothing may be sent for a plan nobody reviewed"
    fresh = apply_comment(hub, 2)
    assert "Nothing was applied" in fresh and "fresh plan" in fresh and "key-2" in fresh
    assert "Nothing was applied" in actions.summary()
    record(
        "gitops",
        "two PRs planned on one main, merged one after the other",
        1,
        'the second sends nothing: "plan again", a fresh plan on its PR',
    )


def test_a_pull_request_from_a_fork_is_told_why_it_cannot_be_planned(
    actions: Actions, hub: FakeGitHub
) -> None:
    """A fork's pull_request run has no ELECTRONHUB_API_KEY and a read-only token: the plan and
    comment steps say so (red), rather than "ELECTRONHUB_API_KEY is not set" and a 403."""
    hub.open_pull(7, "fork-head")
    head = {"sha": "fork-head", "repo": {"full_name": "alice/keys"}}
    pull = {"number": 7, "head": head, "base": {"ref": "main", "repo": {"full_name": REPO}}}
    workspace = actions.checkout(manifest(), "pull_request", "test-merge-fork-head", {"pull_request": pull})
    for step in (("github", "plan", MANIFEST), ("github", "comment", MANIFEST)):
        code, out, err = actions.run(*step)
        assert code == 1 and "PR #7 comes from the fork alice/keys" in err, (step, err)
        assert f"push its commits to a branch of {REPO}" in err and "Traceback" not in err
    assert hub.comments_on(7) == [] and not (workspace / "ehkeys-out" / "plan.json").exists()
    forked = actions.run("github", "plan", MANIFEST, "--sandbox", *actions.seeded)
    assert forked[0] == 0, "the sandbox needs no secret: a fork's PR is planned (its comment step skipped)"
    pull["head"]["repo"] = {"full_name": REPO}  # the same PR pushed to a branch here plans as ever
    actions.checkout(manifest(), "pull_request", "test-merge-fork-head", {"pull_request": pull})
    assert actions.run("github", "plan", MANIFEST, "--sandbox", *actions.seeded)[0] == 0


def test_a_push_without_a_pull_request_applies_nothing(actions: Actions, hub: FakeGitHub) -> None:
    before = actions.live()
    code, out = actions.merge_and_apply(None, "direct", manifest(k0=99))
    assert code == 1 and "not merged from a pull request" in out
    assert actions.live() == before and "Nothing was applied" in actions.summary()
    record(
        "gitops", "a push to main without a pull request", 1, "nothing sent; fresh plan in the job summary"
    )


def test_a_plan_comment_for_an_earlier_commit_is_not_applied(actions: Actions, hub: FakeGitHub) -> None:
    actions.plan_pr(5, "old", manifest(k0=11))
    hub.pulls[5]["head"]["sha"] = "new"  # pushed again; that plan job never finished
    code, out = actions.merge_and_apply(5, "m5", manifest(k0=12))
    assert code == 1 and "earlier" not in out and "old" in out and "plan again" in out


def test_a_plan_comment_the_last_plan_job_could_not_fill_names_no_plan(
    actions: Actions, hub: FakeGitHub
) -> None:
    actions.plan_pr(4, "h1", manifest(k0=11))
    assert actions.plan_pr(4, "h2", "version: 1\nkeys: [\n")[0] == 1  # the comment: could not plan
    before = actions.live()
    code, out = actions.merge_and_apply(4, "m4", manifest(k0=11))
    assert code == 1 and "PR #4: its ehkeys plan comment for keys/keys.yaml names no plan" in out, out
    assert actions.live() == before


def test_a_failed_plan_leaves_no_empty_output_folder_and_keeps_one_it_found(
    actions: Actions, hub: FakeGitHub
) -> None:
    broken = "version: 1\nkeys: [\n"
    code, out = actions.plan_pr(4, "h1", broken)
    workspace = actions.tmp / f"run-{actions.runs}"
    assert code == 1 and not (workspace / "ehkeys-out").exists(), out
    code, out = actions.plan_pr(4, "h2", broken, MANIFEST, None, "--dir", "out/plans")
    workspace = actions.tmp / f"run-{actions.runs}"
    assert code == 1 and not (workspace / "out").exists(), "its parents made for it go too"

    hub.open_pull(5, "h3")
    hub.change(5, MANIFEST)
    pull = {"number": 5, "head": {"sha": "h3", "repo": {"full_name": REPO}}, "base": {"ref": "main"}}
    workspace = actions.checkout(broken, "pull_request", "test-merge-h3", {"pull_request": pull})
    (workspace / "ehkeys-out").mkdir()  # the user's: never removed
    assert actions.run("github", "plan", MANIFEST, "--sandbox", *actions.seeded)[0] == 1
    assert (workspace / "ehkeys-out").is_dir()

    code, out = actions.merge_and_apply(None, "direct", manifest())  # nothing applied: no folder
    assert code == 1 and not (actions.tmp / f"run-{actions.runs}" / "ehkeys-out").exists(), out
    code, out = actions.plan_pr(6, "h4", manifest(k0=11))
    assert code == 0 and (actions.tmp / f"run-{actions.runs}" / "ehkeys-out" / "plan.json").is_file()


def test_two_plan_comments_of_one_root_heal_and_the_last_plan_is_applied(
    actions: Actions, hub: FakeGitHub
) -> None:
    """Two plan jobs that raced on their first post leave two comments of one root: the next push
    edits the newest, the one the apply job reads, and retires the other."""
    actions.plan_pr(1, "h1", manifest())
    hub.comment_as(BOT, 1, plan_comment(hub, 1))  # the other run's post, a moment later
    actions.plan_pr(1, "h2", manifest(k0=12))
    marked = [b for b in hub.comments_on(1) if b.startswith("<!-- ehkeys-plan -->")]
    assert len(marked) == 1 and "`h2`" in marked[0], "one plan comment: the other retired"
    assert hub.comments_on(1)[0].startswith(
        "_Superseded by the newer ehkeys comment for `keys/keys.yaml` below"
    )
    writes = len(hub.writes())
    actions.plan_pr(1, "h3", manifest(k0=12))
    assert hub.writes()[writes:] == [f"PATCH /issues/comments/{max(hub.comments)}"], "healed: one edit"

    code, out = actions.merge_and_apply(1, "m3", manifest(k0=12))
    assert code == 0 and "as reviewed" in out, out
    assert actions.live()["key-0"]["allocated_ammount"] == 12
    record(
        "gitops", "two plan comments of one root (two first posts raced)", 1, "the newest edited and applied"
    )


def test_a_plan_whose_artifact_differs_from_the_reviewed_digest_is_refused(
    actions: Actions, hub: FakeGitHub
) -> None:
    actions.plan_pr(6, "h6", manifest(k0=11))
    artifact = next(iter(hub.artifacts.values()))
    other = hub.upload("x", "ehkeys-plan", {"plan.json": b'{"kind": "ehkeys-saved-plan"}'})
    artifact["zip"] = hub.artifacts.pop(other)["zip"]
    code, out = actions.merge_and_apply(6, "m6", manifest(k0=11))
    assert code == 1 and "not the reviewed" in out


def test_an_expired_artifact_says_so(actions: Actions, hub: FakeGitHub) -> None:
    actions.plan_pr(8, "h8", manifest(k0=11))
    next(iter(hub.artifacts.values()))["expired"] = True
    code, out = actions.merge_and_apply(8, "m8", manifest(k0=11))
    assert code == 1 and "expired or deleted" in out


def test_a_plan_that_shows_one_thing_and_applies_another_is_refused(
    actions: Actions, hub: FakeGitHub
) -> None:
    """A PR's workflow can upload any plan.json: here the shown part of `plan --target k0` with
    the changes of the whole plan, which also deletes key-1; the comment shows its digest."""
    text = manifest(k0=15).replace("  name: key-1\n", "  name: key-1\n  absent: true\n")
    actions.plan_pr(9, "h9", text)
    assert (
        actions.run(
            "github", "plan", MANIFEST, "--sandbox", *actions.seeded, "--target", "k0", "--dir", "shown"
        )[0]
        == 0
    )
    forged = put_together(Path("shown/plan.json"), Path("ehkeys-out/plan.json"))
    Path("ehkeys-out/plan.json").write_bytes(forged)
    Path("ehkeys-out/plan.md").write_bytes(Path("shown/plan.md").read_bytes())
    artifact = next(iter(hub.artifacts.values()))
    artifact["zip"] = hub.artifacts.pop(hub.upload("x", "ehkeys-plan", {"plan.json": forged}))["zip"]
    assert actions.run("github", "comment", MANIFEST)[0] == 0
    assert "0 to delete" in plan_comment(hub, 9) and ghplan.digest(forged) in plan_comment(hub, 9)
    before = actions.live()
    code, out = actions.merge_and_apply(9, "m9", text)
    assert code == 1 and "k1 would be applied (delete) but the shown plan does not list it" in out, out
    assert actions.live() == before and "key-1" in before
    assert "ehkeys apply stopped" in apply_comment(hub, 9) and "k1 would be applied" in apply_comment(hub, 9)


HOSTILE_ANSWERS = {
    "a page of HTML": ("GET /contents/", Response("<html>login</html>", media_type="text/html")),
    "a 502 from a proxy": ("GET /commits/", Response("<html>Bad Gateway</html>", 502)),
    "a file without its sha": ("GET /contents/", JSONResponse({"type": "file", "content": "e30="})),
    "content that is not base64": (
        "GET /contents/",
        JSONResponse({"type": "file", "sha": "1", "encoding": "base64", "content": "e30"}),
    ),
    "pulls that are not objects": ("GET /commits/", JSONResponse(["1", "2"])),
    "a pull without a head": (
        "GET /commits/",
        JSONResponse([{"number": 1, "merge_commit_sha": "m1", "merged_at": "t"}]),
    ),
    "a run without its commit": (
        "GET /actions/runs/1001",
        JSONResponse({"id": 1001, "event": "pull_request", "path": ".github/workflows/keys-plan.yml"}),
    ),
    "an artifact without an id": (
        "GET /actions/runs/1001/artifacts",
        JSONResponse({"artifacts": [{"name": Root(MANIFEST).artifact}]}),
    ),
    "a redirect loop": (
        "GET /actions/artifacts/",
        RedirectResponse(f"/repos/{REPO}/actions/artifacts/1/zip"),
    ),
}


@pytest.mark.parametrize("answer", HOSTILE_ANSWERS)
def test_a_broken_github_api_is_a_message_and_nothing_is_sent(
    actions: Actions, hub: FakeGitHub, answer: str
) -> None:
    text = manifest(k0=40)
    actions.plan_pr(1, "h1", text)
    before = actions.live()
    prefix, response = HOSTILE_ANSWERS[answer]
    hub.faults[prefix] = response
    code, out = actions.merge_and_apply(1, "m1", text)
    assert code == 1 and "ehkeys: error: GitHub API" in out and "internal error" not in out, out
    assert actions.live() == before


def test_a_state_write_github_answers_oddly_is_a_message(actions: Actions, hub: FakeGitHub) -> None:
    actions.plan_pr(1, "h1", manifest(analytics=5))
    hub.faults["PUT /contents/"] = Response(b"", 201)
    code, out = actions.merge_and_apply(1, "m1", manifest(analytics=5))
    assert code == 1 and f"PUT /contents/{STATE_ON_BRANCH}: the answer has no" in out, out
    assert "internal error" not in out


def test_a_state_github_would_not_take_is_said_lost_with_what_to_do(
    actions: Actions, hub: FakeGitHub
) -> None:
    actions.plan_pr(1, "h1", manifest(analytics=5))
    hub.faults["PUT /contents/"] = JSONResponse({"message": "Server Error"}, 500)
    code, out = actions.merge_and_apply(1, "m1", manifest(analytics=5))
    assert code == 1 and "analytics" in actions.live(), out
    assert f"PUT /contents/{STATE_ON_BRANCH}: HTTP 500: Server Error: this run's state was not written" in out
    assert "the next plan binds the keys again by name" in out and "run the deliver job" in out
    hub.violations.clear()  # GitHub's description lists no 500 here, though GitHub answers one


def test_an_apply_stopped_says_why_also_when_its_comment_cannot_be_posted(
    actions: Actions, hub: FakeGitHub
) -> None:
    text = manifest(k0=400)
    actions.plan_pr(1, "h1", text)
    before = actions.live()
    hub.faults["POST /issues/1/comments"] = JSONResponse({"message": "Server Error"}, 500)
    code, out = actions.merge_and_apply(1, "m1", text, MANIFEST, "--max-debit", "10")
    assert code == 1 and actions.live() == before, out
    assert "ehkeys: error: " in out and "max-debit" in out.split("ehkeys: error: ", 1)[1], out
    assert "warning: the pull request could not be told: GitHub API POST /issues/1/comments: HTTP 500" in out
    hub.violations.clear()  # GitHub's description lists no 500 here, though GitHub answers one


def test_an_artifact_that_expires_between_its_listing_and_its_download_is_planned_again(
    actions: Actions, hub: FakeGitHub
) -> None:
    text = manifest(k0=40)
    actions.plan_pr(1, "h1", text)
    before = actions.live()
    hub.faults["GET /actions/artifacts/"] = JSONResponse({"message": "Artifact has expired"}, 410)
    code, out = actions.merge_and_apply(1, "m1", text)
    assert code == 1 and "is gone (expired or deleted): plan again; nothing was sent" in out, out
    assert actions.live() == before and "Nothing was applied" in apply_comment(hub, 1)


def test_an_artifact_too_big_to_be_a_plan_is_refused_unread(
    actions: Actions, hub: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ghplan, "MAX_PLAN", 1_000_000)
    actions.plan_pr(1, "h1", manifest(k0=40))
    artifact, bomb = next(iter(hub.artifacts.values())), io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("plan.json", b" " * 50_000_000)  # 50 MB in a 50 kB zip
    artifact["zip"] = bomb.getvalue()
    code, out = actions.merge_and_apply(1, "m1", manifest(k0=40))
    assert code == 1 and "unpacks to over 1,000,000 bytes" in out and "plan again" in out

    artifact["zip"] = b"PK" + bytes(2_000_000)  # a download that is too big is not read to its end
    code, out = actions.merge_and_apply(1, "m1", manifest(k0=40))
    assert code == 1 and "over 1,000,000 bytes" in out


# --- state survives CI ------------------------------------------------------------------------


def test_state_survives_three_runs_on_its_branch(actions: Actions, hub: FakeGitHub) -> None:
    text = manifest(k0=15, analytics=5)  # weekly: a write-only value only the state can know
    actions.plan_pr(1, "h1", text)
    assert actions.merge_and_apply(1, "m1", text)[0] == 0
    stored = hub.branches["ehkeys-state"]
    assert STATE_ON_BRANCH in stored, sorted(stored)
    state = json.loads(stored[STATE_ON_BRANCH])
    assert "analytics" in state["bindings"] and "weekly" in json.dumps(state["keys"])

    writes = len(hub.writes("/contents/"))
    actions.plan_pr(2, "h2", text)  # run 2: nothing to change, so nothing to record
    assert "No changes" in plan_comment(hub, 2)
    assert actions.merge_and_apply(2, "m2", text)[0] == 0
    assert len(hub.writes("/contents/")) == writes, "a run that recorded nothing wrote the state"

    code, _ = actions.plan_pr(3, "h3", text)  # run 3: a fresh checkout still knows `weekly`
    assert code == 0 and "No changes" in plan_comment(hub, 3)
    record(
        "gitops",
        "three CI runs in fresh checkouts, manifest under keys/, one with nothing to record",
        1,
        "state kept on ehkeys-state; the empty run writes nothing",
    )


def test_a_journal_compacted_away_leaves_the_branch_and_the_plan_converges(
    actions: Actions, hub: FakeGitHub
) -> None:
    """Run 1 is cut off after sending key-0's update (the account key revoked meanwhile): the
    branch keeps a journal with that write pending. Run 2 sends it again and compacts the
    journal away; the branch copy goes too, so run 3 has nothing pending and nothing to do."""
    journal = JOURNAL_ON_BRANCH
    text = manifest(k0=15)
    original = applier.send

    async def revoked_before_key_0(op: operations.Operation, client: Any, target: Any) -> Any:
        if isinstance(op, operations.Update) and op.body["name"] == "key-0":
            actions.sql("UPDATE accounts SET api_key = 'ek-revoked' WHERE user_id = 'u1'")
        return await original(op, client, target)

    actions.plan_pr(1, "h1", text)
    actions.mp.setattr(applier, "send", revoked_before_key_0)
    code, out = actions.merge_and_apply(1, "m1", text)
    assert code == 1 and "HTTP 401" in out, out
    assert b'"sending"' in hub.branches["ehkeys-state"][journal]
    actions.mp.setattr(applier, "send", original)
    actions.sql(f"UPDATE accounts SET api_key = '{API_KEY}' WHERE user_id = 'u1'")

    actions.plan_pr(2, "h2", text)
    assert "cut off" in plan_comment(hub, 2)
    code, out = actions.merge_and_apply(2, "m2", text)
    assert code == 0 and f"{journal} (deleted) to branch" in out, out
    assert journal not in hub.branches["ehkeys-state"] and actions.live()["key-0"]["allocated_ammount"] == 15

    actions.plan_pr(3, "h3", text)
    assert "No changes" in plan_comment(hub, 3) and "cut off" not in plan_comment(hub, 3)
    record(
        "gitops",
        "an apply cut off after sending, then a run that settles it",
        1,
        "the compacted journal is deleted from the state branch; the next plan has nothing pending",
    )


def test_a_journal_another_run_wrote_meanwhile_is_never_deleted(actions: Actions, hub: FakeGitHub) -> None:
    """This run's journal is compacted away, but another run wrote the branch copy since it
    was pulled (a create still pending): the DELETE against the old sha is refused, and kept."""
    journal = JOURNAL_ON_BRANCH
    actions.plan_pr(1, "h1", manifest(analytics=5))
    actions.merge_and_apply(1, "m1", manifest(analytics=5))
    settled = b'{"address": "k9", "result": "failed", "time": "2026-11-22T10:00:00Z"}\n'
    hub.branches["ehkeys-state"][journal] = settled  # nothing pending: compacted away
    theirs = settled + b'{"address": "k8", "operation": "create", "result": "sending"}\n'
    from reconciler.gitops import state_branch as ghstate

    original = ghstate.StateBranch.pull

    def pull_then_another_run_writes(self: ghstate.StateBranch, path: Path) -> list[str]:
        pulled = original(self, path)
        hub.branches["ehkeys-state"][journal] = theirs
        return pulled

    actions.plan_pr(2, "h2", manifest(analytics=6))
    actions.mp.setattr(ghstate.StateBranch, "pull", pull_then_another_run_writes)
    code, out = actions.merge_and_apply(2, "m2", manifest(analytics=6))
    assert code == 0 and f"{journal} changed since it was read (another run?): kept" in out, out
    assert hub.branches["ehkeys-state"][journal] == theirs


def test_a_lost_state_neither_duplicates_nor_deletes(actions: Actions, hub: FakeGitHub) -> None:
    text = manifest(analytics=5)
    actions.plan_pr(1, "h1", text)
    assert actions.merge_and_apply(1, "m1", text)[0] == 0
    hub.branches.clear()  # someone deleted the state branch
    code, _ = actions.plan_pr(2, "h2", text + "prune: true\n")
    comment = plan_comment(hub, 2)
    assert code == 0 and "0 to create" in comment and "0 to delete" in comment
    assert "adopted by name" in comment
    assert actions.merge_and_apply(2, "m2", text + "prune: true\n")[0] == 0
    assert sorted(actions.live()) == ["analytics", "key-0", "key-1", "key-2"]
    record(
        "gitops",
        "the state branch deleted, prune on",
        1,
        "keys adopted by name: nothing created twice, nothing deleted",
    )


def test_a_state_branch_of_the_earlier_layout_is_moved_not_lost(actions: Actions, hub: FakeGitHub) -> None:
    """Earlier versions kept `keys/.ehkeys/sandbox/` on the branch for `keys/keys.yaml`: the
    first run after the upgrade pulls it from there, and the apply pushes it to the new place."""
    text = manifest(analytics=5)
    actions.plan_pr(1, "h1", text)
    assert actions.merge_and_apply(1, "m1", text)[0] == 0
    stored, new = hub.branches["ehkeys-state"], STATE_ON_BRANCH.rsplit("/", 1)[0] + "/"
    for path in [p for p in stored if p.startswith(new)]:  # as earlier versions kept them
        raw = stored.pop(path)
        if path == STATE_ON_BRANCH:
            data = json.loads(raw)
            del data["manifest"]
            raw = json.dumps({**data, "format_version": 3}).encode()
        stored["keys/.ehkeys/sandbox/" + path.removeprefix(new)] = raw
    keys = yaml.safe_load(text)
    keys["keys"][-1]["name"] = "Analytics v2"  # renamed: only the state knows which key it is
    renamed = yaml.safe_dump(keys, sort_keys=False)
    code, out = actions.plan_pr(2, "h2", renamed)
    assert code == 0 and "moved the state keys/.ehkeys/sandbox/state.json" in out, out
    assert "0 to create, 1 to update" in plan_comment(hub, 2)
    assert actions.merge_and_apply(2, "m2", renamed)[0] == 0
    assert sorted(actions.live()) == ["Analytics v2", "key-0", "key-1", "key-2"]
    assert "analytics" in json.loads(stored[STATE_ON_BRANCH])["bindings"]
    record("gitops", "a state branch of the earlier shared layout", 1, "pulled from there, moved, pushed")


def test_a_state_from_before_the_manifest_declared_accounts_is_pulled_and_moved(
    tmp_path: Path, hub: FakeGitHub, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """`keys/.ehkeys/keys/state.json` on the branch is the state of keys/keys.yaml before it
    declared its account: the first run after pulls it and moves it to `.../keys/prod/`, rather
    than plan every key anew from an empty state (a key renamed since created twice)."""
    actions = Actions(tmp_path, hub, monkeypatch, capsys)
    key = {"id": "backend", "name": "Backend", "allocated_ammount": 10, "limit_type": "daily"}
    before = {"version": 1, "keys": [key]}
    (tmp_path / "api").mkdir()
    with live_sandbox(tmp_path / "api", seed_data(0)) as base:
        earlier = actions.checkout(yaml.safe_dump(before), "push", "old", {})
        monkeypatch.setenv("ELECTRONHUB_API_KEY", API_KEY)
        assert actions.run("apply", MANIFEST, "--base-url", base, "--auto-approve")[0] == 0
        monkeypatch.delenv("ELECTRONHUB_API_KEY")
        state = (earlier / "keys/.ehkeys/keys/state.json").read_bytes()
        hub.branches["ehkeys-state"] = {"keys/.ehkeys/keys/state.json": state}
        after = {**before, "accounts": {"prod": {"api_key": "${EH_PROD_API_KEY}"}}}
        after["keys"] = [{**key, "name": "Backend Service"}]  # renamed: only the state knows which key
        actions.checkout(yaml.safe_dump(after), "schedule", "main-head", {})
        monkeypatch.setenv("EH_PROD_API_KEY", API_KEY)
        code, out, err = actions.run("github", "drift", MANIFEST, "--base-url", base)
    assert "moved the state keys/.ehkeys/keys/state.json" in err, out + err
    assert 'name: "Backend" -> "Backend Service"' in out and "a new key" not in out


def test_a_state_written_meanwhile_is_kept_aside_not_overwritten(actions: Actions, hub: FakeGitHub) -> None:
    text = manifest(analytics=5)
    actions.plan_pr(1, "h1", text)
    actions.merge_and_apply(1, "m1", text)
    from reconciler.gitops import state_branch as ghstate

    original = ghstate.StateBranch.pull

    def pull_then_someone_writes(self: ghstate.StateBranch, path: Path) -> list[str]:
        pulled = original(self, path)
        hub.branches["ehkeys-state"][STATE_ON_BRANCH] += b"\n"
        return pulled

    actions.mp.setattr(ghstate.StateBranch, "pull", pull_then_someone_writes)
    actions.plan_pr(2, "h2", manifest(analytics=6))
    code, out = actions.merge_and_apply(2, "m2", manifest(analytics=6))
    assert code == 1 and f"kept as {STATE_ON_BRANCH}.conflict-" in out
    assert any(".conflict-" in p for p in hub.branches["ehkeys-state"])


def test_a_state_branch_deleted_during_the_apply_is_made_again_with_this_runs_state(
    actions: Actions, hub: FakeGitHub
) -> None:
    actions.plan_pr(1, "h1", manifest(analytics=5))
    actions.merge_and_apply(1, "m1", manifest(analytics=5))
    actions.plan_pr(2, "h2", manifest(analytics=6, reports=2))
    from reconciler.gitops import state_branch as ghstate

    original = ghstate.StateBranch.pull

    def pull_then_someone_deletes_the_branch(self: ghstate.StateBranch, path: Path) -> list[str]:
        pulled = original(self, path)
        hub.branches.clear()
        return pulled

    actions.mp.setattr(ghstate.StateBranch, "pull", pull_then_someone_deletes_the_branch)
    code, out = actions.merge_and_apply(2, "m2", manifest(analytics=6, reports=2))
    assert code == 0, out
    state = json.loads(hub.branches["ehkeys-state"][STATE_ON_BRANCH])
    assert {"analytics", "reports"} <= set(state["bindings"]), "the state went aside, not to the branch"
    assert not any(".conflict-" in path for path in hub.branches["ehkeys-state"])


def test_a_bad_gateway_does_not_lose_the_state_of_an_apply(actions: Actions, hub: FakeGitHub) -> None:
    actions.plan_pr(1, "h1", manifest(analytics=5))
    hub.flaky["GET /contents/"] = 1  # GitHub's 502s come and go
    hub.flaky["PUT /contents/"] = 1
    assert actions.merge_and_apply(1, "m1", manifest(analytics=5))[0] == 0
    assert "analytics" in json.loads(hub.branches["ehkeys-state"][STATE_ON_BRANCH])["bindings"]

    actions.plan_pr(2, "h2", manifest(analytics=6, reports=2))
    hub.lost[f"PUT /contents/{STATE_ON_BRANCH}"] = 1  # written, but the answer was lost
    code, out = actions.merge_and_apply(2, "m2", manifest(analytics=6, reports=2))
    assert code == 0, out
    state = json.loads(hub.branches["ehkeys-state"][STATE_ON_BRANCH])
    assert "reports" in state["bindings"] and not any(".conflict-" in p for p in hub.branches["ehkeys-state"])


class _Once(JSONResponse):
    """GitHub's answer to one call (a 500 that comes and goes); the calls after it are served."""

    def __init__(self, hub: FakeGitHub, prefix: str, status: int) -> None:
        super().__init__({"message": "Server Error"}, status)
        self.hub, self.prefix = hub, prefix

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        del self.hub.faults[self.prefix]
        await super().__call__(scope, receive, send)


def test_a_server_error_github_answers_once_does_not_lose_the_state_of_an_apply(
    actions: Actions, hub: FakeGitHub
) -> None:
    actions.plan_pr(1, "h1", manifest(analytics=5))
    hub.faults["PUT /contents/"] = _Once(hub, "PUT /contents/", 500)
    code, out = actions.merge_and_apply(1, "m1", manifest(analytics=5))
    assert code == 0, out
    assert "analytics" in json.loads(hub.branches["ehkeys-state"][STATE_ON_BRANCH])["bindings"]
    hub.violations.clear()  # GitHub's description lists no 500 here, though GitHub answers one


def test_a_state_branch_that_cannot_be_read_stops_the_run(
    actions: Actions, hub: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_wrong")
    before = actions.live()
    code, out = actions.merge_and_apply(None, "x", manifest(k0=50))
    assert code == 1 and "HTTP 401" in out and "permissions" in out
    assert actions.live() == before


def test_a_state_file_named_by_hand_is_kept_on_the_branch(actions: Actions, hub: FakeGitHub) -> None:
    text, where = manifest(analytics=5), "keys/prod/account.json"
    actions.plan_pr(1, "h1", text)
    actions.hub.merge(1, "m1")
    actions.checkout(text, "push", "m1", {"after": "m1"})
    code, _, err = actions.run("github", "apply", MANIFEST, "--sandbox", "--state", where, *actions.seeded)
    assert code == 0 and f"state: {where} to branch" in err, err
    assert "analytics" in json.loads(hub.branches["ehkeys-state"][where])["bindings"]

    actions.checkout(text, "schedule", "m1", {})  # a fresh checkout finds it where --state says
    code, _, err = actions.run("github", "plan", MANIFEST, "--sandbox", "--state", where, *actions.seeded)
    assert code == 0 and f"state: {where} from branch" in err
    assert "No changes" in Path("ehkeys-out/plan.md").read_text()


def test_a_state_over_a_megabyte_is_read_through_the_blob_api(actions: Actions, hub: FakeGitHub) -> None:
    hub.inline_limit = 10
    text = manifest(analytics=5)
    actions.plan_pr(1, "h1", text)
    actions.merge_and_apply(1, "m1", text)
    actions.plan_pr(2, "h2", text)
    assert "No changes" in plan_comment(hub, 2) and any("/git/blobs/" in c for c in hub.calls)


# --- the plan comment --------------------------------------------------------------------------


def test_a_plan_too_long_for_a_comment_is_cut_with_a_link(actions: Actions, hub: FakeGitHub) -> None:
    actions.seed.write_text(yaml.safe_dump(seed_data(400, balance=100000.0)))
    Sandbox.open(actions.account, seeds.load(str(actions.seed)), reset=True)
    keys = [
        {"id": f"k{i}", "name": f"key-{i}", "allocated_ammount": 11, "limit_type": "daily"}
        for i in range(400)
    ]
    actions.plan_pr(4, "h4", yaml.safe_dump({"version": 1, "keys": keys}))
    comment = plan_comment(hub, 4)
    assert "400 to update" in comment and "0 to create" in comment
    assert len(comment) <= 65_536 and "Cut here" in comment and "Reviewed plan `sha256:" in comment
    assert comment.count("<details>") == comment.count("</details>")
    saved = Path("ehkeys-out/plan.json")
    assert actions.run("show", str(saved))[1].count("key-") >= 400, "the full plan is in the artifact"


# --- drift says what happened ------------------------------------------------------------------


def drift_issue(hub: FakeGitHub) -> dict[str, Any]:
    return next(i for i in hub.issues.values() if "ehkeys-drift" in i.get("labels", []))


def unchecked(body: str) -> str:
    """A drift issue's body without its "Last checked" line, which each run edits."""
    return re.sub(f"^{re.escape(CHECKED)}.*$", "", body, flags=re.MULTILINE)


def test_a_key_the_drift_issue_could_not_be_told_of_is_still_new_on_the_next_run(
    actions: Actions, hub: FakeGitHub
) -> None:
    """drift-seen.json records the keys the issue has said are new: pushed before the issue
    call, a failed call (issues off: 410, GitHub down) left them 'seen' and never said new."""
    text = manifest(k0=15)
    actions.plan_pr(1, "h1", text)
    assert actions.merge_and_apply(1, "m1", text)[0] == 0
    actions.sql(
        "INSERT INTO keys SELECT 'ek-proxy-dashboard-made-0001', user_id, 'made-by-hand', expires_at, "
        "allocated_ammount, used_ammount, limit_type, model_whitelist, ip_whitelist, is_active, "
        "enabled_thinking, created_at, last_used FROM keys WHERE name = 'key-0'"
    )
    hub.faults["POST /issues"] = JSONResponse({"message": "Issues are disabled for this repo"}, 410)
    code, out = actions.drift(text)
    assert code == 1 and "Issues are disabled" in out
    assert not any(p.endswith("drift-seen.json") for p in hub.branches.get("ehkeys-state", {}))
    hub.faults.clear()
    assert "drift issue: opened" in actions.drift(text)[1]
    assert "**new** since the last drift run" in drift_issue(hub)["body"]
    assert any(p.endswith("drift-seen.json") for p in hub.branches["ehkeys-state"])


def test_the_drift_issue_tells_what_happened_and_only_changes_when_that_does(
    actions: Actions, hub: FakeGitHub
) -> None:
    text = manifest(k0=15)
    actions.plan_pr(1, "h1", text)
    assert actions.merge_and_apply(1, "m1", text)[0] == 0
    assert "in sync, nothing open" in actions.drift(text)[1]

    actions.sql("UPDATE keys SET name = 'renamed', ip_whitelist = '[]' WHERE name = 'key-1'")
    code, out = actions.drift(text)
    assert code == 0 and "drift issue: opened" in out
    body = drift_issue(hub)["body"]
    assert "Changed outside ehkeys" in body and "renamed" in body and "ip_whitelist" in body

    actions.set_used("key-1", "7.5")  # only usage moved: the findings are the same
    edits = len(hub.writes("PATCH /issues/"))
    assert "drift issue: unchanged" in actions.drift(text)[1]
    assert len(hub.writes("PATCH /issues/")) == edits + 1, "its last-checked line alone"
    assert unchecked(drift_issue(hub)["body"]) == unchecked(body)

    actions.sql(
        "INSERT INTO keys SELECT 'ek-proxy-dashboard-made-0001', user_id, 'made-by-hand', expires_at, "
        "allocated_ammount, used_ammount, limit_type, model_whitelist, ip_whitelist, is_active, "
        "enabled_thinking, created_at, last_used FROM keys WHERE name = 'key-0'"
    )
    assert "drift issue: updated" in actions.drift(text)[1]
    body = drift_issue(hub)["body"]
    assert "made-by-hand" in body and "new" in body.lower() and "dashboard-made" not in body
    assert any(p.endswith("drift-seen.json") for p in hub.branches["ehkeys-state"])

    actions.sql("DELETE FROM keys WHERE name = 'made-by-hand'")
    actions.sql("UPDATE keys SET name = 'key-1', ip_whitelist = '[\"10.0.0.0/8\"]' WHERE name = 'renamed'")
    assert "drift issue: closed" in actions.drift(text)[1]
    assert drift_issue(hub)["state"] == "closed"


def test_the_drift_issue_says_when_and_by_which_run_it_was_last_checked(
    actions: Actions, hub: FakeGitHub
) -> None:
    """A schedule GitHub disabled (60 days without activity) left an open issue as it was, the
    same as an account whose drift had not changed: its "Last checked" line now shows the run."""
    text = manifest(k0=15)
    actions.plan_pr(1, "h1", text)
    assert actions.merge_and_apply(1, "m1", text)[0] == 0
    actions.sql("UPDATE keys SET name = 'renamed' WHERE name = 'key-1'")
    for said in ("drift issue: opened", "drift issue: unchanged"):
        hub.calls.clear()
        assert said in actions.drift(text)[1]
        body = drift_issue(hub)["body"]
        line = re.search(r"\*\*Last checked:\*\* (\S+ \S+) UTC \(\[the run\]\((\S+)\)\)", body)
        assert line, body
        assert line[2] == f"https://github.example/{REPO}/actions/runs/{1000 + actions.runs}"
        when = datetime.datetime.strptime(line[1], "%Y-%m-%d %H:%M").replace(tzinfo=datetime.timezone.utc)
        assert abs(datetime.datetime.now(datetime.timezone.utc) - when) < datetime.timedelta(minutes=2)
        assert body.index("### ehkeys drift") < body.index(CHECKED) < body.index("Changed outside ehkeys")
        assert CHECKED in actions.summary()
    assert [c for c in hub.calls if "/issues" in c] == ["GET /issues", "PATCH /issues/2"], (
        "an edit, no comment"
    )
    assert hub.comments_on(2) == []


def test_the_drift_issue_and_summary_show_where_the_credit_goes_without_editing_for_usage(
    actions: Actions, hub: FakeGitHub
) -> None:
    text = manifest()
    actions.plan_pr(1, "h1", text)
    assert actions.merge_and_apply(1, "m1", text)[0] == 0
    assert "in sync, nothing open" in actions.drift(text)[1]
    summary = actions.summary()  # in sync: no issue, but the day's usage in the job summary
    assert "**Unused for 30 days or more (3):**" in summary  # made 2024-01-01, never used
    assert "in sync, nothing open" in actions.drift(text, "--unused-days", "100000")[1]  # action: unused-days
    assert "**Unused for 100000 days or more (0).**" in actions.summary()
    summary = actions.summary()
    assert summary.index("<!-- ehkeys-drift -->") < summary.index("<!-- ehkeys-usage -->")
    assert "### ehkeys usage: 6.00 of 30.00 credits used (20.0%) by 3 keys" in summary
    assert parse_mermaid(mermaid_block(summary)).labels == ["key-0", "key-1", "key-2"]

    actions.sql("UPDATE keys SET name = 'renamed' WHERE name = 'key-1'")
    assert "drift issue: opened" in actions.drift(text)[1]
    body = drift_issue(hub)["body"]
    assert body.index("Changed outside ehkeys") < body.index("<!-- ehkeys-usage -->")
    assert "| renamed (ek-proxy-…part) | 10.00 | 2.00 | 20.0% | yes | daily |" in body
    assert "### ehkeys usage: 6.00 of 30.00 credits used" in body

    actions.set_used("key-0", "8.5")  # only usage moved (under --usage-warning): the issue stays
    edits = len(hub.writes("PATCH /issues/"))
    assert "drift issue: unchanged" in actions.drift(text)[1]
    assert len(hub.writes("PATCH /issues/")) == edits + 1, "its last-checked line alone"
    assert unchecked(drift_issue(hub)["body"]) == unchecked(body)
    assert "| key-0 (ek-proxy-…part) | 10.00 | 8.50 | 85.0% | yes | daily |" in actions.summary()

    actions.set_used("key-2", "1")
    actions.sql("DELETE FROM keys WHERE name = 'renamed'")  # the findings change: the usage with them
    assert "drift issue: updated" in actions.drift(text)[1]
    body = drift_issue(hub)["body"]
    assert "deleted outside ehkeys" in body and "| key-0 (ek-proxy-…part) | 10.00 | 8.50 | 85.0%" in body
    assert "renamed (ek-proxy" not in body.split("<!-- ehkeys-usage -->")[1]
