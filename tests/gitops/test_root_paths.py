"""What several paths given to one GitOps job are: one manifest root, loaded as one manifest (a
key's id used in two of them is a duplicate; one report, one state). `ehkeys github plan --help`
said "manifest files or folders, each run on its own", as the other commands do, while the
README said "one manifest root each": both now say what the jobs do."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from ..helpers import ROOT, run_cli
from . import test_gitops as gitops
from .test_gitops import Actions

hub = gitops.hub
actions = gitops.actions

JOBS = ("plan", "apply", "drift", "rotate", "deliver")
SAID = "several paths given: one root, loaded as one manifest"


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("job", JOBS)
def test_a_jobs_help_says_its_paths_are_one_root(capsys: Any, job: str) -> None:
    code, out, _ = run_cli(capsys, "github", job, "--help")
    assert code == 0 and SAID in _flat(out) and "each run on its own" not in out


def test_the_readme_and_the_commands_page_say_the_same() -> None:
    for page in (ROOT / "README.md", ROOT / "docs" / "commands.md"):
        (row,) = [line for line in page.read_text().splitlines() if line.startswith("| `ehkeys github plan")]
        assert SAID in row, page.name


def _key(id_: str, name: str) -> str:
    return f"version: 1\nkeys:\n  - {{id: {id_}, name: {name}, allocated_ammount: 1, limit_type: daily}}\n"


@pytest.mark.slow  # a GitOps job end to end against the fake GitHub
def test_a_jobs_paths_are_loaded_as_one_manifest(actions: Actions, capsys: Any) -> None:
    workspace = actions.checkout(_key("api", "a-api"), "push", "sha1", {"after": "sha1"}, "a/keys.yaml")
    for folder, text in (("b", _key("api", "b-api")), ("c", _key("web", "c-web"))):
        (workspace / folder).mkdir()
        (workspace / folder / "keys.yaml").write_text(text)
    code, out, err = actions.run(
        "github", "drift", "a/keys.yaml", "b/keys.yaml", "--sandbox", *actions.seeded
    )
    assert code == 1 and "duplicate id 'api': already the id (or name) of the key at a/keys.yaml" in out + err
    code, out, err = actions.run(
        "github", "drift", "a/keys.yaml", "c/keys.yaml", "--sandbox", *actions.seeded
    )
    assert code == 0 and "+ a-api (a new key)" in out and "+ c-web (a new key)" in out, out + err
    assert out.count("Drift:") == 1  # one report, not one a path (the job exits 0 on drift: an issue)
    states = sorted(str(p.relative_to(workspace)) for p in Path(workspace).rglob("drift-seen.json"))
    assert states == ["a/.ehkeys/keys/sandbox/drift-seen.json"]  # one root: the first path's
