"""A key the manifest pins by its proxy_key cannot be rotated: its successor could never hold
the address, and each plan made one more (a debit each time)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from .common import OLD, balance, cli, keys, manifest, seed


@pytest.fixture
def pinned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BACKEND_KEY", OLD)
    seed()
    manifest(proxy_key="${BACKEND_KEY}")  # due, and pinned
    return tmp_path


def test_a_due_key_pinned_by_proxy_key_is_an_error_never_a_successor_each_plan(
    pinned: Path, capsys: Any
) -> None:
    for _ in range(2):
        code, out, err = cli(capsys, "apply")
        assert code == 1 and "keys[backend].rotate: rotate: on a key pinned by proxy_key" in err, out + err
    assert [k["key"] for k in keys()] == [OLD] and balance() == Decimal(1000)
    assert OLD not in out


def test_rotate_of_a_key_pinned_by_proxy_key_is_an_error(pinned: Path, capsys: Any) -> None:
    code, out, err = cli(capsys, "rotate", "backend", "--overlap", "0")
    assert code == 1 and "on a key pinned by proxy_key" in err, out + err
    manifest(rotate=None, proxy_key="${BACKEND_KEY}")  # pinned, no schedule: asked to rotate now
    code, out, err = cli(capsys, "rotate", "backend", "--overlap", "0")
    assert code == 1 and "pins it by proxy_key" in err, out + err
    assert [k["key"] for k in keys()] == [OLD] and balance() == Decimal(1000)
