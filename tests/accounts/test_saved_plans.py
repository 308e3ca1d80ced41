"""A saved plan of two accounts edited by hand (a part renamed, added, swapped, or put in the
one-account format) is refused by apply before any request, never applied in part nor reported
'already as planned'; a plan with no part for the accounts a run covers says so. A refund
skipped in one account holds back that account's debits only."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.sandbox import Sandbox, seeds

from ..helpers import run_cli
from .test_two_accounts import SANDBOX, account, manifest, seed

Edit = Callable[[dict[str, Any]], dict[str, Any]]


def _renamed(plan: dict[str, Any]) -> dict[str, Any]:
    parts = plan["accounts"]
    return {**plan, "accounts": {"prod": parts["prod"], "qa": parts["staging"]}}


def _added(plan: dict[str, Any]) -> dict[str, Any]:
    return {**plan, "accounts": {**plan["accounts"], "dev": plan["accounts"]["prod"]}}


def _swapped(plan: dict[str, Any]) -> dict[str, Any]:
    parts = plan["accounts"]
    return {**plan, "accounts": {"prod": parts["staging"], "staging": parts["prod"]}}


def _one_account_format(plan: dict[str, Any]) -> dict[str, Any]:
    head = {k: v for k, v in plan.items() if k != "accounts"}
    return {**head, "format_version": 3, **plan["accounts"]["prod"]}


REMOVED = object()


def _api(entry: Any) -> Edit:
    """staging's `api` entry removed, or replaced by `entry`: a check a hand could turn off."""

    def edit(plan: dict[str, Any]) -> dict[str, Any]:
        staging = {k: v for k, v in plan["accounts"]["staging"].items() if k != "api"}
        staging |= {} if entry is REMOVED else {"api": entry}
        return {**plan, "accounts": {**plan["accounts"], "staging": staging}}

    return edit


NO_API = "its api entry is not a base URL and a key fingerprint (edited by hand?)"
EDITS: dict[str, tuple[Edit, str]] = {
    "api-removed": (_api(REMOVED), NO_API),
    "api-null": (_api(None), NO_API),
    "a-part-renamed": (_renamed, "holds a plan for account 'qa', but the manifest declares prod, staging"),
    "a-part-added": (_added, "holds a plan for account 'dev', but the manifest declares prod, staging"),
    "parts-swapped": (
        _swapped,
        "its part for account prod would create 'web', which is not a key of that account",
    ),
    "one-account-format": (
        _one_account_format,
        "holds a plan for a manifest without accounts, but the manifest",
    ),
}


@pytest.fixture
def saved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> dict[str, Any]:
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed()))
    Path("keys.yaml").write_text(manifest())
    assert run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--out", "plan.json")[0] == 0
    data: dict[str, Any] = json.loads(Path("plan.json").read_text())
    return data


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_a_saved_plan_whose_account_parts_were_edited_is_refused_before_any_request(
    saved: dict[str, Any], capsys: Any, edit: str
) -> None:
    change, message = EDITS[edit]
    Path(f"{edit}.json").write_text(json.dumps(change(saved), indent=2))
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--plan", f"{edit}.json")
    assert code == 1, out + err
    assert message in err and "nothing was sent" in err
    assert "internal error" not in err and "already as planned" not in out
    assert account("prod")[0] == Decimal(1000) and account("staging")[0] == Decimal(100)


def _renamed_web(plan: dict[str, Any]) -> None:
    plan["accounts"]["staging"]["plan"]["keys"][0]["name"] = "Webb"


def _noted(plan: dict[str, Any]) -> None:
    plan["accounts"]["prod"]["plan"]["notes"].append("approved")


SHOWN = {  # a part's shown plan edited: what the refusal says, the key by its address
    "a key's name": (
        _renamed_web,
        'staging/web is shown named "Webb", but what it would apply names it "Web"',
    ),
    "a note": (
        _noted,
        "account prod: its totals, notes, problems, unmanaged keys, policy or groups are not shown as "
        "the plan wrote them",
    ),
}


@pytest.mark.parametrize("edit", sorted(SHOWN))
def test_what_an_accounts_part_shows_edited_is_refused_naming_the_account(
    saved: dict[str, Any], capsys: Any, edit: str
) -> None:
    """A key is named as its address is (`staging/web`): two accounts may hold the same id."""
    change, said = SHOWN[edit]
    change(saved)
    Path("plan.json").write_text(json.dumps(saved, indent=2))
    for argv in (["show", "plan.json"], ["apply", "keys.yaml", *SANDBOX, "--plan", "plan.json"]):
        code, out, err = run_cli(capsys, *argv)
        assert (code, out) == (1, "") and err.endswith(f": {said}: plan again\n"), err
    assert account("prod")[0] == Decimal(1000) and account("staging")[0] == Decimal(100)


def test_a_saved_plan_without_a_part_for_the_account_named_says_so(
    saved: dict[str, Any], capsys: Any
) -> None:
    code, _, err = run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--account", "prod", "--out", "prod.json")
    assert code == 0, err
    code, out, err = run_cli(
        capsys, "apply", "keys.yaml", *SANDBOX, "--plan", "prod.json", "--account", "staging"
    )
    assert code == 1, out + err
    assert "prod.json has no part for the accounts this run covers (it holds prod)" in err
    assert "internal error" not in err
    assert account("staging")[0] == Decimal(100)


@pytest.fixture
def two_accounts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """prod and staging on the in-process sandbox, nothing applied yet."""
    monkeypatch.chdir(tmp_path)
    for name in ("EH_PROD_API_KEY", "EH_STAGING_API_KEY"):
        monkeypatch.setenv(name, "unused-with-sandbox")
    Path("seed.yaml").write_text(yaml.safe_dump(seed()))


def reviewed_then_used(capsys: Any, doc: dict[str, Any], used: str) -> tuple[int, str]:
    """`doc` planned and saved, then key `used` spends 5 credits (its refund moves): the reviewed
    plan applied."""
    Path("keys.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    assert run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--out", "plan.json")[0] == 0
    box = Sandbox.open(".ehkeys/sandbox.db", seeds.load("seed.yaml"))
    box.store.db.execute("UPDATE keys SET used_ammount = '5' WHERE name = ?", (used,))
    code, out, _ = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--plan", "plan.json")
    return code, out


def test_a_refund_skipped_in_one_account_holds_back_its_debits_not_the_other_accounts(
    two_accounts: None, capsys: Any
) -> None:
    """prod's reviewed net (+0.00) counted on Backend's refund, skipped once its usage moved:
    prod's create is not sent; staging's raise, which counted on nothing in prod, is."""
    Path("keys.yaml").write_text(manifest())
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    doc = yaml.safe_load(manifest(staging=20))
    doc["keys"][0]["absent"] = True
    doc["keys"].append({"id": "api", "account": "prod", "name": "Api", "allocated_ammount": 100})
    code, out = reviewed_then_used(capsys, doc, "Backend")
    assert code == 3, out
    assert "[prod]  - Api (a new key): skipped: not sent: an earlier change did not land, and these " in out
    assert "debits counted on it (the refund of Backend (ek-proxy-" in out
    assert "[staging]  ✓ Web" in out
    (prod, prod_keys), (staging, _) = account("prod"), account("staging")
    assert prod == Decimal(900) and [k["name"] for k in prod_keys] == ["Backend"]
    assert staging == Decimal(80)


def test_a_move_whose_create_counted_on_a_skipped_refund_keeps_its_old_key(
    two_accounts: None, capsys: Any
) -> None:
    """Backend moves from prod to staging, whose create there counted on Old's refund, skipped
    once Old's usage moved: the create is not sent, so the delete in prod waits (make before
    break), and Backend stays where it was."""
    doc = yaml.safe_load(manifest(prod=30))  # staging's 40.00 cover its create without the refund
    doc["keys"].append({"id": "old", "account": "staging", "name": "Old", "allocated_ammount": 50})
    Path("keys.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    doc["keys"][0]["account"], doc["keys"][2]["absent"] = "staging", True
    code, out = reviewed_then_used(capsys, doc, "Old")
    assert code == 3, out
    assert "[staging]  - Backend (a new key): skipped: not sent: an earlier change did not land" in out
    assert "[prod]  - Backend (ek-proxy-" in out
    assert "not deleted: its create in account staging skipped" in out
    (prod, prod_keys), (staging, staging_keys) = account("prod"), account("staging")
    assert [k["name"] for k in prod_keys] == ["Backend"] and prod == Decimal(970)
    assert sorted(k["name"] for k in staging_keys) == ["Old", "Web"] and staging == Decimal(40)
