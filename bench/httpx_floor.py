"""The least a whole process that talks to the API through httpx can take: Python start-up,
`import httpx` (without httpx's own command-line client, which imports rich when it is installed
and which ehkeys declines too), and N lookups at the given parallelism over the pools ehkeys
makes (transports of 8 connections sharing one TLS context, no AsyncClient), with nothing else
around them.

    python bench/httpx_floor.py BASE_URL N PARALLELISM KEYS [--with-ehkeys-imports]

An instrument for bench/run.py's scenario 3 (whose apply sends one request a key): its
wall time divided by this one's is what ehkeys adds to the HTTP stack it is built on.
The account key is the bench's; the keys looked up are bench/run.py's `key(i)`, i < KEYS, in turn.
`--with-ehkeys-imports` first imports what `ehkeys apply` imports (`APPLY_IMPORTS`), so that the
difference between the two runs is what those imports cost, and the rest of scenario 3's wall
time over this one is the apply's own work.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import sys

sys.modules.setdefault("httpx._main", None)  # as reconciler/__init__.py: never httpx's CLI (rich)
import httpx  # noqa: E402

API_KEY = "ek-bench-account-key"
APPLY_IMPORTS = ("reconciler.cli.main", "reconciler.cli.apply", "reconciler.engine.apply")
POOL_SIZE = 8  # as reconciler/api/transport.py shards its pools


def key(i: int) -> str:
    return f"ek-proxy-bench-{i:06d}-0123456789abcdef"


def tls_context(base: str) -> ssl.SSLContext:
    """One context for every pool, as ehkeys makes it: the CA bundle only for https (httpx's
    default loads it per transport, ~20 ms each, which ehkeys does not pay over plain http)."""
    if base.startswith("https://"):
        return httpx.create_ssl_context()
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


async def lookups(base: str, n: int, parallelism: int, keys: int) -> None:
    shards = -(-parallelism // POOL_SIZE)
    limits = httpx.Limits(max_connections=-(-parallelism // shards))
    tls = tls_context(base)
    pools = [httpx.AsyncHTTPTransport(verify=tls, limits=limits) for _ in range(shards)]
    url = httpx.URL(base + "/auth/proxy/lookup")
    headers = httpx.Headers({"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"})
    todo = iter(range(n))

    async def worker(pool: httpx.AsyncHTTPTransport) -> None:
        for i in todo:
            body = json.dumps({"proxy_key": key(i % keys)}).encode()
            answer = await pool.handle_async_request(
                httpx.Request("POST", url, headers=headers, content=body)
            )
            body = await answer.aread()
            await answer.aclose()
            if answer.status_code != 200:
                raise SystemExit(f"lookup {i}: HTTP {answer.status_code}")
            json.loads(body)

    await asyncio.gather(*(worker(pools[j % shards]) for j in range(parallelism)))
    for pool in pools:
        await pool.aclose()


if __name__ == "__main__":
    if "--with-ehkeys-imports" in sys.argv:
        for module in APPLY_IMPORTS:
            __import__(module)
    asyncio.run(lookups(sys.argv[1], *(int(arg) for arg in sys.argv[2:5])))
