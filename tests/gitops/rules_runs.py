"""Running the plan job on a pull request's files, its exit code and output kept (a failing
comparison still comments)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..fakegithub import REPO
from .test_gitops_rules import BASE


def run_plan(
    actions: Any,
    number: int,
    files: dict[str, str],
    *options: str,
    root: str = "keys",
    links: dict[str, str] | None = None,
    changed: tuple[str, ...] | None = None,
) -> tuple[int, str, Path]:
    """plan() without the comment step's assertion: (plan code, plan out, comment code, comment out)."""
    head = f"head{number}"
    actions.hub.pulls.get(number) or actions.hub.open_pull(number, head)
    actions.hub.change(number, *(files if changed is None else changed))
    pull = {"number": number, "head": {"sha": head, "repo": {"full_name": REPO}}, "base": {"sha": BASE}}
    first = next(iter(files))
    workspace = actions.checkout(
        files[first], "pull_request", f"test-merge-{head}", {"pull_request": pull}, first
    )
    for path, text in list(files.items())[1:]:
        (workspace / path).parent.mkdir(parents=True, exist_ok=True)
        (workspace / path).write_text(text)
    for path, target in (links or {}).items():
        (workspace / path).parent.mkdir(parents=True, exist_ok=True)
        (workspace / path).symlink_to(target)
    actions.hub.start_run(str(1000 + actions.runs), head)
    code, out, err = actions.run("github", "plan", *root.split(), "--sandbox", *actions.seeded, *options)
    return code, out + err, workspace
