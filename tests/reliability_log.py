"""Rows for docs/RELIABILITY.md, recorded by the tests that produce them.

`EHKEYS_WRITE_RELIABILITY=1 python -m pytest` rewrites the document from the run.
"""

from __future__ import annotations

from pathlib import Path

ROWS: list[tuple[str, str, int, str]] = []
DOC = Path(__file__).resolve().parent.parent / "docs" / "RELIABILITY.md"


def record(kind: str, case: str, count: int, outcome: str) -> None:
    ROWS.append((kind, case, count, outcome))


def write() -> None:
    order = {
        "fault": 0,
        "kill": 1,
        "concurrency": 2,
        "files": 3,
        "input": 4,
        "answer": 5,
        "secret": 6,
        "cli": 7,
        "money": 8,
        "gitops": 9,
    }
    lines = [
        "# Reliability and security: what the test suite tried",
        "",
        "Written by the test suite (`EHKEYS_WRITE_RELIABILITY=1 python -m pytest`); each row is one",
        "test in `tests/test_reliability.py`, `test_state.py`, `test_manifest.py`, `test_fuzz.py`,",
        "`test_secrets.py`, `test_client.py`, `test_interrupt.py`, `test_cli_usage.py`, `test_lifecycle.py`, `test_gitops.py`",
        "`test_concurrent_applies.py` or `test_cli_plan.py`, with the",
        "number of cases it ran and what it found. Every row passed when this file was written.",
        "The heavy rows (300-key fault apply, SIGKILL, concurrent applies) run in the default",
        "suite too: together they take under a minute on the 2-core machine.",
        "",
        "| kind | what was tried | cases | outcome |",
        "|---|---|---|---|",
    ]
    for kind, case, count, outcome in sorted(ROWS, key=lambda r: (order.get(r[0], 9), r[1])):
        lines.append(f"| {kind} | {case} | {count} | {outcome} |")
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text("\n".join(lines) + "\n")
