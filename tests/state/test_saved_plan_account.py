"""A reviewed plan is applied only to the account it was planned against: a saved plan records,
for each account's part, the API's base URL and the account key's fingerprint (never the key),
and `apply --plan` refuses a part another API or key would receive, before any request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.engine.target import Target

from ..helpers import API_KEY, manifest_text, run_cli, seed_data

SANDBOX = ["--sandbox", "--sandbox-seed", "seed.yaml"]


@pytest.fixture
def planned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> dict[str, Any]:
    """A plan of three updates, made on the in-process sandbox and saved."""
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed_data(3)))
    Path("keys.yaml").write_text(manifest_text(3, allocated_ammount=14))
    assert run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--out", "plan.json")[0] == 0
    return dict(json.loads(Path("plan.json").read_text()))


def test_a_saved_plan_records_the_api_and_the_account_keys_fingerprint_never_the_key(
    planned: dict[str, Any],
) -> None:
    api = planned["api"]
    assert api["url"].startswith("http") and api["account_key"].startswith("sha256:")
    assert API_KEY not in Path("plan.json").read_text()


def test_a_plan_applied_with_another_account_key_is_refused_before_any_request(
    planned: dict[str, Any], capsys: Any
) -> None:
    other = seed_data(3)
    other["accounts"][0]["api_key"] = "ek-test-another-account"  # the same API, another account
    Path("seed.yaml").write_text(yaml.safe_dump(other))
    code, out, err = run_cli(
        capsys, "apply", "keys.yaml", *SANDBOX, "--sandbox-reset", "--plan", "plan.json", "--auto-approve"
    )
    assert code == 1 and "Applying" not in out, out + err
    assert (
        "plan.json: it was planned with another account key than ELECTRONHUB_API_KEY holds now "
        "(another account?): a reviewed plan is applied only to the account it was planned against"
    ) in err
    assert "ek-test-another-account" not in out + err and API_KEY not in out + err


def test_a_plan_applied_to_another_api_is_refused_naming_both(
    planned: dict[str, Any], capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Planned on the sandbox, applied to the service (or a served sandbox): never charged there.
    Nothing listens on port 9: had a request been sent, the run would say so instead."""
    monkeypatch.setenv("ELECTRONHUB_API_KEY", API_KEY)
    code, out, err = run_cli(
        capsys,
        "apply",
        "keys.yaml",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--plan",
        "plan.json",
        "--auto-approve",
    )
    assert code == 1 and "Applying" not in out
    assert (
        f"plan.json: it was planned against {planned['api']['url']}, and this run sends to http://127.0.0.1:9/v1"
        in err
    )
    assert "nothing listens" not in err.lower()


def test_a_plan_saved_before_plans_recorded_their_account_is_applied_as_before(
    planned: dict[str, Any], capsys: Any
) -> None:
    del planned["api"]
    Path("plan.json").write_text(json.dumps(planned))
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--plan", "plan.json", "--auto-approve")
    assert code == 0 and "as reviewed" in out, out + err


@pytest.mark.parametrize("api", ["x", {"url": "http://a"}, {"url": 1, "account_key": ""}])
def test_an_api_entry_edited_by_hand_is_refused_naming_the_file(
    planned: dict[str, Any], capsys: Any, api: Any
) -> None:
    planned["api"] = api
    Path("plan.json").write_text(json.dumps(planned))
    code, out, err = run_cli(capsys, "show", "plan.json")
    assert code == 1 and "plan.json: its api entry is not a base URL and a key fingerprint" in err
    assert "Traceback" not in err


def test_a_saved_plan_is_applied_whole_never_with_target(planned: dict[str, Any], capsys: Any) -> None:
    """--target with --plan sent part of a reviewed plan, its refunds reported 'already as planned;
    the key is gone' (they were not) and its debits held: a usage error, before any request."""
    argv = ["apply", "keys.yaml", *SANDBOX, "--plan", "plan.json", "--target", "key-1", "--auto-approve"]
    code, out, err = run_cli(capsys, *argv)
    assert code == 1 and out == ""
    assert err.startswith("ehkeys: error: --target cannot be used with --plan: a saved plan is applied as")


@pytest.mark.parametrize(
    ("made", "now"),
    [
        ("https://api.electronhub.ai/v1", "https://api.electronhub.ai/v1/"),
        ("https://api.electronhub.ai/v1", "HTTPS://API.ElectronHub.ai:443/v1"),
        ("http://127.0.0.1:8787/v1", "http://127.0.0.1:8787/v1/"),
        ("https://proxy.example/v1", "https://someone:S3cret@proxy.example/v1"),
    ],
)
def test_one_api_spelled_two_ways_is_one_api_and_no_credentials_are_kept(made: str, now: str) -> None:
    one = Target(API_KEY, made).endpoint
    assert one == Target(API_KEY + "\n", now).endpoint  # the key as the client sends it: stripped
    assert "S3cret" not in one.url and "someone" not in one.url and API_KEY not in repr(one)


@pytest.mark.parametrize(
    ("made", "now"),
    [
        ("https://api.electronhub.ai/v1", "https://api.electronhub.ai:8443/v1"),
        ("http://127.0.0.1:8787/v1", "http://127.0.0.1:8788/v1"),
    ],
)
def test_another_port_or_path_is_another_api(made: str, now: str) -> None:
    assert Target(API_KEY, made).endpoint != Target(API_KEY, now).endpoint
