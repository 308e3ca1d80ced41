"""Several accounts at their edges: a rate-limited account never slows another, keys handed over
by address, import into a declared account, a state of another account refused, and an apply's closing
line over every account, also when each was left out."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..helpers import run_cli
from .test_two_accounts import SANDBOX, account, manifest, seed


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed()))
    Path("keys.yaml").write_text(manifest())
    return tmp_path


@pytest.mark.slow  # real rate-limit waits
def test_a_rate_limited_account_waits_alone_and_the_other_is_applied_first(
    workdir: Path, capsys: Any
) -> None:
    data = seed()
    data["accounts"][1]["rate_limit"] = {"requests": 1, "window_s": 2, "cooldown_s": 2}
    Path("seed.yaml").write_text(yaml.safe_dump(data))
    code, out, _ = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 0, out
    assert out.index("[prod]  ✓ Backend") < out.index("[staging]  ✓ Web")  # prod never waited on staging
    assert account("prod")[0] == 900 and account("staging")[0] == 90


def test_secrets_out_and_reveal_name_each_key_by_its_address(workdir: Path, capsys: Any) -> None:
    Path("keys.yaml").write_text(
        manifest().replace("id: web", "id: backend").replace("name: Web", "name: Backend")
    )
    code, out, _ = run_cli(
        capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve", "--secrets-out", "new.env"
    )
    assert code == 0, out
    lines = sorted(Path("new.env").read_text().splitlines())
    assert [line.split("=")[0] for line in lines] == ["EH_KEY_PROD_BACKEND", "EH_KEY_STAGING_BACKEND"]
    values = {line.split("=")[0]: line.split("=", 1)[1] for line in lines}
    assert {k["key"] for k in account("prod")[1]} == {values["EH_KEY_PROD_BACKEND"]}
    assert values["EH_KEY_PROD_BACKEND"] not in out
    code, _, err = run_cli(capsys, "reveal", "keys.yaml", "backend", *SANDBOX, "--out", "again.env")
    assert code == 1 and "name one by its address" in err
    code, _, _ = run_cli(capsys, "reveal", "keys.yaml", "staging/backend", *SANDBOX, "--out", "again.env")
    assert (
        code == 0
        and Path("again.env").read_text() == f"EH_KEY_STAGING_BACKEND={values['EH_KEY_STAGING_BACKEND']}\n"
    )


def test_import_into_a_declared_account_writes_it_and_binds_its_keys(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve", "--account", "staging")[0] == 0
    code, _, err = run_cli(
        capsys, "import", "--all", "--account", "staging", *SANDBOX, "--out", "imported.yaml"
    )
    assert code == 0, err
    text = Path("imported.yaml").read_text()
    assert 'staging: {api_key: "${EH_STAGING_API_KEY}"}' in text and "account: staging" in text
    state = json.loads(Path(".ehkeys/imported/staging/sandbox/state.json").read_text())
    assert state["account"] == "staging" and list(state["bindings"]) == ["web"]
    Path("imported.yaml").write_text(text.replace("limit_type: unknown", "limit_type: monthly"))
    code, out, _ = run_cli(capsys, "plan", "imported.yaml", *SANDBOX)
    assert code == 0 and "=== Account staging ===" in out and "Plan: 0 to create, 1 to update" in out
    assert 'limit_type: (unknown) -> "monthly"' in out  # the window the import could not read, sent once


def test_import_with_two_accounts_is_a_usage_error_not_the_last_one(workdir: Path, capsys: Any) -> None:
    """--account repeats on plan, apply, drift and usage; import took the last one given and
    wrote a manifest of staging alone, saying nothing of prod."""
    args = ("import", "--all", "--account", "prod", "--account", "staging", *SANDBOX, "--out", "i.yaml")
    code, out, err = run_cli(capsys, *args)
    assert code == 1 and "--account: given twice: this command takes one" in err, out + err
    assert not Path("i.yaml").exists()


def test_a_state_of_another_account_is_refused_by_name(workdir: Path, capsys: Any) -> None:
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    prod_state = ".ehkeys/keys/prod/sandbox/state.json"
    code, _, err = run_cli(
        capsys, "plan", "keys.yaml", *SANDBOX, "--account", "staging", "--state", prod_state
    )
    assert code == 1 and "is the state of the account 'prod', not of 'staging'" in err
    code, _, err = run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--state", prod_state)
    assert code == 1 and "--state names one state, but the run covers 2 accounts" in err
    assert os.path.getsize(prod_state) > 0


def test_the_only_account_refused_is_not_said_to_leave_others_going_on(workdir: Path, capsys: Any) -> None:
    """One declared account refused by its guards: 'the other accounts go on' named accounts
    that were not there."""
    doc = yaml.safe_load(manifest())
    del doc["accounts"]["staging"]
    doc["accounts"]["prod"]["max_debit"] = 1
    doc["keys"] = [k for k in doc["keys"] if k["account"] == "prod"]
    Path("keys.yaml").write_text(yaml.safe_dump(doc))
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 1 and "ehkeys: error: account prod: " in err, out + err
    assert "it is left as it is" in err and "other accounts" not in err, err


def test_every_account_left_out_closes_the_run_with_one_line_naming_them(workdir: Path, capsys: Any) -> None:
    """Both refused by their guards: each said so on stderr as if 'the other accounts go on',
    and stdout ended with the plan, with no line of the apply's own, as one account's has."""
    doc = yaml.safe_load(manifest())
    for name in ("prod", "staging"):
        doc["accounts"][name]["max_debit"] = 1
    Path("keys.yaml").write_text(yaml.safe_dump(doc))
    argv = ("apply", "keys.yaml", *SANDBOX, "--auto-approve", "--report-out", "apply.md")
    code, out, err = run_cli(capsys, *argv)
    closing = "Apply (2 accounts): 0 applied; not applied: prod, staging."
    assert code == 1 and out.endswith(f"errors.\n\n{closing}\n"), out
    assert "it is left as it is\n" in err and "other accounts" not in err, err
    report = Path("apply.md").read_text()
    assert report.endswith(f"**{closing}**\n") and "other accounts" not in report, report
    assert account("prod")[0] == 1000 and account("staging")[0] == 100


def test_every_accounts_plan_in_error_closes_the_run_counting_them(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each account's only key cannot be planned: its proxy_key is no live key."""
    doc = yaml.safe_load(manifest())
    for key in doc["keys"]:
        key["proxy_key"] = f"${{EH_{key['id'].upper()}_KEY}}"
        monkeypatch.setenv(f"EH_{key['id'].upper()}_KEY", f"ek-proxy-test-no-such-{key['id']}")
    Path("keys.yaml").write_text(yaml.safe_dump(doc))
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve", "--report-out", "r.md")
    assert code == 1 and "[prod] Nothing to apply: 1 error(s) above." in out, out + err
    closing = "Apply (2 accounts): 0 applied, 2 not planned."
    assert out.endswith(f"\n\n{closing}\n") and Path("r.md").read_text().endswith(f"**{closing}**\n"), out


def test_several_accounts_applied_close_with_every_account_counted_together(
    workdir: Path, capsys: Any
) -> None:
    code, out, _ = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve", "--report-out", "r.md")
    assert code == 0 and out.endswith("\n\nApply (2 accounts): 2 created.\n"), out
    assert Path("r.md").read_text().endswith("**Apply (2 accounts): 2 created.**\n")
    code, out, _ = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve", "--account", "prod")
    assert code == 0 and "accounts)" not in out, "one account's own closing line is the run's"


def test_a_plan_over_an_accounts_max_debit_says_its_apply_will_refuse_it(workdir: Path, capsys: Any) -> None:
    """prod's max_debit 1 refuses its apply; its plan said nothing of it ("every rule holds" with
    a budget), so a pull request passed its checks and the apply after its merge was refused."""
    doc = yaml.safe_load(manifest())
    doc["accounts"]["prod"]["max_debit"] = 1
    Path("keys.yaml").write_text(yaml.safe_dump(doc))
    code, out, err = run_cli(capsys, "plan", "keys.yaml", *SANDBOX)
    prod = out.split("=== Account staging ===")[0]
    assert (
        code == 0
        and (
            "warning: apply refuses this account's plan: it debits 100.00 credits, over account prod's "
            "max_debit 1.00 credits (its setting under accounts:): apply the change in smaller steps, or "
            "raise max_debit in a change of its own"
        )
        in prod
    ), out + err
    assert "max_debit" not in out.split("=== Account staging ===")[1]
