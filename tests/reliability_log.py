"""Rows for docs/RELIABILITY.md, recorded by the tests that produce them.

A test calls `record(kind, case, count, outcome)`; the document is rewritten only by an explicit
step, `python -m tests.reliability_log`, which runs every test that records and writes the rows
when all of them passed. Every pytest run checks the document against the rows it recorded
(`check`, called from conftest.py): a recorded row missing from the document, or, after a run of
the whole suite, a documented row no test recorded, fails the run. Numbers are compared as `#`:
a count or a timing-dependent figure ("after 12 of 120 updates") is no change of wording.
"""

from __future__ import annotations

import re
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

Row = tuple[str, str, int, str]

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
DOC = ROOT / "docs" / "RELIABILITY.md"
COMMAND = "python -m tests.reliability_log"
ORDER = ("fault", "kill", "concurrency", "files", "input", "answer", "secret", "cli", "money", "gitops")

ROWS: list[Row] = []
CONDITIONAL: list[Row] = []  # rows of tests that a skipif may skip elsewhere (as root, say)
current: Any = None  # the running test item, set by conftest.py


def record(kind: str, case: str, count: int, outcome: str) -> None:
    """One row: what was tried, how many cases, what happened."""
    row = (kind, case, count, outcome)
    (CONDITIONAL if _conditional() else ROWS).append(row)


def _conditional() -> bool:
    return current is not None and current.get_closest_marker("skipif") is not None


def recording_files() -> list[Path]:
    """The test modules that record rows, found by their import of `record`."""
    found = (p for p in TESTS.rglob("test_*.py") if "reliability_log import record" in p.read_text())
    return sorted(found)


def _line(row: Row) -> str:
    kind, case, count, outcome = (str(cell).replace("|", "\\|") for cell in row)
    return f"| {kind} | {case} | {count} | {outcome} |"


def parse(text: str) -> list[Row]:
    """The rows of a document `render` wrote."""
    cells = (re.split(r"(?<!\\) \| ", line[2:-2]) for line in _table(text))
    return [(k, c.replace("\\|", "|"), int(n), o.replace("\\|", "|")) for k, c, n, o in cells]


def _table(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| kind |")]


def render(rows: list[Row]) -> str:
    """The whole document for these rows."""
    rank = {kind: i for i, kind in enumerate(ORDER)}
    ordered = sorted(rows, key=lambda r: (rank.get(r[0], len(ORDER)), r[1]))
    return "\n".join([*_header(), *(_line(r) for r in ordered)]) + "\n"


def _header() -> list[str]:
    files = ", ".join(f"`{p.relative_to(TESTS).as_posix()}`" for p in recording_files())
    where = textwrap.wrap(f"Each row is one test in tests/: {files};", 100, break_on_hyphens=False)
    return [
        "# Reliability and security: what the test suite tried",
        "",
        f"Written by `{COMMAND}`, which runs the tests that record a row and writes them",
        "when every one passed; every `pytest` run fails when this file is out of date.",
        *where,
        "with the number of cases it ran and what it found.",
        "The slow rows (faults over 300 keys, SIGKILL, concurrent applies, fuzzing, interrupts)",
        "run in the default suite; the inner loop (`pytest -m 'not slow'`) skips them.",
        "",
        "| kind | what was tried | cases | outcome |",
        "|---|---|---|---|",
    ]


def _shape(line: str) -> str:
    return re.sub(r"\d+", "#", line)


def documented() -> Counter[str]:
    """The document's rows, numbers masked."""
    return Counter(_shape(line) for line in _table(DOC.read_text() if DOC.exists() else ""))


def check(complete: bool) -> list[str]:
    """What is out of date: every recorded row must be documented, and after a complete run
    every documented row recorded (as often)."""
    lines = {_shape(_line(r)): _line(r) for r in ROWS}
    recorded = Counter(_shape(_line(r)) for r in ROWS)
    doc = documented()
    problems = [f"not in {DOC.name}: {lines[k]}" for k in sorted(set(recorded) - set(doc))]
    if complete:
        problems += [f"no test recorded: {k}" for k in sorted(set(doc) - set(recorded))]
        problems += [f"recorded {recorded[k]} times, listed {doc[k]}: {k}" for k in _recounted(recorded, doc)]
    return problems


def _recounted(recorded: Counter[str], doc: Counter[str]) -> list[str]:
    return sorted(k for k in set(recorded) & set(doc) if recorded[k] != doc[k])


class _Writer:
    """A pytest plugin: writes the document once the whole run passed."""

    @pytest.hookimpl(tryfirst=True)  # before conftest.py checks the document against the run
    def pytest_sessionfinish(self, session: Any, exitstatus: int) -> None:
        if exitstatus == 0 and ROWS:
            DOC.write_text(render(ROWS))


def main() -> int:
    """Run every test that records a row; on success, write the document from their rows."""
    from tests import reliability_log  # the module the tests import, not this __main__

    files = [str(p) for p in reliability_log.recording_files()]
    code = int(pytest.main(["-q", "-p", "no:cacheprovider", *files], plugins=[reliability_log._Writer()]))
    print(f"{DOC.relative_to(ROOT)} {'written' if code == 0 else 'left as it was: the run failed'}")
    return code


if __name__ == "__main__":
    sys.exit(main())
