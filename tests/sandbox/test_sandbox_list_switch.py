"""The sandbox's list switch: `GET /auth/proxy` answers 404, and `ehkeys plan` falls back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

from reconciler.sandbox import seeds

from ..helpers import API_KEY, key_value, manifest_text, run_cli, sandbox, seed_data


def unlisted_seed(n: int = 3) -> dict[str, Any]:
    return {**seed_data(n), "faults": {"list_unavailable": True}}


def test_the_list_answers_404_with_the_error_envelope_and_lookups_still_work() -> None:
    box = sandbox(unlisted_seed())
    assert box.seed.faults.list_unavailable is True
    with TestClient(box.app, base_url="http://127.0.0.1/v1") as c:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        listed = c.get("/auth/proxy", headers=headers)
        assert listed.status_code == 404
        assert listed.json() == {
            "error": {"message": "Not Found", "type": "not_found_error", "param": None, "code": 404}
        }
        assert "x-ratelimit-remaining" in listed.headers  # the API answered, behind the edge
        found = c.post("/auth/proxy/lookup", json={"proxy_key": key_value(1)}, headers=headers)
        assert found.status_code == 200 and found.json()["name"] == "key-1"
        assert c.get("/user/me", headers=headers).status_code == 200
        stats = c.get("http://127.0.0.1/_sandbox/stats").json()
        assert stats["list_unavailable"] == 1 and stats["ok"] == 2


def test_the_switch_is_off_by_default() -> None:
    assert seeds.parse(seed_data()).faults.list_unavailable is False


def test_plan_falls_back_to_lookups_when_the_list_is_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "seed.yaml").write_text(yaml.safe_dump(unlisted_seed(3)))
    text = manifest_text(2, allocated_ammount=10)  # key-0, key-1 by proxy_key
    text += '  - name: "new-key"\n    limit_type: "daily"\n    allocated_ammount: 5\n'
    (tmp_path / "keys.yaml").write_text(text)
    code, out, err = run_cli(capsys, "plan", "keys.yaml", "--sandbox", "--sandbox-seed", "seed.yaml")
    assert code == 1, err  # new-key cannot be bound without the list: an error, never a blind create
    flat = " ".join(out.split())
    assert "key list is unavailable" in flat and "(unmanaged) cannot be seen" in flat
    assert "~ key-0 (ek-proxy-" in out and "~ key-1 (ek-proxy-" in out  # planned from their lookups
    assert "! new-key" in out and "key-2" not in out  # key-2 is unmanaged: unseen without the list
    assert "Read with 4 requests to the API." in out  # balance, the list's 404, two lookups
