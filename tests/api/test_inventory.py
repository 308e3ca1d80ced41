"""Reading the account: two requests whatever the number of keys, in-process and over a socket,
and the per-key fallback when the list endpoint is unavailable."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.api import inventory
from reconciler.api.client import Client
from reconciler.core.keys import DesiredKey, Location
from reconciler.core.secrets import ProxyKey

from ..helpers import API_KEY, key_value, live_sandbox, manifest_text, run_cli, sandbox, seed_data


class NoList(httpx.AsyncBaseTransport):
    """The sandbox, less its list endpoint (a service that never had one answers 404 or 405)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, status: int) -> None:
        self.inner, self.status, self.paths = inner, status, []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if request.method == "GET" and request.url.path.endswith("/auth/proxy"):
            return httpx.Response(self.status, json={"error": {"message": "Not Found", "code": self.status}})
        return await self.inner.handle_async_request(request)


def wanted(n: int) -> list[DesiredKey]:
    where = Location("m.yaml", 1, 1)
    return [DesiredKey(f"key-{i}", f"key-{i}", where, proxy_key=ProxyKey(key_value(i))) for i in range(n)]


@pytest.mark.parametrize("status", [404, 405])
def test_without_the_list_the_manifests_keys_are_looked_up_one_by_one(status: int) -> None:
    transport = NoList(sandbox(seed_data(3)).transport(), status)

    async def read() -> inventory.Inventory:
        async with Client(API_KEY, "http://127.0.0.1/v1", transport=transport) as client:
            return await inventory.read(client, [*wanted(2), DesiredKey("new", "new", Location("m", 1, 1))])

    account = asyncio.run(read())
    assert not account.complete and "unmanaged" in account.fallback_note
    assert sorted(k.name for k in account.keys) == ["key-0", "key-1"]  # key-2 is unseen
    assert transport.paths.count("/v1/auth/proxy/lookup") == 2  # a key without proxy_key: none


@pytest.mark.slow  # a sandbox process
def test_a_plan_reads_the_account_in_two_requests_over_a_socket(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("keys.yaml").write_text(manifest_text(40, allocated_ammount=12))
    monkeypatch.setenv("ELECTRONHUB_API_KEY", API_KEY)
    with live_sandbox(tmp_path, seed_data(40)) as base:
        code, out, _ = run_cli(capsys, "plan", "keys.yaml", "--base-url", base)
        stats = httpx.get(base.removesuffix("/v1") + "/_sandbox/stats").json()
    assert code == 0 and "Plan: 0 to create, 40 to update" in out
    assert "Read with 2 requests to the API." in out and stats.get("ok") == 2
