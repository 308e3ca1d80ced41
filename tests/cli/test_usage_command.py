"""`ehkeys usage` end to end on the sandbox: two accounts read with their two requests each,
nothing written, unmanaged keys marked, --unused-days, --account and --target, and one
account that cannot be read shown with why while the other is shown."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from reconciler.manifest import resources

from ..helpers import live_sandbox, run_cli

PROD_KEY, STAGING_KEY = "ek-test-prod-account", "ek-test-staging-account"
DAY = 86400
SANDBOX = ("--sandbox", "--sandbox-seed", "seed.yaml")


def seed(now: int) -> dict[str, Any]:
    def key(tail: str, user: str, name: str, allocated: float, used: float, **fields: Any) -> dict[str, Any]:
        return {"key": f"ek-proxy-usage-{tail}", "user_id": user, "name": name, "expires_at": -1,
                "allocated_ammount": allocated, "used_ammount": used, "created_at": now - 200 * DAY,
                **fields}  # fmt: skip

    return {
        "accounts": [
            {"user_id": "u1", "name": "prod", "api_key": PROD_KEY, "balance": 1000.0},
            {"user_id": "u2", "name": "staging", "api_key": STAGING_KEY, "balance": 100.0},
        ],
        "keys": [
            key("0001", "u1", "Backend", 100, 25, last_used=now - 5 * DAY),
            key("0002", "u1", "Batch", 50, 45, last_used=now - 60 * DAY),
            key("0003", "u1", "Made by hand", 5, 0),  # never used, made 200 days ago
            key("0004", "u2", "Web", 10, 1, last_used=now - 3600),
        ],
        "rate_limit": {"requests": 100_000, "window_s": 60},
    }


def manifest() -> str:
    doc = {
        "version": 1,
        "accounts": {
            "prod": {"api_key": "${EH_PROD_API_KEY}"},
            "staging": {"api_key": "${EH_STAGING_API_KEY}"},
        },
        "keys": [
            {"id": "backend", "account": "prod", "name": "Backend", "allocated_ammount": 100, "limit_type": "monthly"},
            {"id": "batch", "account": "prod", "name": "Batch", "allocated_ammount": 50, "limit_type": "weekly"},
            {"id": "web", "account": "staging", "name": "Web", "allocated_ammount": 10, "limit_type": "daily"},
        ],
    }  # fmt: skip
    return yaml.safe_dump(doc, sort_keys=False)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed(int(time.time()))))
    Path("keys.yaml").write_text(manifest())
    monkeypatch.setenv("EH_PROD_API_KEY", PROD_KEY)
    monkeypatch.setenv("EH_STAGING_API_KEY", STAGING_KEY)
    return tmp_path


def usage(capsys: Any, *extra: str) -> tuple[int, str, str]:
    return run_cli(capsys, "usage", "keys.yaml", *SANDBOX, *extra)


def test_each_account_its_keys_and_the_unmanaged_one_marked(workdir: Path, capsys: Any) -> None:
    code, out, _ = usage(capsys)
    assert code == 0
    prod, staging = out.split("=== Account staging ===")
    assert "=== Account prod ===" in prod and "Web" not in prod and "Backend" not in staging
    backend = next(line for line in prod.splitlines() if "Backend (ek-proxy-…0001)" in line)
    assert "100.00  25.00   25.0% [█████░░░░░░░░░░░░░░░]  yes     monthly  never" in backend
    assert "(5 days ago)" in backend
    assert "? Made by hand (ek-proxy-…0003)" in prod and "Batch (ek-proxy-…0002)" in prod
    assert "2 accounts: 71.00 of 165.00 credits used (43.0%) by 4 keys (1 unmanaged)" in out
    assert not list(Path(".ehkeys").rglob("state.json")), "usage writes no state"


def test_unused_days_lists_the_keys_idle_that_long(workdir: Path, capsys: Any) -> None:
    def unused(days: str) -> list[str]:
        out = usage(capsys, "--unused-days", days, "--format", "json")[1]
        keys = [k for a in json.loads(out)["accounts"].values() for k in a["keys"]]
        return sorted(k["name"] for k in keys if k["unused"])

    assert unused("30") == ["Batch", "Made by hand"]  # 60 days; never used, made 200 days ago
    assert unused("4") == ["Backend", "Batch", "Made by hand"]
    assert unused("300") == []
    text = usage(capsys)[1]
    assert "Unused for 30 days or more (2):\n  [prod] Batch (ek-proxy-…0002): last used" in text
    assert "[prod] ? Made by hand (ek-proxy-…0003): never used (created " in text
    assert usage(capsys, "--unused-days", "-1")[0] == 1


def test_json_and_markdown_with_account_and_target(workdir: Path, capsys: Any) -> None:
    code, out, _ = usage(capsys, "--format", "json", "--account", "staging")
    data = json.loads(out)
    jsonschema.validate(data, resources.schema("usage"))
    assert code == 0 and list(data["accounts"]) == ["staging"]
    assert data["accounts"]["staging"]["keys"][0]["limit_type"] == "daily"
    assert data["accounts"]["staging"]["balance"] == 100.0  # the sandbox's: what is not allocated
    code, out, _ = usage(capsys, "--format", "markdown", "--target", "prod/batch")
    assert code == 0 and "<!-- ehkeys-usage -->" in out and "```mermaid\nxychart-beta\n" in out
    assert "Batch (ek-proxy-…0002)" in out and "Backend" not in out and "Made by hand" not in out


@pytest.mark.slow  # a sandbox process: its request counter is the API's own
def test_two_requests_per_account_and_an_unreadable_account_is_shown_with_why(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EH_STAGING_API_KEY", "ek-not-the-staging-key")
    with live_sandbox(workdir, seed(int(time.time()))) as base:
        code, out, err = run_cli(capsys, "usage", "keys.yaml", "--base-url", base)
        stats = httpx.get(base.removesuffix("/v1") + "/_sandbox/stats").json()
    assert code == 1, err
    assert stats == {"ok": 4, "rejected_by_rate_limit": 0}  # prod's list and balance; staging's two 401s
    assert "Backend (ek-proxy-…0001)" in out
    assert "error: the account could not be read" in out and "EH_STAGING_API_KEY" in out
    assert not Path(".ehkeys").exists(), "usage writes nothing"


def test_keys_that_name_a_group_roll_up_by_group(workdir: Path, capsys: Any) -> None:
    doc = yaml.safe_load(manifest())
    doc["groups"] = {"platform": {}, "data": {}}
    for key, group in zip(doc["keys"], ("platform", "data", "platform"), strict=True):
        key["group"] = group
    Path("keys.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    code, out, err = usage(capsys)
    assert code == 0, err
    by_group = out.split("By group:\n")[1]
    assert by_group.startswith("  platform: ") and "\n  data: " in by_group
    code, out, _ = usage(capsys, "--format", "json")
    assert set(json.loads(out)["groups"]) == {"platform", "data", "(none)"}  # the unmanaged key
