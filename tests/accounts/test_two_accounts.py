"""Two accounts in one manifest, end to end on the sandbox: each planned, applied and checked
for drift on its own, credit exact per account and never netted; a key moved between them; one
account's refused key, or another account's key in its variable, leaves the other applied."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from reconciler.manifest import resources
from reconciler.sandbox import Sandbox, seeds

from ..helpers import live_sandbox, run_cli

PROD_KEY, STAGING_KEY = "ek-test-prod-account", "ek-test-staging-account"
PARTNER_KEY = "ek-test-partner-account"  # an account outside the manifest, with a key of its own


def seed() -> dict[str, Any]:
    return {
        "accounts": [
            {"user_id": "u1", "name": "prod", "api_key": PROD_KEY, "balance": 1000.0},
            {"user_id": "u2", "name": "staging", "api_key": STAGING_KEY, "balance": 100.0},
            {"user_id": "u3", "name": "partner", "api_key": PARTNER_KEY, "balance": 10.0},
        ],
        "keys": [{"key": "ek-proxy-test-partners-own-key", "user_id": "u3", "name": "Theirs"}],
        "rate_limit": {"requests": 100_000, "window_s": 60},
    }


def manifest(prod: int = 100, staging: int = 10, backend_in: str = "prod") -> str:
    keys = [
        {"id": "backend", "account": backend_in, "name": "Backend", "allocated_ammount": prod},
        {"id": "web", "account": "staging", "name": "Web", "allocated_ammount": staging},
    ]
    doc = {
        "version": 1,
        "accounts": {
            "prod": {"api_key": "${EH_PROD_API_KEY}"},
            "staging": {"api_key": "${EH_STAGING_API_KEY}"},
        },
        "defaults": {"limit_type": "monthly"},
        "keys": keys,
    }
    return yaml.safe_dump(doc, sort_keys=False)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed()))
    Path("keys.yaml").write_text(manifest())
    monkeypatch.setenv("EH_PROD_API_KEY", "unused-with-sandbox")
    monkeypatch.setenv("EH_STAGING_API_KEY", "unused-with-sandbox")
    return tmp_path


SANDBOX = ("--sandbox", "--sandbox-seed", "seed.yaml")


def account(name: str) -> tuple[Decimal, list[dict[str, Any]]]:
    box = Sandbox.open(".ehkeys/sandbox.db", seeds.load("seed.yaml"))
    user = {"prod": "u1", "staging": "u2"}[name]
    return Decimal(box.store.account(user)["balance"]), box.store.keys_of(user)


def test_a_plan_has_a_section_per_account_and_never_nets_credit(workdir: Path, capsys: Any) -> None:
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX)
    assert code == 0
    assert "=== Account prod ===" in out and "=== Account staging ===" in out
    prod, staging = out.split("=== Account staging ===")
    assert "Credits: 100.00 debited" in prod and "balance 1,000.00 -> 900.00" in prod
    assert "Credits: 10.00 debited" in staging and "balance 100.00 -> 90.00" in staging
    assert "\nPlan (2 accounts): 2 to create" in out and "accounts: Plan:" not in out  # reads as one headline


def test_several_accounts_count_each_by_name_and_total_once(workdir: Path, capsys: Any) -> None:
    """Each section's counts said `Plan:` as the total does: three `Plan` lines, one a total."""
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX)
    counts = [line for line in out.splitlines() if " to create, " in line]
    assert code == 0 and counts == [
        "Account prod: 1 to create, 0 to update, 0 to delete, 0 unchanged, 0 errors.",
        "Account staging: 1 to create, 0 to update, 0 to delete, 0 unchanged, 0 errors.",
        "Plan (2 accounts): 2 to create, 0 to update, 0 to delete, 0 unchanged, 0 errors.",
    ], out
    assert out.endswith(
        "\n\nPlan (2 accounts): 2 to create, 0 to update, 0 to delete, 0 unchanged, 0 errors.\n"
    )


@pytest.mark.parametrize("command", ["plan", "drift"])
def test_a_run_of_one_account_says_its_total_once(workdir: Path, capsys: Any, command: str) -> None:
    """`Plan: 1 to create, ...` then `Plan (1 account): 1 to create, ...`: one total said twice."""
    code, out, _ = run_cli(capsys, command, "keys.yaml", *SANDBOX, "--account", "staging")
    headlines = [line for line in out.splitlines() if line.startswith(("Plan", "Drift", "In sync"))]
    assert code in (0, 2) and len(headlines) == 1, out
    assert headlines[0].startswith(("Plan: 1 to create, ", "Drift: 1 manifest change")), out
    assert "1 account)" not in out and not out.endswith("\n\n"), out


def test_the_json_plan_names_each_keys_account_and_each_accounts_summary(workdir: Path, capsys: Any) -> None:
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--format", "json")
    data = json.loads(out, parse_float=Decimal)
    jsonschema.validate(json.loads(out), resources.schema("plan"))
    assert data["format_version"] == 3
    assert [(k["account"], k["address"]) for k in data["keys"]] == [("prod", "backend"), ("staging", "web")]
    assert (
        data["accounts"]["prod"]["account_debit"] == 100
        and data["accounts"]["staging"]["account_debit"] == 10
    )
    assert data["accounts"]["prod"]["requests"] == 2 and data["accounts"]["staging"]["requests"] == 2
    assert data["summary"]["account_debit"] == 110 and data["summary"]["requests"] == 4


def test_the_markdown_plan_has_a_table_per_account(workdir: Path, capsys: Any) -> None:
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--format", "markdown")
    assert out.count("| | Key | Action | Account credits |") == 2
    assert "#### Account prod" in out and "#### Account staging" in out


def test_apply_debits_each_account_exactly_and_drift_is_then_in_sync(workdir: Path, capsys: Any) -> None:
    code, out, _ = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 0, out
    assert "[prod]  ✓ Backend" in out and "[staging]  ✓ Web" in out
    # the accounts apply at once and their lines interleave: each line names its account
    assert "[prod] Apply complete: 1 created.\n[prod] Credits moved: -100.00" in out
    assert "[staging] Apply complete: 1 created.\n[staging] Credits moved: -10.00" in out
    assert "[staging] The new keys' values are in the account only: `ehkeys reveal" in out
    assert account("prod")[0] == Decimal(900) and account("staging")[0] == Decimal(90)
    assert Path(".ehkeys/keys/prod/sandbox/state.json").is_file()
    assert Path(".ehkeys/keys/staging/sandbox/state.json").is_file()
    code, out, _ = run_cli(capsys, "drift", "keys.yaml", *SANDBOX)
    assert code == 0, out
    assert "In sync: every account's keys match the manifest (2 accounts)." in out
    code, out, _ = run_cli(capsys, "drift", "keys.yaml", *SANDBOX, "--format", "json")
    found = json.loads(out)
    jsonschema.validate(found, resources.schema("drift"))
    assert found["format_version"] == 2 and found["in_sync"] and set(found["accounts"]) == {"prod", "staging"}


def test_a_saved_plan_of_two_accounts_applies_exactly_what_it_shows(workdir: Path, capsys: Any) -> None:
    code, _, err = run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--out", "plan.json")
    assert code == 0 and json.loads(Path("plan.json").read_text())["format_version"] == 5
    code, shown, _ = run_cli(capsys, "show", "plan.json")
    assert "=== Account prod ===" in shown and "=== Account staging ===" in shown
    code, out, _ = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--plan", "plan.json")
    assert code == 0, out
    assert account("prod")[0] == Decimal(900) and account("staging")[0] == Decimal(90)


def test_account_restricts_a_run_to_one_account(workdir: Path, capsys: Any) -> None:
    code, out, _ = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--account", "staging", "--auto-approve")
    assert code == 0, out
    assert account("prod")[0] == Decimal(1000) and account("staging")[0] == Decimal(90)
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--account", "staging")
    assert "=== Account prod ===" not in out and "\nPlan: 0 to create" in out
    code, out, _ = run_cli(capsys, "drift", "keys.yaml", *SANDBOX, "--account", "staging")
    assert code == 0 and out == "=== Account staging ===\nIn sync: the account's keys match the manifest.\n"
    code, _, err = run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--account", "dev")
    assert code == 1 and "--account 'dev': the manifest has no such account (prod, staging)" in err


def test_a_key_moved_to_another_account_is_deleted_there_and_created_here(workdir: Path, capsys: Any) -> None:
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    Path("keys.yaml").write_text(manifest(prod=50, backend_in="staging"))
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX)
    assert code == 0
    assert (
        "↦ backend: moves from account prod to staging: deleted in prod (100.00 refunded, est.), "
        "created in staging (50.00 debited)"
    ) in out
    assert "moved to account staging: credits do not transfer" in out
    code, out, _ = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 0, out
    (prod_balance, prod_keys), (staging_balance, staging_keys) = account("prod"), account("staging")
    assert prod_keys == [] and prod_balance == Decimal(1000)  # refunded whole: never used
    assert sorted(k["name"] for k in staging_keys) == ["Backend", "Web"]
    assert staging_balance == Decimal(100 - 10 - 50)
    assert run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--detailed-exitcode")[0] == 0


@pytest.mark.slow  # a sandbox process
def test_an_accounts_refused_key_is_its_error_and_the_other_account_is_applied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("keys.yaml").write_text(manifest())
    with live_sandbox(tmp_path, seed()) as base:
        monkeypatch.setenv("EH_PROD_API_KEY", PROD_KEY)
        monkeypatch.setenv("EH_STAGING_API_KEY", "ek-test-not-an-account")
        code, out, err = run_cli(capsys, "apply", "keys.yaml", "--base-url", base, "--auto-approve")
        assert code == 1
        assert (
            "account staging:" in err
            and "EH_STAGING_API_KEY" in err
            and "ek-test-not-an-account" not in out + err
        )
        assert "[prod]  ✓ Backend" in out and "Apply complete: 1 created." in out
        monkeypatch.setenv("EH_STAGING_API_KEY", STAGING_KEY)
        code, out, _ = run_cli(capsys, "apply", "keys.yaml", "--base-url", base, "--auto-approve")
        assert code == 0, out
        assert "[staging]  ✓ Web" in out and "[prod]  ✓" not in out  # prod was applied the first time
        assert "[prod] Nothing to apply." in out


def test_a_sandbox_that_lost_the_states_keys_is_named_never_a_variable_it_never_read(
    workdir: Path, capsys: Any
) -> None:
    """The sandbox's database removed, and filled again from a seed whose prod holds other keys:
    the error named `$EH_PROD_API_KEY` (`$ELECTRONHUB_API_KEY` without accounts), which a sandbox
    run never reads. It names the sandbox account, its database and its seed, and asks whether
    the sandbox started over."""
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    Path(".ehkeys/sandbox.db").unlink()
    other = seed()
    other["keys"].append({"key": "ek-proxy-test-prods-new-one-0001", "user_id": "u1", "name": "Other"})
    Path("other-seed.yaml").write_text(yaml.safe_dump(other))
    code, out, err = run_cli(capsys, "plan", "keys.yaml", "--sandbox", "--sandbox-seed", "other-seed.yaml")
    assert code == 1, out + err
    said = " ".join(out.split())
    assert (
        "none of the 1 key(s) the state binds is in the key list of the sandbox account serving account "
        "prod, in .ehkeys/sandbox.db from the seed other-seed.yaml (1 other key(s)): was the sandbox "
        "started over (--sandbox-reset, or its database removed) or filled from another seed "
        "(--sandbox-seed) since the state was written? Nothing was planned." in said
    ), said
    assert "API_KEY" not in out + err

    Path("alone.yaml").write_text(
        "version: 1\nkeys:\n  - {name: Mine, allocated_ammount: 1, limit_type: daily}\n"
    )
    assert run_cli(capsys, "apply", "alone.yaml", "--sandbox", "--auto-approve")[0] == 0
    Path(".ehkeys/sandbox.db").unlink()  # the bundled seed's account holds its demo keys again
    code, out, err = run_cli(capsys, "plan", "alone.yaml", "--sandbox")
    assert code == 1 and "API_KEY" not in out + err, out + err
    assert "the sandbox account serving the manifest, in .ehkeys/sandbox.db from the bundled seed" in out


def test_a_sandbox_an_earlier_run_filled_is_never_said_to_be_from_this_runs_seed(
    workdir: Path, capsys: Any
) -> None:
    """Its database filled from other-seed.yaml by one run, the next run names seed.yaml, which
    fills only a new or reset sandbox: it was said to be 'from the seed seed.yaml'."""
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    Path(".ehkeys/sandbox.db").unlink()
    other = seed()
    other["keys"].append({"key": "ek-proxy-test-prods-new-one-0001", "user_id": "u1", "name": "Other"})
    Path("other-seed.yaml").write_text(yaml.safe_dump(other))
    assert run_cli(capsys, "plan", "keys.yaml", "--sandbox", "--sandbox-seed", "other-seed.yaml")[0] == 1
    code, out, err = run_cli(capsys, "plan", "keys.yaml", *SANDBOX)
    said = " ".join(out.split())
    assert code == 1 and "from the seed seed.yaml" not in said, said
    assert (
        "in the key list of the sandbox account serving account prod, in .ehkeys/sandbox.db, which "
        "an earlier run filled (1 other key(s)): was the sandbox started over" in said
    ), said
    assert "ek-proxy-test-prods" not in out + err and "ek-test-" not in out + err


@pytest.mark.slow  # a sandbox process
def test_another_accounts_key_in_a_variable_is_named_never_every_key_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("keys.yaml").write_text(manifest())
    with live_sandbox(tmp_path, seed()) as base:
        monkeypatch.setenv("EH_PROD_API_KEY", PROD_KEY)
        monkeypatch.setenv("EH_STAGING_API_KEY", STAGING_KEY)
        assert run_cli(capsys, "apply", "keys.yaml", "--base-url", base, "--auto-approve")[0] == 0
        monkeypatch.setenv("EH_STAGING_API_KEY", PARTNER_KEY)  # another account's key where staging's belongs
        code, out, err = run_cli(capsys, "drift", "keys.yaml", "--base-url", base)
        assert code == 1
        assert "is EH_STAGING_API_KEY the key of another account?" in out
        assert "deleted outside" not in out
        code, out, err = run_cli(capsys, "apply", "keys.yaml", "--base-url", base, "--auto-approve")
        assert (
            code == 1
            and "✓" not in out
            and out.endswith("\nApply (2 accounts): 0 applied; not applied: staging.\n")
        )
    assert os.environ["EH_STAGING_API_KEY"] == PARTNER_KEY


@pytest.mark.slow  # a sandbox process
def test_two_variables_holding_one_account_key_leave_both_accounts_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """A first apply has no state to tell another account's key by: staging's keys would be
    created in prod (and prod's pruned from staging's side). Neither account is planned."""
    monkeypatch.chdir(tmp_path)
    Path("keys.yaml").write_text(manifest())
    with live_sandbox(tmp_path, seed()) as base:
        monkeypatch.setenv("EH_PROD_API_KEY", PROD_KEY)
        monkeypatch.setenv("EH_STAGING_API_KEY", PROD_KEY)
        only = ("--account", "staging")  # prod left out of the run: its key still tells
        code, out, err = run_cli(capsys, "apply", "keys.yaml", "--base-url", base, "--auto-approve", *only)
        assert code == 1 and "EH_STAGING_API_KEY holds the same account key as EH_PROD_API_KEY" in out
        code, out, err = run_cli(capsys, "apply", "keys.yaml", "--base-url", base, "--auto-approve")
        assert code == 1
        assert "EH_STAGING_API_KEY holds the same account key as EH_PROD_API_KEY" in out
        assert "EH_PROD_API_KEY holds the same account key as EH_STAGING_API_KEY" in out
        assert PROD_KEY not in out + err and "✓" not in out
        assert out.endswith("\nApply (2 accounts): 0 applied; not applied: prod, staging.\n"), out
        monkeypatch.setenv("EH_STAGING_API_KEY", STAGING_KEY)
        code, out, _ = run_cli(capsys, "plan", "keys.yaml", "--base-url", base, "--format", "json")
        summary = json.loads(out)["summary"]
        assert code == 0 and (summary["create"], summary["unmanaged"]) == (2, 0)  # prod holds no stray key


@pytest.mark.slow  # a sandbox process
def test_two_accounts_reading_one_variable_for_one_api_are_named_by_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """The manifest writes their base URLs apart (staging's own, prod's from --base-url), so
    validate lets it by; the run stopped both saying "EH_PROD_API_KEY holds the same account key
    as EH_PROD_API_KEY: one of them holds another account's key", naming neither account."""
    monkeypatch.chdir(tmp_path)
    with live_sandbox(tmp_path, seed()) as base:
        doc = yaml.safe_load(manifest())
        doc["accounts"]["staging"] = {"api_key": "${EH_PROD_API_KEY}", "base_url": base}
        Path("keys.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        monkeypatch.setenv("EH_PROD_API_KEY", PROD_KEY)
        code, out, err = run_cli(capsys, "plan", "keys.yaml", "--base-url", base)
        assert code == 1 and "holds the same account key as" not in out, out
        assert "account staging reads EH_PROD_API_KEY too, for the same API" in out
        assert "account prod reads EH_PROD_API_KEY too, for the same API" in out
        assert PROD_KEY not in out + err


def test_a_target_in_none_of_the_accounts_named_is_a_usage_error(workdir: Path, capsys: Any) -> None:
    """--account prod --target web (a key of staging) covers no account: said, never a crash."""
    for command in ("plan", "drift", "apply"):
        code, out, err = run_cli(
            capsys, command, "keys.yaml", *SANDBOX, "--account", "prod", "--target", "web"
        )
        assert code == 1, out + err
        assert "--target 'web': a key of account staging, which --account leaves out" in err
        assert "internal error" not in err


def test_a_run_of_one_account_counts_it_as_one(workdir: Path, capsys: Any) -> None:
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--account", "staging")
    assert code == 0 and "\nPlan: 1 to create" in out and "(1 account)" not in out
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--account", "staging", "--auto-approve")[0] == 0
    code, out, _ = run_cli(capsys, "drift", "keys.yaml", *SANDBOX, "--account", "staging")
    assert code == 0 and "In sync: the account's keys match the manifest." in out and "(1 account)" not in out


def test_reveal_of_an_id_in_two_accounts_names_both_addresses(workdir: Path, capsys: Any) -> None:
    doc = yaml.safe_load(manifest())
    doc["keys"].append({"id": "backend", "account": "staging", "name": "Backend", "allocated_ammount": 5})
    Path("keys.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    code, out, err = run_cli(capsys, "reveal", "keys.yaml", "backend", *SANDBOX, "--out", "new.env")
    assert code == 1 and "--target" not in err
    assert (
        "reveal 'backend': the id or name of 2 keys (prod/backend, staging/backend); name one by its address"
        in err
    )
    code, _, err = run_cli(capsys, "reveal", "keys.yaml", "staging/backend", *SANDBOX, "--out", "new.env")
    assert code == 0, err
    assert Path("new.env").read_text().startswith("EH_KEY_STAGING_BACKEND=ek-proxy-")


def test_an_account_removed_from_the_manifest_is_said_to_leave_its_keys_unmanaged(
    workdir: Path, capsys: Any
) -> None:
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    doc = yaml.safe_load(manifest())
    del doc["accounts"]["staging"]
    doc["keys"] = [k for k in doc["keys"] if k["account"] == "prod"]
    Path("keys.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    for command in (("plan",), ("apply", "--auto-approve")):
        code, out, err = run_cli(capsys, *command[:1], "keys.yaml", *SANDBOX, *command[1:])
        assert code == 0, out + err
        state = Path(".ehkeys/keys/staging/sandbox/state.json")
        assert f"account staging is no longer declared, but its state ({state}) binds 1 key(s) (web)" in err
        assert "To delete them, declare staging again with those keys absent: true" in err
    assert account("staging")[1] != []  # left as it was


def test_a_429_storm_on_one_account_leaves_the_other_applied_to_the_cent(workdir: Path, capsys: Any) -> None:
    data = seed()
    data["accounts"][1]["rate_limit"] = {
        "requests": 1,
        "window_s": 600,
        "cooldown_s": 600,
        "retry_after": True,
    }
    Path("seed.yaml").write_text(yaml.safe_dump(data))
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve", "--max-attempts", "2")
    assert code == 1, out + err
    said = "account staging: GET /auth/proxy: not sent: the API's rate limit resets in"
    assert f"{said} 600 s" in err or f"{said} 601 s" in err, err  # to the end of the reset's whole second
    assert "[prod]  ✓ Backend" in out
    assert account("prod")[0] == Decimal(900) and account("staging")[0] == Decimal(100)


def test_an_id_dropped_from_one_account_but_held_by_another_says_how_to_delete_it(
    workdir: Path, capsys: Any
) -> None:
    """`backend` in both accounts, dropped from prod: no move (staging's is its own key), prod's
    key stays unmanaged, and its note says where the id now is and how to delete it here."""
    doc = yaml.safe_load(manifest())
    doc["keys"].append({"id": "backend", "account": "staging", "name": "Backend", "allocated_ammount": 5})
    Path("keys.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    doc["keys"] = [k for k in doc["keys"] if k["account"] == "staging"]
    Path("keys.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX)
    assert code == 0 and "↦" not in out
    assert (
        "removed from this account (it was 'backend'), which the manifest now has in account staging: "
        "ehkeys leaves it alone. If it moved there, delete it here: put it back in this account with "
        "absent: true"
    ) in out
