"""Another root's claim on a live key counts only in the account its state is for, through the
GitOps jobs (the matrix of `test_gitops_prune_owners`). keys/search also declares staging; its
staging state on the branch binds a key made by hand in prod (a state edited or forged there:
real fingerprints are per key). Its drift watches staging, never prod: so payments' drift issue
lists the key as unmanaged drift and its usage view as managed by nobody; payments' plan still
spares it from prune (two names may be one account; a delete cannot be undone), saying it stays
drift here; search's prod keys stay search's.
"""

from __future__ import annotations

import json
import sqlite3

import pytest
import yaml

from reconciler.core.secrets import fingerprint

from ..drift.test_drift_owners import by_hand
from ..fakegithub import FakeGitHub
from . import test_gitops as gitops
from .test_gitops_drift_owners import ELSEWHERE, PULL, both_applied, drift, issue_of
from .test_gitops_prune_owners import PAYMENTS, SEARCH, TEXTS, Matrix, matrix, plan_comment

pytestmark = pytest.mark.slow  # the GitOps jobs end to end: several jobs per test against the fake GitHub

__all__ = ["matrix"]  # the fixture: the matrix of both roots, the account served

hub = gitops.hub

STAGING_STATE = "keys/search/.ehkeys/search/staging/state.json"


def staging_claims(hub: FakeGitHub, leak: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """keys/search declares staging too, with a key search-s; its staging state binds `leak`."""
    doc = yaml.safe_load(TEXTS[SEARCH])
    doc["accounts"]["staging"] = {"api_key": "${EH_STAGING_API_KEY}"}
    doc["keys"].append({"id": "search-s", "name": "search-s", "allocated_ammount": 10, "account": "staging"})
    monkeypatch.setitem(TEXTS, SEARCH, yaml.safe_dump(doc, sort_keys=False))
    state = {"format_version": 4, "keys": {}, "manifest": "../../..", "account": "staging"}
    state["bindings"] = {"staging/search-s": leak}
    hub.branches["ehkeys-state"][STAGING_STATE] = json.dumps(state).encode()


def test_a_staging_states_claim_on_a_prod_key_spares_it_from_prune_but_never_hides_it(
    matrix: Matrix, hub: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    both_applied(matrix, hub)
    by_hand("leak")
    with sqlite3.connect(matrix.db) as db:
        (value,) = db.execute("SELECT key FROM keys WHERE name = 'leak'").fetchone()
    staging_claims(hub, fingerprint(value), monkeypatch)

    code, out = drift(matrix, PAYMENTS)
    assert code == 0 and "drift issue: opened" in out, out
    body = issue_of(hub, PAYMENTS)["body"]
    assert "#### Unmanaged keys (1)" in body and "| leak (`ek-proxy-…" in body.split(ELSEWHERE)[0]
    assert f"{ELSEWHERE} (2;" in body, "search's prod keys are still search's"
    usage = body.split("<!-- ehkeys-usage -->")[1]
    assert "| ? leak (ek-proxy-…" in usage and "managed by keys/search) |" in usage

    code, out = matrix.plan(PULL + 1, PAYMENTS)
    assert code == 0, out
    shown = plan_comment(hub, PULL + 1)
    assert "0 to delete" in shown and "leak" in shown, shown
    assert f"not pruned: held by keys/search (its state binds it: ehkeys-state:{STAGING_STATE})" in shown
