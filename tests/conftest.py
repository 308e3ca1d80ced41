from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from . import reliability_log

# pytest keeps each test module with its asserts rewritten in __pycache__, unless bytecode is
# not to be written (PYTHONDONTWRITEBYTECODE, which some CI and agent environments set): then
# it parses and rewrites every test module again on every run, ~10 s of the inner loop here.
# Those files are pytest's cache (git-ignored), not the tool's: write them.
sys.dont_write_bytecode = False

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = Path(__file__).resolve().parent / "manifests"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see a developer's real keys, nor the CI's own Actions run (GITHUB_ACTIONS: a
    GitOps job's sinks run on a runner thrown away; the fake runs set it, as Actions does)."""
    for name in list(os.environ):
        if name.startswith(("EH_", "EHKEYS_", "ELECTRONHUB_", "GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NO_COLOR", "1")


@pytest.fixture(autouse=True)
def _recording_test(request: pytest.FixtureRequest) -> None:
    """Tells reliability_log which test records a row (a row of a skipif test is conditional)."""
    reliability_log.current = request.node


# --- docs/RELIABILITY.md against the rows this run recorded --------------------------------------

_RAN: set[str] = set()
_DESELECTED: list[int] = []
_SKIPPED: list[str] = []  # recording tests skipped here for a reason no skipif names (no git, say)


# Modules of slow tests alone that cost seconds to collect: schemathesis builds every case of
# the conformance run while collecting it, deselected or not.
_SLOW_TO_COLLECT = {"test_conformance.py"}


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """The inner loop (`-m "not slow"`) does not collect what it would deselect whole."""
    if (config.option.markexpr or "").strip() == "not slow" and collection_path.name in _SLOW_TO_COLLECT:
        return True
    return None


def pytest_deselected(items: list[pytest.Item]) -> None:
    _DESELECTED.append(len(items))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report: pytest.TestReport = (yield).get_result()
    if report.when == "call" or report.skipped:
        _RAN.add(item.nodeid)
    if report.skipped and not hasattr(report, "wasxfail") and item.get_closest_marker("skipif") is None:
        _SKIPPED.append(str(Path(item.path).resolve()))


def _complete(session: pytest.Session) -> bool:
    """Whether every test of every module that records rows ran: only then can a documented
    row that nobody recorded be called stale."""
    if _DESELECTED or any("::" in arg for arg in session.config.args):
        return False
    recording = {str(p) for p in reliability_log.recording_files()}
    collected = {str(Path(item.path).resolve()) for item in session.items}
    ran_all = len(_RAN) == session.testscollected and not recording & set(_SKIPPED)
    return ran_all and recording <= collected


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if exitstatus != 0 or session.config.option.collectonly:
        return
    problems = reliability_log.check(_complete(session))
    if problems:
        _report(session, problems)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _report(session: pytest.Session, problems: list[str]) -> None:
    lines = [f"docs/RELIABILITY.md is out of date: run `{reliability_log.COMMAND}`", *problems[:20]]
    lines += [f"... and {len(problems) - 20} more"] if len(problems) > 20 else []
    writer: Any = session.config.get_terminal_writer()
    writer.line("\n" + "\n".join(lines), red=True)
