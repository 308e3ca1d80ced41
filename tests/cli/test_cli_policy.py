"""Policies and budgets on `plan` and `apply` against the in-process sandbox: a plan that breaks
one exits 4 and shows its Policy section in text, Markdown and JSON; apply refuses it (exit 1,
nothing sent); exceptions in force are listed with their reasons; with accounts, each its own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from reconciler.manifest import resources

from ..accounts.test_two_accounts import seed as two_seed
from ..helpers import manifest_text, run_cli, seed_data

SANDBOX = ("--sandbox", "--sandbox-seed", "seed.yaml")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An account of three keys of 10.00 (2.00 used each) and a balance of 1,000.00."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "seed.yaml").write_text(yaml.safe_dump(seed_data(3)))
    return tmp_path


def write(rules: str, n: int = 3, **fields: Any) -> str:
    """A manifest of key-0.. with `rules` (YAML) between its version and its keys."""
    text = manifest_text(n, **fields).replace("version: 1\n", f"version: 1\n{rules}", 1)
    Path("keys.yaml").write_text(text)
    return "keys.yaml"


def plan(capsys: Any, manifest: str, *options: str) -> tuple[int, str]:
    code, out, _ = run_cli(capsys, "plan", manifest, *SANDBOX, *options)
    return code, out


def allocations(capsys: Any, manifest: str) -> list[Any]:
    """What the account's keys are allocated, as a JSON plan reads them (nothing sent)."""
    code, out = plan(capsys, manifest, "--format", "json")
    return [k["changes"].get("allocated_ammount") for k in json.loads(out)["keys"]]


def test_a_plan_over_max_net_debit_exits_4_and_apply_refuses_it(workdir: Path, capsys: Any) -> None:
    m = write("budget:\n  max_net_debit: 50\n", allocated_ammount=40)  # 3 x +30.00: a net 90.00
    code, out = plan(capsys, m)
    assert code == 4, out
    assert "Policy: 1 violation (rules: max_net_debit)" in out
    assert (
        "✗ max_net_debit: the plan debits a net 90.00 (90.00 debited, 0.00 refunded, est.), "
        "over 50.00 (keys.yaml:3)"
    ) in out
    assert "0 errors, 1 policy violation." in out
    before = allocations(capsys, m)
    code, out, err = run_cli(capsys, "apply", m, *SANDBOX, "--auto-approve")
    assert code == 1 and "the plan breaks the policy: max_net_debit" in err and "nothing was sent" in err
    assert allocations(capsys, m) == before, "apply sent nothing"
    assert plan(capsys, m, "--detailed-exitcode")[0] == 4, "a violation is not 'changes' (2)"


def test_the_total_allocation_counts_the_unmanaged_keys(workdir: Path, capsys: Any) -> None:
    """One key managed (10.00, in sync but for its window), two unmanaged (10.00 each): 30.00."""
    rules = "policy:\n  max_total_allocation: 25\nbudget:\n  max_allocated: 30\n"
    code, out = plan(capsys, write(rules, n=1, allocated_ammount=10))
    assert code == 4
    assert (
        "✗ max_total_allocation: the account's keys would be allocated 30.00 together after the plan "
        "(unmanaged keys included), over 25.00 (keys.yaml:3)"
    ) in out
    assert "max_allocated" not in out.split("(rules:")[1].split(")")[1], "30.00 is within max_allocated"
    code, out = plan(capsys, write("budget:\n  max_allocated: 29.99\n", n=1, allocated_ammount=10))
    assert code == 4 and "✗ max_allocated: the account's keys would be allocated 30.00" in out


def test_deletes_and_lowered_allocations_count_in_the_totals(workdir: Path, capsys: Any) -> None:
    rules = "policy:\n  max_total_allocation: 15\nbudget:\n  max_net_debit: 0\n"
    m = write(rules, allocated_ammount=5)  # 3 x 10.00 -> 5.00: 15.00 allocated, refunds only
    code, out = plan(capsys, m)
    assert code == 0, out
    assert "Policy: every rule holds (rules: max_total_allocation, max_net_debit)" in out


def test_warn_net_debit_is_a_warning_not_a_failure(workdir: Path, capsys: Any) -> None:
    """Said where a reviewer looks: in the headline and under the credits (text), under the
    comment's title (Markdown), besides the Policy section; the plan passes, apply applies."""
    m = write("budget:\n  warn_net_debit: 20\n", allocated_ammount=20)  # a net 30.00
    code, out = plan(capsys, m)
    assert code == 0
    assert "Policy: every rule holds, 1 warning (rules: warn_net_debit)" in out
    assert "warning: warn_net_debit: the plan debits a net 30.00" in out
    assert (
        "0 errors, 1 budget warning.\n"
        "Credits: 30.00 debited, 0.00 refunded (est.), net -30.00; balance 1,000.00 -> 970.00\n"
        "Budget warning: warn_net_debit: the plan debits a net 30.00 (30.00 debited, 0.00 refunded, est.), "
        "over 20.00\n"
    ) in out
    code, md = plan(capsys, m, "--format", "markdown")
    assert code == 0
    assert md.splitlines()[1].endswith("0 errors, 1 budget warning.")
    assert md.splitlines()[3].startswith(
        "> :warning: **Budget warning:** warn_net_debit: the plan debits a net 30.00"
    )
    assert "- :warning: warn_net_debit: the plan debits a net 30.00" in md
    assert "apply refuses" not in md
    code, raw = plan(capsys, m, "--format", "json")
    assert code == 0 and json.loads(raw)["policy"]["default"]["warnings"] == [
        "warn_net_debit: the plan debits a net 30.00 (30.00 debited, 0.00 refunded, est.), over 20.00"
    ]
    assert run_cli(capsys, "apply", m, *SANDBOX, "--auto-approve")[0] == 0


POLICY = """version: 1
policy:
  max_allocation: 15
  require: [ip_whitelist]
defaults: {limit_type: daily}
keys:
  - proxy_key: ${EH_KEY_0:-ek-proxy-test-000000-secretpart}
    name: key-0
    allocated_ammount: 12
    policy_exceptions: {ip_whitelist: "partner calls from changing IPs"}
  - proxy_key: ${EH_KEY_1:-ek-proxy-test-000001-secretpart}
    name: key-1
    allocated_ammount: 12
  - proxy_key: ${EH_KEY_2:-ek-proxy-test-000002-secretpart}
    name: key-2
    allocated_ammount: 20
"""


def test_the_policy_section_in_text_markdown_and_json(workdir: Path, capsys: Any) -> None:
    Path("keys.yaml").write_text(POLICY)
    code, out = plan(capsys, "keys.yaml")
    assert code == 4, out
    assert "Policy: 3 violations, 1 exception in force (rules: max_allocation, require)" in out
    assert "✗ max_allocation on key-2: allocated_ammount 20.00 is over 15.00 (keys.yaml:16)" in out
    assert "✗ require on key-1: ip_whitelist is not set (on the key or in defaults)" in out
    assert "exception: ip_whitelist waived on key-0: partner calls from changing IPs (keys.yaml:10)" in out

    code, md = plan(capsys, "keys.yaml", "--format", "markdown")
    assert code == 4 and "3 policy violations." in md.splitlines()[1]
    assert "**Policy: 3 violations, 1 exception in force.** The plan check fails, and apply refuses" in md
    assert "- :x: max_allocation on key-2: allocated_ammount 20.00 is over 15.00 (keys.yaml:16)" in md
    assert "- Exception: ip_whitelist waived on key-0: partner calls from changing IPs" in md

    code, raw = plan(capsys, "keys.yaml", "--format", "json")
    data = json.loads(raw)
    jsonschema.validate(data, resources.schema("plan"))
    section = data["policy"]["default"]
    assert section["rules"] == ["max_allocation", "require"]
    assert [(v["rule"], v["key"]) for v in section["violations"]] == [
        ("require", "key-1"),
        ("max_allocation", "key-2"),
        ("require", "key-2"),
    ]
    assert section["violations"][1] == {
        "rule": "max_allocation",
        "key": "key-2",
        "value": "20.00",
        "limit": "15.00",
        "message": "allocated_ammount 20.00 is over 15.00",
        "where": "keys.yaml:16",
    }
    assert section["exceptions"] == [
        {
            "key": "key-0",
            "rule": "ip_whitelist",
            "reason": "partner calls from changing IPs",
            "where": "keys.yaml:10",
        }
    ]


def test_a_plan_without_a_policy_shows_no_section(workdir: Path, capsys: Any) -> None:
    m = write("", allocated_ammount=12)
    code, out = plan(capsys, m)
    assert code == 0 and "Policy" not in out
    assert "policy" not in json.loads(plan(capsys, m, "--format", "json")[1])


def test_a_saved_plan_shows_its_policy_and_apply_refuses_it(workdir: Path, capsys: Any) -> None:
    m = write("budget:\n  max_net_debit: 10\n", allocated_ammount=20)
    code, out, err = run_cli(capsys, "plan", m, *SANDBOX, "--out", "plan.json")
    assert code == 4 and Path("plan.json").is_file()
    code, shown, _ = run_cli(capsys, "show", "plan.json")
    assert code == 0 and "✗ max_net_debit: the plan debits a net 30.00" in shown
    assert shown == out
    before = allocations(capsys, m)
    code, _, err = run_cli(capsys, "apply", m, *SANDBOX, "--plan", "plan.json")
    assert code == 1 and "the plan breaks the policy: max_net_debit" in err
    assert allocations(capsys, m) == before


def test_the_balance_forecast_says_when_the_balance_does_not_cover_the_debits(
    workdir: Path, capsys: Any
) -> None:
    m = write("", allocated_ammount=400)  # 3 x +390.00 against a balance of 1,000.00
    code, out = plan(capsys, m)
    assert "balance 1,000.00 -> -170.00 (the balance does not cover the debits: 170.00 short)" in out
    assert "the debits (1,170.00) exceed the account balance (1,000.00) plus the refunds (0.00)" in out
    md = plan(capsys, m, "--format", "markdown")[1]  # the PR comment says it in its credit line
    assert "balance 1,000.00 → -170.00 (the balance does not cover the debits: 170.00 short)**" in md
    summary = json.loads(plan(capsys, m, "--format", "json")[1])["summary"]
    assert (summary["balance_before"], summary["balance_after"]) == (1000, -170)


ACCOUNTS = """version: 1
accounts:
  prod: {api_key: "${EH_PROD_API_KEY}", budget: {max_net_debit: 50}}
  staging: {api_key: "${EH_STAGING_API_KEY}"}
budget: {warn_net_debit: 5}
defaults: {limit_type: monthly}
keys:
  - {id: backend, account: prod, name: Backend, allocated_ammount: 100}
  - {id: web, account: staging, name: Web, allocated_ammount: 10}
"""


@pytest.fixture
def two_accounts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(two_seed()))
    Path("keys.yaml").write_text(ACCOUNTS)
    monkeypatch.setenv("EH_PROD_API_KEY", "unused-with-sandbox")
    monkeypatch.setenv("EH_STAGING_API_KEY", "unused-with-sandbox")
    return tmp_path


def test_each_account_has_its_own_budget_and_policy_section(two_accounts: Path, capsys: Any) -> None:
    """The top-level budget holds for each account on its own; prod's own limit adds to it."""
    code, out = plan(capsys, "keys.yaml")
    assert code == 4
    prod, staging = out.split("=== Account staging ===")
    assert "Policy: 1 violation, 1 warning (rules: warn_net_debit, max_net_debit)" in prod
    assert "✗ max_net_debit: the plan debits a net 100.00" in prod
    assert "Policy: every rule holds, 1 warning (rules: warn_net_debit)" in staging
    assert "warning: warn_net_debit: the plan debits a net 10.00" in staging
    assert (
        "Plan (2 accounts): 2 to create, 0 to update, 0 to delete, 0 unchanged, 0 errors, 1 policy violation, "
        "2 budget warnings." in out
    )
    code, md = plan(capsys, "keys.yaml", "--format", "markdown")
    head, _ = md.split("#### Account prod")
    assert (
        "> :warning: **Budget warning (account prod):** warn_net_debit: the plan debits a net 100.00" in head
    )
    assert (
        "> :warning: **Budget warning (account staging):** warn_net_debit: the plan debits a net 10.00"
        in head
    )
    prod_md, staging_md = md.split("#### Account staging")
    assert "**Policy: 1 violation, 1 warning.**" in prod_md and "#### Account prod" in prod_md
    assert "**Policy: every rule holds, 1 warning.**" in staging_md
    data = json.loads(plan(capsys, "keys.yaml", "--format", "json")[1])
    jsonschema.validate(data, resources.schema("plan"))
    assert [v["rule"] for v in data["policy"]["prod"]["violations"]] == ["max_net_debit"]
    assert data["policy"]["staging"]["violations"] == [] and len(data["policy"]["staging"]["warnings"]) == 1


def test_apply_refuses_the_account_over_its_budget_and_applies_the_other(
    two_accounts: Path, capsys: Any
) -> None:
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 1
    assert "account prod: the plan breaks the policy: max_net_debit" in out + err
    code, out = plan(capsys, "keys.yaml")
    prod, staging = out.split("=== Account staging ===")
    assert "+ Backend (a new key)" in prod, "nothing was sent to prod"
    assert "No changes." in staging, "staging was applied"


GROUPS = """version: 1
groups:
  ml:
    defaults: {allocated_ammount: 30}
    budget: {max_net_debit: 20, max_allocated: 50, warn_net_debit: 10}
defaults: {limit_type: daily}
keys:
  - {proxy_key: "${EH_KEY_0:-ek-proxy-test-000000-secretpart}", name: key-0, group: ml}
  - {proxy_key: "${EH_KEY_1:-ek-proxy-test-000001-secretpart}", name: key-1, group: ml}
  - {proxy_key: "${EH_KEY_2:-ek-proxy-test-000002-secretpart}", name: key-2, allocated_ammount: 10}
"""


def test_a_groups_budget_holds_over_its_keys_and_the_plan_rolls_up_per_group(
    workdir: Path, capsys: Any
) -> None:
    """key-0 and key-1 (ml) go from 10.00 to 30.00 each: a net 40.00, 60.00 allocated."""
    Path("keys.yaml").write_text(GROUPS)
    code, out = plan(capsys, "keys.yaml")
    assert code == 4, out
    assert (
        "Groups:\n  ml: 2 keys (2 changed), 40.00 debited, 0.00 refunded (est.), net -40.00; 60.00 allocated after"
        in out
    )
    assert (
        "✗ max_allocated (group ml): group ml's keys would be allocated 60.00 together after the plan, "
        "over 50.00 (keys.yaml:5)"
    ) in out
    assert (
        "✗ max_net_debit (group ml): the plan debits a net 40.00 (40.00 debited, 0.00 refunded, est.), over 20.00"
        in out
    )
    assert "warning: warn_net_debit (group ml): the plan debits a net 40.00" in out
    md = plan(capsys, "keys.yaml", "--format", "markdown")[1]
    assert "| ml | 2 | 2 | 40.00 | 0.00 | -40.00 | 60.00 |" in md
    assert "- :x: max_net_debit (group ml): the plan debits a net 40.00" in md
    data = json.loads(plan(capsys, "keys.yaml", "--format", "json")[1])
    jsonschema.validate(data, resources.schema("plan"))
    assert data["groups"] == {
        "default": {
            "ml": {
                "keys": 2,
                "changes": 2,
                "account_debit": 40,
                "account_refund": 0,
                "net": -40,
                "allocated": 60,
            }
        }
    }
    assert {v["group"] for v in data["policy"]["default"]["violations"]} == {"ml"}
    code, _, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 1 and "the plan breaks the policy: max_allocated" in err
    Path("keys.yaml").write_text(
        GROUPS.replace("max_net_debit: 20, max_allocated: 50", "max_net_debit: 40, max_allocated: 60")
    )
    code, out = plan(capsys, "keys.yaml")
    assert code == 0 and "Policy: every rule holds, 1 warning" in out


def test_a_groups_total_counts_its_keys_that_target_leaves_out(workdir: Path, capsys: Any) -> None:
    """key-0 (ml) is allocated 30.00 already; raising key-1 (ml) from 10.00 to 20.00 makes ml 50.00,
    over 45.00, also when --target plans key-1 alone: a targeted apply cannot slip past it."""
    data = seed_data(3)
    data["keys"][0]["allocated_ammount"] = 30.0
    Path("seed.yaml").write_text(yaml.safe_dump(data))
    Path("keys.yaml").write_text(
        GROUPS.replace("defaults: {allocated_ammount: 30}", "defaults: {allocated_ammount: 20}")
        .replace("max_net_debit: 20, max_allocated: 50", "max_allocated: 45")
        .replace("name: key-0, group: ml}", "name: key-0, group: ml, allocated_ammount: 30}")
    )
    for target in ((), ("--target", "key-1")):
        code, out = plan(capsys, "keys.yaml", *target)
        assert code == 4, out
        assert "✗ max_allocated (group ml): group ml's keys would be allocated 50.00 together" in out
    code, _, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--target", "key-1", "--auto-approve")
    assert code == 1 and "the plan breaks the policy: max_allocated" in err


def test_a_saved_plan_shows_its_groups_as_plan_did(workdir: Path, capsys: Any) -> None:
    Path("keys.yaml").write_text(GROUPS)
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--out", "plan.json")
    assert code == 4 and "Groups:" in out
    code, shown, _ = run_cli(capsys, "show", "plan.json")
    assert code == 0 and shown == out
