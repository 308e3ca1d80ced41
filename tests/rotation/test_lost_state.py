"""A rotation whose state was lost after its successor was made: a runner killed before it
pushed the state branch, a laptop's state deleted or replaced by an older copy. With no record
of that rotation, the successor is a key of the rotated key's name that nothing binds; rotating
the key again, by hand or on its schedule, is refused naming it: never a second successor, a
second debit. (A lost *answer* leaves the rotation journalled: `test_lost.py`.)"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from ..helpers import sandbox_state_dir
from ..reliability_log import record
from .common import DAY, OLD, T0, balance, cli, keys, made_by_hand, manifest

REFUSED = "of its name and created since it, is a key no state binds"


def _applied_and_copied(workdir: Path, capsys: Any) -> Path:
    """The key applied with no schedule (the state binds it); a copy of that state, to go back to."""
    manifest(rotate=None)
    assert cli(capsys, "apply")[0] == 0
    shutil.copytree(sandbox_state_dir(), workdir / "before")
    return workdir / "before"


def _lose_state_since(copy: Path) -> None:
    shutil.rmtree(sandbox_state_dir())
    shutil.copytree(copy, sandbox_state_dir())


def _successor() -> str:
    return next(k["key"] for k in keys() if k["key"] != OLD)


def test_a_rotation_by_hand_whose_state_was_lost_is_refused_the_second_time(
    workdir: Path, capsys: Any
) -> None:
    before = _applied_and_copied(workdir, capsys)
    assert cli(capsys, "rotate", "backend", "--overlap", "7d")[0] == 0
    _lose_state_since(before)
    paid = balance()
    code, out, _ = cli(capsys, "rotate", "backend", "--overlap", "7d")
    assert code == 1 and f"ek-proxy-…{_successor()[-4:]}, {REFUSED}" in out, out
    assert "Never two successors: if it is that one, give the key its proxy_key and apply" in out
    assert len(keys()) == 2 and balance() == paid
    record(
        "state",
        "ehkeys rotate run again after its state was lost (an older copy back in place)",
        1,
        "refused naming the successor: never a second one, nothing debited",
    )


def test_a_due_rotation_whose_state_was_lost_is_refused_by_the_next_apply(workdir: Path, capsys: Any) -> None:
    before = _applied_and_copied(workdir, capsys)
    manifest()  # every 90 days, a 7-day overlap: the 120-day-old key is due
    assert cli(capsys, "apply")[0] == 0 and len(keys()) == 2
    _lose_state_since(before)
    paid = balance()
    code, out, _ = cli(capsys, "plan")
    assert code == 1 and REFUSED in out and "⟳" not in out, out
    code, out, _ = cli(capsys, "apply")
    assert code == 1 and REFUSED in out
    assert len(keys()) == 2 and balance() == paid
    record(
        "state",
        "a due rotation applied, its state then lost (an older copy back in place), then apply",
        1,
        "refused naming the successor: never a second one, nothing debited",
    )


def test_a_key_of_its_name_older_than_it_never_stops_its_rotation(workdir: Path, capsys: Any) -> None:
    """Only a key made since the one rotated can be its lost successor; an older one of its name
    (made by hand long before, no state binds it) is no reason to refuse."""
    manifest(rotate=None)
    assert cli(capsys, "apply")[0] == 0
    made_by_hand(T0 - 200 * DAY)
    code, out, _ = cli(capsys, "rotate", "backend", "--overlap", "7d")
    assert code == 0 and REFUSED not in out, out
    assert len(keys()) == 3


def test_a_key_of_its_old_name_this_plan_adopts_for_another_key_never_stops_its_rotation(
    workdir: Path, capsys: Any
) -> None:
    """Renamed in the manifest (a rotation-only run leaves the rename for apply), its old name now
    given to another manifest key, which adopts by name a newer key of that name: that key is
    bound, by this very plan, and no lost successor; the rotation goes on."""
    manifest(rotate=None)
    assert cli(capsys, "apply")[0] == 0
    made_by_hand(T0 - DAY)
    two = [
        {"id": "backend", "name": "Backend API", "allocated_ammount": 50, "limit_type": "weekly"},
        {"id": "legacy", "name": "Backend", "allocated_ammount": 1, "limit_type": "weekly"},
    ]
    Path("keys.yaml").write_text(yaml.safe_dump({"version": 1, "keys": two}, sort_keys=False))
    code, out, err = cli(capsys, "plan")
    assert "adopted" in out.lower() and REFUSED not in out, out + err
    code, out, _ = cli(capsys, "rotate", "backend", "--overlap", "7d")
    assert code == 0 and REFUSED not in out, out
    assert len(keys()) == 3


def test_deliver_with_the_state_lost_mid_overlap_names_both_keys_never_a_key_to_create(
    workdir: Path, capsys: Any
) -> None:
    """Two live keys of the key's name and no state: deliver cannot tell which value to send, and
    says so (as plan does), not 'not in the account; apply creates it' (apply would refuse)."""
    manifest(rotate=None, deliver=[{"file": "backend.env"}])
    assert cli(capsys, "apply")[0] == 0
    assert cli(capsys, "rotate", "backend", "--overlap", "7d")[0] == 0
    shutil.rmtree(sandbox_state_dir())
    code, out, _ = cli(capsys, "deliver")
    assert code == 3 and f"2 live keys are named 'Backend' (ek-proxy-…{OLD[-4:]} and" in out, out
    assert "apply creates it" not in out
