"""A key the account's list gives twice (one value, two entries) is refused by name, never bound
to one of its entries at random. The sandbox answers for real; a wrapping transport repeats one
entry of its `GET /auth/proxy` answer, as a faulty API would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from reconciler.engine.target import SANDBOX_DB
from reconciler.sandbox import Sandbox, SandboxTransport, seeds

from ..helpers import key_value, manifest_text, run_cli, seed_data
from ..reliability_log import record

SANDBOX = ["--sandbox", "--sandbox-seed", "seed.yaml"]
TWICE = "gives this key (ek-proxy-…part) more than once"


class ListsOneKeyTwice(httpx.AsyncBaseTransport):
    """The sandbox's own answers, with the entry of the key named `name` repeated in the list."""

    on = True  # the fault switch: off, the sandbox's answers pass unchanged

    def __init__(self, inner: httpx.AsyncBaseTransport, name: str) -> None:
        self.inner, self.name = inner, name

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        listing = request.method == "GET" and request.url.path.endswith("/auth/proxy")
        if not listing or not ListsOneKeyTwice.on:
            return response
        entries = json.loads(await response.aread())
        entries += [dict(e, used_ammount=0) for e in entries if e["name"] == self.name]  # they disagree
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return httpx.Response(response.status_code, headers=headers, json=entries)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed_data(3)))
    monkeypatch.setattr(
        Sandbox, "transport", lambda box: ListsOneKeyTwice(SandboxTransport(box.app), "key-1")
    )
    monkeypatch.setattr(ListsOneKeyTwice, "on", True)
    return tmp_path


def live(i: int) -> dict[str, Any]:
    key = Sandbox.open(SANDBOX_DB, seeds.load("seed.yaml")).store.key(key_value(i))
    assert key is not None
    return key


def test_a_manifest_key_listed_twice_is_refused_by_name_and_never_sent(workdir: Path, capsys: Any) -> None:
    Path("keys.yaml").write_text(manifest_text(3, allocated_ammount=20))  # bound by proxy_key
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX)
    flat = " ".join(out.split())
    assert code == 1 and "! key-1 (ek-proxy-…part)" in out and TWICE in flat
    assert "~ key-0" in out and "~ key-2" in out and "1 error" in out  # the others plan as ever
    code, out, _ = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 3 and TWICE in " ".join(out.split())
    assert [live(i)["allocated_ammount"] for i in range(3)] == [20, 10, 20]  # key-1: nothing sent
    record(
        "answer",
        "a key the account's list gives twice (two entries, one value)",
        1,
        "refused by name; nothing sent to it",
    )


@pytest.mark.parametrize("by", ["name", "state"])
def test_a_key_bound_by_name_or_state_and_listed_twice_is_refused(
    workdir: Path, capsys: Any, by: str
) -> None:
    text = "version: 1\nkeys:\n  - {id: one, name: key-1, limit_type: daily, allocated_ammount: 20}\n"
    Path("keys.yaml").write_text(text)
    if by == "state":  # applied while the list was sound: the state binds `one`; renamed since
        ListsOneKeyTwice.on = False
        assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
        Path("keys.yaml").write_text(text.replace("name: key-1", "name: renamed"))
        ListsOneKeyTwice.on = True
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX)
    assert code == 1 and "(ek-proxy-…part)" in out and TWICE in " ".join(out.split())
    assert ("! key-1" if by == "name" else "! renamed") in out
    assert "2 live keys are named" not in out  # one key, not two: never called ambiguous
    assert "(a new key)" not in out  # never created a second time


def test_an_unmanaged_key_listed_twice_is_never_pruned(workdir: Path, capsys: Any) -> None:
    text = "version: 1\nprune: true\nkeys:\n  - {id: zero, name: key-0, limit_type: daily}\n"
    Path("keys.yaml").write_text(text)
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX)
    assert code == 1 and "! key-1 (ek-proxy-…part)" in out and TWICE in " ".join(out.split())
    assert "- key-1" not in out and "- key-2 (ek-proxy-…part)" in out  # key-2 is pruned as ever


def test_import_writes_a_key_listed_twice_once(workdir: Path, capsys: Any) -> None:
    code, out, _ = run_cli(capsys, "import", "--all", *SANDBOX)
    assert code == 0 and out.count('name: "key-1"') == 1 and "gives this key twice" in out
