"""The drift job of two manifest roots on one account, `keys/search/` and `keys/payments/` (prune:
true), both `account: prod`, one matrix job per root, against the fake GitHub and a sandbox
served on a loopback port (the roots of `test_gitops_prune_owners`). A key the other root's state
on the branch binds is that root's: each root's drift issue closes once both applied, and says
the other's keys apart. A key nobody binds still opens it; another root's state the job cannot
read leaves its keys unmanaged drift, and the issue says why. The other states cost one listing
of the branch and a blob each, and no request to ElectronHub.
"""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest

from reconciler.core.secrets import fingerprint

from ..drift.test_drift_owners import by_hand
from ..fakegithub import FakeGitHub
from . import test_gitops as gitops
from .test_gitops_prune_owners import PAYMENTS, SEARCH, SEARCH_STATE, TREE, Matrix, applied_search, matrix

pytestmark = pytest.mark.slow  # the GitOps jobs end to end: several jobs per test against the fake GitHub

__all__ = ["matrix"]  # the fixture: the matrix of both roots, the account served

hub = gitops.hub
PAYMENTS_STATE = "keys/payments/.ehkeys/payments/prod/state.json"
ELSEWHERE = "#### Managed by other manifest roots"
PULL = 10  # payments' pull request: the fake numbers issues and pulls as one, as GitHub does


def drift(matrix: Matrix, root: str) -> tuple[int, str]:
    """keys-drift on its schedule, the job of `root`: its log (the issue's fate last) and summary."""
    matrix.fresh(root, "schedule", "main-head", {})
    code, out, err = matrix.run("github", "drift", root)
    return code, out + err + matrix.summary()


def issue_of(hub: FakeGitHub, root: str) -> dict[str, Any]:
    (found,) = [
        i for i in hub.issues.values() if "ehkeys-drift" in i.get("labels", []) and root in i["title"]
    ]
    return found


def both_applied(matrix: Matrix, hub: FakeGitHub) -> None:
    """Search applied, then payments (its prune deletes the stray key, and only it)."""
    applied_search(matrix, hub)
    assert matrix.plan(PULL, PAYMENTS)[0] == 0
    assert matrix.apply(PULL, PAYMENTS)[0] == 0
    assert matrix.names() == ["pay-1", "search-a", "search-b"]


def test_each_roots_drift_issue_closes_once_both_roots_applied(matrix: Matrix, hub: FakeGitHub) -> None:
    applied_search(matrix, hub)
    code, out = drift(matrix, SEARCH)
    assert code == 0 and "drift issue: opened" in out, "payments' key and the stray one: no state binds them"
    assert matrix.plan(PULL, PAYMENTS)[0] == 0 and matrix.apply(PULL, PAYMENTS)[0] == 0

    code, out = drift(matrix, SEARCH)
    assert code == 0 and "drift issue: closed" in out, out
    assert issue_of(hub, SEARCH)["state"] == "closed"
    assert f"{ELSEWHERE} (1; in the account, their drift, not this manifest's)" in out
    assert "| pay-1 (`ek-proxy-…0003`) | 10.00 | keys/payments | managed by keys/payments " in out
    seen = json.loads(hub.branches["ehkeys-state"]["keys/search/.ehkeys/search/prod/drift-seen.json"])
    assert seen["unmanaged"] == {}, "payments' key is not remembered as an unmanaged key seen"

    before = len(hub.calls)
    code, out = drift(matrix, PAYMENTS)
    assert code == 0 and "drift issue: in sync, nothing open" in out, out
    assert "| search-a (`ek-proxy-…0001`) | 10.00 | keys/search | not pruned: managed by keys/search" in out
    reads = [c for c in hub.calls[before:] if c.startswith(("GET /git/trees", "GET /git/blobs"))]
    assert reads == [TREE, reads[1]] and reads[1].startswith("GET /git/blobs/"), "one listing, one state read"


def test_a_key_nobody_binds_opens_each_roots_drift_issue(matrix: Matrix, hub: FakeGitHub) -> None:
    both_applied(matrix, hub)
    by_hand("by-hand")
    for root in (SEARCH, PAYMENTS):
        code, out = drift(matrix, root)
        assert code == 0 and "drift issue: opened" in out, root
        body = issue_of(hub, root)["body"]
        assert "#### Unmanaged keys (1)" in body and "| by-hand (`ek-proxy-…" in body
        assert f"{ELSEWHERE} (" in body and "pay-1" not in body.split(ELSEWHERE)[0]
        assert "1 unmanaged key(s) in the account (1 new)" in body
        usage = body.split("<!-- ehkeys-usage -->")[1]  # the usage view, as the report counts them
        other = (
            "pay-1 (ek-proxy-…0003, managed by keys/payments)"
            if root == SEARCH
            else "search-a (ek-proxy-…0001, managed by keys/search)"
        )
        assert f"| &#61; {other} |" in usage and "| ? by-hand (ek-proxy-…" in usage
        elsewhere = "1 managed by another root" if root == SEARCH else "2 managed by other roots"
        assert f"by 4 keys (1 unmanaged, {elsewhere})" in usage
    made = hub.branches["ehkeys-state"]["keys/search/.ehkeys/search/prod/drift-seen.json"]
    assert fingerprint("ek-proxy-prod-pay-1-0003") not in json.loads(made)["unmanaged"]


def test_another_roots_state_unread_leaves_its_keys_drift_and_the_issue_says_why(
    matrix: Matrix, hub: FakeGitHub
) -> None:
    both_applied(matrix, hub)
    hub.branches["ehkeys-state"][SEARCH_STATE] = b"{not json"
    code, out = drift(matrix, PAYMENTS)
    assert code == 0 and "drift issue: opened" in out, out
    body = issue_of(hub, PAYMENTS)["body"]
    assert "#### Unmanaged keys (2)" in body and "search-a" in body and "search-b" in body
    assert ELSEWHERE not in body
    said = "whether another manifest root manages any of these cannot be told: its state cannot be read"
    assert said in body and f"ehkeys-state:{SEARCH_STATE}: not an ehkeys state file" in body


def test_a_key_of_a_root_gone_from_main_still_opens_the_drift_issue(matrix: Matrix, hub: FakeGitHub) -> None:
    """keys/search was deleted from the repository; its state stays on the branch, binding its
    keys: no drift job watches them any more, so payments' issue says them, and why."""
    both_applied(matrix, hub)
    workspace = matrix.fresh(PAYMENTS, "schedule", "main-head", {})
    shutil.rmtree(workspace / SEARCH)
    code, out, err = matrix.run("github", "drift", PAYMENTS)
    assert code == 0 and "drift issue: opened" in out + err, out + err
    body = issue_of(hub, PAYMENTS)["body"]
    assert "#### Unmanaged keys (2)" in body and ELSEWHERE not in body
    assert "keys/search is not in the checkout, so no root's drift watches it" in body
    workspace = matrix.fresh(PAYMENTS, "schedule", "main-head", {})
    shutil.rmtree(workspace / SEARCH)
    code, out, err = matrix.run("github", "drift", PAYMENTS)
    assert code == 0 and "drift issue: unchanged #" in out + err, "the next run leaves the issue as it is"
