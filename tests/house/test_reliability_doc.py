"""docs/RELIABILITY.md is written by `python -m tests.reliability_log`, never by hand; every run
checks it against the rows the run recorded (conftest.py), so an out-of-date file fails the suite."""

from __future__ import annotations

import re

import pytest

from .. import reliability_log as log


def test_the_document_is_as_the_script_writes_it() -> None:
    """Its header names the test files that record rows today, and its rows are in order."""
    text = log.DOC.read_text()
    assert log.render(log.parse(text)) == text, f"run `{log.COMMAND}`"


def test_a_row_with_a_pipe_stays_one_row() -> None:
    row = ("cli", "plan into a closed pipe (| head -1)", 1, "exit 2")
    assert log.parse(log.render([row])) == [row]


def test_a_reworded_row_and_a_row_nobody_recorded_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    first, second, *rest = log.parse(log.DOC.read_text())
    reworded = (first[0], first[1] + ", reworded", first[2], first[3])
    monkeypatch.setattr(log, "ROWS", [second, reworded])
    assert log.check(complete=False) == [f"not in RELIABILITY.md: {log._line(reworded)}"]
    monkeypatch.setattr(log, "ROWS", [second, *rest])
    assert log.check(complete=False) == []  # a partial run cannot tell a stale row
    assert log.check(complete=True) == [f"no test recorded: {log._shape(log._line(first))}"]


def test_numbers_that_vary_between_runs_are_no_change(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = log.parse(log.DOC.read_text())
    kill = next(r for r in rows if r[1].startswith("SIGKILL of apply after"))
    moved = (kill[0], re.sub(r"after \d+ of", "after 97 of", kill[1]), kill[2], kill[3])
    monkeypatch.setattr(log, "ROWS", [*(r for r in rows if r != kill), moved])
    assert moved != kill and log.check(complete=True) == []
