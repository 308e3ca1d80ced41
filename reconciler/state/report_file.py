"""`ehkeys apply --report-out FILE`: the Markdown apply report (as the job summary), for a PR comment.

Checked before anything is sent, so that a typo in the path never loses the report of an apply
that happened; written (atomically) once the apply has run, also when some keys failed, and
when the run stopped part-way once it began sending (`engine.stopreport`). An apply refused
before sending writes nothing: the caller knows it from the exit code.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from reconciler.core.errors import StateError, UsageError
from reconciler.state import kept
from reconciler.state.files import NOT_A_FILE, atomic_write, not_a_file


class ReportFile:
    def __init__(self, path: str, states: Sequence[Path] = (), secrets: str | None = None) -> None:
        """`states`: the run's state files, whose folder's files the report never replaces;
        `secrets`: the --secrets-out file, which it never replaces either."""
        self.path = path
        target = Path(path)
        if target.is_dir():  # first: `.ehkeys` is a folder, not a state the report would replace
            raise UsageError(f"--report-out {path}: that is a directory; name a file, like apply.md")
        _apart(path, states, secrets)
        if not_a_file(target):
            raise UsageError(f"--report-out {path}: {NOT_A_FILE}, like apply.md")
        if target.suffix.lower() in (".yaml", ".yml", ".json"):  # a manifest, a state, a plan: lost
            raise UsageError(f"--report-out {path}: the report is Markdown; name it like apply.md")
        if not target.parent.is_dir():
            raise UsageError(f"--report-out {path}: no such directory {target.parent}")
        if not os.access(target.parent, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
            raise UsageError(f"--report-out {path}: cannot write there (permission denied)")

    def write(self, render: Callable[[TextIO], object]) -> None:
        text = io.StringIO()
        render(text)
        try:
            atomic_write(Path(self.path), text.getvalue(), mode=0o644)
        except OSError as exc:
            raise StateError(
                f"--report-out {self.path}: cannot write the report ({exc.strerror or exc})"
            ) from exc


def _apart(path: str, states: Sequence[Path], secrets: str | None) -> None:
    """Refuse a report that would replace a file ehkeys keeps (`kept.among`), or the --secrets-out file."""
    if kept.among(path, states):
        raise UsageError(
            f"--report-out {path}: that is where ehkeys keeps a state, its journal or its lock, "
            "which the report would replace; name a file elsewhere, like apply.md"
        )
    if secrets is not None and kept.landing(path) == kept.landing(secrets):
        raise UsageError(f"--report-out {path}: that is the --secrets-out file; name another, like apply.md")
