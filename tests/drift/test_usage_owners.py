"""`ehkeys usage` of two manifest roots on one account, on the command line (the roots, seed and
served account of `engine.test_prune_owners`): a live key another root's state binds, whose drift
watches it, is that root's, as the plan's `managed_by` and drift's `managed_elsewhere` say: shown
`= pay-1 (…, managed by keys/payments)`, not counted unmanaged. A key nobody binds stays unmanaged;
so does one whose root is gone from the checkout (no drift watches it); a state that cannot be
read leaves them all unmanaged, saying why once. Drift's usage view (the drift issue's) takes the
plan's answer, reading nothing more.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import jsonschema

from reconciler.engine import drift as engine_drift
from reconciler.engine.settings import DriftSettings, Workspace
from reconciler.manifest import resources
from reconciler.render import usage_md

from ..engine.test_engine import Recorder
from ..engine.test_prune_owners import SEARCH_STATE, checkout
from ..helpers import run_cli
from .test_drift_owners import both_applied, by_hand

__all__ = ["checkout"]  # the fixture: two roots of one checkout, the account served

PAY_1 = "= pay-1 (ek-proxy-…0003, managed by keys/payments)"
MD_PAY_1 = f"| &#61; {PAY_1[2:]} | 10.00 |"  # a cell's leading `=` escaped (GitHub shows it)


def usage(capsys: Any, root: str, *extra: str) -> tuple[int, str, str]:
    return run_cli(capsys, "usage", root, *extra)


def usage_json(capsys: Any, root: str) -> dict[str, Any]:
    code, out, err = usage(capsys, root, "--format", "json")
    assert code == 0, out + err
    found = json.loads(out)
    jsonschema.validate(found, resources.schema("usage"))
    return dict(found["accounts"]["prod"])


def whose(account: dict[str, Any]) -> dict[str, tuple[bool, str | None]]:
    return {k["name"]: (k["managed"], k.get("managed_by")) for k in account["keys"]}


def test_usage_names_the_keys_another_root_manages_and_counts_them_apart(checkout: Path, capsys: Any) -> None:
    both_applied(capsys)
    by_hand("by-hand")
    code, out, err = usage(capsys, "keys/search")
    assert code == 0, out + err
    assert f"  {PAY_1}  " in out and "? pay-1" not in out
    assert "  ? by-hand (ek-proxy-…" in out, "a key no root binds stays unmanaged"
    assert "by 4 keys (1 unmanaged, 1 managed by another root); balance" in out
    assert "= managed by the manifest root named" in out and "? unmanaged: in the account" in out

    code, out, err = usage(capsys, "keys/search", "--format", "markdown")
    assert code == 0 and MD_PAY_1 in out, out
    assert "by 4 keys (1 unmanaged, 1 managed by another root)" in out and '"= pay-1"' in out

    found = usage_json(capsys, "keys/search")
    assert whose(found) == {
        "search-a": (True, None),
        "search-b": (True, None),
        "pay-1": (False, "keys/payments"),
        "by-hand": (False, None),
    }
    assert (found["total"]["keys"], found["total"]["unmanaged"], found["total"]["managed_elsewhere"]) == (
        4,
        1,
        1,
    )
    assert "others_unread" not in found

    found = usage_json(capsys, "keys/payments")
    assert {n: w for n, w in whose(found).items() if w[1]} == {
        "search-a": (False, "keys/search"),
        "search-b": (False, "keys/search"),
    }
    assert (found["total"]["unmanaged"], found["total"]["managed_elsewhere"]) == (1, 2)


def test_a_root_gone_from_the_checkout_manages_nothing_here(checkout: Path, capsys: Any) -> None:
    """keys/payments deleted, its state left: the plan says pay-1 is held by it, no drift watches
    it (drift counts it unmanaged), and usage does too."""
    both_applied(capsys)
    assert PAY_1 in usage(capsys, "keys/search")[1]
    (checkout / "keys/payments/keys.yaml").unlink()
    code, out, err = usage(capsys, "keys/search")
    assert code == 0 and "  ? pay-1 (ek-proxy-…0003)  " in out and "managed by" not in out, out + err
    assert "by 3 keys (1 unmanaged); balance" in out
    found = usage_json(capsys, "keys/search")
    assert whose(found)["pay-1"] == (False, None) and "managed_elsewhere" not in found["total"]


def test_an_unreadable_other_state_leaves_the_keys_unmanaged_saying_why_once(
    checkout: Path, capsys: Any
) -> None:
    both_applied(capsys)
    SEARCH_STATE.write_text("{not json")
    code, out, err = usage(capsys, "keys/payments", "--target", "pay-1")
    assert code == 0 and "cannot be read" not in out + err, "no key unmanaged shown: no state read"

    code, out, err = usage(capsys, "keys/payments")
    assert code == 0, out + err
    said = "warning: another manifest root's state cannot be read ("
    assert out.count(said) == 1 and f"{SEARCH_STATE}: not an ehkeys state file" in out
    assert "shown as unmanaged here" in out and "by 3 keys (2 unmanaged); balance" in out
    assert "  ? search-a (ek-proxy-…0001)  " in out and "managed by" not in out

    code, out, err = usage(capsys, "keys/payments", "--format", "markdown")
    assert out.count("> **Warning:** another manifest root's state cannot be read (") == 1, out
    found = usage_json(capsys, "keys/payments")
    assert whose(found)["search-a"] == (False, None) and found["total"]["unmanaged"] == 2
    assert found["others_unread"].startswith(f"{SEARCH_STATE}: not an ehkeys state file")


def drift_usage(root: str) -> str:
    """Drift's usage view (the drift job's issue and summary) of `root`, in Markdown."""
    drifted = engine_drift.examine(DriftSettings(Workspace((root,))), Recorder())
    text = io.StringIO()
    usage_md.markdown(drifted.usage, text)
    return text.getvalue()


def test_drifts_usage_view_names_them_as_its_report_does(checkout: Path, capsys: Any) -> None:
    both_applied(capsys)
    by_hand("by-hand")
    shown = drift_usage("keys/search")
    assert MD_PAY_1 in shown and "| ? by-hand (ek-proxy-…" in shown
    assert "by 4 keys (1 unmanaged, 1 managed by another root)" in shown

    SEARCH_STATE.write_text("{not json")
    shown = drift_usage("keys/payments")
    assert "| ? search-a (ek-proxy-…0001) |" in shown and "by 4 keys (3 unmanaged)" in shown
    assert "cannot be read" not in shown, "the drift report says it, once"
