"""The PR-comment and drift-issue steps against a hand-written fake of the GitHub API."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler import github
from reconciler.cli import main


class FakeGitHub:
    """Just enough of the REST API: issue comments and issues of one repository."""

    def __init__(self) -> None:
        self.comments: dict[int, dict[str, Any]] = {}
        self.issues: dict[int, dict[str, Any]] = {
            7: {"number": 7, "pull_request": {}, "state": "open", "labels": []}
        }
        self.calls: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer ghs_test"
        path = request.url.path.removeprefix("/repos/acme/keys")
        self.calls.append(f"{request.method} {path}")
        body = json.loads(request.content) if request.content else {}
        if m := re.fullmatch(r"/issues/(\d+)/comments", path):
            issue = int(m.group(1))
            if request.method == "GET":
                mine = [c for c in self.comments.values() if c["issue"] == issue]
                page = int(request.url.params["page"])
                return httpx.Response(200, json=mine[(page - 1) * 100 : page * 100])
            cid = len(self.comments) + 1
            self.comments[cid] = {"id": cid, "issue": issue, "body": body["body"]}
            return httpx.Response(201, json=self.comments[cid])
        if m := re.fullmatch(r"/issues/comments/(\d+)", path):
            self.comments[int(m.group(1))]["body"] = body["body"]
            return httpx.Response(200, json={})
        if path == "/issues" and request.method == "GET":
            wanted = request.url.params["labels"]
            found = [
                i
                for i in self.issues.values()
                if i["state"] == "open" and (wanted in i["labels"] or "pull_request" in i)
            ]
            return httpx.Response(200, json=found)
        if path == "/issues":
            number = max(self.issues) + 1
            self.issues[number] = {"number": number, "state": "open", **body}
            return httpx.Response(201, json=self.issues[number])
        if m := re.fullmatch(r"/issues/(\d+)", path):
            self.issues[int(m.group(1))].update(body)
            return httpx.Response(200, json={})
        return httpx.Response(404, json={"message": "Not Found"})


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeGitHub:
    fake = FakeGitHub()
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_test")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/keys")
    original = github.GitHub.from_env.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(
        github.GitHub, "from_env", classmethod(lambda cls: original(cls, httpx.MockTransport(fake)))
    )
    return fake


def test_one_plan_comment_is_kept_up_to_date(fake: FakeGitHub, tmp_path: Path, capsys: Any) -> None:
    plan = tmp_path / "plan.md"
    for version in ("first", "second", "third"):
        plan.write_text(f"<!-- ehkeys-plan -->\n{version} plan\n")
        assert main(["github", "comment", "--pr", "12", "--file", str(plan)]) == 0
    assert len(fake.comments) == 1
    assert fake.comments[1]["body"].endswith("third plan\n") and fake.comments[1]["issue"] == 12
    assert "plan comment created" in capsys.readouterr().out


def test_other_comments_are_left_alone(fake: FakeGitHub, tmp_path: Path) -> None:
    fake.comments[1] = {"id": 1, "issue": 12, "body": "LGTM"}
    hub = github.GitHub.from_env()
    assert hub.upsert_comment(12, "<!-- ehkeys-plan -->\nplan") == "created"
    assert hub.upsert_comment(12, "<!-- ehkeys-plan -->\nplan 2") == "updated"
    assert fake.comments[1]["body"] == "LGTM" and fake.comments[2]["body"].endswith("plan 2")


def test_drift_issue_is_opened_updated_and_closed(fake: FakeGitHub) -> None:
    hub = github.GitHub.from_env()
    assert hub.sync_drift_issue("in sync", drifted=False) == "in sync, nothing open"
    assert hub.sync_drift_issue("Drift: 1 key", drifted=True) == "opened #8"
    assert hub.sync_drift_issue("Drift: 2 keys", drifted=True) == "updated #8"
    assert fake.issues[8]["body"] == "Drift: 2 keys" and fake.issues[8]["labels"] == ["ehkeys-drift"]
    assert hub.sync_drift_issue("In sync", drifted=False) == "closed 1"
    assert fake.issues[8]["state"] == "closed" and fake.issues[7]["state"] == "open"


def test_missing_token_is_a_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: Any) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    (tmp_path / "p.md").write_text("x")
    assert main(["github", "comment", "--pr", "1", "--file", str(tmp_path / "p.md")]) == 1
    assert "GITHUB_TOKEN and GITHUB_REPOSITORY must be set" in capsys.readouterr().err
