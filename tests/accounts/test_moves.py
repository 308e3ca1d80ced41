"""A key moved between accounts goes whole or not at all: when the new account cannot take it
(its key cap, its balance, its key refused) or the old account cannot let it go (a protected
key, its key refused), neither side is sent, so the key is never lost nor held twice."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from reconciler.api.client import Client
from reconciler.api.errors import ApiError
from reconciler.manifest import resources
from reconciler.render.plan import escape
from reconciler.sandbox import Sandbox, seeds

from ..helpers import ROOT, interruptible, run_cli, state_dir
from ..reliability_log import record

SANDBOX = ("--sandbox", "--sandbox-seed", "seed.yaml", "--max-attempts", "1")
NOT_NOW = "↦ backend: moves from account prod to staging: not now, neither deleted nor created"


def seed(
    prod_rate: dict[str, Any] | None = None,
    staging_rate: dict[str, Any] | None = None,
    staging_tier_cap: int = 100,
) -> dict[str, Any]:
    prod = {"user_id": "u1", "name": "prod", "api_key": "ek-test-prod", "balance": 1000.0}
    staging = {"user_id": "u2", "name": "staging", "api_key": "ek-test-staging", "balance": 100.0}
    staging["key_cap"] = staging_tier_cap  # the API's own cap, which the manifest may not know
    for account, rate in ((prod, prod_rate), (staging, staging_rate)):
        if rate:
            account["rate_limit"] = rate
    return {"accounts": [prod, staging], "keys": [], "rate_limit": {"requests": 100_000, "window_s": 60}}


# One request, then a 429 whose Retry-After is ten minutes away: the account cannot be read.
ONE_REQUEST = {"requests": 1, "window_s": 600, "cooldown_s": 600, "retry_after": True}


def manifest(
    backend_in: str = "prod", backend: int = 100, staging_cap: int | None = None, protect: bool = False
) -> str:
    staging: dict[str, Any] = {"api_key": "${EH_STAGING_API_KEY}"}
    if staging_cap is not None:
        staging["key_cap"] = staging_cap
    first = {"id": "backend", "account": backend_in, "name": "Backend", "allocated_ammount": backend}
    if protect:
        first["protect"] = True
    doc = {
        "version": 1,
        "accounts": {"prod": {"api_key": "${EH_PROD_API_KEY}"}, "staging": staging},
        "defaults": {"limit_type": "monthly"},
        "keys": [first, {"id": "web", "account": "staging", "name": "Web", "allocated_ammount": 10}],
    }
    return yaml.safe_dump(doc, sort_keys=False)


@pytest.fixture
def applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Path:
    """Backend in prod (100 debited) and Web in staging (10 debited), applied."""
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed()))
    Path("keys.yaml").write_text(manifest())
    code, out, _ = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 0, out
    return tmp_path


def accounts() -> dict[str, tuple[Decimal, list[str]]]:
    """Each account's balance and the names of its keys, as the sandbox holds them."""
    box = Sandbox.open(".ehkeys/sandbox.db", seeds.load("seed.yaml"))
    found = {}
    for name, user in (("prod", "u1"), ("staging", "u2")):
        keys = sorted(k["name"] for k in box.store.keys_of(user))
        found[name] = (Decimal(box.store.account(user)["balance"]), keys)
    return found


UNTOUCHED = {"prod": (Decimal(900), ["Backend"]), "staging": (Decimal(90), ["Web"])}


def test_a_key_moved_into_an_account_at_its_key_cap_is_not_deleted_from_the_old_one(
    applied: Path, capsys: Any
) -> None:
    Path("keys.yaml").write_text(manifest(backend_in="staging", staging_cap=1))
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX)
    assert code == 1
    assert "moves to account staging, where it cannot be created now (the plan's 1 create(s)" in out
    assert NOT_NOW in out
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 1, out + err
    assert accounts() == UNTOUCHED  # Backend never lost: it stays in prod, whole


def test_a_protected_key_moved_away_is_not_created_again_in_the_new_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed()))
    Path("keys.yaml").write_text(manifest(protect=True))
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    Path("keys.yaml").write_text(manifest(backend_in="staging", protect=True))
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX)
    assert code == 1
    assert "moves from account prod, where it cannot be deleted now (protected when last applied" in out
    assert NOT_NOW in out
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 1, out + err
    assert accounts() == UNTOUCHED  # staging never paid for a second Backend


def test_drift_holds_a_move_that_cannot_go_whole_as_plan_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """drift held no move (its plans named no account), so a protected key moved away showed
    in the new account as a create still to apply, where plan says it is not created now."""
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed()))
    Path("keys.yaml").write_text(manifest(protect=True))
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    Path("keys.yaml").write_text(manifest(backend_in="staging", protect=True))
    code, out, _ = run_cli(capsys, "drift", "keys.yaml", *SANDBOX)
    staging = out[out.index("=== Account staging ===") :]
    assert code == 1 and "+ Backend (a new key): create" not in staging, out
    assert "moves from account prod, where it cannot be deleted now (protected when last applied" in staging


def with_a_budget(text: str) -> str:
    """The manifest with Backend in group `team`, and staging's net debit held to 50."""
    doc = yaml.safe_load(text)
    doc["groups"] = {"team": {"budget": {"warn_net_debit": 40}}}
    doc["accounts"]["staging"]["budget"] = {"max_net_debit": 50}
    doc["keys"][0]["group"] = "team"
    return yaml.safe_dump(doc, sort_keys=False)


def test_a_move_held_back_counts_no_credit_in_its_group_nor_the_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """The held create moves no credit (its credit line says so), yet the group's roll-up and
    staging's budget still counted it: 'team: ... 100.00 debited' and 'debits a net 100.00, over
    50.00' beside 'Credits: 0.00 debited'."""
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed()))
    Path("keys.yaml").write_text(with_a_budget(manifest(protect=True)))
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    Path("keys.yaml").write_text(with_a_budget(manifest(backend_in="staging", protect=True)))
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX)
    assert code == 1 and NOT_NOW in out
    staging = out[out.index("=== Account staging ===") :]
    assert "team: 1 key (0 changed), 0.00 debited, 0.00 refunded (est.), net +0.00" in staging, staging
    assert "Credits: 0.00 debited" in staging and "policy violation" not in out, out
    assert "Budget warning" not in out


def test_a_key_moved_into_an_account_that_cannot_pay_for_it_is_not_deleted(
    applied: Path, capsys: Any
) -> None:
    Path("keys.yaml").write_text(manifest(backend_in="staging", backend=95))  # staging has 90
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 1, out + err
    assert "moves to account staging, where it cannot be created now (the plan debits 95.00" in out
    assert accounts() == UNTOUCHED


@pytest.mark.parametrize("unreadable", ["prod", "staging"])
def test_a_move_with_an_account_that_cannot_be_read_sends_neither_side(
    applied: Path, capsys: Any, unreadable: str
) -> None:
    Path("seed.yaml").write_text(yaml.safe_dump(seed(**{f"{unreadable}_rate": ONE_REQUEST})))
    Path("keys.yaml").write_text(manifest(backend_in="staging"))
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX)
    assert code == 1 and NOT_NOW in out
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 1, out + err
    assert accounts() == UNTOUCHED


def test_a_moved_keys_create_refused_by_the_api_leaves_the_old_key_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """The manifest does not know staging's tier allows one key: its guards pass, and the API
    refuses the create (403). The delete in prod waits for that create, so it is never sent."""
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed(staging_tier_cap=1)))
    Path("keys.yaml").write_text(manifest())
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    Path("keys.yaml").write_text(manifest(backend_in="staging", backend=50))
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 3, out + err
    assert "Exceeded proxy key limit" in out
    assert "not deleted: its create in account staging failed" in out
    assert accounts() == UNTOUCHED  # never lost, never charged twice
    doc = yaml.safe_load(manifest(backend_in="staging", backend=50))
    doc["keys"][1]["absent"] = True  # room in staging: the move is planned again, and done
    Path("keys.yaml").write_text(yaml.safe_dump(doc))
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 0, out + err
    assert accounts() == {"prod": (Decimal(1000), []), "staging": (Decimal(50), ["Backend"])}


@pytest.mark.parametrize(
    "only", [("--account", "staging"), ("--account", "prod"), ("--target", "staging/backend")], ids=" ".join
)
def test_a_run_that_covers_one_side_of_a_move_sends_neither(
    applied: Path, capsys: Any, only: tuple[str, str]
) -> None:
    """--account staging (or --target staging/backend) created Backend in staging and left the
    old one in prod, its secret still valid, forever 'removed from the manifest'."""
    Path("keys.yaml").write_text(manifest(backend_in="staging", backend=50))
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve", *only)
    assert code == 1, out + err
    assert "(--account, --target): run it too" in out or "--target plans one side of a move only" in out
    assert accounts() == UNTOUCHED
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 0, out + err
    assert accounts() == {"prod": (Decimal(1000), []), "staging": (Decimal(40), ["Backend", "Web"])}


# --- a move cut off between its create and its delete --------------------------------------------

# Two requests, the account's read: the delete that follows is refused (a 429 ten minutes long).
READ_ONLY = {"requests": 2, "window_s": 600, "cooldown_s": 600, "retry_after": True}
HALF = {"prod": (Decimal(900), ["Backend"]), "staging": (Decimal(40), ["Backend", "Web"])}
MOVED = {"prod": (Decimal(1000), []), "staging": (Decimal(40), ["Backend", "Web"])}
STOP_AT_MOVE = Path(__file__).parent / "stop_at_move.py"


def state_of(account: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads((state_dir() / account / "sandbox" / "state.json").read_text())
    return found


def half_moved(capsys: Any) -> None:
    """Backend created in staging, its delete in prod refused by prod's rate limit."""
    Path("seed.yaml").write_text(yaml.safe_dump(seed(prod_rate=READ_ONLY)))
    Path("keys.yaml").write_text(manifest(backend_in="staging", backend=50))
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 3 and "[prod]  ✗ Backend" in out and "[staging]  ✓ Backend" in out, out + err
    assert accounts() == HALF
    Path("seed.yaml").write_text(yaml.safe_dump(seed()))


def finished(capsys: Any) -> None:
    """The next apply deletes the old key, keeps the new one, and leaves nothing under way."""
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 0, out + err
    assert accounts() == MOVED  # the old key's 100 refunded, the new one's 50 debited once
    assert "moves" not in state_of("prod")
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX)
    assert code == 0 and "0 to create, 0 to update, 0 to delete, 2 unchanged" in out and "↦" not in out, out


def test_a_move_whose_delete_did_not_go_is_finished_by_the_next_apply(applied: Path, capsys: Any) -> None:
    """The old key was left for good: 'removed from this account … ehkeys leaves it alone', its
    100 credits allocated beside the new key's 50, its secret still valid."""
    half_moved(capsys)
    assert state_of("prod")["moves"] == {
        "backend": {"key": state_of("prod")["bindings"]["backend"], "to": ["staging"]}
    }
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX)
    assert code == 0, out
    assert (
        "backend: moves from account prod to staging: deleted in prod (100.00 refunded, est.), already in staging"
        in out
    )
    finished(capsys)
    record(
        "fault",
        "a key move whose delete was refused (429) after its create, then apply",
        1,
        "finished: the old key deleted, the new kept, balances exact",
    )


@pytest.mark.slow  # a process, stopped
@pytest.mark.parametrize("stop", ["SIGKILL", "SIGINT"])
@pytest.mark.parametrize("moment", ["created", "deleted"])
def test_a_move_stopped_between_its_steps_is_finished_by_the_next_apply(
    applied: Path, capsys: Any, moment: str, stop: str
) -> None:
    """`created`: the new key made, the old one's delete not sent; `deleted`: that delete
    answered, not yet journalled (the old key gone, the state still naming it)."""
    Path("keys.yaml").write_text(manifest(backend_in="staging", backend=50))
    argv = [sys.executable, str(STOP_AT_MOVE), moment, stop, "apply", "keys.yaml", *SANDBOX, "--auto-approve"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=120, preexec_fn=interruptible
    )
    assert done.returncode in (-signal.SIGKILL, 130), done.stdout + done.stderr
    assert accounts() == (HALF if moment == "created" else MOVED)
    finished(capsys)
    when = (
        "the old one's delete not sent"
        if moment == "created"
        else "its old one's delete answered, not journalled"
    )
    record(
        "kill",
        f"{stop} of a key move once its new key is made, {when}; then apply",
        1,
        "finished: the old key deleted, the new kept, balances exact, no move left recorded",
    )


@pytest.mark.slow  # two processes
def test_two_applies_at_once_finish_a_half_done_move_once(applied: Path, capsys: Any) -> None:
    half_moved(capsys)
    argv = [sys.executable, "-m", "reconciler", "apply", "keys.yaml", *SANDBOX, "--auto-approve"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs = [
        subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in "ab"
    ]
    codes = [run.wait(120) for run in runs]
    assert 0 in codes and set(codes) <= {0, 1}, [run.communicate() for run in runs]
    finished(capsys)
    record(
        "concurrency",
        "two applies at once finishing a half-done key move",
        1,
        "the old key deleted once, balances exact",
    )


@pytest.mark.parametrize("lost", ["staging", "prod"])
def test_a_half_done_move_with_a_state_lost(applied: Path, capsys: Any, lost: str) -> None:
    """staging's lost: its Backend is adopted by name (never created twice) and the move is
    finished. prod's lost: nothing says its Backend was `backend`: left alone, never deleted."""
    half_moved(capsys)
    shutil.rmtree(state_dir() / lost)
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 0, out + err
    assert accounts() == (MOVED if lost == "staging" else HALF)
    said = (
        "finished: the old key deleted"
        if lost == "staging"
        else "the old key left alone (unmanaged), nothing charged twice"
    )
    record("state", f"a half-done key move, the {lost} account's state lost, then apply", 1, said)


def test_a_move_undone_then_made_again_is_finished(applied: Path, capsys: Any) -> None:
    """Backend back in prod while half moved: both keys stay (staging's said how to delete);
    then to staging again: the move the state recorded, finished, never a third key."""
    half_moved(capsys)
    Path("keys.yaml").write_text(manifest())
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 0, out + err
    assert accounts() == HALF and "which the manifest now has in account prod" in out
    Path("keys.yaml").write_text(manifest(backend_in="staging", backend=50))
    finished(capsys)


def test_a_reviewed_plan_never_deletes_the_old_key_when_the_new_one_is_gone(
    applied: Path, capsys: Any
) -> None:
    """Planned while half moved (the delete alone), then staging's Backend deleted by hand: the
    create it needs again is no part of that plan, so prod's delete waited for nothing and the
    key was in neither account, exit 0."""
    half_moved(capsys)
    assert run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--out", "plan.json")[0] == 0
    box = Sandbox.open(".ehkeys/sandbox.db", seeds.load("seed.yaml"))
    box.store.remove(next(k["key"] for k in box.store.keys_of("u2") if k["name"] == "Backend"))
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--plan", "plan.json", "--auto-approve")
    assert code == 3, out + err
    assert "not deleted: its create in account staging is not sent by this apply (not in its plan)" in out
    assert accounts() == {"prod": (Decimal(900), ["Backend"]), "staging": (Decimal(90), ["Web"])}
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 0 and accounts() == MOVED, out + err  # created again first, then deleted
    record(
        "money",
        "a reviewed plan of a half-done key move applied after its new key was deleted by hand",
        1,
        "the old key kept (its create not in that plan); the next apply creates, then deletes",
    )


def test_a_half_done_move_whose_old_key_was_deleted_by_hand_is_over(applied: Path, capsys: Any) -> None:
    half_moved(capsys)
    box = Sandbox.open(".ehkeys/sandbox.db", seeds.load("seed.yaml"))
    box.store.remove(next(k["key"] for k in box.store.keys_of("u1") if k["name"] == "Backend"))
    finished(capsys)  # the state no longer names it: no move left recorded


def test_a_run_of_the_old_account_alone_keeps_a_half_done_move_and_says_why(
    applied: Path, capsys: Any
) -> None:
    """It cannot see the new key there, so the old one stays; the lines said 'neither deleted
    nor created' and 'where it cannot be created now' of a key created already."""
    half_moved(capsys)
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve", "--account", "prod")
    assert code == 1, out + err
    assert (
        "where an earlier run created it, but this run cannot see it there (this run leaves account staging"
        in out
    )
    assert (
        "backend: moves from account prod to staging: created in staging by an earlier run, not deleted in "
        "prod now (account staging is left out of this run: run it too)"
    ) in out
    assert accounts() == HALF
    finished(capsys)


# --- moves beside rotations, absent keys, a third account ------------------------------------------


def rotated(capsys: Any) -> None:
    """prod/backend rotated with a week's overlap: two live keys in prod, the successor bound."""
    code, out, err = run_cli(
        capsys, "rotate", "keys.yaml", "prod/backend", *SANDBOX, "--overlap", "7d", "--auto-approve"
    )
    assert code == 0, out + err


def prod_keys() -> list[str]:
    return accounts()["prod"][1]


def test_a_move_cut_off_during_a_rotations_overlap_is_finished(applied: Path, capsys: Any) -> None:
    """Both prod keys (the successor, the predecessor it retires) are the move's to delete. The
    record named whichever was written last, and the predecessor's refused delete took the
    address from the successor: one or two keys left in prod for good, 100-200 credits held."""
    rotated(capsys)
    assert prod_keys() == ["Backend", "Backend"]
    Path("seed.yaml").write_text(yaml.safe_dump(seed(prod_rate=READ_ONLY)))
    Path("keys.yaml").write_text(manifest(backend_in="staging", backend=50))
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 3  # prod's deletes: 429
    Path("seed.yaml").write_text(yaml.safe_dump(seed()))
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 0, out + err
    assert accounts() == {
        "prod": (Decimal(1000), []),
        "staging": (Decimal(40), ["Backend", "Web"]),
    }


def test_a_protected_key_moved_during_its_rotations_overlap_is_not_created_twice(
    applied: Path, capsys: Any
) -> None:
    """The move's hold read the first of prod's two deletes only: when that was the unprotected
    predecessor, staging created Backend while both prod keys stayed (two allocations)."""
    rotated(capsys)
    doc = yaml.safe_load(manifest())
    doc["keys"][0]["protect"] = True
    Path("keys.yaml").write_text(yaml.safe_dump(doc))
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    doc["keys"][0].update(account="staging", allocated_ammount=50)
    Path("keys.yaml").write_text(yaml.safe_dump(doc))
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 1 and "where it cannot be deleted now (protected" in out, out + err
    assert accounts()["staging"] == (Decimal(90), ["Web"]) and prod_keys() == ["Backend", "Backend"]


def test_a_key_dropped_here_and_absent_there_is_left_alone_every_run(applied: Path, capsys: Any) -> None:
    """No move: a key is deleted only where the manifest says so (absent: true in its own
    account). Taken for a move into an account where it is absent, it waited for a create
    never planned (exit 3 on every run); and a key of that id bound there first made the
    first apply leave it alone and the second delete it, the manifest unchanged."""
    doc = yaml.safe_load(manifest())
    doc["keys"][0].update(account="staging", absent=True)
    Path("keys.yaml").write_text(yaml.safe_dump(doc))
    for _ in range(2):
        code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
        assert code == 0 and "↦" not in out, out + err
        assert "which the manifest now has in account staging" in out
        assert accounts() == UNTOUCHED


def test_a_move_record_of_a_key_not_bound_never_forgets_the_bound_one(applied: Path, capsys: Any) -> None:
    """A record edited to name another key: the apply ended it by forgetting the address's
    binding (and its protection), so a later rename made the next apply create a second key."""
    path = state_dir() / "prod" / "sandbox" / "state.json"
    doc = json.loads(path.read_text())
    doc["moves"] = {"backend": {"to": ["staging"], "key": "sha256:" + "0" * 24}}
    path.write_text(json.dumps(doc))
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    assert state_of("prod")["bindings"]["backend"] == doc["bindings"]["backend"] and "moves" not in state_of(
        "prod"
    )


def applied_in_three(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Backend in prod and Web in staging applied, with a third account, dev (balance 100):
    (the seed, the manifest)."""
    monkeypatch.chdir(tmp_path)
    three = seed()
    three["accounts"].append({"user_id": "u3", "name": "dev", "api_key": "ek-test-dev", "balance": 100.0})
    Path("seed.yaml").write_text(yaml.safe_dump(three))
    doc = yaml.safe_load(manifest())
    doc["accounts"]["dev"] = {"api_key": "${EH_DEV_API_KEY}"}
    Path("keys.yaml").write_text(yaml.safe_dump(doc))
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    return three, doc


def test_a_half_done_move_moved_on_to_a_third_account_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """Half moved to staging, then to dev: two moves into dev share its one create, and the
    second took the first's gate, whose delete then waited for ever (the apply hung)."""
    three, doc = applied_in_three(tmp_path, monkeypatch, capsys)
    Path("seed.yaml").write_text(
        yaml.safe_dump(
            {**three, "accounts": [{**three["accounts"][0], "rate_limit": READ_ONLY}, *three["accounts"][1:]]}
        )
    )
    doc["keys"][0].update(account="staging", allocated_ammount=50)
    Path("keys.yaml").write_text(yaml.safe_dump(doc))
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 3  # half done
    Path("seed.yaml").write_text(yaml.safe_dump(three))
    doc["keys"][0].update(account="dev", allocated_ammount=30)
    Path("keys.yaml").write_text(yaml.safe_dump(doc))
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 0, out + err
    box = Sandbox.open(".ehkeys/sandbox.db", seeds.load("seed.yaml"))
    found = {u: sorted(k["name"] for k in box.store.keys_of(u)) for u in ("u1", "u2", "u3")}
    assert found == {"u1": [], "u2": ["Web"], "u3": ["Backend"]}
    assert Decimal(box.store.account("u3")["balance"]) == 70  # one create in dev


def refuse_deletes_of(monkeypatch: pytest.MonkeyPatch, fingerprints: set[str]) -> None:
    """The API refuses (403) the deletes of these keys."""
    removed = Client.remove

    async def remove(self: Client, key: Any) -> Any:
        if key.fingerprint in fingerprints:
            raise ApiError("refused by the test", 403)
        return await removed(self, key)

    monkeypatch.setattr(Client, "remove", remove)


@pytest.mark.parametrize("refused", ["predecessor", "successor"])
def test_a_move_during_an_overlap_with_one_delete_refused_is_finished(
    applied: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch, refused: str
) -> None:
    """The delete of one key dropped the address's binding whichever key it was: the other was
    left 'unmanaged' for good (100 credits), and a kill there made prod's list look foreign."""
    rotated(capsys)
    bound, rotations = state_of("prod")["bindings"]["backend"], state_of("prod")["rotations"]
    Path("keys.yaml").write_text(manifest(backend_in="staging", backend=50))
    with monkeypatch.context() as patched:
        refuse_deletes_of(
            patched, {rotations["backend"]["predecessor"] if refused == "predecessor" else bound}
        )
        assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 3
    assert len(prod_keys()) in (1, 2)
    finished(capsys)


def test_a_key_moved_on_while_half_done_then_back_is_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """Half moved to staging, then sent to dev, whose create failed, then back to staging: the
    record said dev alone, so staging's key was taken for its own and prod's left alone."""
    _, doc = applied_in_three(tmp_path, monkeypatch, capsys)
    with monkeypatch.context() as patched:
        refuse_deletes_of(patched, {state_of("prod")["bindings"]["backend"]})
        doc["keys"][0].update(account="staging", allocated_ammount=50)
        Path("keys.yaml").write_text(yaml.safe_dump(doc))
        assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 3
        monkeypatch.setattr(Client, "create", refused_create)
        doc["keys"][0].update(account="dev", allocated_ammount=30)
        Path("keys.yaml").write_text(yaml.safe_dump(doc))
        assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 3
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    assert state_of("prod")["moves"]["backend"]["to"] == ["dev", "staging"]
    doc["keys"][0].update(account="staging", allocated_ammount=50)
    Path("keys.yaml").write_text(yaml.safe_dump(doc))
    finished(capsys)


async def refused_create(self: Client, *_: Any) -> Any:
    raise ApiError("Exceeded proxy key limit", 403)


def test_a_key_pinned_by_proxy_key_is_not_deleted_when_its_new_account_lacks_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """staging's plan is an error (no such proxy_key there), which the hold read as 'the key is
    there already': prod's key was deleted, and never created anywhere."""
    monkeypatch.chdir(tmp_path)
    data = seed()
    data["keys"] = [
        {"key": "ek-proxy-backendvalue000001", "user_id": "u1", "name": "Backend", "allocated_ammount": 100.0}
    ]
    Path("seed.yaml").write_text(yaml.safe_dump(data))
    doc = yaml.safe_load(manifest())
    doc["keys"][0]["proxy_key"] = "${BK:-ek-proxy-backendvalue000001}"
    Path("keys.yaml").write_text(yaml.safe_dump(doc))
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    before = accounts()
    doc["keys"][0]["account"] = "staging"
    Path("keys.yaml").write_text(yaml.safe_dump(doc))
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 1 and NOT_NOW in out, out + err
    assert accounts() == before


def test_a_key_unprotected_after_its_rotation_began_can_move(applied: Path, capsys: Any) -> None:
    """The key it rotated from stayed protected: every apply of the move was refused, 'a
    protected key is deleted only after an apply that still lists it, its protect removed',
    after just such an apply."""
    doc = yaml.safe_load(manifest())
    doc["keys"][0]["protect"] = True
    Path("keys.yaml").write_text(yaml.safe_dump(doc))
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    rotated(capsys)
    doc["keys"][0]["protect"] = False
    Path("keys.yaml").write_text(yaml.safe_dump(doc))
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    Path("keys.yaml").write_text(manifest(backend_in="staging", backend=50))
    finished(capsys)


def with_sink(text: str, sink: dict[str, Any]) -> str:
    doc = yaml.safe_load(text)
    doc["keys"][0]["deliver"] = [sink]
    return yaml.safe_dump(doc)


SINK_UP = "import os, sys; sys.stdin.read(); sys.exit(0 if os.path.exists('up') else 1)"
SINK = {"command": [sys.executable, "-c", SINK_UP]}  # delivers while the file `up` exists


def moved_while_the_sink_is_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> tuple[int, str]:
    """Backend (with a command sink) applied in prod, then moved to staging while its sink is
    down: the new key made, its delivery failed. The move's apply: (exit code, stdout)."""
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed()))
    Path("up").write_text("")
    Path("keys.yaml").write_text(with_sink(manifest(), SINK))
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    Path("up").unlink()
    Path("keys.yaml").write_text(with_sink(manifest(backend_in="staging", backend=50), SINK))
    code, out, _ = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    return code, out


def test_a_moved_keys_old_value_stays_until_the_new_one_reached_its_sinks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """The old key was deleted once the new one was created, its delivery failed: the
    application held a dead secret. It is deleted once `ehkeys deliver` has sent the new one."""
    code, out = moved_while_the_sink_is_down(tmp_path, monkeypatch, capsys)
    assert code == 3 and "not deleted: its value has not reached every sink in account staging" in out, out
    assert accounts() == HALF
    Path("up").write_text("")
    assert run_cli(capsys, "deliver", "keys.yaml", *SANDBOX)[0] == 0
    finished(capsys)


def test_a_key_adopted_by_name_in_its_new_account_keeps_the_old_until_delivered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """A key of its name made by hand in staging is adopted: the old key was deleted at once,
    and app.env kept its value, now dead."""
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed()))
    Path("keys.yaml").write_text(with_sink(manifest(), {"file": "app.env"}))
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    box = Sandbox.open(".ehkeys/sandbox.db", seeds.load("seed.yaml"))
    fields = {
        "allocated_ammount": 50,
        "limit_type": "monthly",
        "expires_at": -1,
        "model_whitelist": [],
        "ip_whitelist": [],
    }
    box.store.create("u2", {"name": "Backend", **fields}, int(time.time()))
    Path("keys.yaml").write_text(with_sink(manifest(backend_in="staging", backend=50), {"file": "app.env"}))
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 3 and "not deleted: its value has not reached every sink in account staging" in out, out
    assert accounts() == HALF
    assert run_cli(capsys, "deliver", "keys.yaml", *SANDBOX)[0] == 0
    finished(capsys)


def test_an_apply_that_delivers_a_moved_keys_value_again_then_deletes_its_old_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """The delivery failed, the sink is back: the next apply delivered the value and still
    skipped the old key's delete ('`ehkeys deliver` sends it'), its gate shut before it ran."""
    assert moved_while_the_sink_is_down(tmp_path, monkeypatch, capsys)[0] == 3
    Path("up").write_text("")
    finished(capsys)


def test_an_absent_key_found_by_name_after_its_bound_key_vanished_leaves_no_binding(
    applied: Path, capsys: Any
) -> None:
    """Its delete kept the address bound to the vanished key (as a move keeps a successor's):
    the account's list then looked foreign, and every plan of it was refused."""
    box = Sandbox.open(".ehkeys/sandbox.db", seeds.load("seed.yaml"))
    box.store.remove(next(k["key"] for k in box.store.keys_of("u1") if k["name"] == "Backend"))
    fields = {
        "allocated_ammount": 100,
        "limit_type": "monthly",
        "expires_at": -1,
        "model_whitelist": [],
        "ip_whitelist": [],
    }
    box.store.create("u1", {"name": "Backend", **fields}, int(time.time()))  # by hand, the same name
    doc = yaml.safe_load(manifest())
    doc["keys"][0]["absent"] = True
    Path("keys.yaml").write_text(yaml.safe_dump(doc))
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    assert "backend" not in state_of("prod")["bindings"]
    box.store.create("u1", {"name": "Other", **fields}, int(time.time()))
    doc["keys"][0]["absent"] = False
    Path("keys.yaml").write_text(yaml.safe_dump(doc))
    code, out, err = run_cli(capsys, "plan", "keys.yaml", *SANDBOX)
    assert code == 0 and "another account?" not in out + err, out + err


def test_an_account_refused_by_its_guards_leaves_a_moved_keys_delete_waiting_on_it_shut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """A half-done move whose delivery is owed, its new account then refused by max_debit: the
    old key's delete waited for that account's delivery run, which never came (the apply hung,
    both accounts locked)."""
    assert moved_while_the_sink_is_down(tmp_path, monkeypatch, capsys)[0] == 3
    Path("up").write_text("")
    doc = yaml.safe_load(with_sink(manifest(backend_in="staging", backend=50), SINK))
    doc["accounts"]["staging"]["max_debit"] = 1
    doc["keys"].append({"id": "extra", "account": "staging", "name": "Extra", "allocated_ammount": 5})
    Path("keys.yaml").write_text(yaml.safe_dump(doc))
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code in (1, 3) and "account staging, not applied now" in out, out + err
    assert "ehkeys: error: account staging: " in err and "the other accounts go on" in err, err  # no warning
    assert accounts() == HALF


def test_a_move_says_which_env_file_line_it_leaves_holding_the_old_keys_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """A file sink's default variable names the account: moved, the value went to
    EH_KEY_STAGING_BACKEND and EH_KEY_PROD_BACKEND kept the old key's, deleted, unsaid."""
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed()))
    Path("keys.yaml").write_text(with_sink(manifest(), {"file": "a.env"}))
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    Path("keys.yaml").write_text(with_sink(manifest(backend_in="staging", backend=50), {"file": "a.env"}))
    said = (
        "staging/backend: file a.env#EH_KEY_STAGING_BACKEND gets its value as EH_KEY_STAGING_BACKEND, no longer EH_KEY_PROD_BACKEND: "
        "what reads EH_KEY_PROD_BACKEND keeps the old key's value, which this move deletes; pin "
        "`name: EH_KEY_PROD_BACKEND` on the sink to keep it"
    )
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX)
    assert code == 0 and said in out, out
    pinned = with_sink(
        manifest(backend_in="staging", backend=50), {"file": "a.env", "name": "EH_KEY_PROD_BACKEND"}
    )
    Path("keys.yaml").write_text(pinned)
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 0 and "no longer" not in out and accounts() == MOVED, out + err
    staging = next(
        k["key"]
        for k in Sandbox.open(".ehkeys/sandbox.db", seeds.load("seed.yaml")).store.keys_of("u2")
        if k["name"] == "Backend"
    )
    assert f"EH_KEY_PROD_BACKEND={staging}" in Path("a.env").read_text()  # the new value, under the old name


# --- a saved plan of a move ------------------------------------------------------------------------


def moved(capsys: Any) -> None:
    Path("keys.yaml").write_text(manifest(backend_in="staging", backend=50))


def half_moved_prod_unreadable(capsys: Any) -> None:
    half_moved(capsys)
    Path("seed.yaml").write_text(yaml.safe_dump(seed(prod_rate=ONE_REQUEST)))


EARLIER = "created in staging by an earlier run, not deleted in prod now"
SAVED_MOVES = {  # (how the move is set up, the run's options, its line: created earlier or not)
    "moved": (moved, (), "deleted in prod (100.00 refunded, est.), created in staging (50.00 debited)"),
    "half-done": (half_moved, (), "deleted in prod (100.00 refunded, est.), already in staging"),
    "half-done, prod unreadable": (
        half_moved_prod_unreadable,
        (),
        f"{EARLIER} (each account's section says why)",
    ),
    "half-done, --account prod": (
        half_moved,
        ("--account", "prod"),
        f"{EARLIER} (account staging is left out of this run: run it too)",
    ),
}


@pytest.mark.parametrize("case", sorted(SAVED_MOVES))
def test_show_of_a_saved_plan_prints_its_moves_as_plan_did(applied: Path, capsys: Any, case: str) -> None:
    """A saved plan forgot its moves: `show` (what a reviewer of the file reads) had a delete in
    one account and a create in another, unexplained, and JSON `"moves": []`."""
    setup, only, line = SAVED_MOVES[case]
    setup(capsys)
    planned = {}
    for fmt in ("text", "json", "markdown"):
        argv = ["plan", "keys.yaml", *SANDBOX, *only, "--format", fmt, "--out", "plan.json"]
        planned[fmt] = run_cli(capsys, *argv)[1]
        code, shown, err = run_cli(capsys, "show", "plan.json", "--format", fmt)
        assert (code, shown) == (0, planned[fmt]), err
    assert f"↦ backend: moves from account prod to staging: {line}\n" in planned["text"]
    jsonschema.validate(json.loads(planned["json"]), resources.schema("plan"))  # `moves` as documented
    saved = json.loads(Path("plan.json").read_text())["moves"]  # names only: never a key
    assert saved == [
        {"address": "backend", "from": "prod", "to": "staging", "created_earlier": case != "moved"}
    ]


HAND_EDITED_MOVES: dict[str, tuple[Any, str]] = {  # moves as edited, what the refusal says
    "not-a-list": ({"backend": "staging"}, "moves is not a list of moves"),
    "not-an-object": (["backend"], "moves[0] is not a move"),
    "no-target": ([{"address": "backend", "from": "prod", "created_earlier": False}], "moves[0] has no 'to'"),
    "a-key-added": (
        [
            {
                "address": "backend",
                "from": "prod",
                "to": "staging",
                "created_earlier": False,
                "key": "ek-proxy",
            }
        ],
        "moves[0] has 'key', which no move holds",
    ),
    "not-a-flag": (
        [{"address": "backend", "from": "prod", "to": "staging", "created_earlier": "no"}],
        "moves[0].created_earlier is not true or false",
    ),
    "an-account-not-named": (
        [{"address": "backend", "from": "", "to": "staging", "created_earlier": False}],
        "moves[0].from is not a name",
    ),
    "to-itself": (
        [{"address": "backend", "from": "prod", "to": "prod", "created_earlier": False}],
        "moves[0] moves backend from account prod to itself",
    ),
    "twice": (
        [{"address": "backend", "from": "prod", "to": "staging", "created_earlier": False}] * 2,
        "moves[1] moves backend from account prod again",
    ),
}


@pytest.mark.parametrize("edit", sorted(HAND_EDITED_MOVES))
def test_a_saved_plan_whose_moves_were_edited_by_hand_is_refused_naming_them(
    applied: Path, capsys: Any, edit: str
) -> None:
    moved(capsys)
    assert run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--out", "plan.json")[0] == 0
    data = json.loads(Path("plan.json").read_text())
    data["moves"], said = HAND_EDITED_MOVES[edit]
    Path("plan.json").write_text(json.dumps(data))
    for argv in (
        ["show", "plan.json"],
        ["apply", "keys.yaml", *SANDBOX, "--plan", "plan.json", "--auto-approve"],
    ):
        code, out, err = run_cli(capsys, *argv)
        assert code == 1 and out == "" and "internal error" not in err and "Traceback" not in err, err
        assert err == f"ehkeys: error: plan.json: {said} (edited by hand?): plan again\n"
    assert accounts() == UNTOUCHED


def _reversed(moves: list[dict[str, Any]]) -> None:
    moves[0].update({"from": moves[0]["to"], "to": moves[0]["from"]})


def _dropped(moves: list[dict[str, Any]]) -> None:
    moves.clear()


def _created_earlier(moves: list[dict[str, Any]]) -> None:
    moves[0]["created_earlier"] = True


SHOWN_MOVES = {  # a move as shown, edited: as `show` would print it, and what the refusal says
    "reversed": (
        _reversed,
        "moves[0] moves backend from account staging to prod, but that account's part would create it",
    ),
    "dropped": (_dropped, "its moves are not the ones the plan wrote"),
    "said created earlier": (_created_earlier, "its moves are not the ones the plan wrote"),
}


@pytest.mark.parametrize("edit", sorted(SHOWN_MOVES))
def test_a_saved_plans_move_shown_otherwise_than_planned_is_refused(
    applied: Path, capsys: Any, edit: str
) -> None:
    """A break-it run turned the move round (`↦ backend: moves from account staging to prod`)
    and show printed it; apply found the moves from the states, so only the review was wrong."""
    moved(capsys)
    assert run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--out", "plan.json")[0] == 0
    data = json.loads(Path("plan.json").read_text())
    change, said = SHOWN_MOVES[edit]
    change(data["moves"])
    Path("plan.json").write_text(json.dumps(data, indent=2, sort_keys=True))
    for argv in (
        ["show", "plan.json"],
        ["apply", "keys.yaml", *SANDBOX, "--plan", "plan.json", "--auto-approve"],
    ):
        code, out, err = run_cli(capsys, *argv)
        assert (code, out) == (
            1,
            "",
        ) and err == f"ehkeys: error: plan.json: {said} (edited by hand?): plan again\n"
    assert accounts() == UNTOUCHED


def with_extra(text: str, allocated: int) -> str:
    doc = yaml.safe_load(text)
    doc["keys"].append({"id": "extra", "account": "prod", "name": "Extra", "allocated_ammount": allocated})
    return yaml.safe_dump(doc)


@pytest.mark.parametrize("reviewed", [False, True], ids=["apply", "apply --plan"])
def test_a_debit_counting_on_a_moved_keys_refund_waits_for_its_delete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, reviewed: bool
) -> None:
    """prod raises Extra by 50, counting on Backend's refund as it moves to staging: the raise
    went first, then the delete waited on the new key's delivery (its sink down) and was
    skipped, so prod was charged a net the plan never showed (a break-it run). The raise now
    follows the move's delete, and is skipped with it."""
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed()))
    Path("up").write_text("")
    Path("keys.yaml").write_text(with_extra(with_sink(manifest(), SINK), 10))
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    Path("up").unlink()
    Path("keys.yaml").write_text(with_extra(with_sink(manifest(backend_in="staging", backend=50), SINK), 60))
    argv = ["apply", "keys.yaml", *SANDBOX, "--auto-approve"]
    if reviewed:
        assert run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--out", "plan.json")[0] == 0
        argv = [*argv, "--plan", "plan.json"]
    code, out, _ = run_cli(capsys, *argv)
    assert (
        code == 3 and "Extra (ek-proxy-" in out and "these debits counted on it (the refund of Backend" in out
    )
    assert accounts()["prod"] == (Decimal(890), ["Backend", "Extra"])  # neither the refund nor the raise
    Path("up").write_text("")
    assert run_cli(capsys, "deliver", "keys.yaml", *SANDBOX)[0] == 0
    code, out, _ = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 0, out
    assert accounts()["prod"] == (Decimal(940), ["Extra"])  # Backend's 100 back, then Extra's 50 out


def test_a_debit_held_for_a_move_still_counts_on_the_reviewed_refunds(applied: Path, capsys: Any) -> None:
    """Held until the moved key's delete, Extra's raise was sent with only that delete counted:
    a reviewed refund skipped as moved (Old's usage) no longer held it back."""
    doc = yaml.safe_load(with_extra(manifest(), 10))
    doc["keys"].append({"id": "old", "account": "prod", "name": "Old", "allocated_ammount": 40})
    Path("keys.yaml").write_text(yaml.safe_dump(doc))
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    doc = yaml.safe_load(with_extra(manifest(backend_in="staging", backend=50), 60))
    doc["keys"].append({"id": "old", "account": "prod", "name": "Old", "absent": True})
    Path("keys.yaml").write_text(yaml.safe_dump(doc))
    assert run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--out", "plan.json")[0] == 0
    box = Sandbox.open(".ehkeys/sandbox.db", seeds.load("seed.yaml"))
    box.store.db.execute("UPDATE keys SET used_ammount = '5' WHERE name = 'Old'")
    code, out, _ = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--plan", "plan.json")
    assert code == 3 and "Extra (ek-proxy-" in out and "the refund of Old" in out, out
    prod = accounts()["prod"]
    assert "Extra" in prod[1] and prod[0] == Decimal(1000 - 10 - 40)  # Backend's 100 back; Extra not raised


HANDED_NOWHERE = (
    "staging/backend: its new value is delivered nowhere (no `deliver:`), and its old key in account "
    "prod is deleted in this apply: whatever holds the old value stops working now"
)


def test_a_key_moved_without_sinks_is_warned_of_as_its_old_key_goes_in_the_same_apply(
    applied: Path, capsys: Any
) -> None:
    """A key with no `deliver:` moved to staging: created there, its old key deleted in prod in the
    same apply, the application's key dead and the new value handed to nobody; the plan said only
    `moved from account prod: created here, deleted there`. With a sink the old key waits for it."""
    Path("keys.yaml").write_text(manifest(backend_in="staging", backend=50))
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX)
    assert code == 0 and f"warning: {HANDED_NOWHERE}" in out, out
    assert "add it to account staging as well (a second key of its id)" in out
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--format", "json")
    assert code == 0 and f"staging: {HANDED_NOWHERE}" in "\n".join(json.loads(out)["notes"]), out
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--format", "markdown")
    assert code == 0 and f"> **Warning:** {escape(HANDED_NOWHERE)}" in out, out
    Path("keys.yaml").write_text(with_sink(manifest(backend_in="staging", backend=50), SINK))
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX)
    assert code == 0 and "moves from account prod to staging" in out and "delivered nowhere" not in out, out


def test_the_last_key_moved_out_of_a_pruned_account_is_refused_saying_how_to_move_it(
    applied: Path, capsys: Any
) -> None:
    """prune: true and the account's last key moved away: the empty-manifest guard refuses, as
    it should (a manifest emptied by mistake deletes every key), but it said nothing of the move,
    so the user could not tell how to make it."""
    doc = yaml.safe_load(manifest(backend_in="staging", backend=50))  # staging can pay 50
    doc["prune"] = True
    Path("keys.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    code, out, err = run_cli(capsys, "plan", "keys.yaml", *SANDBOX)
    assert code == 1 and "prune: true over a manifest with no keys" in out + err, out + err
    assert "Its last keys move to another account (backend), which needs no prune" in out + err
    doc["prune"] = False
    Path("keys.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    code, out, _ = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 0 and accounts()["prod"][1] == [] and accounts()["staging"][1] == ["Backend", "Web"], out
