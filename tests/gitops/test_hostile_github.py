"""A hostile run of a GitOps job: an event file or an environment Actions would never give, and a
GitHub API (the fake, tests/fakegithub.py) that answers what GitHub should not. Each is a message
naming what failed, never an internal error, and never a token."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.responses import JSONResponse, Response

from reconciler.cli.main import main
from reconciler.gitops import context
from reconciler.gitops.hub import GitHub, GitHubError
from reconciler.gitops.issues import sync_drift_issue, upsert_comment
from reconciler.gitops.roots import UNNAMED
from reconciler.gitops.rotate import tell

from ..fakegithub import TOKEN, FakeGitHub, on_actions

MARKER = "<!-- ehkeys-plan -->"
NESTED = b"[" * 100_000 + b"]" * 100_000  # JSON, but deeper than Python's parser recurses


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    hub = FakeGitHub()
    hub.open_pull(12, "abc")
    with on_actions(hub, monkeypatch):
        yield hub


def test_an_event_file_nested_too_deeply_is_a_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: Any
) -> None:
    event = tmp_path / "event-nested-too-deeply.json"
    event.write_bytes(NESTED)
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    assert main(["github", "comment", "--pr", "1", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"GITHUB_EVENT_PATH {event}: cannot read the event (nested too deeply)" in err, err
    assert "internal error" not in err


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_an_event_path_that_is_a_device_is_a_message_not_a_hang(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: Any, device: str
) -> None:
    """/dev/zero was read until memory ran out; the runner writes the event to a file."""
    monkeypatch.setenv("GITHUB_EVENT_PATH", device)
    assert main(["github", "comment", "--pr", "1", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"GITHUB_EVENT_PATH {device}: cannot read the event" in err and "not a regular file" in err, err
    assert "internal error" not in err


def test_an_event_file_over_the_limit_is_a_message_not_a_memory_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: Any
) -> None:
    """A 3 GB file was read whole: an internal MemoryError under a memory limit."""
    event = tmp_path / "event-too-large.json"
    event.write_text(json.dumps({"pull_request": {"number": 1, "head": {"sha": "abc"}}, "pad": "x" * 100}))
    monkeypatch.setattr(context, "MAX_EVENT", 64)
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    assert main(["github", "comment", "--pr", "1", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"GITHUB_EVENT_PATH {event}: cannot read the event" in err and "larger than 64 bytes" in err, err
    assert "internal error" not in err


def test_an_output_file_that_is_a_pipe_is_a_message_not_a_hang(
    fake: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: Any
) -> None:
    fifo = tmp_path / "output-fifo"
    os.mkfifo(fifo)
    monkeypatch.setenv("GITHUB_OUTPUT", str(fifo))
    (tmp_path / "keys.yaml").write_text("version: 1\nkeys: []\n")
    assert main(["github", "plan", str(tmp_path / "keys.yaml"), "--dir", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert f"GITHUB_OUTPUT {fifo}: cannot write the step's outputs: not a regular file" in err, err


def test_an_answer_nested_too_deeply_is_a_message(fake: FakeGitHub) -> None:
    fake.faults["GET /issues/12/comments"] = Response(NESTED, media_type="application/json")
    with pytest.raises(GitHubError, match="GET /issues/12/comments: the answer is not JSON"):
        upsert_comment(GitHub.from_env(), 12, f"{MARKER}\nplan\n", MARKER)
    fake.faults["GET /issues/12/comments"] = Response(NESTED, 400, media_type="application/json")
    with pytest.raises(GitHubError, match="GET /issues/12/comments: HTTP 400"):
        upsert_comment(GitHub.from_env(), 12, f"{MARKER}\nplan\n", MARKER)


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("GITHUB_TOKEN", TOKEN + "\n", "GITHUB_TOKEN holds a character no token has"),  # pasted with its end
        ("GITHUB_TOKEN", "ghs_tökén", "GITHUB_TOKEN holds a character no token has"),
        ("GITHUB_REPOSITORY", "acme/keys\n", "GITHUB_REPOSITORY 'acme/keys\\n' is not OWNER/NAME"),
        ("GITHUB_API_URL", "http://[::1", "GITHUB_API_URL 'http://[::1' is not an http:// or https:// URL"),
        ("GITHUB_API_URL", "api.github.com", "GITHUB_API_URL 'api.github.com' is not an http:// or https://"),
    ],
)
def test_an_environment_actions_would_never_set_is_a_message_naming_the_variable(
    fake: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: Any,
    variable: str,
    value: str,
    said: str,
) -> None:
    monkeypatch.setenv(variable, value)
    assert main(["github", "comment", "--pr", "12", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert said in err and "internal error" not in err, err
    assert "ghs_" not in err and not fake.calls


def test_a_commit_sha_that_makes_no_url_is_a_message(
    fake: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: Any
) -> None:
    monkeypatch.setenv("GITHUB_SHA", "abc\ndef")
    (tmp_path / "keys.yaml").write_text("version: 1\nkeys: []\n")
    monkeypatch.chdir(tmp_path)
    assert main(["github", "apply", "keys.yaml", "--sandbox"]) == 1
    err = capsys.readouterr().err
    assert "GitHub API GET '/commits/abc\\ndef/pulls': not a URL" in err and "internal error" not in err, err


def test_an_answer_that_quotes_the_token_never_shows_it(fake: FakeGitHub) -> None:
    fake.faults["POST /issues/12/comments"] = Response(
        f'{{"message": "token {TOKEN} lacks a scope"}}', 403, media_type="application/json"
    )
    with pytest.raises(GitHubError) as caught:
        upsert_comment(GitHub.from_env(), 12, f"{MARKER}\nplan\n", MARKER)
    assert "HTTP 403: token … lacks a scope" in str(caught.value) and TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    ("status", "headers", "when"),
    [
        (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1900000000"}, "after 17:46:40 UTC"),
        (403, {"retry-after": "60"}, "in 60 s"),  # a secondary rate limit
        (429, {}, "later"),
    ],
)
def test_a_rate_limit_is_named_as_one_and_not_as_a_permission(
    fake: FakeGitHub, status: int, headers: dict[str, str], when: str
) -> None:
    fake.faults["GET /issues/12/comments"] = JSONResponse(
        {"message": "API rate limit exceeded"}, status, headers=headers
    )
    with pytest.raises(GitHubError) as caught:
        upsert_comment(GitHub.from_env(), 12, f"{MARKER}\nplan\n", MARKER)
    message = str(caught.value)
    assert message.endswith(
        f"(GitHub's rate limit for this token, not a permission: it takes this token's calls again {when})"
    )
    assert "permissions" not in message
    fake.violations.clear()  # GitHub's description lists no 429 here, though GitHub answers one


def test_a_comment_deleted_while_the_job_runs_is_posted_again(fake: FakeGitHub) -> None:
    hub = GitHub.from_env()
    upsert_comment(hub, 12, f"{MARKER}\nfirst plan\n", MARKER)
    fake.faults["PATCH /issues/comments/1"] = JSONResponse({"message": "Not Found"}, 404)  # listed, then gone
    assert upsert_comment(hub, 12, f"{MARKER}\nsecond plan\n", MARKER) == "created"
    assert fake.comments_on(12)[-1] == f"{MARKER}\nsecond plan\n"
    fake.violations.clear()  # the fault answers without the fake's own record of the comment


def test_an_error_answer_is_quoted_on_one_short_line(fake: FakeGitHub) -> None:
    """A log line of the runner's that starts with `::` is a workflow command (an annotation, a
    mask, commands stopped): GitHub's message, or a proxy's page, never starts one."""
    said = "Server Error\n::error file=keys.yaml::all keys deleted\n" + "x" * 5000
    fake.faults["POST /issues/12/comments"] = JSONResponse({"message": said}, 403)
    with pytest.raises(GitHubError) as caught:
        upsert_comment(GitHub.from_env(), 12, f"{MARKER}\nplan\n", MARKER)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 400, message
    assert "HTTP 403: Server Error ::error file=keys.yaml::all keys deleted xxx" in message
    fake.faults["POST /issues/12/comments"] = Response("<html>\n<body>\nUnicorn!\n</body></html>", 500)
    with pytest.raises(GitHubError, match=r"HTTP 500: <html> <body> Unicorn! </body></html>$"):
        upsert_comment(GitHub.from_env(), 12, f"{MARKER}\nplan\n", MARKER)


def test_a_drift_issue_deleted_while_the_job_runs_is_opened_again_or_left_closed(fake: FakeGitHub) -> None:
    hub = GitHub.from_env()
    body = "<!-- ehkeys-drift -->\n<!-- ehkeys-drift-digest: {} -->\n{}\n"
    assert sync_drift_issue(hub, body.format("aa", "1 key changed"), drifted=True) == "opened #13"
    fake.faults["PATCH /issues/13"] = JSONResponse({"message": "This issue was deleted"}, 410)
    assert sync_drift_issue(hub, body.format("bb", "2 keys changed"), drifted=True) == "opened #14"
    fake.faults["POST /issues/14/comments"] = JSONResponse({"message": "This issue was deleted"}, 410)
    assert sync_drift_issue(hub, "In sync", drifted=False).startswith("closed #13, #14")
    fake.violations.clear()  # GitHub's description lists no 410 here, though GitHub answers one


def test_a_drift_issue_deleted_before_the_rotate_job_comments_is_opened_again_when_it_failed(
    fake: FakeGitHub,
) -> None:
    hub = GitHub.from_env()
    body = "<!-- ehkeys-drift -->\n<!-- ehkeys-drift-digest: aa -->\n1 key changed\n"
    assert sync_drift_issue(hub, body, drifted=True) == "opened #13"
    fake.faults["POST /issues/13/comments"] = JSONResponse({"message": "This issue was deleted"}, 410)
    assert tell(hub, "rotated key-0", UNNAMED, failed=False) == (
        "none open (#13 deleted since it was listed, nothing failed)"
    )
    assert tell(hub, "key-0 not delivered", UNNAMED, failed=True) == "opened #14"
    assert fake.issues[14]["body"] == "key-0 not delivered"
    fake.violations.clear()  # GitHub's description lists no 410 here, though GitHub answers one


@pytest.mark.parametrize(
    ("name", "pull", "said"),
    [
        (
            "number-true",
            {"number": True, "head": {"sha": "abc"}},
            "pull_request.number is true, not a PR's number",
        ),
        ("number-text", {"number": "12", "head": {"sha": "abc"}}, 'pull_request.number is "12", not a PR'),
        ("number-zero", {"number": 0, "head": {"sha": "abc"}}, "pull_request.number is 0, not a PR's number"),
        (
            "head-sha-null",
            {"number": 12, "head": {"sha": None}},
            "pull_request.head.sha is null, not a commit",
        ),
        ("head-sha-missing", {"number": 12, "head": {}}, "pull_request.head.sha is null, not a commit"),
        ("head-sha-number", {"number": 12, "head": {"sha": 7}}, "pull_request.head.sha is 7, not a commit"),
        ("not-an-object", "12", 'pull_request is "12", not a pull request'),
        ("a-list", [12], "pull_request is [12], not a pull request"),
    ],
)
def test_a_pull_request_event_with_an_odd_field_is_a_message_naming_it(
    fake: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: Any,
    name: str,
    pull: Any,
    said: str,
) -> None:
    """`true` passed as a number (the job called `/pulls/True/files`), `null` as the commit
    `None` in the plan comment."""
    event = tmp_path / f"event-{name}.json"
    event.write_text(json.dumps({"pull_request": pull}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    (tmp_path / "plan").mkdir()
    assert main(["github", "comment", "--dir", str(tmp_path / "plan")]) == 1
    err = capsys.readouterr().err
    assert f"GITHUB_EVENT_PATH {event}: {said}" in err and "internal error" not in err, err
    assert not fake.calls and not fake.comments


def test_a_listing_that_never_ends_is_cut_with_a_warning_naming_the_call(
    fake: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    page = [{"id": n, "body": "hello", "user": {"login": "octocat", "type": "User"}} for n in range(1, 101)]
    fake.faults["GET /issues/12/comments"] = JSONResponse(page)  # every page full, whatever its number
    with caplog.at_level(logging.WARNING, logger="ehkeys"):
        assert len(GitHub.from_env().pages("/issues/12/comments")) == 5000
    assert [r.getMessage() for r in caplog.records] == [
        "GitHub API GET /issues/12/comments: stopped after 50 pages of 100 (5,000 items): any beyond were not read"
    ]
    fake.violations.clear()  # the fault's comments are not GitHub's whole example of one
    caplog.clear()
    del fake.faults["GET /issues/12/comments"]
    with caplog.at_level(logging.WARNING, logger="ehkeys"):
        assert GitHub.from_env().pages("/issues/12/comments") == []
    assert not caplog.records  # a listing that ends says nothing
