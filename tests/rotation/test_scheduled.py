"""A scheduled rotation across its overlap, on the sandbox: due by the API's clock, a successor
with the same settings (a debit now), both keys held during the overlap (no duplicate, nothing
unmanaged), the predecessor deleted by the first plan after it (its unused part refunded), the
money exact to the cent; the debit counted by --max-debit and the balance check."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.secrets import ProxyKey

from .common import DAY, OLD, T0, at, balance, box, cli, journal, keys, manifest, seed, state


@pytest.fixture
def workdir(workdir: Path) -> Path:  # the seeded folder (conftest), and a manifest
    manifest()
    return workdir


def test_a_due_key_is_rotated_and_its_predecessor_deleted_after_the_overlap(
    workdir: Path, capsys: Any
) -> None:
    code, out, _ = cli(capsys, "plan", "--detailed-exitcode")
    assert code == 2 and "⟳ Backend (ek-proxy-…part)" in out and "1 to rotate" in out
    assert "rotate every 90d: created 2026-09-17T08:00:00Z, 120 days ago" in out
    assert "⟳ rotate: a successor created with the same settings" in out  # its own legend line
    assert "Credits: 50.00 debited, 0.00 refunded (est.), net -50.00; balance 1,000.00 -> 950.00" in out

    code, out, _ = cli(capsys, "apply")
    assert code == 0 and "Apply complete: 1 rotated." in out
    successor = next(k for k in keys() if k["key"] != OLD)
    assert [k["name"] for k in keys()] == ["Backend", "Backend"] and balance() == Decimal(950)
    same = ("allocated_ammount", "model_whitelist", "ip_whitelist", "expires_at", "is_active")
    old = next(k for k in keys() if k["key"] == OLD)
    assert {f: successor[f] for f in same} == {f: old[f] for f in same} and successor[
        "limit_type"
    ] == "weekly"
    recorded = state()
    assert recorded["bindings"]["backend"] == ProxyKey(successor["key"]).fingerprint  # bound to the successor
    rotation = recorded["rotations"]["backend"]
    assert rotation["predecessor"] == ProxyKey(OLD).fingerprint and rotation["delivered"] is True
    assert rotation["overlap"] == 7 * DAY and rotation["started"] == T0

    at(T0 + 6 * DAY)  # within the overlap: both keys live, nothing to do, no drift
    code, out, _ = cli(capsys, "plan", "--detailed-exitcode")
    assert code == 0 and "No changes" in out and "its old key ek-proxy-…part stays active until" in out
    code, out, _ = cli(capsys, "drift")  # two live keys named Backend: neither a duplicate nor unmanaged
    assert code == 0 and "In sync: the account's keys match the manifest." in out

    at(T0 + 8 * DAY)  # the overlap ended: the first plan after deletes the predecessor
    code, out, _ = cli(capsys, "plan", "--detailed-exitcode")
    assert code == 2 and "- Backend (ek-proxy-…part)" in out and "# retired: backend was rotated to" in out
    assert "credit: -50.00 allocation, 30.00 refunded (est.)" in out
    code, out, _ = cli(capsys, "apply")
    assert code == 0 and "Apply complete: 1 deleted." in out
    assert [k["key"] for k in keys()] == [successor["key"]]
    assert balance() == Decimal(980)  # 1,000 - 50 (the successor) + 30 (the predecessor's unused part)
    assert "rotations" not in state() and not journal()  # over, and folded in
    code, out, _ = cli(capsys, "plan", "--detailed-exitcode")
    assert code == 0 and "No changes" in out


def test_a_key_not_due_yet_is_left_alone(workdir: Path, capsys: Any) -> None:
    manifest("{every: 180d, overlap: 7d}")
    code, out, _ = cli(capsys, "apply")
    assert code == 0 and len(keys()) == 1 and "rotate" not in out
    at(T0 + 61 * DAY)  # 181 days old
    code, out, _ = cli(capsys, "plan", "--detailed-exitcode")
    assert code == 2 and "⟳ Backend" in out


def test_max_debit_counts_the_successors_allocation(workdir: Path, capsys: Any) -> None:
    code, _, err = cli(capsys, "apply", "--max-debit", "49.99")
    assert code == 1 and "over --max-debit 49.99 credits; nothing was sent" in err
    assert len(keys()) == 1 and balance() == Decimal(1000) and not journal()


def test_the_balance_must_cover_the_successor_before_any_refund(workdir: Path, capsys: Any) -> None:
    seed(balance=40.0)  # the predecessor's refund comes only after its successor: it never covers it
    manifest("{every: 90d, overlap: 0}")
    code, out, _ = cli(capsys, "plan")
    assert "the debits (50.00) exceed the account balance (40.00)" in out
    code, _, err = cli(capsys, "apply")
    assert code == 1 and "the plan debits 50.00 credits but the account has 40.00 credits" in err
    assert len(keys()) == 1 and not journal()


def test_an_old_key_turned_off_by_hand_during_its_overlap_is_not_said_to_stay_active(
    workdir: Path, capsys: Any
) -> None:
    assert cli(capsys, "apply")[0] == 0  # rotated: the old key stays for its overlap
    assert box().store.toggle(OLD) is False  # the leaked one, turned off in the dashboard
    at(T0 + 6 * DAY)
    code, out, _ = cli(capsys, "plan", "--detailed-exitcode")
    assert code == 0 and "its old key ek-proxy-…part stays (inactive) until" in out
    assert "stays active" not in out
