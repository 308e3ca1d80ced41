"""`ehkeys plan` and `ehkeys drift` end to end against the in-process sandbox."""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from reconciler.manifest import resources
from reconciler.sandbox import Sandbox, seeds

from ..helpers import key_value, manifest_text, run_cli, sandbox_state_dir, seed_data, state_dir
from ..reliability_log import record

SECRET_PART = "secretpart"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "seed.yaml").write_text(yaml.safe_dump(seed_data(3)))
    return tmp_path


def sandbox_args() -> list[str]:
    return ["--sandbox", "--sandbox-seed", "seed.yaml"]


def write(workdir: Path, text: str) -> str:
    (workdir / "keys.yaml").write_text(text)
    return "keys.yaml"


def applied(capsys: Any, manifest: str) -> None:
    """Apply once, so that the state records what the API never reports (limit_type)."""
    assert run_cli(capsys, "apply", manifest, *sandbox_args(), "--auto-approve")[0] == 0


def test_in_sync_plan_says_no_changes(workdir: Path, capsys: Any) -> None:
    m = write(workdir, manifest_text(3, allocated_ammount=10))
    applied(capsys, m)
    code, out, _ = run_cli(capsys, "plan", m, *sandbox_args())
    assert code == 0
    assert (
        "No changes." in out and "Plan: 0 to create, 0 to update, 0 to delete, 3 unchanged, 0 errors." in out
    )
    assert "Read with 2 requests to the API." in out


def test_a_command_leaves_nothing_frozen_out_of_the_collector(workdir: Path, capsys: Any) -> None:
    """Commands freeze the loaded manifest during requests; a library caller's heap is given back."""
    m = write(workdir, manifest_text(3, allocated_ammount=12))
    for argv in (["plan", m], ["apply", m, "--auto-approve"]):
        code, _, _ = run_cli(capsys, *argv, *sandbox_args())
        assert code == 0 and gc.get_freeze_count() == 0


def test_plan_shows_fields_whitelists_and_credits(workdir: Path, capsys: Any) -> None:
    m = write(workdir, manifest_text(1, allocated_ammount=25, model_whitelist=["gpt-4o", "o3"]))
    code, out, _ = run_cli(capsys, "plan", m, *sandbox_args(), "--detailed-exitcode")
    assert code == 2
    assert "~ key-0 (ek-proxy-…part)" in out
    assert "allocated_ammount: 10.00 -> 25.00" in out
    assert "model_whitelist:\n        + o3\n" in out
    assert "credit: +15.00 allocation, 15.00 debited" in out
    assert "Credits: 15.00 debited, 0.00 refunded (est.), net -15.00; balance 1,000.00 -> 985.00" in out
    assert SECRET_PART not in out


def test_json_format_is_the_documented_shape(workdir: Path, capsys: Any) -> None:
    m = write(workdir, manifest_text(2, allocated_ammount=5) + "")
    code, out, _ = run_cli(capsys, "plan", m, *sandbox_args(), "--format", "json")
    data = json.loads(out)
    jsonschema.validate(data, resources.schema("plan"))
    body = {"name": "key-0", "expires_at": -1, "allocated_ammount": 5.0, "limit_type": "daily"}
    assert data["keys"][0] == {
        "account": "default",
        "address": "key-0",
        "name": "key-0",
        "key": "ek-proxy-…part",
        "action": "update",
        "reason": None,
        "changes": {
            "allocated_ammount": {"before": 10.0, "after": 5.0},
            "limit_type": {"before": None, "after": "daily"},
        },
        "operations": [
            {
                "kind": "update",
                "body": {**body, "model_whitelist": ["gpt-4o"], "ip_whitelist": ["10.0.0.0/8"]},
            }
        ],
        "credit": {"allocation_delta": -5.0, "account_debit": 0.0, "account_refund": 5.0},
        "warnings": [],
        "error": None,
    }
    assert data["unmanaged"] == [
        {
            "account": "default",
            "name": "key-2",
            "key": "ek-proxy-…part",
            "allocated_ammount": 10.0,
            "used_ammount": 2.0,
            "is_active": True,
            "note": None,
        }
    ]
    assert data["summary"] == {
        "create": 0,
        "update": 2,
        "enable": 0,
        "disable": 0,
        "delete": 0,
        "no_op": 0,
        "error": 0,
        "unmanaged": 1,
        "account_debit": 0.0,
        "account_refund": 10.0,
        "net": 10.0,
        "balance_before": 1000.0,
        "balance_after": 1010.0,
        "requests": 2,
    }


def test_a_missing_key_is_an_error_row_and_exit_1(workdir: Path, capsys: Any) -> None:
    text = manifest_text(2) + "  - {proxy_key: ek-proxy-no-such-key-0000, name: ghost, limit_type: daily}\n"
    text += "  - {proxy_key: '${THEIRS:-ek-proxy-someone-elses-key}', name: theirs, limit_type: daily}\n"
    code, out, _ = run_cli(capsys, "plan", write(workdir, text), *sandbox_args())
    assert code == 1
    assert "! ghost (ek-proxy-…0000)\n      not found in the account: no live key has this proxy_key" in out
    assert "! theirs (ek-proxy-…-key)\n      not found in the account" in out  # another account's key
    assert "2 errors." in out


def test_target_limits_the_plan(workdir: Path, capsys: Any) -> None:
    m = write(workdir, manifest_text(3, allocated_ammount=20))
    code, out, _ = run_cli(capsys, "plan", m, *sandbox_args(), "--target", "key-1")
    assert "Plan: 0 to create, 1 to update, 0 to delete, 0 unchanged, 0 errors." in out
    code, _, err = run_cli(capsys, "plan", m, *sandbox_args(), "--target", "nope")
    assert code == 1 and "--target 'nope': no key with that id or name" in err


def test_invalid_manifest_stops_before_any_request(workdir: Path, capsys: Any) -> None:
    code, out, err = run_cli(capsys, "plan", write(workdir, "version: 1\nkeys: [1]\n"), *sandbox_args())
    assert code == 1 and "keys.yaml:2:8: keys[0]: must be a mapping" in err
    assert not (workdir / ".ehkeys" / "sandbox.db").exists()


def test_drift_exit_codes_and_headline(workdir: Path, capsys: Any) -> None:
    m = write(workdir, manifest_text(3, allocated_ammount=10))
    code, out, _ = run_cli(capsys, "drift", m, *sandbox_args())
    assert code == 2 and out.startswith("Drift: 3 key(s) with write-only values never applied (limit_type).")
    applied(capsys, m)
    assert run_cli(capsys, "drift", m, *sandbox_args())[0] == 0
    box = Sandbox.open(".ehkeys/sandbox.db", seeds.load("seed.yaml"))
    body = {"name": "hand-edited", "expires_at": -1, "allocated_ammount": 12, "limit_type": "daily"}
    box.store.update(key_value(1), {**body, "model_whitelist": [], "ip_whitelist": []})
    code, out, _ = run_cli(capsys, "drift", m, *sandbox_args())
    assert code == 2
    assert out.startswith(
        "Drift: 1 key(s) changed outside ehkeys (allocated_ammount, ip_whitelist, model_whitelist, name)."
    )
    code, out, _ = run_cli(
        capsys, "drift", write(workdir, manifest_text(2, allocated_ammount=10)), *sandbox_args()
    )
    assert code == 2 and "1 unmanaged key(s) in the account" in out.splitlines()[0]


def test_markdown_has_marker_table_and_details(workdir: Path, capsys: Any) -> None:
    m = write(workdir, manifest_text(2, allocated_ammount=12))
    code, out, _ = run_cli(capsys, "plan", m, *sandbox_args(), "--format", "markdown")
    assert out.startswith("<!-- ehkeys-plan -->\n### ehkeys plan: 0 to create, 2 to update")
    assert "| ~ | key-0 (`ek-proxy-…part`) | update | -2.00 |" in out
    assert "<details><summary>key-0: update, 2 field(s)</summary>" in out


def test_step_summary_gets_the_markdown(workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = workdir / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    run_cli(capsys, "plan", write(workdir, manifest_text(1, allocated_ammount=12)), *sandbox_args())
    assert summary.read_text().startswith("<!-- ehkeys-plan -->")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("ek-proxy-abcdef123456", "holds a proxy key"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", "looks like a JWT"),
        ("sk-openai-style", "does not look like an account API key"),
        ("", "ELECTRONHUB_API_KEY is not set"),
    ],
)
def test_api_key_is_checked_before_any_request(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch, value: str, fragment: str
) -> None:
    monkeypatch.setenv("ELECTRONHUB_API_KEY", value)
    code, out, err = run_cli(
        capsys, "plan", write(workdir, manifest_text(1)), "--base-url", "http://127.0.0.1:9/v1"
    )
    assert code == 1 and fragment in err
    assert (value[4:] or "@@") not in err + out


def test_plain_http_only_to_loopback(workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELECTRONHUB_API_KEY", "ek-real-looking-key")
    code, _, err = run_cli(
        capsys, "plan", write(workdir, manifest_text(1)), "--base-url", "http://api.example.com/v1"
    )
    assert code == 1 and "plain http:// is allowed only to a loopback host" in err


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:99999/v1",
        "http://127.0.0.1:abc/v1",
        "http://[::1/v1",
        "https://api.example.com:-1/v1",
        "http://127.0.0.1:0/v1",
        "https://xn--/v1",
    ],
    ids=[
        "port out of range",
        "port not a number",
        "unclosed IPv6 bracket",
        "negative port",
        "port 0",
        "IDNA",
    ],
)
def test_a_base_url_that_cannot_be_parsed_is_refused_naming_it(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    """Was an "internal error" (httpx's InvalidURL, or an ExceptionGroup from the connect)."""
    monkeypatch.setenv("ELECTRONHUB_API_KEY", "ek-real-looking-key")
    code, out, err = run_cli(capsys, "plan", write(workdir, manifest_text(1)), "--base-url", url)
    assert code == 1 and f"base URL {url!r}: " in err and "internal error" not in err, err
    assert out == ""


@pytest.mark.parametrize("url", ["http://[::1/v1", "https://xn--/v1"])
def test_a_base_url_that_cannot_be_parsed_is_an_accounts_error_with_accounts(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    """Was an "internal error": the plan of the account it left unread named its API by the
    URL, which could not be read either."""
    monkeypatch.setenv("EH_PROD_API_KEY", "ek-real-looking-key")
    doc = {"version": 1, "accounts": {"prod": {"api_key": "${EH_PROD_API_KEY}"}}}
    doc["keys"] = [{"name": "a", "account": "prod", "allocated_ammount": 1, "limit_type": "daily"}]
    (workdir / "accounts.yaml").write_text(yaml.safe_dump(doc))
    for extra in ([], ["--out", "plan.json"]):
        code, out, err = run_cli(capsys, "plan", "accounts.yaml", "--base-url", url, *extra)
        assert code == 1 and f"base URL {url!r}: not a URL" in out + err, out + err
        assert "internal error" not in err


def test_unreachable_api_is_a_message_not_a_traceback(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ELECTRONHUB_API_KEY", "ek-real-looking-key")
    m = write(workdir, manifest_text(1))
    code, out, err = run_cli(capsys, "plan", m, "--base-url", "http://127.0.0.1:9/v1", "--max-attempts", "1")
    assert code == 1
    assert "nothing listens on 127.0.0.1:9: is `ehkeys sandbox` running?" in err and "Traceback" not in err


def test_plan_out_never_overwrites_a_manifest(workdir: Path, capsys: Any) -> None:
    m = write(workdir, manifest_text(1, allocated_ammount=12))
    before = Path(m).read_text()
    for out in (m, "other.yml"):
        code, _, err = run_cli(capsys, "plan", m, *sandbox_args(), "--out", out)
        assert code == 1 and "--out" in err
    assert Path(m).read_text() == before and not (workdir / ".ehkeys" / "sandbox.db").exists()
    record("cli", "plan --out naming the manifest itself, or a YAML file", 2, "refused before any request")


def test_a_step_summary_that_is_a_pipe_is_a_warning_not_a_hang(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening a FIFO nobody reads waited forever, after the plan was printed."""
    fifo = workdir / "summary-fifo"
    os.mkfifo(fifo)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(fifo))
    code, out, err = run_cli(capsys, "plan", write(workdir, manifest_text(1)), *sandbox_args())
    assert code == 0 and "Plan:" in out
    assert f"GITHUB_STEP_SUMMARY {fifo}: cannot write: not a regular file" in err, err
    record("cli", "GITHUB_STEP_SUMMARY naming a FIFO nobody reads", 1, "a warning; the plan is printed")


def test_a_bad_step_summary_path_is_a_warning_not_a_crash(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(workdir / "no-such-dir" / "summary.md"))
    code, out, err = run_cli(capsys, "plan", write(workdir, manifest_text(1)), *sandbox_args())
    assert code == 0 and "Plan:" in out and "GITHUB_STEP_SUMMARY" in err and "internal error" not in err
    record(
        "cli", "GITHUB_STEP_SUMMARY pointing into a missing directory", 1, "a warning; the plan is printed"
    )


def test_sandbox_runs_keep_their_state_apart_from_the_real_accounts(workdir: Path, capsys: Any) -> None:
    m = write(workdir, manifest_text(1, allocated_ammount=12))
    assert run_cli(capsys, "apply", m, *sandbox_args(), "--auto-approve")[0] == 0
    assert (sandbox_state_dir(m) / "state.json").exists()
    assert not (state_dir(m) / "state.json").exists()
    record(
        "files",
        "an apply on the sandbox beside a real account's state",
        1,
        "state under .ehkeys/<manifest>/sandbox/ only",
    )
