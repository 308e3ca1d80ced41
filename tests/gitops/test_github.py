"""The PR comment and the drift issue, against the fake GitHub API (tests/fakegithub.py)."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.responses import JSONResponse

from reconciler.cli.main import main
from reconciler.gitops.hub import GitHub, GitHubError
from reconciler.gitops.issues import CHECKED, DRIFT_LABEL, checked, sync_drift_issue, upsert_comment
from reconciler.gitops.reviewed_plan import LIMIT, Artifact, PlanMeta, comment_body

from ..fakegithub import BOT, FakeGitHub, on_actions

MARKER = "<!-- ehkeys-plan -->"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    hub = FakeGitHub()
    hub.open_pull(12, "abc")
    with on_actions(hub, monkeypatch):
        yield hub


def drift_body(digest: str, text: str) -> str:
    return f"<!-- ehkeys-drift -->\n<!-- ehkeys-drift-digest: {digest} -->\n\n{text}\n"


def test_one_plan_comment_is_kept_up_to_date(fake: FakeGitHub) -> None:
    hub = GitHub.from_env()
    results = [upsert_comment(hub, 12, f"{MARKER}\n{v} plan\n", MARKER) for v in ("first", "second", "third")]
    assert results == ["created", "updated", "updated"]
    assert fake.comments_on(12) == [f"{MARKER}\nthird plan\n"]


def test_an_unchanged_comment_is_not_edited(fake: FakeGitHub) -> None:
    hub = GitHub.from_env()
    upsert_comment(hub, 12, f"{MARKER}\nsame\n", MARKER)
    upsert_comment(hub, 12, f"{MARKER}\nsame\n", MARKER)
    assert fake.writes("PATCH") == []


def test_other_comments_are_left_alone(fake: FakeGitHub) -> None:
    fake.comments[1] = {"id": 1, "issue": 12, "body": "LGTM", "user": {"type": "User"}}
    hub = GitHub.from_env()
    upsert_comment(hub, 12, f"{MARKER}\nplan", MARKER)
    upsert_comment(hub, 12, f"{MARKER}\nplan 2", MARKER)
    assert fake.comments_on(12) == ["LGTM", f"{MARKER}\nplan 2"]


def test_a_users_comment_that_quotes_the_marker_is_never_edited(fake: FakeGitHub) -> None:
    quoted = f"why does the bot say this?\n{MARKER}\n<!-- ehkeys-plan-meta {{}} -->"
    fake.comments[1] = {"id": 1, "issue": 12, "body": quoted, "user": {"login": "mallory", "type": "User"}}
    assert upsert_comment(GitHub.from_env(), 12, f"{MARKER}\nplan", MARKER) == "created"
    assert fake.comments_on(12) == [quoted, f"{MARKER}\nplan"]


def test_of_two_plan_comments_the_newest_is_edited_and_the_other_retired_once(fake: FakeGitHub) -> None:
    """Two first runs that raced each posted: the apply job reads the newest, so that is the one
    kept; the older loses its marker, and no later run edits it."""
    older, newer = (fake.comment_as(BOT, 12, f"{MARKER}\n{v} plan\n") for v in ("one", "another"))
    hub = GitHub.from_env()
    assert upsert_comment(hub, 12, f"{MARKER}\nthird plan\n", MARKER) == "updated"
    assert fake.comments[newer]["body"] == f"{MARKER}\nthird plan\n"
    assert MARKER not in fake.comments[older]["body"] and "Superseded" in fake.comments[older]["body"]
    assert fake.writes() == [f"PATCH /issues/comments/{newer}", f"PATCH /issues/comments/{older}"]
    upsert_comment(hub, 12, f"{MARKER}\nfourth plan\n", MARKER)
    assert fake.writes()[2:] == [f"PATCH /issues/comments/{newer}"]


def test_a_comment_that_quotes_the_plan_after_its_own_marker_is_not_the_plan_comment(
    fake: FakeGitHub,
) -> None:
    """The apply job's fresh plan, posted after a refused merge, quotes a plan's Markdown."""
    fresh = f"<!-- ehkeys-apply -->\n**Nothing was applied.**\n\n{MARKER}\n### fresh plan\n"
    applied = fake.comment_as(BOT, 12, fresh)
    assert upsert_comment(GitHub.from_env(), 12, f"{MARKER}\nplan\n", MARKER) == "created"
    assert fake.comments[applied]["body"] == fresh


def test_the_drift_issue_opens_updates_stays_quiet_and_closes(fake: FakeGitHub) -> None:
    hub = GitHub.from_env()
    assert sync_drift_issue(hub, "in sync", drifted=False) == "in sync, nothing open"
    assert sync_drift_issue(hub, drift_body("aa", "1 key changed (usage 91%)"), drifted=True) == "opened #13"
    assert (
        sync_drift_issue(hub, drift_body("aa", "1 key changed (usage 95%)"), drifted=True) == "unchanged #13"
    )
    assert "91%" in fake.issues[13]["body"], "an edit that says nothing new notifies every watcher"
    assert sync_drift_issue(hub, drift_body("bb", "2 keys changed"), drifted=True) == "updated #13"
    assert fake.issues[13]["labels"] == [DRIFT_LABEL] and "2 keys changed" in fake.issues[13]["body"]
    assert sync_drift_issue(hub, "In sync", drifted=False) == "closed #13"
    assert fake.issues[13]["state"] == "closed" and fake.issues[12]["state"] == "open"
    assert "match the manifest again" in fake.comments_on(13)[0]


def test_the_drift_issue_edits_its_last_checked_line_alone_while_its_findings_stay(fake: FakeGitHub) -> None:
    """The issue was left as it was while the findings stayed: a schedule GitHub disabled looked
    like an account in sync. Now each run edits its "Last checked" line (never a comment)."""
    hub, run = GitHub.from_env(), "https://github.example/o/r/actions/runs/{}"
    day = datetime.datetime(2026, 11, 22, 8, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    first = checked(drift_body("aa", "1 key changed (usage 91%)"), day, run.format(1))
    assert sync_drift_issue(hub, first, drifted=True) == "opened #13"
    line = f"{CHECKED}**Last checked:** 2026-11-22 06:00 UTC ([the run]({run.format(1)})): a date older"
    assert fake.issues[13]["body"].splitlines()[3].startswith(line), "under the heading, in UTC"
    later = checked(
        drift_body("aa", "1 key changed (usage 95%)"), day + datetime.timedelta(days=1), run.format(2)
    )
    assert sync_drift_issue(hub, later, drifted=True) == "unchanged #13 (its last-checked line edited)"
    body = fake.issues[13]["body"]
    assert "2026-11-23 06:00 UTC" in body and run.format(2) in body and run.format(1) not in body
    assert "91%" in body and "95%" not in body, "the findings' edit, as before: only when they change"
    assert fake.writes() == ["POST /issues", "PATCH /issues/13"] and fake.comments_on(13) == []
    assert sync_drift_issue(hub, later, drifted=True) == "unchanged #13", "the same line: no request"
    assert fake.writes() == ["POST /issues", "PATCH /issues/13"]
    changed = checked(drift_body("bb", "2 keys changed"), day, run.format(3))
    assert sync_drift_issue(hub, changed, drifted=True) == "updated #13"
    assert fake.issues[13]["body"] == changed and fake.comments_on(13) == []


def test_a_drift_issue_an_earlier_ehkeys_wrote_gains_the_last_checked_line(fake: FakeGitHub) -> None:
    hub = GitHub.from_env()
    assert sync_drift_issue(hub, drift_body("aa", "1 key changed"), drifted=True) == "opened #13"
    now = checked(drift_body("aa", "1 key changed"), datetime.datetime.now(datetime.timezone.utc), "")
    assert sync_drift_issue(hub, now, drifted=True) == "unchanged #13 (its last-checked line edited)"
    assert fake.issues[13]["body"] == now and "UTC: a date older" in now, "no run: no link"


def test_an_issue_a_person_labelled_as_drift_is_neither_edited_nor_closed(fake: FakeGitHub) -> None:
    person = {"login": "alice", "type": "User"}
    mine = {"number": 5, "state": "open", "labels": [DRIFT_LABEL], "body": "my notes", "user": person}
    fake.issues[5] = mine
    hub = GitHub.from_env()
    assert sync_drift_issue(hub, drift_body("aa", "1 key changed"), drifted=True) == "opened #13"
    assert sync_drift_issue(hub, "In sync", drifted=False) == "closed #13"
    assert fake.issues[5] == mine and fake.comments_on(5) == []


def test_an_issue_github_opens_without_a_number_is_an_error_not_a_crash(fake: FakeGitHub) -> None:
    fake.faults["POST /issues"] = JSONResponse({"title": "?"}, status_code=201)
    with pytest.raises(GitHubError, match="POST /issues: the answer has no usable `number`"):
        sync_drift_issue(GitHub.from_env(), drift_body("aa", "1 key changed"), drifted=True)


def test_a_plan_comment_over_the_limit_is_cut_on_a_line_with_a_link() -> None:
    rows = "".join(f"<details><summary>key-{i}</summary>\n\n| a | b |\n</details>\n\n" for i in range(3000))
    meta = PlanMeta("77", "f" * 40, "sha256:" + "0" * 64)
    body = comment_body(
        f"{MARKER}\n### plan\n\n{rows}**Credits: net -5.00**\n",
        meta,
        "https://gh/run/77",
        Artifact("https://gh/a/9"),
    )
    assert len(body) <= LIMIT and body.count("<details>") == body.count("</details>")
    assert "Cut here" in body and "(https://gh/a/9)" in body and body.startswith(MARKER)
    assert PlanMeta.find(body) == meta and body.rstrip().endswith("planned again.")


def test_missing_token_is_a_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: Any) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    assert main(["github", "comment", "--pr", "1", "--dir", str(tmp_path)]) == 1
    assert "GITHUB_TOKEN and GITHUB_REPOSITORY must be set" in capsys.readouterr().err
