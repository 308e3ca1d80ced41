"""Drift's health warnings about rotation: due within N days (or overdue), an old key still live
past its overlap, a successor not delivered. Warnings, never drift: the schedule's work is the
rotate job's (and any apply's)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..helpers import run_cli
from .common import DAY, OLD, SANDBOX, T0, at, box, cli, gated_sink, keys, manifest
from .test_lost import write_journal


def health(capsys: Any, *extra: str) -> tuple[int, list[dict[str, Any]]]:
    code, out, _ = cli(capsys, "drift", "--format", "json", *extra)
    return code, list(json.loads(out)["health"])  # one account: format 1


def test_a_rotation_due_within_n_days_is_a_warning(workdir: Path, capsys: Any) -> None:
    manifest("{every: 125d, overlap: 7d}")  # the key is 120 days old: due in 5 days
    cli(capsys, "apply")
    code, found = health(capsys)
    assert code == 0 and [(h["kind"], h["subject"]) for h in found] == [("rotation-due", "backend")]
    assert "rotation due on 2027-01-20T08:00:00Z (in 5 days)" in found[0]["message"]
    code, found = health(capsys, "--expiring-within", "4")
    assert code == 0 and found == []
    code, out, _ = cli(capsys, "drift")
    assert code == 0 and "rotation due on" in out


def test_an_overdue_rotation_is_a_warning_not_drift(workdir: Path, capsys: Any) -> None:
    manifest("{every: 180d, overlap: 7d}")
    cli(capsys, "apply")
    manifest("{every: 90d, overlap: 7d}")
    code, found = health(capsys)
    assert code == 0 and [h["kind"] for h in found] == ["rotation-due"]
    assert "rotation overdue since 2026-12-16T08:00:00Z: the next apply rotates it" in found[0]["message"]


def test_an_old_key_live_past_its_overlap_is_a_warning(workdir: Path, capsys: Any) -> None:
    manifest("{every: 90d, overlap: 7d}")
    cli(capsys, "apply")
    at(T0 + 3 * DAY)
    assert health(capsys) == (0, [])
    at(T0 + 8 * DAY)
    code, found = health(capsys)
    assert code == 0 and [(h["kind"], h["key"]) for h in found] == [("retiring", "ek-proxy-…part")]
    assert "still live past its overlap (ended 2027-01-22T08:00:0" in found[0]["message"]
    assert "the next apply deletes it" in found[0]["message"]


def test_a_successor_not_delivered_is_a_warning(workdir: Path, capsys: Any) -> None:
    manifest("{every: 90d, overlap: 1h}", deliver=gated_sink(workdir))  # its sink is down
    cli(capsys, "apply")
    at(T0 + DAY)
    code, found = health(capsys)
    assert code == 0 and [h["kind"] for h in found] == ["retiring", "delivery-pending"]
    assert "kept until its successor is delivered" in found[0]["message"]
    assert "its successor is not delivered yet: the old key ek-proxy-…part stays" in found[1]["message"]
    (workdir / "sink-up").touch()
    run_cli(capsys, "deliver", "keys.yaml", *SANDBOX)  # delivered by hand: no warning left but the overlap's
    code, found = health(capsys)
    assert code == 0 and [h["kind"] for h in found] == ["retiring"]
    assert "the next apply deletes it" in found[0]["message"]


def test_during_the_overlap_usage_shows_the_old_key_under_its_address_never_unmanaged(
    workdir: Path, capsys: Any
) -> None:
    """Both keys hold credit until the old one is retired: usage counts both, under the key's
    address (as plan and drift do), never the old one as an unmanaged `?` key."""
    manifest("{every: 90d, overlap: 7d}")
    assert cli(capsys, "apply")[0] == 0
    code, out, _ = cli(capsys, "usage", "--format", "json")
    keys = [k for account in json.loads(out)["accounts"].values() for k in account["keys"]]
    assert code == 0 and [k["address"] for k in keys] == ["backend", "backend"], keys
    assert "ek-proxy-…part" in {k["key"] for k in keys}
    code, out, _ = cli(capsys, "usage")
    assert code == 0 and "unmanaged" not in out and "?" not in out, out


def test_a_rotation_cut_off_before_its_create_shows_its_key_in_usage_once(workdir: Path, capsys: Any) -> None:
    """The rotation journalled, no successor made: the state's binding and the rotation's old key
    are one key, shown once (not twice under its address)."""
    manifest(rotate=None)
    assert cli(capsys, "apply")[0] == 0  # the state binds the key
    manifest("{every: 90d, overlap: 0}")
    write_journal(started=T0 + 10)
    code, out, _ = cli(capsys, "usage", "--format", "json")
    shown = [k["key"] for account in json.loads(out)["accounts"].values() for k in account["keys"]]
    assert code == 0 and shown == ["ek-proxy-…part"], shown


def drift(capsys: Any) -> tuple[int, dict[str, Any]]:
    code, out, _ = cli(capsys, "drift", "--format", "json")
    found = json.loads(out)
    return code, {**found["groups"], "health": found["health"]}


def test_a_key_due_to_rotate_changed_by_hand_is_drift_not_hidden_by_the_schedule(
    workdir: Path, capsys: Any
) -> None:
    manifest("{every: 180d, overlap: 7d}")  # 120 days old: not due
    cli(capsys, "apply")
    (live,) = keys()
    box().store.update(live["key"], {**live, "allocated_ammount": Decimal(80)})  # raised in the dashboard
    manifest("{every: 90d, overlap: 7d}")  # due now
    code, found = drift(capsys)
    assert code == 2, found
    (outside,) = found["changed_outside"]
    assert outside["address"] == "backend"
    assert [(f["field"], f["before"], f["after"]) for f in outside["fields"]] == [
        ("allocated_ammount", "50.00", "80.00")
    ]
    assert [h["kind"] for h in found["health"]] == ["rotation-due"]  # still said


def test_a_key_due_to_rotate_with_a_manifest_edit_not_applied_is_drift(workdir: Path, capsys: Any) -> None:
    manifest("{every: 180d, overlap: 7d}")
    cli(capsys, "apply")
    manifest("{every: 90d, overlap: 7d}", allocated_ammount=60)  # due, and an edit waiting
    code, found = drift(capsys)
    assert code == 2 and [n["address"] for n in found["not_applied"]] == ["backend"], found
    manifest("{every: 90d, overlap: 7d}")  # due, nothing else: a warning, never drift
    code, found = drift(capsys)
    assert code == 0 and found["changed_outside"] == found["not_applied"] == [], found


def test_an_old_key_changed_by_hand_during_its_overlap_is_drift(workdir: Path, capsys: Any) -> None:
    """The rotated key's old one stays live for the overlap (often the key that leaked): raised
    and opened to every model by hand, drift said 'In sync'."""
    manifest("{every: 180d, overlap: 7d}")
    assert cli(capsys, "apply")[0] == 0  # its snapshot recorded
    manifest("{every: 90d, overlap: 7d}")
    assert cli(capsys, "apply")[0] == 0  # rotated: OLD retires in 7 days
    (old,) = [k for k in keys() if k["key"] == OLD]
    box().store.update(OLD, {**old, "allocated_ammount": Decimal(900), "model_whitelist": []})
    code, found = drift(capsys)
    assert code == 2, found
    (outside,) = found["changed_outside"]
    assert outside["address"] == "backend" and outside["key"] == "ek-proxy-…part"
    assert {f["field"]: f["next_apply"] for f in outside["fields"]} == {
        "allocated_ammount": "nothing: this old key of a rotation is deleted once its overlap ends",
        "model_whitelist": "nothing: this old key of a rotation is deleted once its overlap ends",
    }


def test_an_old_key_rotated_on_its_first_apply_is_compared_from_when_the_rotation_began(
    workdir: Path, capsys: Any
) -> None:
    """No apply had recorded the old key (rotated on the manifest's first apply, or by `ehkeys
    rotate` on a fresh state): changed by hand during its overlap, drift said nothing."""
    manifest("{every: 90d, overlap: 7d}")
    assert cli(capsys, "apply")[0] == 0  # 120 days old: rotated at once
    (old,) = [k for k in keys() if k["key"] == OLD]
    box().store.update(OLD, {**old, "ip_whitelist": []})
    code, found = drift(capsys)
    assert code == 2 and [o["key"] for o in found["changed_outside"]] == ["ek-proxy-…part"], found
