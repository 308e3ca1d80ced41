"""`ehkeys rotate`: now, whatever the schedule; `--overlap 0` deletes the predecessor in the same
run once its successor is delivered (never before); only the rotation is applied."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.core.secrets import ProxyKey
from reconciler.render.plan import escape

from ..helpers import API_KEY, run_cli
from .common import OLD, SANDBOX, balance, cli, gated_sink, journal, keys, manifest, seed, state


@pytest.fixture
def workdir(workdir: Path) -> Path:  # the seeded folder (conftest), and a manifest
    manifest(rotate=None)  # no schedule: rotated only when asked
    return workdir


def test_rotate_with_overlap_0_deletes_the_predecessor_in_the_same_run(workdir: Path, capsys: Any) -> None:
    """The old key's line says it was replaced, never that the successor 'is delivered': this key
    has no sink, and nothing was."""
    code, out, _ = cli(capsys, "rotate", "backend", "--overlap", "0", "--report-out", "rotate.md")
    assert code == 0, out
    assert "⟳ Backend (ek-proxy-…part)" in out and "- Backend (ek-proxy-…part)" in out
    assert "rotated now (ehkeys rotate); overlap 0" in out and "Apply complete: 1 rotated, 1 deleted." in out
    (successor,) = keys()
    created = (
        f"✓ Backend (ek-proxy-…{successor['key'][-4:]}): rotated: successor created, replacing ek-proxy-…part"
    )
    retired = "✓ Backend (ek-proxy-…part): deleted: old key retired: the successor of backend replaces it"
    assert created in out and retired in out and out.index(retired) > out.index(created)  # create first
    assert successor["key"] != OLD and successor["allocated_ammount"] == 50
    assert balance() == Decimal(980)  # -50 for the successor, +30 back from the predecessor (20 used)
    assert state()["bindings"]["backend"] == ProxyKey(successor["key"]).fingerprint
    assert "rotations" not in state() and not journal()
    report = (workdir / "rotate.md").read_text()  # the report's rows say the same
    assert "| rotate | rotated | -50.00 | successor created, replacing ek-proxy-…part |" in report
    assert "| delete | deleted | +30.00 | old key retired: the successor of backend replaces it |" in report
    code, out, _ = cli(capsys, "plan", "--detailed-exitcode")
    assert code == 0 and "No changes" in out


def test_rotate_without_a_tty_refuses_before_printing_its_plan(workdir: Path, capsys: Any) -> None:
    code, out, err = run_cli(capsys, "rotate", "keys.yaml", "backend", *SANDBOX)
    assert code == 1 and out == "", out
    assert "stdin is not a terminal, so nobody can approve the rotation: nothing was sent" in err
    assert "--auto-approve" in err and [k["key"] for k in keys()] == [OLD]


def test_rotate_applies_only_the_rotation(workdir: Path, capsys: Any) -> None:
    code, _, _ = cli(capsys, "apply")  # the window recorded
    assert code == 0
    manifest(rotate=None, allocated_ammount=70)  # a change rotate must not make
    code, out, _ = cli(capsys, "rotate", "backend", "--overlap", "0")
    assert code == 0 and "Apply complete: 1 rotated, 1 deleted." in out
    assert [k["allocated_ammount"] for k in keys()] == [50]  # the successor copies the live key
    assert balance() == Decimal(1000 - 50 + 30)
    assert "not applied by this rotation (the successor copies the live key): allocated_ammount" in out


def test_the_overlap_is_the_manifests_unless_given_and_a_second_rotation_waits(
    workdir: Path, capsys: Any
) -> None:
    manifest("{every: 365d, overlap: 7d}")
    code, out, _ = cli(capsys, "rotate", "backend")
    assert code == 0 and "the old key stays active for 7d" in out and len(keys()) == 2
    code, out, err = cli(capsys, "rotate", "backend")
    assert code == 1 and "a rotation is under way (ek-proxy-…part retiring until" in out + err
    assert len(keys()) == 2
    code, out, _ = cli(capsys, "rotate", "backend", "--overlap", "0")  # after a leak: retire it now
    assert code == 0 and "retired now (ehkeys rotate --overlap 0)" in out
    assert len(keys()) == 1 and balance() == Decimal(980)
    (current,) = keys()  # a leak of this one needs a rotation of its own, and the plan says so
    assert f"the current key ek-proxy-…{current['key'][-4:]} keeps its value" in out
    assert "run ehkeys rotate again" in out


def test_a_predecessor_is_never_deleted_before_its_successor_is_delivered(workdir: Path, capsys: Any) -> None:
    manifest(rotate=None, deliver=gated_sink(workdir))  # its one sink is down
    code, out, _ = cli(capsys, "rotate", "backend", "--overlap", "0")
    assert code == 3 and "Delivery failed" in out
    assert (
        "not deleted: the successor of backend was not delivered; the old key stays (ehkeys deliver "
        "sends it to the key's sinks, then the next apply deletes the old key)"
    ) in out
    assert len(keys()) == 2 and balance() == Decimal(950)
    assert state()["rotations"]["backend"]["delivered"] is False
    (workdir / "sink-up").touch()  # the sink is back: the next apply delivers, then retires
    code, out, _ = cli(capsys, "apply")
    assert code == 0, out
    (successor,) = keys()
    assert successor["key"] != OLD and balance() == Decimal(980)
    assert (workdir / "delivered.txt").read_text() == successor["key"]  # the successor's value, delivered


def test_a_sink_fixed_after_a_failed_delivery_keeps_the_predecessor_until_it_has_the_successor(
    workdir: Path, capsys: Any
) -> None:
    """The owed delivery to the broken sink is dropped (that sink left the manifest), but the
    fixed sink never got the successor: the old key its application reads stays live."""
    manifest(rotate="{every: 365d, overlap: 7d}", deliver=gated_sink(workdir))
    code, out, _ = cli(capsys, "rotate", "backend")
    assert code == 3 and "Delivery failed" in out and len(keys()) == 2
    fixed = [{"command": ["sh", "-c", f"cat > {workdir / 'delivered.txt'}"]}]  # the typo fixed
    manifest(rotate="{every: 365d, overlap: 7d}", deliver=fixed)
    code, out, _ = cli(capsys, "rotate", "backend", "--overlap", "0")
    assert "not deleted: the successor of backend was not delivered" in out
    assert len(keys()) == 2 and not (workdir / "delivered.txt").exists()
    code, out, _ = cli(capsys, "deliver")  # the key's sinks now get the successor
    assert code == 0, out
    code, out, _ = cli(capsys, "rotate", "backend", "--overlap", "0")
    assert code == 0 and "old key retired" in out, out
    (successor,) = keys()
    assert (workdir / "delivered.txt").read_text() == successor["key"]


def test_an_address_is_an_accounts_with_accounts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    seed(name="prod")
    data = yaml.safe_load(Path("seed.yaml").read_text())
    data["accounts"].append({"user_id": "u2", "api_key": "ek-test-other", "balance": 5.0, "name": "staging"})
    Path("seed.yaml").write_text(yaml.safe_dump(data))
    key = {
        "id": "backend",
        "name": "Backend",
        "allocated_ammount": 50,
        "limit_type": "weekly",
        "account": "prod",
    }
    accounts = {"prod": {"api_key": "${EH_PROD_API_KEY}"}, "staging": {"api_key": "${EH_STG_API_KEY}"}}
    Path("keys.yaml").write_text(yaml.safe_dump({"version": 1, "accounts": accounts, "keys": [key]}))
    code, out, err = run_cli(
        capsys, "rotate", "keys.yaml", "prod/backend", "--overlap", "0", *SANDBOX, "--auto-approve"
    )
    assert code == 0, out + err
    assert len(keys()) == 1 and keys()[0]["key"] != OLD and balance() == Decimal(980)


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["nope"], "rotate 'nope': no key with that id or name in the manifest"),
        (["backend", "--overlap", "3x"], "argument --overlap: expected a duration"),
        (["backend", "--overlap=-1d"], "argument --overlap: expected a duration"),
    ],
)
def test_a_bad_rotate_is_a_usage_error_before_anything_is_sent(
    workdir: Path, capsys: Any, argv: list[str], said: str
) -> None:
    code, out, err = cli(capsys, "rotate", *argv)
    assert code == 1 and said in err and len(keys()) == 1 and not journal()
    assert API_KEY not in out + err


@pytest.mark.parametrize("given", ["90d", "2000w"])
def test_an_overlap_not_shorter_than_the_keys_schedule_is_refused_as_the_manifest_refuses_it(
    workdir: Path, capsys: Any, given: str
) -> None:
    """Its successor would fall due before the old key retired, and no rotation starts while one
    is under way: the key would silently stop rotating on its schedule."""
    manifest()  # rotate: {every: 90d, overlap: 7d}
    code, out, err = cli(capsys, "rotate", "backend", "--overlap", given)
    assert (
        code == 1 and "rotate 'backend': --overlap" in err and "not shorter than its rotate.every 90d" in err
    )
    assert len(keys()) == 1 and not journal() and "Traceback" not in out + err
    assert cli(capsys, "rotate", "backend", "--overlap", "89d")[0] == 0 and len(keys()) == 2


def test_a_reviewed_plan_of_a_rotation_is_applied_exactly(workdir: Path, capsys: Any) -> None:
    manifest("{every: 90d, overlap: 0}")
    code, out, err = cli(capsys, "plan", "--out", "plan.json")
    digest = err.split("(", 1)[1].split(")", 1)[0]
    code, out, _ = cli(capsys, "apply", "--plan", "plan.json", "--expect-digest", digest)
    assert code == 0 and "Charged net -20.00, as reviewed." in out  # -50 debit, +30 refund
    assert len(keys()) == 1 and balance() == Decimal(980)


def test_no_successors_value_anywhere_but_the_account_and_secrets_out(workdir: Path, capsys: Any) -> None:
    code, out, err = cli(capsys, "rotate", "backend", "--overlap", "0", "--secrets-out", "new.env")
    (successor,) = keys()
    assert code == 0 and Path("new.env").read_text() == f"EH_KEY_BACKEND={successor['key']}\n"
    assert successor["key"] not in out + err
    written = [p for p in Path(".ehkeys").rglob("*") if p.is_file() and "sandbox.db" not in p.name]
    assert written and not [p for p in written if successor["key"].encode() in p.read_bytes()]
    assert not [p for p in written if OLD.encode() in p.read_bytes()]


def test_a_successor_the_service_refuses_leaves_the_key_as_it_was(workdir: Path, capsys: Any) -> None:
    seed(key_cap=1)  # the tier's cap: the service refuses a second key (403)
    code, out, _ = cli(capsys, "rotate", "backend", "--overlap", "0")
    assert code == 3 and "Exceeded proxy key limit for your tier" in out
    assert "not deleted: the rotation of backend made no successor" in out  # the old key stays
    assert [k["key"] for k in keys()] == [OLD] and balance() == Decimal(1000)
    assert "rotations" not in state()  # abandoned: nothing keeps asking for it
    code, out, _ = cli(capsys, "plan")
    assert code == 0 and "⟳" not in out and "Backend (ek-proxy-…part)" in out


HANDED_NOWHERE = (
    "backend: its new value is delivered nowhere (no `deliver:`), and its old key (overlap 0) is "
    "deleted in this apply: whatever holds the old value stops working now"
)


def test_a_rotation_with_overlap_0_and_no_sinks_warns_that_the_old_key_stops_working_now(
    workdir: Path, capsys: Any
) -> None:
    """`ehkeys rotate KEY` with overlap 0 of a key without sinks deleted the key the application
    held in the same apply, its successor's value handed to nobody; the plan said only `overlap
    0: the old key is deleted in this apply`. With an overlap the old key stays: no warning."""
    manifest("{every: 90d, overlap: 0}")  # due (120 days old), overlap 0: the plan says so too
    code, out, _ = cli(capsys, "plan", "--format", "json")
    assert code == 0 and any(HANDED_NOWHERE in note for note in json.loads(out)["notes"]), out
    code, out, _ = cli(capsys, "plan", "--format", "markdown")
    assert code == 0 and f"> **Warning:** {escape(HANDED_NOWHERE)}" in out, out
    manifest(rotate=None)
    code, out, _ = cli(capsys, "rotate", "backend", "--overlap", "0")
    assert code == 0 and f"warning: {HANDED_NOWHERE}" in out and "rotate --overlap 7d" in out, out
    code, out, _ = cli(capsys, "rotate", "backend", "--overlap", "7d")
    assert code == 0 and "the old key stays active for 7d" in out and "delivered nowhere" not in out, out
