"""A pruning manifest never deletes a key that another manifest root's state binds, on the
command line: two roots of one git checkout, `keys/payments/` (prune: true) and `keys/search/`,
both on account prod (one sandbox served on a loopback port), each applied on its own command
line. The other root's keys show as unmanaged, saying whose they are; a key nobody binds is
still pruned; another root's state that cannot be read prunes nothing, saying why.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.sandbox import Sandbox
from reconciler.sandbox import seed as seeds

from ..helpers import run_cli
from ..served import serving

PROD_KEY = "ek-test-prod-account"
SEARCH_STATE = Path("keys/search/.ehkeys/search/prod/state.json")
PAYMENTS_STATE = Path("keys/payments/.ehkeys/payments/prod/state.json")


def seed() -> dict[str, Any]:
    """prod: search's two keys, payments' one, and a stray key nobody manages."""
    live = {"user_id": "u1", "expires_at": -1, "allocated_ammount": 10.0, "used_ammount": 1.0}
    names = {"search-a": "0001", "search-b": "0002", "pay-1": "0003", "stray": "0004"}
    keys = [{"key": f"ek-proxy-prod-{name}-{n}", "name": name, **live} for name, n in names.items()]
    account = {"user_id": "u1", "name": "prod", "api_key": PROD_KEY, "balance": 500.0}
    return {"accounts": [account], "keys": keys, "rate_limit": {"requests": 100_000, "window_s": 60}}


def root(names: list[str], prune: bool = False) -> str:
    doc = {
        "version": 1,
        "accounts": {"prod": {"api_key": "${EH_PROD_API_KEY}"}},
        "prune": prune,
        "account": "prod",
        "defaults": {"limit_type": "daily"},
        "keys": [{"id": name, "name": name, "allocated_ammount": 10} for name in names],
    }
    return yaml.safe_dump(doc, sort_keys=False)


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A git checkout (its `.git`) holding both roots; the account served for real."""
    path = tmp_path / "accounts-seed.yaml"
    path.write_text(yaml.safe_dump(seed()))
    box = Sandbox.open(tmp_path / "accounts.db", seeds.load(str(path)))
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    for name, text in {"search": root(["search-a", "search-b"]), "payments": root(["pay-1"], True)}.items():
        (repo / "keys" / name).mkdir(parents=True)
        (repo / "keys" / name / "keys.yaml").write_text(text)
    monkeypatch.chdir(repo)
    monkeypatch.setenv("EH_PROD_API_KEY", PROD_KEY)
    with serving(box.app) as (url,):
        monkeypatch.setenv("ELECTRONHUB_BASE_URL", f"{url}/v1")
        yield repo


def live(repo: Path) -> list[str]:
    with sqlite3.connect(repo.parent / "accounts.db") as db:
        return sorted(name for (name,) in db.execute("SELECT name FROM keys WHERE user_id = 'u1'"))


def test_a_pruning_root_keeps_the_keys_another_roots_state_binds(checkout: Path, capsys: Any) -> None:
    code, out, err = run_cli(capsys, "apply", "keys/search", "--auto-approve")
    assert code == 0 and SEARCH_STATE.is_file(), out + err

    code, out, err = run_cli(capsys, "plan", "keys/payments", "--format", "json")
    assert code == 0, out + err
    planned = json.loads(out)
    deleted = [c["name"] for c in planned["keys"] if c["action"] == "delete"]
    assert deleted == ["stray"], "a key nobody binds is still pruned; search's are not"
    kept = {u["name"]: u["note"] for u in planned["unmanaged"]}
    why = f"not pruned: managed by keys/search (its state binds it: {SEARCH_STATE.as_posix()})"
    assert kept == {"search-a": why, "search-b": why}
    assert planned["summary"]["requests"] == 2, "the account is read in its two requests, as always"

    code, out, err = run_cli(capsys, "apply", "keys/payments", "--auto-approve")
    assert code == 0, out + err
    assert "managed by keys/search" in out
    assert live(checkout) == ["pay-1", "search-a", "search-b"]
    code, out, _ = run_cli(capsys, "plan", "keys/search", "--detailed-exitcode")
    assert code == 0 and "No changes" in out, "search's keys are as search left them"


def test_another_roots_state_that_cannot_be_read_prunes_nothing(checkout: Path, capsys: Any) -> None:
    assert run_cli(capsys, "apply", "keys/search", "--auto-approve")[0] == 0
    SEARCH_STATE.write_text("{not json")
    code, out, err = run_cli(capsys, "plan", "keys/payments")
    assert code == 0, out + err
    assert "nothing is pruned: another manifest root's state cannot be read" in out + err
    assert f"{SEARCH_STATE.parent}" in out and "not an ehkeys state file" in out
    assert "- stray" not in out and "- search-a" not in out

    code, out, err = run_cli(capsys, "apply", "keys/payments", "--auto-approve")
    assert code == 0, out + err
    assert live(checkout) == ["pay-1", "search-a", "search-b", "stray"], "closed: nothing deleted"


def test_a_checkout_without_other_states_prunes_as_before(checkout: Path, capsys: Any) -> None:
    """Search never applied here: its keys are bound by no state, and the pruning root deletes
    them, as its plan says (the README's caveat: a root's keys are its own once it applied)."""
    code, out, err = run_cli(capsys, "plan", "keys/payments", "--format", "json")
    assert code == 0, out + err
    deleted = sorted(c["name"] for c in json.loads(out)["keys"] if c["action"] == "delete")
    assert deleted == ["search-a", "search-b", "stray"]
    assert not PAYMENTS_STATE.exists()
