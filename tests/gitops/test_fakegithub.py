"""The fake GitHub is GitHub's API as GitHub describes it (tests/github-api/openapi-subset.json).

Each operation the jobs call is driven once through the jobs' own client; the fake records
every request and answer that the description refuses, and `serve` fails the test that
caused one. The apply job's provenance checks read a comment's `user` and
`performed_via_github_app`, and a run's `head_sha`, `event` and `path`: fields GitHub returns.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from reconciler.gitops.hub import Conflict, GitHub, NotFound

from .. import githubspec
from ..fakeanswers import git_sha
from ..fakegithub import BOT, PLAN_WORKFLOW, REPO, TOKEN, FakeGitHub, on_actions, serve

pytestmark = pytest.mark.slow  # every operation of the fake against GitHub's description

Call = Callable[[GitHub], Any]
HEAD, MERGE, BASE, FIRST = "a" * 40, "b" * 40, "c" * 40, "e" * 40
STATE = "keys/.ehkeys/state.json"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    hub = FakeGitHub(inline_limit=20)
    hub.open_pull(12, HEAD, ("keys/payments/keys.yaml",))
    hub.change(12, "keys/research.yaml", status="renamed", previous="keys/old.yaml")
    hub.merge(12, MERGE)
    hub.landed(FIRST)
    hub.landed(HEAD, (FIRST,), "keys/payments/keys.yaml")
    hub.landed(MERGE, (FIRST, HEAD), "keys/payments/keys.yaml")
    hub.comment_as(BOT, 12, "<!-- ehkeys-plan -->\nplan")
    hub.issues[5] = {"number": 5, "state": "open", "labels": ["ehkeys-drift"], "body": "x", "user": BOT}
    hub.start_run("1001", HEAD)
    hub.upload("1001", "ehkeys-plan", {"plan.json": b"{}"})
    hub.branches["ehkeys-state"] = {STATE: b"{}", "big.json": b"x" * 50}
    hub.commit(BASE, {"keys/ehkeys.yaml": "version: 1\n", "keys/team/a.yaml": "keys: []\n"})
    with on_actions(hub, monkeypatch):
        yield hub


def _put(path: str, sha: str = "") -> Call:
    body = {"message": "m", "content": "e30=", "branch": "ehkeys-state", **({"sha": sha} if sha else {})}
    return lambda gh: gh.call("PUT", f"/contents/{path}", json=body)


def _get(path: str) -> Call:
    return lambda gh: gh.call("GET", f"/contents/{path}", params={"ref": "ehkeys-state"})


def _tree(gh: GitHub) -> Any:
    entry = {"path": "README.md", "mode": "100644", "type": "blob", "content": "# state"}
    return gh.call("POST", "/git/trees", json={"tree": [entry]})


def _branch(gh: GitHub) -> Any:
    commit = gh.call("POST", "/git/commits", json={"message": "m", "tree": _tree(gh)["sha"], "parents": []})
    return gh.call("POST", "/git/refs", json={"ref": "refs/heads/new", "sha": commit["sha"]})


TYPICAL: dict[str, Call] = {
    "list a PR's comments": lambda gh: gh.pages("/issues/12/comments"),
    "comment on a PR": lambda gh: gh.call("POST", "/issues/12/comments", json={"body": "hi"}),
    "edit a comment": lambda gh: gh.call("PATCH", "/issues/comments/1", json={"body": "edited"}),
    "list open issues": lambda gh: gh.pages("/issues", state="open", labels="ehkeys-drift"),
    "open an issue": lambda gh: gh.call("POST", "/issues", json={"title": "t", "body": "b", "labels": ["x"]}),
    "close an issue": lambda gh: gh.call(
        "PATCH", "/issues/5", json={"state": "closed", "state_reason": "completed"}
    ),
    "the pulls of a commit": lambda gh: gh.pages(f"/commits/{MERGE}/pulls"),
    "the files a PR changes": lambda gh: gh.pages("/pulls/12/files"),
    "compare two commits": lambda gh: gh.call("GET", f"/compare/{FIRST}...{MERGE}", params={"per_page": 1}),
    "a comparison's later page": lambda gh: gh.call(
        "GET", f"/compare/{FIRST}...{MERGE}", params={"per_page": 1, "page": 2}
    ),
    "a workflow run": lambda gh: gh.call("GET", "/actions/runs/1001"),
    "a run's artifacts": lambda gh: gh.pages("/actions/runs/1001/artifacts", "artifacts", name="ehkeys-plan"),
    "an artifact's zip": lambda gh: gh.download("/actions/artifacts/100/zip", 10_000),
    "a file": _get(STATE),
    "a folder at a commit": lambda gh: gh.call("GET", "/contents/keys", params={"ref": BASE}),
    "a file at a commit": lambda gh: gh.call("GET", "/contents/keys/ehkeys.yaml", params={"ref": BASE}),
    "a file over the inline limit": _get("big.json"),
    "a blob": lambda gh: gh.call("GET", f"/git/blobs/{git_sha(b'x' * 50)}"),
    "a branch's whole tree": lambda gh: gh.call("GET", "/git/trees/ehkeys-state", params={"recursive": "1"}),
    "a commit's top tree": lambda gh: gh.call("GET", f"/git/trees/{BASE}"),
    "create a file": _put("keys/.ehkeys/journal.jsonl"),
    "replace a file": _put(STATE, git_sha(b"{}")),
    "an orphan branch: tree, commit, ref": _branch,
    "delete a file": lambda gh: gh.call(
        "DELETE", f"/contents/{STATE}", json={"message": "m", "sha": git_sha(b"{}"), "branch": "ehkeys-state"}
    ),
}

REFUSALS: dict[str, tuple[Call, type[Exception]]] = {
    "no such file": (_get("keys/none.json"), NotFound),
    "no such path at a commit": (lambda gh: gh.call("GET", "/contents/nope", params={"ref": BASE}), NotFound),
    "no such commit": (lambda gh: gh.call("GET", "/contents/keys", params={"ref": "d" * 40}), NotFound),
    "no such branch's tree": (
        lambda gh: gh.call("GET", "/git/trees/none", params={"recursive": "1"}),
        NotFound,
    ),
    "no such commit to compare": (lambda gh: gh.call("GET", f"/compare/{BASE}...{MERGE}"), NotFound),
    "a stale sha": (_put(STATE, "0" * 40), Conflict),
    "a sha for a new file": (_put("keys/new.json", "0" * 40), Conflict),
    "a branch made meanwhile": (_branch, Conflict),
}


@pytest.mark.parametrize("operation", TYPICAL)
def test_a_typical_answer_of_each_operation_is_githubs(fake: FakeGitHub, operation: str) -> None:
    TYPICAL[operation](GitHub.from_env())
    assert fake.violations == []


@pytest.mark.parametrize("refusal", REFUSALS)
def test_a_refusal_is_worded_as_github_words_it(fake: FakeGitHub, refusal: str) -> None:
    call, error = REFUSALS[refusal]
    if refusal == "a branch made meanwhile":
        fake.branches["new"] = {}
    with pytest.raises(error):
        call(GitHub.from_env())
    assert fake.violations == []


def test_the_fields_the_provenance_checks_read_are_there(fake: FakeGitHub) -> None:
    gh = GitHub.from_env()
    comment = gh.pages("/issues/12/comments")[0]
    assert comment["user"]["login"] == "github-actions[bot]" and comment["user"]["type"] == "Bot"
    assert comment["performed_via_github_app"]["slug"] == "github-actions"
    run = gh.call("GET", "/actions/runs/1001")
    assert (run["head_sha"], run["event"], run["path"]) == (HEAD, "pull_request", PLAN_WORKFLOW)
    pull = gh.pages(f"/commits/{MERGE}/pulls")[0]
    assert (pull["number"], pull["head"]["sha"], pull["merge_commit_sha"]) == (12, HEAD, MERGE)
    assert pull["merged_at"] and "pull_request" in gh.pages("/issues", state="open")[0]
    assert fake.violations == []


def test_a_comparison_lists_commits_and_files_as_github_answers_it(fake: FakeGitHub) -> None:
    """`git log base..head`, oldest first, each commit with its parents (the first parent first);
    the files on the first page only; how head stands to base."""
    gh = GitHub.from_env()
    first = gh.call("GET", f"/compare/{FIRST}...{MERGE}", params={"per_page": 1, "page": 1})
    assert (first["status"], first["total_commits"], first["ahead_by"]) == ("ahead", 2, 2)
    assert [(c["sha"], [p["sha"] for p in c["parents"]]) for c in first["commits"]] == [(HEAD, [FIRST])]
    assert [f["filename"] for f in first["files"]] == ["keys/payments/keys.yaml"]
    second = gh.call("GET", f"/compare/{FIRST}...{MERGE}", params={"per_page": 1, "page": 2})
    assert [c["sha"] for c in second["commits"]] == [MERGE] and "files" not in second
    fake.landed(BASE, (FIRST,), "README.md")  # another line from the same commit: diverged
    other = gh.call("GET", f"/compare/{BASE}...{MERGE}")
    assert (other["status"], other["ahead_by"], other["behind_by"]) == ("diverged", 2, 1)
    assert gh.call("GET", f"/compare/{MERGE}...{FIRST}")["status"] == "behind"
    assert fake.violations == []


def test_a_tree_lists_files_and_folders_as_github_answers_it(fake: FakeGitHub) -> None:
    """Recursive: every file (`blob`, its sha the git blob's) and folder (`tree`) below; else the top's."""
    gh = GitHub.from_env()
    listed = gh.call("GET", f"/git/trees/{BASE}", params={"recursive": "1"})
    assert [(e["path"], e["type"]) for e in listed["tree"]] == [
        ("keys", "tree"),
        ("keys/ehkeys.yaml", "blob"),
        ("keys/team", "tree"),
        ("keys/team/a.yaml", "blob"),
    ]
    assert listed["tree"][1]["sha"] == git_sha(b"version: 1\n") and listed["truncated"] is False
    assert [e["path"] for e in gh.call("GET", f"/git/trees/{BASE}")["tree"]] == ["keys"]
    assert fake.violations == []


def test_a_folder_is_listed_and_a_file_read_as_github_answers_them(fake: FakeGitHub) -> None:
    """A folder: an entry per file and folder (`type: file|dir`), no content; a file: base64."""
    gh = GitHub.from_env()
    listed = gh.call("GET", "/contents/keys", params={"ref": BASE})
    assert [(e["name"], e["path"], e["type"]) for e in listed] == [
        ("ehkeys.yaml", "keys/ehkeys.yaml", "file"),
        ("team", "keys/team", "dir"),
    ]
    assert all("content" not in e for e in listed) and listed[1]["download_url"] is None
    file = gh.call("GET", "/contents/keys/team/a.yaml", params={"ref": BASE})
    assert (file["type"], file["encoding"], base64.b64decode(file["content"])) == (
        "file",
        "base64",
        b"keys: []\n",
    )
    with pytest.raises(NotFound, match="No commit found"):
        gh.call("GET", "/contents/keys", params={"ref": "d" * 40})
    assert fake.violations == []


def test_a_name_or_link_target_that_is_not_utf8_is_spelled_as_json_can(fake: FakeGitHub) -> None:
    """git keeps a name and a link's target as bytes; GitHub's JSON is UTF-8: a byte that does not
    decode is U+FFFD (the fake's assumption, `fakeanswers.spelled`), and only the link's blob
    holds its target byte for byte. (The fake answered HTTP 500 for such a link once.)"""
    odd = "p\udcff.yaml"  # os.fsdecode(b"p\xff.yaml")
    links = {"keys/a.yaml": f"../{odd}", "keys/shared": "sh\udcff"}
    fake.commit(BASE, {"keys/ehkeys.yaml": "version: 1\n", odd: "keys: []\n"}, links)
    gh = GitHub.from_env()
    listed = {e["name"]: e for e in gh.call("GET", "/contents/keys", params={"ref": BASE})}
    assert listed["a.yaml"]["type"] == "symlink"
    blob = gh.call("GET", f"/git/blobs/{listed['a.yaml']['sha']}")
    assert base64.b64decode(blob["content"]) == b"../p\xff.yaml"
    link = gh.call("GET", "/contents/keys/shared", params={"ref": BASE})
    assert (link["type"], link["target"]) == ("symlink", "sh\ufffd")
    followed = gh.call("GET", "/contents/keys/a.yaml", params={"ref": BASE})
    assert (followed["type"], followed["path"]) == ("file", "p\ufffd.yaml")
    assert fake.violations == []


def test_a_prs_files_are_listed_as_github_lists_them(fake: FakeGitHub) -> None:
    """A rename names the file's old path too; the listing stops at GitHub's 3,000 files."""
    gh = GitHub.from_env()
    listed = gh.pages("/pulls/12/files")
    assert [(f["filename"], f["status"]) for f in listed] == [
        ("keys/payments/keys.yaml", "modified"),
        ("keys/research.yaml", "renamed"),
    ]
    assert "previous_filename" not in listed[0] and listed[1]["previous_filename"] == "keys/old.yaml"
    fake.change(12, *(f"docs/{i}.md" for i in range(3100)))
    assert len(gh.pages("/pulls/12/files")) == 3000
    assert fake.violations == []


def test_an_answer_github_would_not_give_is_caught() -> None:
    """What the fake answered before it was held to the description: a comment without the
    fields GitHub always returns, an artifact without its urls."""
    path = f"/repos/{REPO}/issues/12/comments"
    ours = b'[{"id": 1, "body": "plan", "user": {"login": "github-actions[bot]", "type": "Bot"}}]'
    found = githubspec.check_response("GET", path, {}, 200, ours, "application/json")
    assert found and "is a required property" in found[0] and "user" in found[0]
    good = githubspec.example("issues/list-comments")
    assert (
        githubspec.check_response("GET", path, {}, 200, json.dumps(good).encode(), "application/json") == []
    )


def test_a_request_github_would_refuse_fails_the_test_that_sent_it() -> None:
    hub = FakeGitHub(branches={"ehkeys-state": {}})
    served = serve(hub)
    url = served.__enter__()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    httpx.put(
        f"{url}/repos/{REPO}/contents/a/b.json",
        json={"content": "e30=", "branch": "ehkeys-state"},
        headers=auth,
    )
    with pytest.raises(AssertionError, match="'message' is a required property"):
        served.__exit__(None, None, None)
    assert hub.violations and "request PUT /repos/acme/keys/contents/a/b.json" in hub.violations[0]
