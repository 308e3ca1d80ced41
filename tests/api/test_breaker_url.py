"""The breaker's message names the API it gave up on, never the password in its base URL."""

from __future__ import annotations

import asyncio
from typing import Any

from reconciler.api import errors as api
from reconciler.api.client import Client, RetryPolicy
from reconciler.core.secrets import ProxyKey
from reconciler.sandbox import Faults

from ..helpers import API_KEY, key_value, sandbox, seed_data


def test_a_silent_api_s_breaker_never_shows_the_base_url_s_password() -> None:
    box = sandbox(seed_data(4), faults=Faults(hang_rate=1.0))
    base = "http://ops:hunter2-base-secret@127.0.0.1/v1"

    async def lookups() -> list[Any]:
        async with Client(API_KEY, base, transport=box.transport(), retry=RetryPolicy(timeout=0.2)) as c:
            work = (c.lookup(ProxyKey(key_value(i))) for i in range(4))
            return await asyncio.gather(*work, return_exceptions=True)

    said = [str(e) for e in asyncio.run(lookups()) if isinstance(e, api.Unreachable)]
    assert said and all("has not answered" in s for s in said)
    assert not any("hunter2" in s for s in said), said[0]
    assert "http://ops:…@127.0.0.1/v1" in said[0]
