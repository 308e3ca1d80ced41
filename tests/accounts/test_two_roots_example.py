"""examples/two-roots holds the manifests of the README's "Several manifest roots in one
repository" recipe, keys/payments (pruning) and keys/search on one account, prod. The recipe's
own commands, read from its sh block (in README.md, or wherever docs/ moved it), run on a copy
of them against the sandbox they start, as a repository of them would: the recipe and the files
cannot drift apart."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ..helpers import ROOT, run_cli, sandbox_announced, sandbox_variables

EXAMPLE = ROOT / "examples" / "two-roots"
SERVED = "ehkeys sandbox --db"  # the recipe's block starts one sandbox for both roots


def recipe_lines() -> list[str]:
    """The lines of the recipe's sh block."""
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for block in re.findall(r"^```sh\n(.*?)^```", doc.read_text(encoding="utf-8"), re.M | re.S):
            if SERVED in block and "keys/search" in block and "keys/payments" in block:
                return block.splitlines()
    raise AssertionError("the two-roots recipe's sh block is in neither README.md nor docs/")


@dataclass
class Recipe:
    served: list[str]  # the sandbox started in the background
    loaded: str  # the file of its variables the recipe loads (`. FILE`)
    run: list[list[str]]  # the commands run after it (each `&&` a stop on the first failure)
    named: set[str]  # the variables the recipe says the file sets (named in its comments)


def commands(lines: list[str]) -> Recipe:
    recipe = Recipe([], "", [], set())
    for line in lines:
        words = shlex.split(line, comments=True)
        if words[:1] == ["cd"]:  # into the example, which the test copies and runs from
            assert [w.rstrip("/") for w in words[1:]] == ["examples/two-roots"], words
        elif words[-1:] == ["&"]:
            recipe.served = words[:-1]
        elif words[:1] == ["."]:
            (recipe.loaded,) = words[1:]
        elif words:
            recipe.run += _split(words, "&&")
    comments = " ".join(line for line in lines if line.startswith("#"))
    recipe.named = set(re.findall(r"\b[A-Z][A-Z0-9_]+\b", comments))
    return recipe


def _split(words: list[str], on: str) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    for word in words:
        if word == on:
            parts.append([])
        else:
            parts[-1].append(word)
    return [part for part in parts if part]


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example as a repository of its own: its files, and a `.git` to say where its top is."""
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns(".ehkeys", "*sandbox.db*"))
    (repo / ".git").mkdir()
    monkeypatch.chdir(repo)
    return repo


@pytest.fixture
def exports(repository: Path) -> Iterator[dict[str, str]]:
    """The recipe's sandbox started as it says (on a free port: 8787 may be taken here), and the
    variables of the file the recipe loads, which the sandbox says to load."""
    recipe = commands(recipe_lines())
    assert recipe.served[:2] == ["ehkeys", "sandbox"], recipe.served
    argv = [sys.executable, "-m", "reconciler", *recipe.served[1:], "--port", "0"]
    proc = subprocess.Popen(argv, cwd=repository, stdout=subprocess.PIPE, text=True)
    try:
        _, path = sandbox_announced(proc)
        assert path == repository / recipe.loaded, (path, recipe.loaded)
        yield sandbox_variables(path)
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.slow  # a sandbox process
def test_the_two_roots_recipe_runs_as_written_on_the_examples_files(
    repository: Path, exports: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    recipe = commands(recipe_lines())
    assert {"ELECTRONHUB_BASE_URL", "EH_PROD_API_KEY"} <= recipe.named <= set(exports), recipe.named
    for name, value in exports.items():
        monkeypatch.setenv(name, value)
    outputs = []
    for argv in recipe.run:
        assert argv[0] == "ehkeys", argv
        code, out, err = run_cli(capsys, *argv[1:])
        assert code == 0, f"{shlex.join(argv)}: {out}{err}"
        outputs.append(out)
    assert [a[1:] for a in recipe.run] == [
        ["apply", "keys/search", "--auto-approve"],
        ["plan", "keys/payments"],
    ]
    assert (repository / "keys/search/.ehkeys/search/prod/state.json").is_file()
    applied, planned = outputs
    assert "[prod] Apply complete: 2 created." in applied
    assert "  + pay-1 (a new key)" in planned
    spared = (
        "not pruned: managed by keys/search (its state binds it: keys/search/.ehkeys/search/prod/state.json)"
    )
    assert planned.count(spared) == 2, planned
    assert "Plan: 1 to create, 0 to update, 0 to delete, 0 unchanged, 2 unmanaged" in planned
