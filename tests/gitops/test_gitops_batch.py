"""One push that merges several pull requests (a merge queue's group, a fast-forward over
several merges): the apply job reads every PR the push merged, not only the last, against the
fake GitHub's commit history (GET /compare/{before}...{after}).

Each test plans its PRs on the same main, lands their merge commits (each PR's head the merge's
second parent), and runs keys-apply on the push event GitHub sends: `before` and `after`.
"""

from __future__ import annotations

import hashlib

import pytest

from reconciler.render.inert import SPLIT

from ..fakegithub import FakeGitHub
from ..reliability_log import record
from . import test_gitops as gitops
from .test_gitops import MANIFEST, Actions, apply_comment, manifest

pytestmark = pytest.mark.slow  # the GitOps jobs end to end: several jobs per test against the fake GitHub

hub = gitops.hub
actions = gitops.actions


def sha(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()


MAIN = sha("main")  # main before the push


class Main:
    """main's history in the fake: each merge a commit on its first-parent line."""

    def __init__(self, hub: FakeGitHub) -> None:
        self.hub, self.tip = hub, MAIN
        hub.landed(MAIN)

    def merge(self, number: int, *files: str) -> str:
        """PR `number` merged by a merge commit: its head the second parent."""
        head, merge = self.hub.pulls[number]["head"]["sha"], sha(f"merge-{number}")
        self.hub.landed(head, (MAIN,), *files)
        self.hub.landed(merge, (self.tip, head), *files)
        self.hub.merge(number, merge)
        self.tip = merge
        return merge

    def rebase(self, number: int, *files: str) -> str:
        """PR `number` merged by "Rebase and merge": its two commits put on main, one by one."""
        first, last = sha(f"rebased-{number}-1"), sha(f"rebased-{number}-2")
        self.hub.landed(first, (self.tip,), *files)
        self.hub.landed(last, (first,), *files)
        self.hub.merge(number, last, rebased=(first,))
        self.tip = last
        return last

    def direct(self, name: str, *files: str) -> str:
        """A commit pushed to main directly, no pull request's."""
        self.hub.landed(sha(name), (self.tip,), *files)
        self.tip = sha(name)
        return self.tip


def push(actions: Actions, before: str, after: str, text: str, **event: object) -> tuple[int, str]:
    """keys-apply on the push GitHub sends: `before` and `after` (GITHUB_SHA)."""
    actions.checkout(text, "push", after, {"before": before, "after": after, **event})
    actions.hub.calls.clear()
    code, out, err = actions.run("github", "apply", MANIFEST, "--sandbox", *actions.seeded)
    return code, out + err


@pytest.fixture
def main(hub: FakeGitHub) -> Main:
    return Main(hub)


def test_two_prs_of_one_push_that_both_change_the_root_apply_neither_and_tell_both(
    actions: Actions, hub: FakeGitHub, main: Main
) -> None:
    """Each plan was made without the other's change: the merged manifest is neither's."""
    actions.plan_pr(1, "h1", manifest(k0=25))
    actions.plan_pr(2, "h2", manifest(k1=30))
    main.merge(1, MANIFEST)
    before = actions.live()
    code, out = push(actions, MAIN, main.merge(2, MANIFEST), manifest(k0=25, k1=30))
    assert code == 1, out
    assert "merged 2 pull requests that change keys/keys.yaml: PR #1, PR #2 (in merge order)" in out, out
    assert "keys-apply by hand (fresh: true)" in out and "one pull request at a time" in out
    assert actions.live() == before, "nothing may be sent"
    for number in (1, 2):
        told = apply_comment(hub, number).replace(SPLIT, "")  # a reference amid a message: inert
        assert "Nothing was applied" in told and "PR #1, PR #2" in told and "fresh plan" in told, told
        assert "key-0" in told and "key-1" in told, "the fresh plan: the merged manifest, both changes"
    assert "Nothing was applied" in actions.summary() and "PR #1, PR #2" in actions.summary().replace(
        SPLIT, ""
    )
    record(
        "gitops",
        "one push merging two PRs that change the same root (a merge queue's batch)",
        1,
        "nothing sent, the job red; each PR told, with a fresh plan of the merged root",
    )


def test_a_push_whose_earlier_pr_alone_changes_the_root_applies_that_prs_plan(
    actions: Actions, hub: FakeGitHub, main: Main
) -> None:
    """Only the last PR was looked for: it changes no key, so the run was green and PR #1's
    reviewed change was never applied."""
    text = manifest(k0=25)
    actions.plan_pr(1, "h1", text)
    hub.open_pull(2, "h2", ("README.md",))
    main.merge(1, MANIFEST)
    code, out = push(actions, MAIN, main.merge(2, "README.md"), text)
    assert code == 0, out
    assert actions.live()["key-0"]["allocated_ammount"] == 25
    assert "as reviewed" in apply_comment(hub, 1) and hub.comments_on(2) == []
    summary = actions.summary()
    assert "PR #1: its reviewed plan, applied here" in summary, summary
    assert "PR #2: changes no file of keys/keys.yaml" in summary
    record(
        "gitops",
        "one push merging two PRs, only the earlier changing the root",
        1,
        "its reviewed plan applied (the last PR alone was looked for: green, nothing applied)",
    )


def test_a_rebased_pr_is_found_by_its_last_commit_and_its_others_are_its_own(
    actions: Actions, hub: FakeGitHub, main: Main
) -> None:
    text = manifest(k0=25)
    actions.plan_pr(1, "h1", text)
    hub.open_pull(2, "h2", ("README.md",))
    main.rebase(1, MANIFEST)
    code, out = push(actions, MAIN, main.merge(2, "README.md"), text)
    assert code == 0 and "as reviewed" in apply_comment(hub, 1), out
    assert actions.live()["key-0"]["allocated_ammount"] == 25
    assert "not merged from a pull request" not in actions.summary(), "the first rebased commit is PR #1's"


def test_a_push_of_one_pr_applies_it_as_before_in_three_requests_to_find_it(
    actions: Actions, hub: FakeGitHub, main: Main
) -> None:
    text = manifest(k0=25)
    actions.plan_pr(1, "h1", text)
    merge = main.merge(1, MANIFEST)
    code, out = push(actions, MAIN, merge, text)
    assert code == 0 and "as reviewed" in apply_comment(hub, 1), out
    assert actions.live()["key-0"]["allocated_ammount"] == 25
    assert "this push merged" not in actions.summary(), "one PR: nothing more to say"
    found = [c for c in hub.calls if "/compare/" in c or "/pulls" in c]
    assert found == [f"GET /compare/{MAIN}...{merge}", f"GET /commits/{merge}/pulls", "GET /pulls/1/files"]


def test_a_push_that_leaves_the_root_alone_is_told_in_one_request_and_one_per_step_but_the_last(
    actions: Actions, hub: FakeGitHub, main: Main
) -> None:
    """A push of one merge: its compare alone. Of two: the first merge's step too (whether the
    root changed on the way and back: test_gitops_push_edges.py)."""
    hub.open_pull(1, "h1", ("README.md",))
    hub.open_pull(2, "h2", ("docs/a.md",))
    code, out = push(actions, MAIN, main.merge(1, "README.md"), manifest())
    assert code == 0 and "changes no file of keys/keys.yaml: nothing to apply for it" in out, out
    assert hub.calls == [f"GET /compare/{MAIN}...{sha('merge-1')}"]
    code, out = push(actions, MAIN, main.merge(2, "docs/a.md"), manifest())
    assert code == 0 and "changes no file of keys/keys.yaml: nothing to apply for it" in out, out
    assert hub.calls == [f"GET /compare/{MAIN}...{sha('merge-2')}", f"GET /compare/{MAIN}...{sha('merge-1')}"]


@pytest.mark.parametrize("changed", [MANIFEST, "README.md"])
def test_a_commit_pushed_directly_beside_a_merged_pr_is_not_applied_unreviewed(
    actions: Actions, hub: FakeGitHub, main: Main, changed: str
) -> None:
    """The PR leaves the root alone; the root's change came from a commit no PR made (or, with
    README.md, from the merge itself: its own edit in a conflict resolved)."""
    hub.open_pull(1, "h1", ("README.md",))
    if changed == MANIFEST:
        main.direct("direct", MANIFEST)
    main.merge(1, "README.md")
    hub.landed(main.tip, hub.history[main.tip]["parents"], "README.md", MANIFEST)  # what the push changes
    before = actions.live()
    code, out = push(actions, MAIN, main.tip, manifest(k0=99))
    assert code == 1 and actions.live() == before, out
    if changed == MANIFEST:
        assert f"its commit(s) {sha('direct')[:12]} were not merged from a pull request" in out, out
    else:
        assert "none of the pull requests it merged (PR #1) does" in out, out
    assert "keys-apply by hand (fresh: true)" in out and "Nothing was applied" in actions.summary()


@pytest.mark.parametrize("how", ["a new branch", "a forced push", "a commit GitHub no longer has"])
def test_a_push_whose_merges_cannot_be_told_applies_nothing(
    actions: Actions, hub: FakeGitHub, main: Main, how: str
) -> None:
    """The pushed commit is PR #1's merge, whose plan is fine: without knowing what else the
    push merged, it is still not applied."""
    text = manifest(k0=25)
    actions.plan_pr(1, "h1", text)
    merge = main.merge(1, MANIFEST)
    before = {
        "a new branch": "0" * 40,
        "a forced push": sha("rewritten"),
        "a commit GitHub no longer has": sha("gone"),
    }[how]
    if how == "a forced push":
        hub.landed(before, (MAIN,), MANIFEST)  # main as it was: another line from MAIN
    live = actions.live()
    code, out = push(actions, before, merge, text, forced=how != "a new branch")
    assert code == 1 and actions.live() == live, out
    said = {
        "a new branch": "this push created the branch",
        "a forced push": "this push rewrote the branch (a forced push: GitHub's compare",
        "a commit GitHub no longer has": "GitHub cannot compare",
    }[how]
    assert said in out and "keys-apply by hand (fresh: true)" in out, out
    record(
        "gitops",
        f"a push whose merges cannot be told ({how})",
        1,
        "nothing sent, the job red, what to do said",
    )
    assert "Nothing was applied" in actions.summary()
    assert not [b for b in hub.comments_on(1) if "<!-- ehkeys-apply -->" in b], "no PR's: none is known"


def test_a_push_whose_before_is_its_own_commit_moved_nothing_and_applies_nothing(
    actions: Actions, hub: FakeGitHub, main: Main
) -> None:
    """GitHub's compare of a commit with itself says 'identical': the job went red saying the push
    rewrote the branch, though the branch had not moved and there was nothing to apply."""
    text = manifest(k0=25)
    actions.plan_pr(1, "h1", text)
    merge = main.merge(1, MANIFEST)
    live = actions.live()
    code, out = push(actions, merge, merge, text)
    assert code == 0 and "rewrote" not in out, out
    assert "changes no file of keys/keys.yaml: nothing to apply for it" in out, out
    assert actions.live() == live, "nothing sent"
    assert not [b for b in hub.comments_on(1) if "<!-- ehkeys-apply -->" in b], "no PR told"
    assert not [c for c in hub.calls if "/compare/" in c or "/pulls" in c], hub.calls
