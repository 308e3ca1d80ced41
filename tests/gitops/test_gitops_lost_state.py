"""The state committed in the repository (`ehkeys import`'s) against the one on the branch
`ehkeys-state`: binding keys from it on the first run, and never taking its snapshots for the
last verified apply's, so that drift after the branch is lost accuses no reviewed change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..fakegithub import FakeGitHub
from . import test_gitops as gitops
from .test_gitops import JOURNAL_ON_BRANCH, MANIFEST, STATE_ON_BRANCH, Actions, drift_issue, plan_comment

pytestmark = pytest.mark.slow  # the GitOps jobs end to end against the fake GitHub

hub = gitops.hub
actions = gitops.actions

FROM_CHECKOUT = f"state: {STATE_ON_BRANCH} from the checkout, for its bindings only"
NOTE = f"**The state was read from the repository** (`{STATE_ON_BRANCH}`)"
ACCUSED = "Changed outside ehkeys since the last apply"  # the drift issue's section


def imported(actions: Actions, tmp_path: Path, journal: bool = False) -> str:
    """`ehkeys import --all` on the team's machine: the manifest (each key's window chosen), and
    the state import wrote beside it, committed with it as docs/gitops.md says (`journal`: its
    journal too, which that page's .gitignore leaves out)."""
    laptop = tmp_path / "laptop"
    laptop.mkdir()
    actions.mp.chdir(laptop)
    code, out, err = actions.run("import", "--all", "--out", MANIFEST, "--sandbox", *actions.seeded)
    assert code == 0, out + err
    for name in [STATE_ON_BRANCH, *([JOURNAL_ON_BRANCH] if journal else [])]:
        actions.committed[name] = (laptop / name).read_bytes()
    return (laptop / MANIFEST).read_text().replace("limit_type: unknown", "limit_type: daily")


@pytest.mark.parametrize("journal", [False, True], ids=["state", "state-and-journal"])
def test_drift_after_the_state_branch_is_lost_accuses_no_reviewed_change(
    actions: Actions, hub: FakeGitHub, tmp_path: Path, journal: bool
) -> None:
    raised = imported(actions, tmp_path, journal).replace(
        "allocated_ammount: 10.00", "allocated_ammount: 15.00", 1
    )
    actions.plan_pr(1, "h1", raised)
    assert actions.merge_and_apply(1, "m1", raised)[0] == 0  # key-0 raised to 15, reviewed
    assert "in sync, nothing open" in actions.drift(raised)[1]

    del hub.branches["ehkeys-state"]  # someone deleted the state branch
    actions.sql("UPDATE keys SET name = 'renamed' WHERE name = 'key-2'")  # a dashboard edit since
    code, out = actions.drift(raised)
    body = drift_issue(hub)["body"]
    assert ACCUSED not in body and "10.00 → 15.00" not in body, body  # the reviewed raise
    assert code == 0 and "drift issue: opened" in out and FROM_CHECKOUT in out, out
    assert "renamed" in body and "no verified apply recorded" in body and NOTE in body
    assert NOTE in actions.summary()

    actions.plan_pr(5, "h5", raised)  # #2 is the drift issue
    assert actions.merge_and_apply(5, "m5", raised)[0] == 0  # records snapshots on the branch again
    actions.sql("UPDATE keys SET name = 'by hand' WHERE name = 'key-1'")
    code, out = actions.drift(raised)
    body = drift_issue(hub)["body"]
    assert "drift issue: updated" in out and FROM_CHECKOUT not in out, out
    assert ACCUSED in body and '"key-1" → "by hand"' in body and NOTE not in body, body


def test_the_first_run_binds_each_key_by_the_committed_import_state(
    actions: Actions, hub: FakeGitHub, tmp_path: Path
) -> None:
    """No state on the branch yet: the keys are bound by the committed state (a key renamed in the
    manifest is found only by it), and the first apply records snapshots of its own."""
    renamed = imported(actions, tmp_path).replace('name: "key-1"', 'name: "Key One"')
    code, out = actions.drift(renamed)  # a scheduled drift before the first apply
    assert code == 0 and FROM_CHECKOUT in out and NOTE in drift_issue(hub)["body"], out
    assert "update (no verified apply recorded)" in drift_issue(hub)["body"]  # the rename, bound

    code, out = actions.plan_pr(5, "h5", renamed)  # #1 is the drift issue; the branch holds no state
    comment = plan_comment(hub, 5)
    assert code == 0 and FROM_CHECKOUT in out, out
    assert "0 to create, 3 to update, 0 to delete" in comment and '| name | "key-1" | "Key One" |' in comment
    assert actions.merge_and_apply(5, "m5", renamed)[0] == 0
    assert sorted(actions.live()) == ["Key One", "key-0", "key-2"]  # renamed, not created twice
    state = json.loads(hub.branches["ehkeys-state"][STATE_ON_BRANCH])
    assert state["bindings"] == json.loads(actions.committed[STATE_ON_BRANCH])["bindings"]
    assert state["snapshots"][state["bindings"]["key-1"]]["name"] == "Key One"

    code, out = actions.drift(renamed)
    assert code == 0 and "drift issue: closed" in out and FROM_CHECKOUT not in out, out
