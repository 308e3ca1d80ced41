"""The house's parse (`syntax.parsed`) when CPython 3.11's ast count was left off: the fresh
interpreter's parse reads the file as it is, and a file that does not parse still fails, named."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from .syntax import parsed


def parsed_with_the_count_off(path: Path) -> ast.Module:
    """`parsed(path)` while this interpreter's `ast.parse` raises as CPython 3.11's does after
    an interrupted parse (only during the call: pytest parses too)."""

    def mismatch(*_: Any, **__: Any) -> ast.Module:
        raise SystemError("AST constructor recursion depth mismatch (before=0, after=2)")

    real, ast.parse = ast.parse, mismatch  # type: ignore[assignment]
    try:
        return parsed(path)
    finally:
        ast.parse = real


def test_a_file_that_does_not_parse_fails_naming_itself_and_why(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f(:\n    pass\n", encoding="utf-8")
    with pytest.raises(SyntaxError) as raised:
        parsed_with_the_count_off(bad)
    assert "bad.py" in str(raised.value) and "invalid syntax" in str(raised.value), raised.value


def test_the_fresh_parse_reads_the_file_as_utf_8_whatever_the_environment_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONIOENCODING", "latin-1")
    source = tmp_path / "accented.py"
    source.write_text("name = 'café'\n", encoding="utf-8")
    value = parsed_with_the_count_off(source).body[0]
    assert isinstance(value, ast.Assign) and isinstance(value.value, ast.Constant)
    assert value.value.value == "café"
