"""The house's sizes, for all of reconciler/ (the sandbox included): no module over 300 non-blank
lines, no function over 40 lines (from its `def` to its last line)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ..helpers import ROOT
from .syntax import parsed

MODULE_LINES = 300
FUNCTION_LINES = 40
SOURCES = sorted((ROOT / "reconciler").rglob("*.py"))


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.as_posix()


def long_modules(paths: list[Path]) -> list[str]:
    sizes = {_name(p): sum(1 for line in p.read_text().splitlines() if line.strip()) for p in paths}
    return [f"{name} {n}" for name, n in sizes.items() if n > MODULE_LINES]


def long_functions(paths: list[Path]) -> list[str]:
    found = []
    for path in paths:
        for node in ast.walk(parsed(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                found += [f"{_name(path)}:{node.name} {lines}"] if lines > FUNCTION_LINES else []
    return found


@pytest.mark.slow  # lint: every module parsed
def test_no_module_is_over_300_non_blank_lines() -> None:
    assert long_modules(SOURCES) == []


@pytest.mark.slow  # lint: every module parsed
def test_no_function_is_over_40_lines() -> None:
    assert long_functions(SOURCES) == []


def test_the_measures_count_what_the_limits_say(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    body = "".join(f"    x{i} = {i}\n\n" for i in range(39))  # blank lines count in a function
    module.write_text("def f():\n" + body + "\n" * 500 + "def g():\n    pass\n")
    assert long_functions([module]) == [f"{module.as_posix()}:f 78"]
    assert long_modules([module]) == []
