from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = Path(__file__).resolve().parent / "manifests"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see a developer's real keys."""
    for name in list(__import__("os").environ):
        if name.startswith(("EH_", "EHKEYS_", "ELECTRONHUB_", "GITHUB_STEP_SUMMARY")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NO_COLOR", "1")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    import os

    from . import reliability_log

    if os.environ.get("EHKEYS_WRITE_RELIABILITY") and exitstatus == 0 and reliability_log.ROWS:
        reliability_log.write()
