"""`ehkeys drift` of two manifest roots on one account, on the command line: `keys/search/` and
`keys/payments/` (prune: true), both `account: prod`, in one git checkout, the account served
for real (the roots and seed of `engine.test_prune_owners`). A live key another root's state
binds is that root's: listed apart as `managed by keys/search`, never drift here (exit 0), never
remembered as an unmanaged key seen. A key nobody binds is still drift; another root's state
that cannot be read leaves its keys unmanaged drift, as before, and the report says why.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import jsonschema

from reconciler.api.client import Client
from reconciler.manifest import resources

from ..engine.test_prune_owners import PAYMENTS_STATE, PROD_KEY, SEARCH_STATE, checkout
from ..helpers import run_cli

__all__ = ["checkout"]  # the fixture: two roots of one checkout, the account served

SEARCH_WHY = f"managed by keys/search (its state binds it: {SEARCH_STATE.as_posix()})"
PAYMENTS_WHY = f"managed by keys/payments (its state binds it: {PAYMENTS_STATE.as_posix()})"


def both_applied(capsys: Any) -> None:
    """Search first (its state binds its keys), then payments (its prune deletes the stray key)."""
    assert run_cli(capsys, "apply", "keys/search", "--auto-approve")[0] == 0
    assert run_cli(capsys, "apply", "keys/payments", "--auto-approve")[0] == 0


def by_hand(name: str) -> None:
    """A key someone made in the account through the API (the dashboard does the same)."""
    body = {"name": name, "expires_at": -1, "allocated_ammount": 3, "model_whitelist": [], "ip_whitelist": []}

    async def create() -> None:
        async with Client(PROD_KEY, os.environ["ELECTRONHUB_BASE_URL"]) as client:
            await client.create(body)

    asyncio.run(create())


def drift_json(capsys: Any, root: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run_cli(capsys, "drift", root, "--format", "json")
    found = json.loads(out)
    jsonschema.validate(found, resources.schema("drift"))
    return code, found["accounts"]["prod"]


def elsewhere(found: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {k["name"]: (k["managed_by"], k["note"]) for k in found.get("managed_elsewhere", [])}


def test_each_roots_drift_is_in_sync_once_both_applied(checkout: Path, capsys: Any) -> None:
    both_applied(capsys)
    code, out, err = run_cli(capsys, "drift", "keys/search")
    assert code == 0, out + err
    assert "Unmanaged keys" not in out and "In sync" in out
    assert "Managed by other manifest roots (1; in the account, their drift, not this manifest's)" in out
    assert f"  = pay-1 (ek-proxy-…0003): 10.00 allocated, active; {PAYMENTS_WHY}" in out

    code, found = drift_json(capsys, "keys/search")
    assert code == 0 and found["in_sync"] and found["groups"]["unmanaged"] == []
    assert elsewhere(found) == {"pay-1": ("keys/payments", PAYMENTS_WHY)}
    seen = json.loads((SEARCH_STATE.parent / "drift-seen.json").read_text())
    assert seen["unmanaged"] == {}, "another root's key is never remembered as an unmanaged one seen"

    code, found = drift_json(capsys, "keys/payments")
    assert code == 0 and found["in_sync"] and found["groups"]["unmanaged"] == []
    why = f"not pruned: {SEARCH_WHY}"
    assert elsewhere(found) == {"search-a": ("keys/search", why), "search-b": ("keys/search", why)}


def test_another_roots_key_is_warned_of_by_that_roots_drift_only(checkout: Path, capsys: Any) -> None:
    """pay-1 used 95% of its allocation: payments' drift warns of it, search's does not."""
    both_applied(capsys)
    with sqlite3.connect(checkout.parent / "accounts.db") as db:
        db.execute("UPDATE keys SET used_ammount = 9.5 WHERE name = 'pay-1'")
    code, found = drift_json(capsys, "keys/search")
    assert code == 0 and found["health"] == [] and "pay-1" in elsewhere(found)
    code, found = drift_json(capsys, "keys/payments")
    assert code == 0 and [(h["kind"], h["name"]) for h in found["health"]] == [("usage", "pay-1")]


def test_a_key_nobody_binds_is_still_drift_in_each_root(checkout: Path, capsys: Any) -> None:
    both_applied(capsys)
    by_hand("by-hand")
    for root in ("keys/search", "keys/payments"):
        code, found = drift_json(capsys, root)
        assert code == 2 and not found["in_sync"], root
        assert [(k["name"], k["new"]) for k in found["groups"]["unmanaged"]] == [("by-hand", True)]
        assert "1 unmanaged key(s) in the account (1 new)" in found["headline"]
        assert "others_unread" not in found
    code, out, err = run_cli(capsys, "drift", "keys/search", "--format", "markdown")
    assert code == 2 and "#### Unmanaged keys (1)" in out and "by-hand" in out
    assert "#### Managed by other manifest roots (1; in the account, their drift, not this manifest's)" in out
    assert "| pay-1 (`ek-proxy-…0003`) | 10.00 | keys/payments |" in out


def test_another_roots_state_unread_leaves_its_keys_drift_saying_why(checkout: Path, capsys: Any) -> None:
    both_applied(capsys)
    SEARCH_STATE.write_text("{not json")
    code, found = drift_json(capsys, "keys/payments")
    assert code == 2 and sorted(k["name"] for k in found["groups"]["unmanaged"]) == ["search-a", "search-b"]
    assert "managed_elsewhere" not in found
    assert (
        found["others_unread"].startswith(f"{SEARCH_STATE.parent}")
        and "not an ehkeys state" in found["others_unread"]
    )

    code, out, err = run_cli(capsys, "drift", "keys/payments")
    assert code == 2, out + err
    assert (
        "whether another manifest root manages any of these cannot be told: its state cannot be read" in out
    )
