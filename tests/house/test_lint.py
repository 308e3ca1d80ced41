"""ruff (lint and format) and mypy (strict on reconciler/) are part of the test command."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ..helpers import ROOT

pytestmark = pytest.mark.slow  # ruff and mypy over the whole tree


@pytest.mark.parametrize(
    "argv",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy"],
    ],
    ids=["ruff-check", "ruff-format", "mypy-strict"],
)
def test_static_checks_pass(argv: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
