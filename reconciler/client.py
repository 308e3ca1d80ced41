"""The ElectronHub API client: one seam for I/O (httpx, with a `transport=` for tests).

- Only the static URLs (the legacy ones put the proxy key in the URL, where logs keep it).
- One error hierarchy; HTTP statuses map to it in `error_for_status` and nowhere else.
- 429, 5xx, dropped connections, timeouts and edge challenge pages are retried with
  exponential backoff and jitter, honouring Retry-After, else X-RateLimit-Reset.
- The Pacer reads X-RateLimit-* and holds requests when the budget is spent, instead of
  firing into a 429 (the real service answers an overrun with a 180 s cooldown).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import ssl
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx

from reconciler import __version__
from reconciler.answers import live_key
from reconciler.apierrors import (
    MAX_BODY,
    AnswerLost,
    ApiError,
    BadResponse,
    NotSent,
    RateLimited,
    TooLarge,
    error_for_status,
)
from reconciler.errors import ConfigError
from reconciler.model import LiveKey, ProxyKey
from reconciler.pacer import Pacer

log = logging.getLogger("ehkeys.client")

DEFAULT_BASE_URL = "https://api.electronhub.ai/v1"
USER_AGENT = f"ehkeys/{__version__}"
POOL_SIZE = 8  # connections per httpx pool; see _pools
LOOPBACK = ("localhost", "127.0.0.1", "::1", "[::1]")


# --- settings -------------------------------------------------------------------------------


def check_api_key(api_key: str | None) -> str:
    """Refuse, before any request, a key that cannot work (and say why)."""
    if not api_key:
        raise ConfigError("ELECTRONHUB_API_KEY is not set (or use --sandbox to try the tool)")
    key = api_key.strip()
    if key.startswith("ek-proxy-"):
        raise ConfigError(
            "ELECTRONHUB_API_KEY holds a proxy key (ek-proxy-…): management calls need the "
            "account API key (ek-…), and the API rejects proxy keys"
        )
    if key.startswith("eyJ") and key.count(".") == 2:
        raise ConfigError("ELECTRONHUB_API_KEY looks like a JWT: the API accepts only API keys (ek-…)")
    if not key.startswith("ek-"):
        raise ConfigError("ELECTRONHUB_API_KEY does not look like an account API key (ek-…)")
    return key


def check_base_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url.rstrip("/")
    if parts.scheme == "http" and parts.hostname in LOOPBACK:
        return url.rstrip("/")
    raise ConfigError(f"base URL {url!r}: use https:// (plain http:// is allowed only to a loopback host)")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    total: float = 300.0  # seconds, all attempts of one request together
    timeout: float = 30.0  # seconds, one attempt


# --- the client -----------------------------------------------------------------------------


class Client:
    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        parallelism: int = 8,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.pacer = Pacer()
        self.retries = 0
        self.sent = 0  # attempts that went out: the scarce resource, shown in the plan
        self.parallelism = parallelism = max(parallelism, 1)
        self._base = check_base_url(base_url)
        self._headers = {
            "Authorization": f"Bearer {check_api_key(api_key)}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }
        self._extensions = {"timeout": httpx.Timeout(self.retry.timeout).as_dict()}
        self._transports = [transport] if transport else _pools(self._base, parallelism)
        # One entry per request allowed in flight, each naming a pool with a connection free
        # for it. Round-robin instead would queue a request behind one pool's busy
        # connections while another pool had idle ones (~3% of bench scenario 1).
        self._free: asyncio.Queue[httpx.AsyncBaseTransport] = asyncio.Queue()
        for i in range(parallelism):
            self._free.put_nowait(self._transports[i % len(self._transports)])

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for transport in self._transports:
            await transport.aclose()

    async def lookup(self, proxy_key: ProxyKey) -> LiveKey:
        data = await self.request("POST", "/auth/proxy/lookup", {"proxy_key": proxy_key.reveal()})
        return live_key(data, proxy_key)

    async def update(self, body: dict[str, Any]) -> None:
        data = await self.request("POST", "/auth/proxy/update", body)
        if not isinstance(data, dict) or "message" not in data:
            raise BadResponse("update answer is not the documented {'message': ...}")

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        data = await self.request("POST", "/auth/proxy/create", body, idempotent=False)
        if not isinstance(data, dict) or not str(data.get("key", "")).startswith("ek-proxy-"):
            raise BadResponse("create answer has no new proxy key")
        return data

    async def toggle(self, proxy_key: ProxyKey) -> bool:
        body = {"proxy_key": proxy_key.reveal()}
        data = await self.request("POST", "/auth/proxy/toggle", body, idempotent=False)
        status = data.get("status") if isinstance(data, dict) else None
        if not isinstance(status, bool):
            raise BadResponse("toggle answer has no boolean 'status'")
        return status

    async def remove(self, proxy_key: ProxyKey) -> None:
        await self.request("POST", "/auth/proxy/remove", {"proxy_key": proxy_key.reveal()})

    async def balance(self) -> Decimal:
        data = await self.request("GET", "/user/me")
        credits = data.get("credits") if isinstance(data, dict) else None
        if isinstance(credits, bool) or not isinstance(credits, (int, Decimal)):
            raise BadResponse("/user/me answer has no numeric 'credits'")
        return Decimal(credits)

    async def list_keys(self) -> list[dict[str, Any]]:
        data = await self.request("GET", "/auth/proxy")
        if not isinstance(data, list) or not all(isinstance(k, dict) for k in data):
            raise BadResponse("key list answer is not a JSON array of keys")
        return data

    async def request(self, method: str, path: str, body: Any = None, idempotent: bool = True) -> Any:
        """One call with pacing, bounded retries and a total deadline. A call that is not
        idempotent (create, toggle) is retried only when it provably did nothing: it never
        left (NotSent), or the rate limit turned it away (429)."""
        return await self._request(method, path, body, idempotent)

    async def _request(self, method: str, path: str, body: Any, idempotent: bool) -> Any:
        """One call with pacing, bounded retries and a total deadline."""
        deadline = time.monotonic() + self.retry.total
        attempt = 0
        transport = await self._free.get()
        try:
            while True:
                attempt += 1
                try:
                    return await self._attempt(transport, method, path, body)
                except ApiError as exc:
                    unsafe = not idempotent and not isinstance(exc, (NotSent, RateLimited))
                    delay = None if unsafe else self._retry_delay(exc, attempt, deadline)
                    if delay is None:
                        raise
                    self.retries += 1
                    log.debug("%s %s: %s; retry %d in %.2fs", method, path, exc, attempt, delay)
                    await self.sleep(delay)
        finally:
            self._free.put_nowait(transport)

    def _retry_delay(self, exc: ApiError, attempt: int, deadline: float) -> float | None:
        if not exc.retryable or attempt >= self.retry.attempts:
            return None
        backoff: float = min(self.retry.max_delay, self.retry.base_delay * 2 ** (attempt - 1))
        delay = backoff * random.uniform(0.5, 1.0)
        if exc.wait is not None:
            delay = max(exc.wait, 0.05) + random.uniform(0, 0.25)
        if time.monotonic() + delay > deadline:
            return None
        return delay

    async def _attempt(self, transport: httpx.AsyncBaseTransport, method: str, path: str, body: Any) -> Any:
        await self.pacer.acquire()
        self.sent += 1
        headers: httpx.Headers | None = None
        started = time.monotonic()
        try:
            with anyio.fail_after(self.retry.timeout):  # also bounds in-process transports
                status, answer, content = await self._send(transport, method, path, body)
            headers = answer
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise NotSent(f"the request never reached the API ({type(exc).__name__}: {exc})") from exc
        except (httpx.TransportError, TimeoutError) as exc:
            what = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
            raise AnswerLost(f"no answer from the API ({what}: {exc})") from exc
        finally:
            await self.pacer.release(headers)
        log.debug("%s %s -> %s in %.3fs", method, path, status, time.monotonic() - started)
        return _decode(status, answer, content, self.pacer.clock())

    async def _send(
        self, transport: httpx.AsyncBaseTransport, method: str, path: str, body: Any
    ) -> tuple[int, httpx.Headers, bytes]:
        headers = self._headers
        payload = None
        if body is not None:
            payload = json.dumps(body, default=_json_default).encode()
            headers = {**headers, "Content-Type": "application/json"}
        request = httpx.Request(
            method, self._base + path, headers=headers, content=payload, extensions=self._extensions
        )
        response = await transport.handle_async_request(request)
        try:
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_BODY:
                    raise TooLarge(f"answer larger than {MAX_BODY} bytes; refused")
                chunks.append(chunk)
            return response.status_code, response.headers, b"".join(chunks)
        finally:
            await response.aclose()


def _pools(base_url: str, parallelism: int) -> list[httpx.AsyncBaseTransport]:
    """Connection pools for `parallelism` requests at once, through the environment's proxy.

    Transports, not httpx.AsyncClient: the client's per-request work (URL merging, cookie
    jars, hooks) is a third of the CPU of a lookup, and none of it is needed here.
    httpcore's pool does work per pooled connection on every request, so one pool of 32
    connections costs several times the CPU of four pools of 8 (bench scenario 1): shard it.
    """
    shards = -(-parallelism // POOL_SIZE)
    tls = _tls_context(base_url)  # one context (and CA bundle load) for every pool
    limits = httpx.Limits(max_connections=-(-parallelism // shards))
    proxy = environment_proxy(base_url)
    return [httpx.AsyncHTTPTransport(verify=tls, limits=limits, proxy=proxy) for _ in range(shards)]


def _tls_context(base_url: str) -> ssl.SSLContext:
    if base_url.startswith("https://"):
        return httpx.create_ssl_context()  # verifying, with the CA bundle (~17 ms to load)
    # Plain http, which check_base_url allows only to a loopback host: TLS is never used, so
    # the context loads no CA bundle and, verifying by default, would trust nothing.
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def environment_proxy(url: str) -> str | None:
    """The proxy HTTPS_PROXY / HTTP_PROXY / ALL_PROXY name for `url`, unless NO_PROXY
    exempts it (on macOS and Windows, also the system's settings): as httpx and curl do."""
    host = urlsplit(url).hostname or ""
    if host in LOOPBACK or urllib.request.proxy_bypass(host):
        return None
    proxies = urllib.request.getproxies()
    proxy = proxies.get(urlsplit(url).scheme) or proxies.get("all")
    if not proxy:
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # serialisation only: values are exact to the cent
    raise TypeError(f"cannot send {type(value).__name__}")


def _decode(status: int, headers: httpx.Headers, content: bytes, now: float) -> Any:
    ctype = headers.get("content-type", "")
    try:
        data = json.loads(content, parse_float=Decimal) if content else None
    except (ValueError, UnicodeDecodeError):
        data = None
        if status < 400 or "json" in ctype:
            kind = "an HTML page (an edge challenge?)" if "html" in ctype else f"{ctype or 'no type'}"
            raise BadResponse(f"HTTP {status}: expected JSON, got {kind}", status) from None
    if status < 300:
        return data
    if 300 <= status < 400:
        raise ApiError(f"HTTP {status}: unexpected redirect (not followed, not retried)", status)
    error = error_for_status(status, _server_message(data, content))
    error.wait = _wait_hint(headers, now, use_reset=status == 429)
    raise error


def _server_message(data: Any, content: bytes) -> str:
    message = None
    if isinstance(data, dict):
        err = data.get("error")
        message = err.get("message") if isinstance(err, dict) else data.get("detail")
    text = str(message) if message is not None else content[:80].decode("utf-8", "replace")
    return text if len(text) <= 200 else text[:197] + "..."


def _wait_hint(headers: httpx.Headers, now: float, *, use_reset: bool) -> float | None:
    """Seconds to wait: Retry-After when present, else (after a 429) X-RateLimit-Reset."""
    try:
        if "retry-after" in headers:
            return max(float(headers["retry-after"]), 0.0)
        if use_reset and "x-ratelimit-reset" in headers:
            return max(float(headers["x-ratelimit-reset"]) - now, 0.0)
    except ValueError:
        pass
    return None
