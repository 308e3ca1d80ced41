"""The first-parent line of a push, as `gitops.pushed` follows it through GitHub's compare, and
the push event's `before` as it is read: what cannot be followed is said, never guessed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.core.errors import ConfigError
from reconciler.gitops import context
from reconciler.gitops.hub import GitHubError
from reconciler.gitops.pushed import MAX_FILES, MAX_LINE, Unreadable, changed_files, first_parents

BEFORE = "0" * 39 + "1"


def commit(sha: str, *parents: str) -> dict[str, object]:
    return {"sha": sha, "parents": [{"sha": p} for p in parents]}


def test_the_line_is_the_first_parents_oldest_first_and_a_merged_branch_is_not_on_it() -> None:
    commits = [commit("h1", BEFORE), commit("m1", BEFORE, "h1"), commit("s2", "m1"), commit("m3", "s2", "h3")]
    commits.append(commit("h3", BEFORE))
    assert first_parents(commits, BEFORE, "m3") == ("m1", "s2", "m3")


def test_a_line_that_does_not_pass_through_before_is_said() -> None:
    """A merge that took the pushed branch as its first parent: the line goes round `before`."""
    commits = [commit("f1", "base"), commit("m", "f1", BEFORE)]
    with pytest.raises(
        Unreadable, match=r"first-parent line from m does not reach 000000000000.*fresh: true"
    ):
        first_parents(commits, BEFORE, "m")


def test_a_line_longer_than_is_asked_about_is_said() -> None:
    line = [f"c{i}" for i in range(MAX_LINE + 1)]
    commits = [commit(sha, line[i - 1] if i else BEFORE) for i, sha in enumerate(line)]
    assert len(first_parents(commits[:MAX_LINE], BEFORE, line[MAX_LINE - 1])) == MAX_LINE
    with pytest.raises(Unreadable, match=f"more than {MAX_LINE} commits"):
        first_parents(commits, BEFORE, line[-1])


def test_the_files_a_push_changes_are_known_only_when_compare_lists_them_all() -> None:
    """A root the files leave alone is not looked at further: files not listed are never none."""
    renamed = {"filename": "keys/b.yaml", "previous_filename": "keys/a.yaml"}
    assert changed_files({"files": [{"filename": "README.md"}, renamed]}, "GET") == (
        "README.md",
        "keys/b.yaml",
        "keys/a.yaml",
    )
    assert changed_files({"files": []}, "GET") == ()
    assert changed_files({}, "GET") is None and changed_files({"files": None}, "GET") is None
    assert changed_files({"files": [{"filename": f"{i}.md"} for i in range(MAX_FILES)]}, "GET") is None


@pytest.mark.parametrize("before", ["../../pulls", "", 7, None, "A" * 40, "0" * 41])
def test_a_push_event_whose_before_is_no_commit_is_a_message_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, before: object
) -> None:
    """`before` goes into a request's path: only a commit as GitHub names one is read."""
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"before": before, "after": "b" * 40}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    with pytest.raises(ConfigError, match=f"GITHUB_EVENT_PATH {event}: before is .*, not a commit"):
        context.RunContext.from_env()


def test_a_push_events_before_is_read_and_a_hand_runs_is_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"before": "a" * 40}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    assert context.RunContext.from_env().before == "a" * 40
    event.write_text(json.dumps({"inputs": {}}))
    assert context.RunContext.from_env().before is None


@pytest.mark.parametrize("answer", [None, [], "files"])
def test_a_compare_answer_that_is_no_object_is_a_message(answer: object) -> None:
    """A step's compare is read by `changed_files` alone: `null` was an AttributeError."""
    with pytest.raises(GitHubError, match="GitHub API GET /compare/a-b: the answer is not an object"):
        changed_files(answer, "GET /compare/a-b")
