"""The API's clock when its answers carry no usable `Date`: a rotation begun on the local clock
must still find its successor after a lost create answer, whichever clock runs ahead, and a key
whose age cannot be counted (no `created_at`) is said, never silently never rotated."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.sandbox import SandboxTransport

from .common import OLD, balance, cli, keys, manifest, seed

Answers = dict[str, Any]


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> Iterator[Answers]:
    """The sandbox's answers with their `Date` as `date` says (None: no header), the first answer
    to a request to `lose` cut off after the service acted on it, and `created_at` dropped from the
    list when `undated` is set."""
    plan: Answers = {"date": None, "lose": None, "lost": 0, "undated": False}
    real = SandboxTransport.handle_async_request

    async def answer(self: SandboxTransport, request: httpx.Request) -> httpx.Response:
        response = await real(self, request)
        if plan["lose"] and request.url.path.endswith(plan["lose"]) and not plan["lost"]:
            plan["lost"] += 1
            raise KeyboardInterrupt  # the run is cut off: the create landed, nothing recorded it
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "date"]
        if plan["date"] is not None:
            headers.append(("date", plan["date"]))
        content = await response.aread()
        if plan["undated"] and request.method == "GET":
            content = content.replace(b'"created_at"', b'"made"')
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        return httpx.Response(response.status_code, headers=headers, content=content)

    monkeypatch.setattr(SandboxTransport, "handle_async_request", answer)
    yield plan


@pytest.fixture
def behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The API's clock an hour behind this machine's."""
    monkeypatch.chdir(tmp_path)
    seed(clock=int(time.time()) - 3600)
    manifest("{every: 90d, overlap: 0}")
    return tmp_path


@pytest.mark.parametrize("date", [None, "not a date", "Tue, 99 Foo 20x6 25:61:00 GMT"])
def test_a_rotation_cut_off_after_its_create_without_the_apis_date_is_adopted_never_two_successors(
    behind: Path, capsys: Any, answers: Answers, date: str | None
) -> None:
    answers.update(date=date, lose="/auth/proxy/create")
    code, out, err = cli(capsys, "rotate", "backend")
    assert code == 130, out + err
    assert answers["lost"] == 1 and len(keys()) == 2
    answers["lose"] = None
    code, out, err = cli(capsys, "apply")
    assert code == 0, out + err
    assert len(keys()) == 1 and balance() == Decimal(980)  # one successor, the old key's 30 back


@pytest.fixture
def due(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    seed()
    manifest("{every: 90d, overlap: 0}")
    return tmp_path


def test_a_rotation_cut_off_after_its_create_when_the_list_has_no_created_at_is_an_error_never_a_second_successor(
    due: Path, capsys: Any, answers: Answers
) -> None:
    answers.update(lose="/auth/proxy/create", date="Fri, 15 Jan 2027 08:00:00 GMT")
    code, _, _ = cli(capsys, "apply")
    assert code == 130 and len(keys()) == 2
    answers.update(lose=None, undated=True)
    code, out, _ = cli(capsys, "apply")
    successor = next(k["key"] for k in keys() if k["key"] != OLD)
    assert code == 1 and len(keys()) == 2 and balance() == Decimal(950)  # nothing sent
    assert f"cannot tell whether ek-proxy-…{successor[-4:]} (named 'Backend') is the successor" in out
    assert "the API gave no created_at" in out and successor not in out


def test_a_key_on_a_schedule_with_no_created_at_is_said_never_silently_never_rotated(
    due: Path, capsys: Any, answers: Answers
) -> None:
    answers.update(undated=True, date="Fri, 15 Jan 2027 08:00:00 GMT")
    code, out, _ = cli(capsys, "plan", "--detailed-exitcode")
    assert "⟳" not in out and "its age is unknown (the API gave no created_at)" in out
    assert "never rotated on schedule; `ehkeys rotate` rotates it now" in out
    code, out, _ = cli(capsys, "drift")
    assert "its age is unknown" in out
