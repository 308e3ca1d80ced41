"""`ehkeys rotate` of keys it cannot rotate: an error naming the key, nothing sent, never a
silent 'no changes'."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from .common import balance, cli, keys, manifest


@pytest.fixture
def workdir(workdir: Path) -> Path:  # the seeded folder (conftest), and a manifest
    manifest(rotate=None)
    return workdir


def test_rotate_of_a_key_not_yet_created_is_an_error_not_no_changes(workdir: Path, capsys: Any) -> None:
    data = yaml.safe_load(Path("keys.yaml").read_text())
    data["keys"].append({"id": "fresh", "name": "Fresh", "allocated_ammount": 5, "limit_type": "daily"})
    Path("keys.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    code, out, _ = cli(capsys, "rotate", "fresh")
    assert code == 1 and "! Fresh (a new key)" in out
    assert "cannot be rotated: it has no key in the account yet (apply creates it)" in out
    assert "No changes" not in out and len(keys()) == 1 and balance() == Decimal(1000)


def test_rotate_when_the_list_is_unavailable_is_an_error_not_no_changes(workdir: Path, capsys: Any) -> None:
    manifest(rotate=None)
    assert cli(capsys, "apply")[0] == 0  # bound in the state: found by lookup, without the list
    data = yaml.safe_load(Path("seed.yaml").read_text())
    Path("seed.yaml").write_text(yaml.safe_dump({**data, "faults": {"list_unavailable": True}}))
    code, out, _ = cli(capsys, "rotate", "backend")
    assert code == 1, out
    assert "cannot be" in out and "key list" in out, out  # said, whichever step could not go on
    assert "No changes" not in out and len(keys()) == 1 and balance() == Decimal(1000)


@pytest.mark.parametrize("given", ["-1d", "-0", "5x", "1000000d"])
def test_rotate_with_a_bad_overlap_says_what_a_duration_is(workdir: Path, capsys: Any, given: str) -> None:
    code, out, err = cli(capsys, "rotate", "backend", "--overlap", given)
    assert code == 1 and "argument --overlap: expected a duration" in err and f"(got {given!r})" in err
    assert "expected one argument" not in err and len(keys()) == 1 and balance() == Decimal(1000)
