"""The edges of what one push merged (reconciler/gitops/pushed.py, batch.py), against the fake
GitHub's history: a push of more files than GitHub's compare lists (300: compare pages its
commits, never its files).

Each test plans its PRs on the same main, lands their commits (`Main`, as in
test_gitops_batch.py), and runs keys-apply on the push event GitHub sends.
"""

from __future__ import annotations

import pytest

from ..fakegithub import MAX_COMPARED_FILES, FakeGitHub
from . import test_gitops as gitops
from . import test_gitops_batch as batch
from .test_gitops import MANIFEST, Actions, apply_comment, manifest
from .test_gitops_batch import MAIN, Main, push, sha

pytestmark = pytest.mark.slow  # the GitOps jobs end to end against the fake GitHub

hub = gitops.hub
actions = gitops.actions
main = batch.main


def docs(name: str, count: int) -> tuple[str, ...]:
    return tuple(f"docs/{name}/{i}.md" for i in range(count))


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
