"""Which key's value a moved key's sinks hold. A sink named the same in both accounts
(`name: BACKEND`) gets the new key's value when the move delivers it: the old account's record
that it holds the old key's no longer stands, and a key is never deleted while its value is the
one the manifest key's sinks hold and the key it is left for never reached them."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.sandbox import Sandbox, seeds

from ..helpers import run_cli
from .test_moves import READ_ONLY, SANDBOX, manifest, seed, with_sink

SINK = {"file": "app.env", "name": "BACKEND"}  # one line, whichever account the key is in


def keys(where: str, prune: bool = False) -> str:
    doc = yaml.safe_load(with_sink(manifest(backend_in=where, backend=50), SINK))
    doc["keys"].append({"id": "api", "account": "prod", "name": "Api", "allocated_ammount": 5})
    if prune:
        doc["prune"] = True
    return yaml.safe_dump(doc)


def backends() -> dict[str, list[str]]:
    """Each account's keys named Backend (their values), as the sandbox holds them."""
    box = Sandbox.open(".ehkeys/sandbox.db", seeds.load("seed.yaml"))
    found: dict[str, list[str]] = {}
    for name, user in (("prod", "u1"), ("staging", "u2")):
        found[name] = [k["key"] for k in box.store.keys_of(user) if k["name"] == "Backend"]
    return found


def held() -> str:
    """The value app.env holds."""
    (line,) = Path("app.env").read_text().splitlines()
    return line.removeprefix("BACKEND=")


def live(value: str) -> bool:
    return any(value in found for found in backends().values())


def apply(capsys: Any) -> tuple[int, str]:
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    return code, out + err


@pytest.fixture
def in_prod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Path:
    """Backend applied in prod, its value in app.env."""
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed()))
    Path("keys.yaml").write_text(keys("prod"))
    code, out = apply(capsys)
    assert code == 0 and live(held()), out
    return tmp_path


def made_by_hand(user: str) -> None:
    box = Sandbox.open(".ehkeys/sandbox.db", seeds.load("seed.yaml"))
    fields = {"allocated_ammount": 5, "limit_type": "monthly", "expires_at": -1}
    box.store.create(
        user, {"name": "Backend", "model_whitelist": [], "ip_whitelist": [], **fields}, int(time.time())
    )


def test_a_key_moved_back_onto_a_namesake_made_by_hand_keeps_the_key_its_sinks_hold(
    in_prod: Path, capsys: Any
) -> None:
    """Moved to staging and back, prod's record that app.env held its old key's value outlived
    that key: the Backend made by hand in prod was adopted as delivered, so staging's key, the one
    app.env held, was deleted at once, and drift said all was in sync."""
    Path("keys.yaml").write_text(keys("staging"))
    assert apply(capsys)[0] == 0
    moved = held()
    assert backends() == {"prod": [], "staging": [moved]}
    made_by_hand("u1")
    Path("keys.yaml").write_text(keys("prod"))
    code, out = run_cli(capsys, "plan", "keys.yaml", *SANDBOX)[:2]
    assert "prod/backend: file app.env#BACKEND never received this key's value" in out, out
    code, out = apply(capsys)
    assert code == 3 and "not deleted: its value has not reached every sink in account prod" in out, out
    assert held() == moved and live(moved)
    assert run_cli(capsys, "deliver", "keys.yaml", *SANDBOX)[0] == 0
    assert apply(capsys)[0] == 0
    assert backends()["staging"] == [] and live(held())


def half_moved(capsys: Any, prune: bool) -> str:
    """Backend created in staging and delivered, prod's delete refused (prod's rate limit): the
    value app.env holds, the new key's."""
    Path("seed.yaml").write_text(yaml.safe_dump(seed(prod_rate=READ_ONLY)))
    Path("keys.yaml").write_text(keys("staging", prune))
    code, out = apply(capsys)
    assert code == 3 and "[staging]  ✓ Backend" in out, out
    Path("seed.yaml").write_text(yaml.safe_dump(seed()))
    assert len(backends()["prod"]) == 1 and backends()["staging"] == [held()]
    return held()


def test_a_half_done_move_undone_says_its_sinks_hold_the_new_keys_value(in_prod: Path, capsys: Any) -> None:
    """Moved back while half done, both keys stay (docs), and app.env holds staging's key's value:
    prod's state still said it held its own key's, so nothing said so, nor delivered it there again."""
    value = half_moved(capsys, prune=False)
    Path("keys.yaml").write_text(keys("prod"))
    code, out = apply(capsys)
    assert code == 0 and "prod/backend: file app.env#BACKEND never received this key's value" in out, out
    assert held() == value and live(value)
    assert run_cli(capsys, "deliver", "keys.yaml", *SANDBOX)[0] == 0
    assert held() == backends()["prod"][0]


def test_a_half_done_move_undone_under_prune_keeps_the_key_its_sinks_hold(in_prod: Path, capsys: Any) -> None:
    """Both keys stay, prune: true or not: staging's Backend, the one app.env held, was pruned."""
    value = half_moved(capsys, prune=True)
    Path("keys.yaml").write_text(keys("prod", prune=True))
    code, out = apply(capsys)
    said = (
        "not pruned: removed from this account (it was 'backend'), which the manifest now has in account prod"
    )
    assert code == 0 and said in out, out
    assert backends()["staging"] == [value] and held() == value


def test_a_reviewed_moves_delete_of_a_key_the_state_lost_is_never_said_done(
    in_prod: Path, capsys: Any
) -> None:
    """prod's state lost after the review: nothing says its Backend is `backend` now, so it is
    left alone (docs), live and charged. The apply said the reviewed delete was 'already as
    planned ... the key is gone from the account', and exited 0."""
    Path("keys.yaml").write_text(keys("staging"))
    assert run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--out", "plan.json")[0] == 0
    (old,) = backends()["prod"]
    shutil.rmtree(".ehkeys/keys/prod")
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--plan", "plan.json", "--auto-approve")
    assert backends()["prod"] == [old]  # left alone, never deleted on a guess
    assert "the key is gone from the account" not in out, out
    assert (
        code == 3
        and "[prod]  - Backend (ek-proxy-…" in out
        and "skipped: changed since plan; nothing is sent to it now: this plan no longer binds it to 'backend'"
        in out
    ), out


def test_an_id_pruned_here_then_moved_here_is_a_move(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """Pruned from prod, Backend stayed bound to `backend` in prod's state: the id later moved
    here from staging was no move, so staging's key was kept beside a new one (two allocations)."""
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed()))
    doc = yaml.safe_load(keys("prod", prune=True))
    Path("keys.yaml").write_text(yaml.safe_dump(doc))
    assert apply(capsys)[0] == 0
    Path("keys.yaml").write_text(yaml.safe_dump({**doc, "keys": doc["keys"][1:]}))  # dropped: pruned
    assert apply(capsys)[0] == 0 and backends()["prod"] == []
    Path("keys.yaml").write_text(keys("staging", prune=True))
    assert apply(capsys)[0] == 0
    Path("keys.yaml").write_text(keys("prod", prune=True))
    code, out = apply(capsys)
    assert code == 0 and "↦ backend: moves from account staging to prod" in out, out
    assert backends()["staging"] == [] and len(backends()["prod"]) == 1 and live(held())
