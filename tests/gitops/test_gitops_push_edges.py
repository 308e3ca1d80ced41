"""The edges of what one push merged (reconciler/gitops/pushed.py, batch.py), against the fake
GitHub's history: a push of more files than GitHub's compare lists (300: compare pages its
commits, never its files), and a pull request whose change a later one of the same push undid.

Each test plans its PRs on the same main, lands their commits (`Main`, as in
test_gitops_batch.py), and runs keys-apply on the push event GitHub sends.
"""

from __future__ import annotations

import pytest
from starlette.responses import Response

from reconciler.gitops.pushed import MAX_UNDONE_STEPS
from reconciler.render.inert import SPLIT

from ..fakegithub import MAX_COMPARED_FILES, FakeGitHub
from ..reliability_log import record
from . import test_gitops as gitops
from . import test_gitops_batch as batch
from .test_gitops import MANIFEST, Actions, apply_comment, manifest
from .test_gitops_batch import MAIN, Main, push, sha

pytestmark = pytest.mark.slow  # the GitOps jobs end to end against the fake GitHub

hub = gitops.hub
actions = gitops.actions
main = batch.main

NOTHING = "reviewed plan was not applied; nothing was sent"


def docs(name: str, count: int) -> tuple[str, ...]:
    return tuple(f"docs/{name}/{i}.md" for i in range(count))


def reverted(main: Main, number: int, of: int) -> str:
    """PR `number` merged by a merge commit: a revert of PR `of` (its head and its merge undone)."""
    head, merge = main.hub.pulls[number]["head"]["sha"], sha(f"merge-{number}")
    main.hub.landed(head, (main.tip,), MANIFEST, reverts=main.hub.pulls[of]["head"]["sha"])
    main.hub.landed(merge, (main.tip, head), MANIFEST, reverts=sha(f"merge-{of}"))
    main.hub.merge(number, merge)
    main.tip = merge
    return merge


def lookups(hub: FakeGitHub) -> list[str]:
    return [c for c in hub.calls if "/compare/" in c or "/pulls" in c]


# --- more files than compare lists -----------------------------------------------------------


@pytest.mark.parametrize("prs", [1, 2])
def test_a_push_of_more_files_than_compare_lists_that_no_pr_changes_the_root_of_is_refused(
    actions: Actions, hub: FakeGitHub, main: Main, prs: int
) -> None:
    """The push's files are cut at 300 (and so are a step's): the root's may be among those not
    listed (a merge's own edit), and no PR's plan was reviewed for it. It went green, nothing
    applied, though the root could have changed."""
    hub.open_pull(1, "h1", docs("big", MAX_COMPARED_FILES + 1))
    main.merge(1, *docs("big", MAX_COMPARED_FILES + 1))
    if prs == 2:
        hub.open_pull(2, "h2", ("README.md",))
        main.merge(2, "README.md")
    live = actions.live()
    code, out = push(actions, MAIN, main.tip, manifest(k0=99))
    assert code == 1 and actions.live() == live, out
    assert "this push changes more files than GitHub's compare lists (300)" in out, out
    assert (
        "whether it changes keys/keys.yaml cannot be told" in out
        and "keys-apply by hand (fresh: true)" in out
    )
    assert "Nothing was applied" in actions.summary()
    assert not [b for b in hub.comments_on(1) if "<!-- ehkeys-apply -->" in b], "no PR's change: none told"
    steps = [f"GET /compare/{MAIN}...{sha('merge-1')}"] if prs == 2 else []  # the step cut at 300 too
    pulls = [f"GET /commits/{sha(f'merge-{n}')}/pulls" for n in range(1, prs + 1)]
    files = ["GET /pulls/1/files"] * 4 + ["GET /pulls/2/files"] * (prs - 1)  # 301 files: 4 pages of 100
    assert lookups(hub) == [f"GET /compare/{MAIN}...{main.tip}", *steps, *pulls, *files]
    record(
        "gitops",
        f"a push of over 300 files (compare cuts its list), {prs} PR(s), none touching the root",
        1,
        "red, nothing sent, why and what to do said; never green on an unread root",
    )


def test_a_push_of_more_files_than_compare_lists_whose_steps_list_theirs_is_told_by_its_steps(
    actions: Actions, hub: FakeGitHub, main: Main
) -> None:
    """Two merges of 200 files each: the push's 400 are cut at 300, each merge's are not, and
    together they leave the root alone: green, in a compare per step and no PR looked up."""
    for number, name in ((1, "a"), (2, "b")):
        hub.open_pull(number, f"h{number}", docs(name, 200))
        main.merge(number, *docs(name, 200))
    code, out = push(actions, MAIN, main.tip, manifest())
    assert (
        code == 0 and "(4 commit(s), 400 changed file(s) elsewhere) changes no file of keys/keys.yaml" in out
    )
    assert lookups(hub) == [
        f"GET /compare/{MAIN}...{main.tip}",
        f"GET /compare/{MAIN}...{sha('merge-1')}",
        f"GET /compare/{sha('merge-1')}...{main.tip}",
    ]


def test_a_push_of_more_files_than_compare_lists_whose_step_changes_the_root_applies_its_pr(
    actions: Actions, hub: FakeGitHub, main: Main
) -> None:
    """The step that changes the root ends the steps' reading: its PR's reviewed plan is applied."""
    text = manifest(k0=25)
    actions.plan_pr(1, "h1", text)
    hub.open_pull(2, "h2", docs("big", MAX_COMPARED_FILES + 1))
    main.merge(1, MANIFEST)
    main.merge(2, *docs("big", MAX_COMPARED_FILES + 1))
    code, out = push(actions, MAIN, main.tip, text)
    assert code == 0 and "as reviewed" in apply_comment(hub, 1), out
    assert actions.live()["key-0"]["allocated_ammount"] == 25
    assert lookups(hub)[:2] == [
        f"GET /compare/{MAIN}...{main.tip}",
        f"GET /compare/{MAIN}...{sha('merge-1')}",
    ]


# --- a change the same push undid --------------------------------------------------------------


def test_a_pr_whose_change_a_later_pr_of_the_push_undid_is_told_its_plan_was_not_applied(
    actions: Actions, hub: FakeGitHub, main: Main
) -> None:
    """PR #2 reverts PR #1: the push leaves the root as it was, so nothing is applied and the
    job is green; but neither PR was told that its reviewed plan never was."""
    actions.plan_pr(1, "h1", manifest(k0=25))
    actions.plan_pr(2, "h2", manifest())
    main.merge(1, MANIFEST)
    live = actions.live()
    code, out = push(actions, MAIN, reverted(main, 2, of=1), manifest())
    assert code == 0 and actions.live() == live, out
    first, second = (apply_comment(hub, n).replace(SPLIT, "") for n in (1, 2))
    assert (
        "**Nothing was applied.** PR #1's change to keys/keys.yaml was undone later in this push "
        "(PR #2 changed it too): the push as a whole changes no file of keys/keys.yaml" in first
    ), first
    assert "PR #2 undid what PR #1 changed in keys/keys.yaml earlier in this push" in second, second
    assert NOTHING in first and NOTHING in second
    assert "<!-- ehkeys-root: keys/keys.yaml -->" in first and "### ehkeys apply `keys/keys.yaml`" in first
    summary = actions.summary().replace(SPLIT, "")
    assert "(PR #1, PR #2 changed it, and this same push changed it back)" in summary, summary
    assert "PR #1: changes keys/keys.yaml: undone in this push, not applied" in summary
    assert lookups(hub) == [
        f"GET /compare/{MAIN}...{main.tip}",
        f"GET /compare/{MAIN}...{sha('merge-1')}",  # the one step but the last: it changes the root
        f"GET /commits/{sha('merge-1')}/pulls",
        f"GET /commits/{main.tip}/pulls",
        "GET /pulls/1/files",
        "GET /pulls/2/files",
    ]
    record(
        "gitops",
        "one push: PR 1 changes the root, PR 2 changes it back",
        1,
        "nothing applied, green; each PR told its reviewed plan was not applied and why",
    )


def test_a_pr_whose_change_a_commit_pushed_directly_undid_is_told_which(
    actions: Actions, hub: FakeGitHub, main: Main
) -> None:
    actions.plan_pr(1, "h1", manifest(k0=25))
    merge = main.merge(1, MANIFEST)
    hub.landed(sha("undo"), (merge,), MANIFEST, reverts=merge)
    code, out = push(actions, MAIN, sha("undo"), manifest())
    assert code == 0, out
    told = apply_comment(hub, 1).replace(SPLIT, "")
    assert (
        f"PR #1's change to keys/keys.yaml was undone in this push by commit(s) {sha('undo')[:12]}, "
        "not merged from a pull request" in told
    ), told
    assert NOTHING in told


def test_a_push_whose_line_never_touched_the_root_reads_no_pr(
    actions: Actions, hub: FakeGitHub, main: Main
) -> None:
    """The root was not changed on the way: one compare per step but the last, no PR looked up."""
    for number, name in ((1, "README.md"), (2, "docs/a.md"), (3, "docs/b.md")):
        hub.open_pull(number, f"h{number}", (name,))
        main.merge(number, name)
    code, out = push(actions, MAIN, main.tip, manifest())
    assert code == 0 and "changes no file of keys/keys.yaml: nothing to apply for it" in out, out
    assert hub.calls == [
        f"GET /compare/{MAIN}...{main.tip}",
        f"GET /compare/{MAIN}...{sha('merge-1')}",
        f"GET /compare/{sha('merge-1')}...{sha('merge-2')}",
    ]
    assert not [b for n in (1, 2, 3) for b in hub.comments_on(n)]


@pytest.mark.parametrize("how", ["over 100 commits", "a merge that took another branch first"])
def test_a_push_whose_line_cannot_be_followed_says_that_no_pr_whose_change_it_undid_is_told(
    actions: Actions, hub: FakeGitHub, main: Main, how: str
) -> None:
    """PR #2 reverts PR #1, but the line cannot be followed to read the steps: nothing to apply,
    green, and it said only that, as if no PR of the push had changed the root."""
    actions.plan_pr(1, "h1", manifest(k0=25))
    actions.plan_pr(2, "h2", manifest())
    if how == "a merge that took another branch first":
        hub.landed(sha("old"))  # main before MAIN: where a branch merged into main began
        hub.history[MAIN]["parents"] = (sha("old"),)
        main.merge(1, MANIFEST)
        side = reverted(main, 2, of=1)
        hub.landed(sha("branch"), (sha("old"),), "docs/branch.md")
        main.tip = sha("merged")  # `git merge main` on the branch, pushed as main: main its second parent
        hub.landed(main.tip, (sha("branch"), side))
    else:
        main.merge(1, MANIFEST)
        for i in range(100):
            main.direct(f"d{i}", f"docs/{i}.md")
        reverted(main, 2, of=1)
    code, out = push(actions, MAIN, main.tip, manifest())
    assert code == 0 and "changes no file of keys/keys.yaml: nothing to apply for it; whether a pull " in out
    why = "more than 100 commits" if how == "over 100 commits" else "does not reach"
    assert "a later commit changed it back was not read (" in out and why in out, out
    assert "so no such pull request is told that its reviewed plan was not applied" in out
    assert "was not read" in actions.summary(), "said where the run is read, too"
    assert not [b for n in (1, 2) for b in hub.comments_on(n) if "<!-- ehkeys-apply -->" in b]
    assert not [c for c in hub.calls if c.startswith("GET /compare/") and c != hub.calls[0]], "no step read"
    record(
        "gitops",
        f"one push: PR 1 changes the root, PR 2 changes it back, its line unfollowed ({how})",
        1,
        "nothing applied, green; says no PR whose change was undone is told (never silent)",
    )


@pytest.mark.parametrize("answer", ["null", "[]", ""])
@pytest.mark.parametrize("files", ["left alone", "more than compare lists"])
def test_a_step_github_answers_with_no_object_is_a_message(
    actions: Actions, hub: FakeGitHub, main: Main, answer: str, files: str
) -> None:
    """A step's compare answered `null`, a list, or nothing: an internal error (AttributeError)."""
    if files == "left alone":
        actions.plan_pr(1, "h1", manifest(k0=25))
        actions.plan_pr(2, "h2", manifest())
        main.merge(1, MANIFEST)
        reverted(main, 2, of=1)
    else:
        for number, name in ((1, "a"), (2, "b")):
            hub.open_pull(number, f"h{number}", docs(name, 200))
            main.merge(number, *docs(name, 200))
    step = f"GET /compare/{MAIN}...{sha('merge-1')}"
    hub.faults[step] = Response(answer, media_type="application/json")
    live = actions.live()
    code, out = push(actions, MAIN, main.tip, manifest())
    said = f"GitHub API GET /compare/{MAIN[:12]}...{sha('merge-1')[:12]}: the answer is not an object"
    assert actions.live() == live and said in out and "internal error" not in out, out
    if files == "left alone":  # the push leaves the root alone whatever the step: green, said unread
        assert code == 0 and f"was not read ({said})" in out, out
    else:
        assert code == 1 and f"error: {said}" in out, out


@pytest.mark.parametrize("fault", ["a step's compare", "a PR's files"])
@pytest.mark.parametrize("status", [403, 500])
def test_a_push_that_leaves_the_root_alone_is_green_when_github_fails_to_say_who_undid_what(
    actions: Actions, hub: FakeGitHub, main: Main, fault: str, status: int
) -> None:
    """Reading the steps and the PRs only tells PRs whose change the push undid: the push's own
    files leave the root alone, so a failed read there (a rate limit, an outage) turned a
    certain "nothing to apply" red."""
    actions.plan_pr(1, "h1", manifest(k0=25))
    actions.plan_pr(2, "h2", manifest())
    main.merge(1, MANIFEST)
    reverted(main, 2, of=1)
    call = f"GET /compare/{MAIN}...{sha('merge-1')}" if fault == "a step's compare" else "GET /pulls/1/files"
    hub.faults[call] = Response('{"message": "down"}', status_code=status, media_type="application/json")
    live = actions.live()
    code, out = push(actions, MAIN, main.tip, manifest())
    assert code == 0 and actions.live() == live, out
    assert "changes no file of keys/keys.yaml: nothing to apply for it; whether a pull request" in out, out
    assert "so no such pull request is told that its reviewed plan was not applied" in out
    assert not [b for n in (1, 2) for b in hub.comments_on(n) if "<!-- ehkeys-apply -->" in b]


def test_a_push_of_more_steps_than_are_read_to_tell_prs_reads_none(
    actions: Actions, hub: FakeGitHub, main: Main
) -> None:
    """A push of many merges that leaves the root alone: its steps are read only to tell a PR
    whose change it undid, one request each and per root, so past MAX_UNDONE_STEPS none is."""
    for number in range(1, MAX_UNDONE_STEPS + 3):
        hub.open_pull(number, f"h{number}", (f"docs/{number}.md",))
        main.merge(number, f"docs/{number}.md")
    code, out = push(actions, MAIN, main.tip, manifest())
    assert code == 0 and f"({MAX_UNDONE_STEPS + 2} commits on its line: steps are read for" in out, out
    assert hub.calls == [f"GET /compare/{MAIN}...{main.tip}"], "one request: the push's compare"
