"""A state committed in the repository that is stale, read by the GitOps jobs once the branch
`ehkeys-state` is lost: its bindings may name a key a rotation since replaced (the old key still
live through its overlap, the successor the one the application holds), and it binds no key
created after it was committed. The jobs never take such a binding on a guess (no reviewed
change sent to the old key, no old value delivered over the successor's), never put it on the
branch as a verified apply's, and never prune beside a create on its word."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from ..fakegithub import TOKEN, FakeGitHub
from ..reliability_log import record
from . import test_gitops as gitops
from .test_gitops import MANIFEST, STATE_ON_BRANCH, Actions, plan_comment
from .test_gitops_lost_state import imported

pytestmark = pytest.mark.slow  # the GitOps jobs end to end against the fake GitHub

hub = gitops.hub
actions = gitops.actions

CONTRADICTED = "this state is no verified apply's (read from the checkout"
OLD = "ek-proxy-test-000000-secretpart"  # key-0 as imported (the seed's)


def rotated_then_lost(actions: Actions, hub: FakeGitHub, tmp_path: Path, text: str) -> str:
    """The committed import state binds key-0 to its first key; the manifest applied, key-0
    rotated by hand (the rotate job, a 7-day overlap: both keys live), then the state branch
    deleted. The successor's value."""
    actions.plan_pr(1, "h1", text)
    assert actions.merge_and_apply(1, "m1", text)[0] == 0
    actions.checkout(text, "workflow_dispatch", "main-head", {})
    rotate = ("github", "rotate", MANIFEST, "--sandbox", *actions.seeded, "--now", "--target", "key-0")
    code, out, err = actions.run(*rotate, "--overlap", "7d")
    assert code == 0, out + err
    del hub.branches["ehkeys-state"]
    return next(value for value, key in _keys(actions).items() if key == "key-0" and value != OLD)


def _keys(actions: Actions) -> dict[str, str]:
    """Every live key's value -> its name (two share one during an overlap)."""
    return {str(k["key"]): str(k["name"]) for k in _rows(actions)}


def _rows(actions: Actions) -> list[dict[str, object]]:
    with sqlite3.connect(actions.account) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM keys WHERE user_id = 'u1'")]


def test_a_stale_committed_binding_is_never_taken_and_never_put_on_the_branch(
    actions: Actions, hub: FakeGitHub, tmp_path: Path
) -> None:
    text = imported(actions, tmp_path)
    successor = rotated_then_lost(actions, hub, tmp_path, text)
    raised = text.replace("allocated_ammount: 10.00", "allocated_ammount: 20.00", 1)  # key-0's
    before = _rows(actions)
    code, out = actions.plan_pr(5, "h5", raised)
    comment = plan_comment(hub, 5)
    assert code == 1 and CONTRADICTED in comment, comment
    assert f"it binds key-0 to ek-proxy-…part, but ek-proxy-…{successor[-4:]}" in comment
    assert "give key-0 the proxy_key of the key it is" in comment and "1 to update" not in comment

    code, out = actions.merge_and_apply(5, "m5", raised)
    assert code == 1 and CONTRADICTED in out and "nothing was sent" in out, out
    assert _rows(actions) == before, "nothing sent: the raise never reaches the old key"
    assert STATE_ON_BRANCH not in hub.branches.get("ehkeys-state", {}), "pushed as a verified apply's"
    code, out = actions.drift(raised)
    assert code == 1 and CONTRADICTED in out, out  # every later run says it again

    actions.sql("DELETE FROM keys WHERE key = ?", OLD)  # the key the application no longer uses
    code, out = actions.plan_pr(5, "h6", raised)
    assert code == 0 and "0 to create" in plan_comment(hub, 5), out
    assert actions.merge_and_apply(5, "m6", raised)[0] == 0
    live = actions.live()["key-0"]
    assert live["key"] == successor and live["allocated_ammount"] == 20, "raised on the successor"
    record(
        "gitops",
        "the state branch lost mid-rotation, the committed state binding the old key",
        1,
        "refused, naming both keys: no change sent to the old key, nothing put on the branch",
    )


def test_a_stale_state_committed_where_earlier_versions_kept_it_is_never_put_on_the_branch_either(
    actions: Actions, hub: FakeGitHub, tmp_path: Path
) -> None:
    """Committed at the earlier layout's place (`keys/.ehkeys/sandbox/`), the run moves it into
    place before it plans: moved, it is still the committed state, refused and kept off the branch."""
    text = imported(actions, tmp_path)
    state = json.loads(actions.committed.pop(STATE_ON_BRANCH))
    del state["manifest"]  # as earlier versions wrote it
    actions.committed["keys/.ehkeys/sandbox/state.json"] = json.dumps({**state, "format_version": 3}).encode()
    rotated_then_lost(actions, hub, tmp_path, text)
    raised = text.replace("allocated_ammount: 10.00", "allocated_ammount: 20.00", 1)
    actions.plan_pr(5, "h5", raised)
    code, out = actions.merge_and_apply(5, "m5", raised)
    assert code == 1 and CONTRADICTED in out and "moved the state keys/.ehkeys/sandbox/state.json" in out, out
    assert STATE_ON_BRANCH not in hub.branches.get("ehkeys-state", {}), "pushed as a verified apply's"
    assert actions.drift(raised)[0] == 1


def test_the_deliver_job_never_delivers_the_key_a_stale_committed_state_binds(
    actions: Actions, hub: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEPLOY_TOKEN", TOKEN)
    data = yaml.safe_load(imported(actions, tmp_path))
    sink = {"github_secret": {"repo": "acme/api", "name": "EH_KEY", "token": "${DEPLOY_TOKEN}"}}
    data["keys"][0]["deliver"] = [sink]
    text = yaml.safe_dump(data, sort_keys=False)
    successor = rotated_then_lost(actions, hub, tmp_path, text)
    assert hub.secrets == {("acme/api", None, "EH_KEY"): successor}  # the rotation delivered it

    actions.checkout(text, "workflow_dispatch", "m2", {})
    code, out, err = actions.run("github", "deliver", MANIFEST, "--sandbox", *actions.seeded)
    assert code == 3 and CONTRADICTED in out + err, out + err
    assert hub.secrets == {("acme/api", None, "EH_KEY"): successor}, "the old key's value delivered"


def test_prune_never_deletes_a_key_created_after_the_committed_state_and_renamed_since(
    actions: Actions, hub: FakeGitHub, tmp_path: Path
) -> None:
    """docs/gitops.md's promise for a lost state: a plan that would delete a renamed key and create
    a new one is refused under prune: true, also when a committed state binds the other keys."""
    data = yaml.safe_load(imported(actions, tmp_path))
    data["keys"].append(
        {"id": "analytics", "name": "analytics", "allocated_ammount": 5, "limit_type": "weekly"}
    )
    text = yaml.safe_dump(data, sort_keys=False)
    actions.plan_pr(1, "h1", text)
    assert actions.merge_and_apply(1, "m1", text)[0] == 0  # created after the state was committed
    actions.sql("UPDATE keys SET name = 'Analytics (old)' WHERE name = 'analytics'")  # the dashboard
    del hub.branches["ehkeys-state"]
    before = _rows(actions)

    pruned = text + "prune: true\n"
    code, out = actions.plan_pr(2, "h2", pruned)
    comment = plan_comment(hub, 2)
    assert code == 1 and "prune: true, but the state's bindings are no verified apply's" in comment, comment
    assert "would create 'analytics' while deleting 'Analytics (old)'" in comment
    assert actions.merge_and_apply(2, "m2", pruned)[0] == 1
    assert _rows(actions) == before, "the renamed key deleted, a new one created"
