"""--debug: ehkeys' own lines and one per request, never a key; EHKEYS_DEBUG_HTTP=1 adds
httpcore's trace of every connection (docs/commands.md)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..helpers import API_KEY, key_value, manifest_text, run_cli, sandbox
from ..served import serving

NEW_KEY = "  - {name: fresh, limit_type: daily, allocated_ammount: 5}\n"


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The sandbox over a loopback socket (httpcore only traces real connections)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ELECTRONHUB_API_KEY", API_KEY)
    (tmp_path / "keys.yaml").write_text(manifest_text(2) + NEW_KEY)
    with serving(sandbox().app) as (url,):
        monkeypatch.setenv("ELECTRONHUB_BASE_URL", f"{url}/v1")
        yield tmp_path


def _leaks(text: str) -> list[str]:
    """Any proxy key whole (`ek-proxy-` and more than its last 4) or the account key."""
    whole = re.findall(r"ek-proxy-[A-Za-z0-9_-]{5,}", text)
    return whole + [API_KEY] * (API_KEY in text) + [key_value(0)] * (key_value(0) in text)


def test_debug_shows_one_line_per_request_and_no_connection_trace(
    served: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ("apply", "keys.yaml", "--auto-approve", "--secrets-out", "new.env", "--debug")
    code, out, err = run_cli(capsys, *argv)
    assert code == 0, out + err
    created = (served / "new.env").read_text()
    assert "ek-proxy-" in created, "the new key's value came back in an answer, and went only here"
    assert re.search(r"^ehkeys: DEBUG: GET /auth/proxy -> 200 in \d+\.\d{3}s$", err, re.M), err
    assert re.search(r"^ehkeys: DEBUG: POST /auth/proxy/create -> 201 in \d+\.\d{3}s$", err, re.M), err
    assert "connect_tcp" not in err and "send_request_headers" not in err, "httpcore's trace is opt-in"
    assert "Using selector" not in err, "asyncio's own debug line is not ehkeys'"
    assert not _leaks(out + err)

    monkeypatch.setenv("EHKEYS_DEBUG_HTTP", "1")
    code, out, err = run_cli(capsys, "plan", "keys.yaml", "--debug")
    assert code == 0, out + err
    assert "connect_tcp.started" in err and "receive_response_headers" in err, err
    assert "GET /auth/proxy -> 200" in err
    assert not _leaks(out + err)

    code, out, err = run_cli(capsys, "plan", "keys.yaml")  # the variable alone adds nothing
    assert code == 0 and "DEBUG" not in err and "HTTP Request" not in err, "no level stays from a run"
