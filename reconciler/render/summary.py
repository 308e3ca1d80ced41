"""GitHub Actions' job summary: what a run appends to `$GITHUB_STEP_SUMMARY`, when it is set."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from reconciler.state.files import NOT_A_FILE, not_a_file


def step_summary(write: Callable[[TextIO], object]) -> None:
    """Append to the GitHub job summary when running in Actions (a bad path is a warning)."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    if not_a_file(Path(path)):  # a FIFO with no reader would wait forever
        print(f"ehkeys: warning: GITHUB_STEP_SUMMARY {path}: cannot write: {NOT_A_FILE}", file=sys.stderr)
        return
    try:
        with open(path, "a", encoding="utf-8") as handle:
            write(handle)
    except OSError as exc:
        print(f"ehkeys: warning: GITHUB_STEP_SUMMARY {path}: cannot write ({exc.strerror})", file=sys.stderr)
