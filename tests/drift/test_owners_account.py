"""Another root's claim on a live key counts only in the account its state is for, on the command
line (the roots, seed and served account of `engine.test_prune_owners`). keys/search also
declares staging; a state of its for staging, kept where it keeps it and naming a staging id,
binds a key made by hand in prod (a state edited by hand, or forged on the state branch: real
fingerprints are per key). keys/search's drift watches staging there, never prod: so in prod
the key is still spared from prune (two names may be one account; a delete cannot be undone),
but it is prod's drift, saying why, and its usage shows it managed by nobody; search's prod
state still holds search's prod keys.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from ..engine.test_prune_owners import checkout, root
from ..helpers import run_cli
from .test_drift_owners import both_applied, drift_json
from .test_drift_owners_closed import leaked, unmanaged
from .test_usage_owners import usage_json, whose

__all__ = ["checkout"]  # the fixture: two roots of one checkout, the account served

STAGING_STATE = Path("keys/search/.ehkeys/search/staging/state.json")


def staging_claims(leak: str) -> None:
    """keys/search declares staging too, with a key search-s; its staging state binds `leak`."""
    doc = yaml.safe_load(root(["search-a", "search-b"]))
    doc["accounts"]["staging"] = {"api_key": "${EH_STAGING_API_KEY}"}
    doc["keys"].append({"id": "search-s", "name": "search-s", "allocated_ammount": 10, "account": "staging"})
    Path("keys/search/keys.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    STAGING_STATE.parent.mkdir(parents=True)
    state = {"format_version": 4, "keys": {}, "manifest": "../../..", "account": "staging"}
    STAGING_STATE.write_text(json.dumps({**state, "bindings": {"staging/search-s": leak}}))


def test_a_staging_states_claim_on_a_prod_key_spares_it_from_prune_but_never_hides_it(
    checkout: Path, capsys: Any
) -> None:
    both_applied(capsys)
    staging_claims(leaked(checkout))

    code, out, err = run_cli(capsys, "plan", "keys/payments", "--format", "json")
    assert code == 0, out + err
    planned = json.loads(out)
    assert [c["name"] for c in planned["keys"] if c["action"] == "delete"] == [], "never deleted"
    kept = {u["name"]: u.get("managed_by") for u in planned["unmanaged"]}
    assert kept == {"search-a": "keys/search", "search-b": "keys/search", "leak": None}, kept
    (note,) = [u["note"] for u in planned["unmanaged"] if u["name"] == "leak"]
    assert note.startswith("not pruned: held by keys/search") and "drift here" in note, note

    code, found = drift_json(capsys, "keys/payments")
    assert code == 2 and list(unmanaged(found)) == ["leak"], found
    assert sorted(k["name"] for k in found["managed_elsewhere"]) == ["search-a", "search-b"]

    shown = whose(usage_json(capsys, "keys/payments"))
    assert shown["leak"] == (False, None) and shown["search-a"] == (False, "keys/search")
