"""The rotation tests' working folder: the current directory, with the sandbox's seed (one key
120 days old). A module that needs a manifest too overrides `workdir`, asking for this one."""

from __future__ import annotations

from pathlib import Path

import pytest

from .common import seed


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    seed()
    return tmp_path
