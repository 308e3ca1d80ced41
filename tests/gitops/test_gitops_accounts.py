"""One manifest of two accounts (prod and staging) through the GitOps loop: the plan job, the
comment job, the merge, the apply job and the drift job, against the fake GitHub and a sandbox
served on a loopback port that serves both accounts by their own keys.

Each account's key comes from its own variable (`EH_PROD_API_KEY`, `EH_STAGING_API_KEY`), as
the workflow's step `env:` gives them; the state of each account lives on the state branch in
its own folder, `keys/.ehkeys/keys/<account>/`. Each run is a fresh checkout.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.apply import applier
from reconciler.core import operations
from reconciler.gitops import state_branch
from reconciler.sandbox import Sandbox
from reconciler.sandbox import seed as seeds

from ..fakegithub import REPO, FakeGitHub
from ..reliability_log import record
from ..served import serving
from . import test_gitops as gitops
from .test_gitops import Actions

pytestmark = pytest.mark.slow  # the GitOps jobs end to end: several jobs per test against the fake GitHub

hub = gitops.hub
MANIFEST = "keys/keys.yaml"
PROD_KEY, STAGING_KEY = "ek-test-prod-account", "ek-test-staging-account"
USERS = {"prod": "u1", "staging": "u2"}
STATE = {name: f"keys/.ehkeys/keys/{name}/state.json" for name in USERS}
PLAN, APPLY = "<!-- ehkeys-plan -->", "<!-- ehkeys-apply -->"


def seed() -> dict[str, Any]:
    """prod holds Backend (100 allocated, 30 used), staging holds Web (10 allocated, 2 used)."""
    live = {"expires_at": -1, "limit_type": "monthly", "model_whitelist": [], "ip_whitelist": []}
    return {
        "accounts": [
            {"user_id": "u1", "name": "prod", "api_key": PROD_KEY, "balance": 1000.0},
            {"user_id": "u2", "name": "staging", "api_key": STAGING_KEY, "balance": 100.0},
        ],
        "keys": [
            {"key": "ek-proxy-prod-backend-0001", "user_id": "u1", "name": "Backend", **live}
            | {"allocated_ammount": 100.0, "used_ammount": 30.0},
            {"key": "ek-proxy-staging-web-00002", "user_id": "u2", "name": "Web", **live}
            | {"allocated_ammount": 10.0, "used_ammount": 2.0},
        ],
        "rate_limit": {"requests": 100_000, "window_s": 60},
    }


def manifest(backend: float = 100, web: float = 10, analytics: float = 0, backend_in: str = "prod") -> str:
    """backend and web as seeded (at these allocations); analytics, a new prod key, when given."""
    keys = [
        {"id": "backend", "account": backend_in, "name": "Backend", "allocated_ammount": backend},
        {"id": "web", "account": "staging", "name": "Web", "allocated_ammount": web},
    ]
    if analytics:
        keys.append(
            {"id": "analytics", "account": "prod", "name": "Analytics", "allocated_ammount": analytics}
        )
    doc = {
        "version": 1,
        "accounts": {
            "prod": {"api_key": "${EH_PROD_API_KEY}"},
            "staging": {"api_key": "${EH_STAGING_API_KEY}"},
        },
        "defaults": {"limit_type": "monthly"},
        "keys": keys,
    }
    return yaml.safe_dump(doc, sort_keys=False)


class Loop(Actions):
    """The jobs as the workflows run them, each account's key from its variable."""

    def __init__(self, tmp: Path, hub: FakeGitHub, mp: pytest.MonkeyPatch, capsys: Any, base: str) -> None:
        super().__init__(tmp, hub, mp, capsys)
        self.db = tmp / "accounts.db"
        mp.setenv("ELECTRONHUB_BASE_URL", base)
        mp.setenv("EH_PROD_API_KEY", PROD_KEY)
        mp.setenv("EH_STAGING_API_KEY", STAGING_KEY)

    def plan(self, number: int, head: str, text: str) -> tuple[int, str]:
        """keys-plan on a push to the PR: plan, upload the plan as the root's artifact, comment."""
        self.hub.pulls.get(number) or self.hub.open_pull(number, head)
        self.hub.pulls[number]["head"]["sha"] = head
        self.hub.change(number, MANIFEST)
        payload = {"pull_request": {"number": number, "head": {"sha": head, "repo": {"full_name": REPO}}}}
        workspace = self.checkout(text, "pull_request", f"test-merge-{head}", payload)
        self.hub.start_run(str(1000 + self.runs), head)
        code, out, err = self.run("github", "plan", MANIFEST)
        saved = workspace / "ehkeys-out" / "plan.json"
        if saved.exists():
            self.hub.upload(
                str(1000 + self.runs), self.outputs()["artifact"], {"plan.json": saved.read_bytes()}
            )
        comment = self.run("github", "comment", MANIFEST)  # the action's comment step runs always()
        assert comment[0] == (0 if saved.exists() else 1), comment
        return code, out + err + comment[1] + comment[2]

    def apply(self, number: int, sha: str, text: str) -> tuple[int, str]:
        """keys-apply on the push of the merge commit."""
        self.hub.merge(number, sha)
        self.checkout(text, "push", sha, {"after": sha})
        code, out, err = self.run("github", "apply", MANIFEST)
        return code, out + err + self.summary()

    def check(self, text: str) -> tuple[int, str]:
        """keys-drift on its schedule."""
        self.checkout(text, "schedule", "main-head", {})
        code, out, err = self.run("github", "drift", MANIFEST)
        return code, out + err

    def balance(self, account: str) -> Decimal:
        with sqlite3.connect(self.db) as db:
            (found,) = db.execute(
                "SELECT balance FROM accounts WHERE user_id = ?", (USERS[account],)
            ).fetchone()
        return Decimal(str(found))

    def keys(self, account: str) -> dict[str, Decimal]:
        """The account's live keys: name -> allocation."""
        with sqlite3.connect(self.db) as db:
            rows = db.execute(
                "SELECT name, allocated_ammount FROM keys WHERE user_id = ?", (USERS[account],)
            ).fetchall()
        return {name: Decimal(str(amount)) for name, amount in rows}

    def sql(self, statement: str, *params: Any) -> None:
        with sqlite3.connect(self.db) as db:
            db.execute(statement, params)


@pytest.fixture
def loop(tmp_path: Path, hub: FakeGitHub, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Iterator[Loop]:
    path = tmp_path / "accounts-seed.yaml"
    path.write_text(yaml.safe_dump(seed()))
    box = Sandbox.open(tmp_path / "accounts.db", seeds.load(str(path)))
    with serving(box.app) as (url,):
        yield Loop(tmp_path, hub, monkeypatch, capsys, f"{url}/v1")


def comment(hub: FakeGitHub, number: int, marker: str) -> str:
    (found,) = [body for body in hub.comments_on(number) if marker in body]
    return found


def section(body: str, account: str) -> str:
    """The Markdown of one account's section (up to the next account's)."""
    return body.split(f"#### Account {account}", 1)[1].split("#### Account ", 1)[0]


def state(hub: FakeGitHub, account: str) -> dict[str, Any]:
    return json.loads(hub.branches["ehkeys-state"][STATE[account]])


# --- reviewed, applied exactly, state per account -------------------------------------------


def test_both_accounts_are_planned_reviewed_applied_and_kept_apart(loop: Loop, hub: FakeGitHub) -> None:
    text = manifest(backend=150, web=4, analytics=25)
    code, out = loop.plan(1, "h1", text)
    assert code == 0, out
    shown = comment(hub, 1, PLAN)
    assert "### ehkeys plan `keys/keys.yaml`: 1 to create, 2 to update" in shown
    prod, staging = section(shown, "prod"), section(shown, "staging")
    assert "Backend" in prod and "Analytics" in prod and "| -50.00 |" in prod and "| -25.00 |" in prod
    assert "net -75.00; balance 1,000.00 → 925.00" in prod
    assert "Web" in staging and "Analytics" not in staging and "| +6.00 |" in staging
    assert "net +6.00; balance 100.00 → 106.00" in staging
    assert "net -69.00" not in shown, "credit never nets across accounts"
    saved = json.loads(Path("ehkeys-out/plan.json").read_text())
    assert saved["format_version"] == 5, "the artifact holds a part per account (and the moves)"

    code, out = loop.apply(1, "m1", text)
    assert code == 0, out
    assert (loop.balance("prod"), loop.balance("staging")) == (Decimal(925), Decimal(106))
    assert loop.keys("prod") == {"Backend": Decimal(150), "Analytics": Decimal(25)}
    assert loop.keys("staging") == {"Web": Decimal(4)}
    result = comment(hub, 1, APPLY)
    assert "### ehkeys apply `keys/keys.yaml`" in result
    assert "Balance 1,000.00 → 925.00" in section(result, "prod") and "as reviewed" in section(result, "prod")
    assert "Balance 100.00 → 106.00" in section(result, "staging")
    assert "as reviewed" in section(result, "staging")
    summary = loop.summary()
    assert summary.count("### ehkeys apply") == 1, "one report in the job summary, each account named"
    assert "Balance 1,000.00 → 925.00" in section(summary, "prod") and "→ 106.00" in section(
        summary, "staging"
    )

    branch = hub.branches["ehkeys-state"]
    assert sorted(p for p in branch if p.endswith("state.json")) == sorted(STATE.values())
    assert set(state(hub, "prod")["bindings"]) == {"backend", "analytics"}
    assert set(state(hub, "staging")["bindings"]) == {"web"}

    code, out = loop.plan(2, "h2", text)  # a fresh checkout: the state comes from its branch alone
    assert code == 0 and f"state: {STATE['prod']}, {STATE['staging']} from branch" in out, out
    again = comment(hub, 2, PLAN)
    assert "0 to create, 0 to update, 0 to delete, 3 unchanged, 0 errors" in again
    assert "adopted" not in again and "#### Account staging" in again
    record(
        "gitops",
        "one manifest of two accounts through plan, comment, merge and apply",
        1,
        "a section and credits each; each account's part of the reviewed plan applied; a state folder each",
    )


def test_a_key_moved_in_one_account_after_review_is_skipped_there_only(loop: Loop, hub: FakeGitHub) -> None:
    text = manifest(backend=150, web=4)
    loop.plan(1, "h1", text)
    loop.sql("UPDATE keys SET used_ammount = 3 WHERE name = 'Web'")  # spent since the review
    code, out = loop.apply(1, "m1", text)
    assert code == 3, out
    assert loop.keys("prod")["Backend"] == 150 and loop.balance("prod") == 950
    assert loop.keys("staging")["Web"] == 10 and loop.balance("staging") == 100
    result = comment(hub, 1, APPLY)
    assert "skipped" in section(result, "staging") and "used_ammount" in section(result, "staging")
    assert "skipped" not in section(result, "prod") and "as reviewed" in section(result, "prod")


def test_the_drift_issue_shows_each_account(loop: Loop, hub: FakeGitHub) -> None:
    text = manifest(backend=150, analytics=25)
    loop.plan(1, "h1", text)
    assert loop.apply(1, "m1", text)[0] == 0
    code, out = loop.check(text)
    assert code == 0 and "drift issue: in sync, nothing open" in out, out

    loop.sql("UPDATE keys SET name = 'Web (renamed)' WHERE name = 'Web'")
    code, out = loop.check(text)
    assert code == 0 and "drift issue: opened" in out, out
    body = gitops.drift_issue(hub)["body"]
    assert "<!-- ehkeys-root: keys/keys.yaml -->" in body and "1 of 2 accounts: staging" in body
    assert "Web (renamed)" in section(body, "staging") and "renamed" not in section(body, "prod")

    loop.sql("UPDATE keys SET allocated_ammount = 99 WHERE name = 'Analytics'")
    assert "drift issue: updated" in loop.check(text)[1]
    body = gitops.drift_issue(hub)["body"]
    assert "2 of 2 accounts: prod, staging" in body and "Analytics" in section(body, "prod")

    loop.sql("UPDATE keys SET name = 'Web' WHERE name = 'Web (renamed)'")
    loop.sql("UPDATE keys SET allocated_ammount = 25 WHERE name = 'Analytics'")
    assert "drift issue: closed" in loop.check(text)[1]
    assert any(p.endswith("prod/drift-seen.json") for p in hub.branches["ehkeys-state"])
    assert any(p.endswith("staging/drift-seen.json") for p in hub.branches["ehkeys-state"])


# --- one account's key refused ----------------------------------------------------------------

REFUSED = {
    "a key the API refuses": "HTTP 401",
    "an unset variable": "EH_STAGING_API_KEY is not set",
    "another key than the plan's": "planned with another account key than EH_STAGING_API_KEY holds now",
}


def refuse_staging(loop: Loop, how: str) -> None:
    if how == "an unset variable":
        loop.mp.delenv("EH_STAGING_API_KEY")
    elif how == "a key the API refuses":  # revoked in the dashboard: the same key, refused
        loop.sql("UPDATE accounts SET api_key = 'ek-test-revoked' WHERE user_id = 'u2'")
    else:  # a key another account's, say: never the account the plan was reviewed against
        loop.mp.setenv("EH_STAGING_API_KEY", "ek-test-revoked-staging")


@pytest.mark.parametrize("how", REFUSED)
def test_one_accounts_refused_key_is_its_error_and_the_other_is_applied(
    loop: Loop, hub: FakeGitHub, how: str
) -> None:
    text = manifest(backend=150, web=4)
    loop.plan(1, "h1", text)
    refuse_staging(loop, how)
    code, out = loop.apply(1, "m1", text)
    assert code == 1, out
    assert (loop.keys("prod")["Backend"], loop.balance("prod")) == (150, 950)
    assert (loop.keys("staging")["Web"], loop.balance("staging")) == (10, 100)
    result = comment(hub, 1, APPLY)
    staging = section(result, "staging")
    assert staging.startswith("\n\n**Not applied: ") and REFUSED[how] in staging, staging
    assert "EH_STAGING_API_KEY" in staging and "Apply complete" not in staging
    assert "as reviewed" in section(result, "prod") and "Balance 1,000.00 → 950.00" in section(result, "prod")
    summary = loop.summary()
    assert "#### Account prod" in summary and "#### Account staging\n\n**Not applied: " in summary
    assert "ek-test-revoked" not in result + out + summary
    assert "backend" in state(hub, "prod")["bindings"], "prod's state pushed though staging failed"
    assert STATE["staging"] not in hub.branches["ehkeys-state"]

    loop.mp.setenv("EH_STAGING_API_KEY", STAGING_KEY)  # the secret fixed: staging's change planned again
    loop.sql("UPDATE accounts SET api_key = ? WHERE user_id = 'u2'", STAGING_KEY)
    assert loop.plan(2, "h2", text)[0] == 0
    again = comment(hub, 2, PLAN)
    assert "No changes" in section(again, "prod") and "| +6.00 |" in section(again, "staging")
    assert loop.apply(2, "m2", text)[0] == 0
    assert (loop.balance("prod"), loop.balance("staging")) == (950, 106)
    record(
        "gitops",
        f"one account's key refused ({how}) when the reviewed plan of two accounts is applied",
        1,
        "the other applied as reviewed and its state pushed; the comment and job summary name the variable",
    )


def test_an_account_cut_off_part_way_leaves_its_journal_and_the_other_applied(
    loop: Loop, hub: FakeGitHub
) -> None:
    text = manifest(backend=150, web=4)
    original = applier.send

    async def revoked_before_web(op: operations.Operation, client: Any, target: Any) -> Any:
        if isinstance(op, operations.Update) and op.body["name"] == "Web":
            loop.sql("UPDATE accounts SET api_key = 'ek-test-revoked' WHERE user_id = 'u2'")
        return await original(op, client, target)

    loop.plan(1, "h1", text)
    loop.mp.setattr(applier, "send", revoked_before_web)
    code, out = loop.apply(1, "m1", text)
    assert code == 1, out
    assert "account staging: stopped part-way" in out and "HTTP 401" in out
    assert loop.balance("prod") == 950 and loop.balance("staging") == 100
    staging = section(comment(hub, 1, APPLY), "staging")
    assert staging.startswith("\n\n**Stopped part-way: ") and "the journal lists them" in staging
    assert "No change was seen to land before it stopped; nothing more was sent" in staging, staging
    assert (
        b'"sending"' in hub.branches["ehkeys-state"][STATE["staging"].replace("state.json", "journal.jsonl")]
    )

    loop.mp.setattr(applier, "send", original)
    loop.sql("UPDATE accounts SET api_key = ? WHERE user_id = 'u2'", STAGING_KEY)
    loop.plan(2, "h2", text)
    assert "cut off" in section(comment(hub, 2, PLAN), "staging")
    assert loop.apply(2, "m2", text)[0] == 0 and loop.balance("staging") == 106


def test_the_drift_issue_reports_the_account_it_can_read_and_names_the_one_it_cannot(
    loop: Loop, hub: FakeGitHub
) -> None:
    text = manifest(backend=150)
    loop.plan(1, "h1", text)
    assert loop.apply(1, "m1", text)[0] == 0
    loop.mp.setenv("EH_STAGING_API_KEY", "ek-test-revoked-staging")
    code, out = loop.check(text)
    assert code == 1 and "drift issue: nothing open" in out, out

    loop.sql("UPDATE keys SET name = 'Backend (renamed)' WHERE name = 'Backend'")
    code, out = loop.check(text)
    assert code == 1 and "drift issue: opened" in out, out
    body = gitops.drift_issue(hub)["body"]
    assert "Backend (renamed)" in section(body, "prod")
    assert "HTTP 401" in section(body, "staging") and "EH_STAGING_API_KEY" in section(body, "staging")
    assert "ek-test-revoked" not in body

    loop.sql("UPDATE keys SET name = 'Backend' WHERE name = 'Backend (renamed)'")
    code, out = loop.check(text)
    assert code == 1 and "drift issue: updated" in out, "staging unchecked: never closed"
    issue = gitops.drift_issue(hub)
    assert issue["state"] == "open" and "Backend (renamed)" not in issue["body"]

    loop.mp.setenv("EH_STAGING_API_KEY", STAGING_KEY)
    code, out = loop.check(text)
    assert code == 0 and "drift issue: closed" in out
    record(
        "gitops",
        "a scheduled drift check of two accounts, one's key refused",
        1,
        "the other's drift reported with the refused one's error; the issue is not closed until both are checked",
    )


def test_an_accounts_max_debit_refuses_that_account_and_names_its_setting(
    loop: Loop, hub: FakeGitHub
) -> None:
    doc = yaml.safe_load(manifest(backend=150, web=4))
    doc["accounts"]["prod"]["max_debit"] = 20
    text = yaml.safe_dump(doc, sort_keys=False)
    loop.plan(1, "h1", text)
    code, out = loop.apply(1, "m1", text)
    assert code == 1, out
    assert loop.balance("prod") == 1000 and loop.balance("staging") == 106
    prod = section(comment(hub, 1, APPLY), "prod")
    assert "Not applied: the plan debits 50.00 credits, over account prod's max_debit 20.00" in prod, prod
    assert "--max-debit" not in prod, "the job was given no --max-debit: the manifest's setting refused it"
    assert "| update | updated |" in section(comment(hub, 1, APPLY), "staging")


# --- a key moved between accounts ---------------------------------------------------------------


def test_a_key_moved_between_accounts_through_a_pr(loop: Loop, hub: FakeGitHub) -> None:
    text = manifest(backend=150)
    loop.plan(1, "h1", text)
    assert loop.apply(1, "m1", text)[0] == 0  # prod 950, staging 100; Backend 150, 30 used

    moved = manifest(backend=50, backend_in="staging")
    assert loop.plan(2, "h2", moved)[0] == 0
    shown = comment(hub, 2, PLAN)
    assert "Moves between accounts" in shown
    assert (
        "backend: moves from account prod to staging: deleted in prod (120.00 refunded, est.), "
        "created in staging (50.00 debited)"
    ) in shown
    assert "Backend" in section(shown, "prod") and "Backend" in section(shown, "staging")

    code, out = loop.apply(2, "m2", moved)
    assert code == 0, out
    assert loop.keys("prod") == {} and loop.balance("prod") == 950 + 120
    assert loop.keys("staging") == {"Web": Decimal(10), "Backend": Decimal(50)}
    assert loop.balance("staging") == 100 - 50
    result = comment(hub, 2, APPLY)
    assert "| - | Backend" in section(result, "prod") and "+120.00" in section(result, "prod")
    assert "| + | Backend" in section(result, "staging") and "-50.00" in section(result, "staging")
    assert "backend" not in state(hub, "prod")["bindings"]
    assert set(state(hub, "staging")["bindings"]) == {"web", "backend"}

    assert loop.plan(3, "h3", moved)[0] == 0
    assert "0 to create, 0 to update, 0 to delete, 2 unchanged, 0 errors" in comment(hub, 3, PLAN)
    code, out = loop.check(moved)
    assert code == 0 and "drift issue: in sync, nothing open" in out, out


def test_a_key_moving_to_an_account_whose_key_is_refused_is_kept_where_it_is(
    loop: Loop, hub: FakeGitHub
) -> None:
    """Deleting it in prod while staging cannot create it would leave its service without a key."""
    text = manifest(backend=150)
    loop.plan(1, "h1", text)
    assert loop.apply(1, "m1", text)[0] == 0
    moved = manifest(backend=50, web=4, backend_in="staging")
    loop.plan(2, "h2", moved)
    loop.mp.setenv("EH_STAGING_API_KEY", "ek-test-revoked-staging")
    code, out = loop.apply(2, "m2", moved)
    assert code == 1, out
    assert loop.keys("prod") == {"Backend": Decimal(150)} and loop.balance("prod") == 950
    assert loop.keys("staging") == {"Web": Decimal(10)} and loop.balance("staging") == 100
    prod = section(comment(hub, 2, APPLY), "prod")
    assert "| ! | Backend" in prod and "moves to account staging" in prod and "not deleted here" in prod, prod
    assert "backend" in state(hub, "prod")["bindings"]

    loop.mp.setenv("EH_STAGING_API_KEY", STAGING_KEY)
    assert loop.plan(3, "h3", moved)[0] == 0
    assert "backend: moves from account prod to staging" in comment(hub, 3, PLAN)
    assert loop.apply(3, "m3", moved)[0] == 0
    assert loop.keys("prod") == {} and loop.keys("staging") == {"Web": Decimal(4), "Backend": Decimal(50)}
    assert (loop.balance("prod"), loop.balance("staging")) == (950 + 120, 100 + 6 - 50)
    record(
        "gitops",
        "a key moved between accounts through a PR, the target account's key refused at the merge",
        1,
        "kept in the source account (its delete skipped, named); moved by the next PR",
    )


def test_an_account_the_reviewed_plan_could_not_read_is_not_applied_unreviewed(
    loop: Loop, hub: FakeGitHub
) -> None:
    """staging's key was refused when the PR was planned, fixed before the merge: the reviewed
    plan has no plan of staging, so its changes now were never reviewed."""
    text = manifest(backend=150, web=4)
    loop.mp.setenv("EH_STAGING_API_KEY", "ek-test-revoked-staging")
    code, out = loop.plan(1, "h1", text)
    assert code == 1, "the plan job fails: staging could not be read"
    shown = comment(hub, 1, PLAN)
    assert "| -50.00 |" in section(shown, "prod") and "HTTP 401" in section(shown, "staging")
    assert "EH_STAGING_API_KEY" in section(shown, "staging") and "ek-test-revoked" not in shown

    loop.mp.setenv("EH_STAGING_API_KEY", STAGING_KEY)
    code, out = loop.apply(1, "m1", text)
    assert code == 1, out
    assert loop.balance("prod") == 950 and loop.keys("staging") == {"Web": Decimal(10)}
    staging = section(comment(hub, 1, APPLY), "staging")
    assert staging.startswith("\n\n**Not applied: ") and "never reviewed" in staging, staging
    assert "plan again" in staging


# --- the state branch ----------------------------------------------------------------------------


def test_one_accounts_state_written_meanwhile_never_keeps_the_others_from_the_branch(
    loop: Loop, hub: FakeGitHub
) -> None:
    """prod's state.json changed on the branch while the apply held it: prod's copy goes aside;
    staging's state is still pushed, else tomorrow's drift check would call its apply drift."""
    loop.plan(1, "h1", manifest(backend=150))
    assert loop.apply(1, "m1", manifest(backend=150))[0] == 0
    text = manifest(backend=160, web=4)
    loop.plan(2, "h2", text)
    original = state_branch.StateBranch.pull

    def pull_then_another_run_writes_prod(self: state_branch.StateBranch, path: Path) -> list[str]:
        pulled = original(self, path)
        hub.branches["ehkeys-state"][STATE["prod"]] += b"\n"
        return pulled

    loop.mp.setattr(state_branch.StateBranch, "pull", pull_then_another_run_writes_prod)
    code, out = loop.apply(2, "m2", text)
    assert code == 1 and f"kept as {STATE['prod']}.conflict-" in out, out
    assert f"{STATE['staging']} to branch" in out, out
    loop.mp.setattr(state_branch.StateBranch, "pull", original)
    code, out = loop.check(text)  # prod's own record of the apply is the copy kept aside
    assert code == 0 and "drift issue: opened" in out, out
    body = gitops.drift_issue(hub)["body"]
    assert "Backend" in section(body, "prod") and "Web" not in section(body, "staging"), body


def test_a_key_rotated_by_hand_in_an_account_the_run_leaves_out_is_refused_before_the_state_is_read(
    loop: Loop,
) -> None:
    """`github rotate --now --target prod/backend --account staging` would rotate nothing: it is
    refused naming both, in the log and the job summary, with no drift issue and nothing read;
    the key named by its address, or bare, in its own account is rotated."""
    text = manifest()
    assert loop.plan(1, "h1", text)[0] == 0 and loop.apply(1, "m1", text)[0] == 0
    loop.checkout(text, "workflow_dispatch", "main-head", {})
    code, out, err = loop.run(
        "github", "rotate", MANIFEST, "--now", "--target", "prod/backend", "--account", "staging"
    )
    said = "--target 'prod/backend': a key of account prod, which --account leaves out"
    assert code == 1 and said in err and said in loop.summary() and "state:" not in out + err
    assert not [i for i in loop.hub.issues.values() if "pull_request" not in i]
    loop.checkout(text, "workflow_dispatch", "main-head", {})
    code, out, err = loop.run("github", "rotate", MANIFEST, "--now", "--target", "backend", "--overlap", "0")
    assert code == 0 and "[prod] Apply complete: 1 rotated, 1 deleted." in out, out + err
