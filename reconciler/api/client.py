"""The ElectronHub API client: one seam for I/O (httpx, with a `transport=` for tests).

- Only the static URLs (the legacy ones put the proxy key in the URL, where logs keep it).
- One error hierarchy (apierrors): HTTP statuses map to it in `error_for_status`, transport
  failures in `_transport_error`, as NotSent (never left) or AnswerLost (may have been done).
- Idempotent requests (lookup, update, list, remove, /user/me) are retried on 429, 5xx,
  dropped connections, timeouts and edge challenge pages, with exponential backoff and
  jitter, honouring Retry-After, else X-RateLimit-Reset. The others (create, toggle) are
  retried only when they provably did nothing: NotSent, or a 429.
- Every wait (the pacer's, a retry's, an attempt's) ends by the request's deadline.
- The Pacer reads X-RateLimit-* and holds requests when the budget is spent, instead of
  firing into a 429 (the real service answers an overrun with a 180 s cooldown).
- The Breaker stops every request once the API has left several attempts in a row unanswered.
- Money goes out as exact JSON numbers (a Decimal's own digits), never through a binary float.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
import ssl
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx

from reconciler import __version__
from reconciler.api import unsettled
from reconciler.api.answers import live_key
from reconciler.api.breaker import Breaker
from reconciler.api.errors import (
    MAX_BODY,
    AnswerLost,
    ApiError,
    BadResponse,
    NetworkError,
    NotFound,
    NothingListens,
    NotSent,
    OutOfTime,
    RateLimited,
    TooLarge,
    error_for_status,
)
from reconciler.api.loopback import is_loopback, nothing_listens
from reconciler.api.pacer import MAX_AHEAD, Pacer, WaitNotices, header_number, sane_reset
from reconciler.core.errors import ConfigError
from reconciler.core.keys import LiveKey
from reconciler.core.secrets import ProxyKey, redact

log = logging.getLogger("ehkeys.client")

DEFAULT_BASE_URL = "https://api.electronhub.ai/v1"
USER_AGENT = f"ehkeys/{__version__}"
POOL_SIZE = 8  # connections per httpx pool; see _pools

LOOKUP, UPDATE, CREATE = "/auth/proxy/lookup", "/auth/proxy/update", "/auth/proxy/create"
TOGGLE, REMOVE, LIST, ACCOUNT = "/auth/proxy/toggle", "/auth/proxy/remove", "/auth/proxy", "/user/me"
READS = (LOOKUP,)  # POSTs that change nothing
ACCOUNT_PATHS = (ACCOUNT, LIST, CREATE)  # paths about no one key: a 404 there is a wrong URL
_KEY_TEXT = re.compile(r"[!-~]+")  # printable ASCII without spaces: what a header can carry


# --- settings -------------------------------------------------------------------------------


def check_api_key(api_key: str | None) -> str:
    """Refuse, before any request, a key that cannot work (and say why, never echoing it)."""
    key = (api_key or "").strip()
    if not key:
        raise ConfigError("ELECTRONHUB_API_KEY is not set (or use --sandbox to try the tool)")
    if not _KEY_TEXT.fullmatch(key):
        raise ConfigError(
            "ELECTRONHUB_API_KEY contains characters no API key has (a space, a line break, a "
            "control or non-ASCII character): copy the key again"
        )
    if key.startswith("ek-proxy-"):
        raise ConfigError(
            f"ELECTRONHUB_API_KEY holds a proxy key ({redact(key)}): management calls need the "
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
    if parts.scheme == "http" and is_loopback(parts.hostname):
        return url.rstrip("/")
    raise ConfigError(f"base URL {url!r}: use https:// (plain http:// is allowed only to a loopback host)")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    total: float = 300.0  # seconds, all attempts of one request together (its deadline)
    timeout: float = 20.0  # seconds, one attempt; 3 silent ones in a row stop the client


def terminal_notice(text: str) -> None:
    """What a person at a terminal wants to know while nothing seems to happen; not for CI logs."""
    with contextlib.suppress(ValueError, AttributeError):  # stderr closed or absent
        if sys.stderr.isatty():
            print(f"ehkeys: {text}", file=sys.stderr, flush=True)


# --- the client -----------------------------------------------------------------------------


@dataclass(eq=False)
class _Call:
    """One request through all its attempts."""

    method: str
    path: str
    payload: bytes | None
    idempotent: bool
    deadline: float  # time.monotonic()
    label: str  # the name, and the key it is about (redacted)
    attempts: int = 0
    sent: int = 0  # attempts that went out
    reached: bool = False  # an attempt may have reached the API
    unsettled: bool = False  # an attempt that may have been processed went unanswered

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def write(self) -> bool:
        return self.method != "GET" and self.path not in READS

    def annotate(self, error: ApiError) -> None:
        error.request = error.request or self.name
        error.attempts = max(self.sent, 1)
        error.after_lost_answer = self.unsettled


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
        clock: Callable[[], float] = time.time,
        notify: Callable[[str], None] = terminal_notice,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.notices = WaitNotices(notify)
        self.pacer = Pacer(clock, sleep, self.notices)
        self.retries = 0
        self.sent = 0  # attempts that went out: the scarce resource, shown in the plan
        self.parallelism = parallelism = max(parallelism, 1)
        self._base = check_base_url(base_url)
        self.breaker = Breaker(self._base)
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
        self._calls: set[_Call] = set()
        self.writes = unsettled.Writes()  # ended, not yet settled by whoever checks them

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if exc[0] is not None:  # an error or an interrupt: name the writes no one checked
            self.writes.abandon()
        for transport in self._transports:
            await transport.aclose()

    async def lookup(self, proxy_key: ProxyKey) -> LiveKey:
        data = await self.request("POST", LOOKUP, {"proxy_key": proxy_key.reveal()})
        with _about("POST", LOOKUP):
            return live_key(data, proxy_key)

    async def update(self, body: dict[str, Any]) -> None:
        data = await self.request("POST", UPDATE, body)
        if not isinstance(data, dict) or "message" not in data:
            raise _labelled(BadResponse("the answer is not the documented {'message': ...}"), "POST", UPDATE)

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """The new key's object, its `key` included: a secret, never to be logged or printed.

        Sent again only if it provably did nothing (NotSent, 429): after a lost answer, a
        second create could make a second key and take its allocation twice.
        """
        data = await self.request("POST", CREATE, body, idempotent=False)
        key = data.get("key") if isinstance(data, dict) else None
        if not isinstance(key, str) or not key.startswith("ek-proxy-"):
            raise _labelled(BadResponse("the answer has no new proxy key (ek-proxy-…)"), "POST", CREATE)
        return data  # type: ignore[no-any-return]  # a dict, checked above

    async def toggle(self, proxy_key: ProxyKey) -> bool:
        """Flips is_active; the new state. Never re-sent after it may have been processed."""
        data = await self.request("POST", TOGGLE, {"proxy_key": proxy_key.reveal()}, idempotent=False)
        status = data.get("status") if isinstance(data, dict) else None
        if not isinstance(status, bool):
            raise _labelled(BadResponse("the answer has no true/false 'status'"), "POST", TOGGLE)
        return status

    async def remove(self, proxy_key: ProxyKey) -> None:
        """Deletes the key (its unused credit goes back). A 404 after an attempt whose answer
        was lost means that attempt removed it: that is success."""
        try:
            data = await self.request("POST", REMOVE, {"proxy_key": proxy_key.reveal()})
        except NotFound as exc:
            if exc.after_lost_answer:
                return
            raise
        if not isinstance(data, dict) or "message" not in data:
            raise _labelled(BadResponse("the answer is not the documented {'message': ...}"), "POST", REMOVE)

    async def balance(self) -> Decimal:
        data = await self.request("GET", ACCOUNT)
        credits = data.get("credits") if isinstance(data, dict) else None
        if isinstance(credits, bool) or not isinstance(credits, (int, Decimal)):
            raise _labelled(BadResponse("the answer has no numeric 'credits'"), "GET", ACCOUNT)
        return Decimal(credits)

    async def list_keys(self) -> list[dict[str, Any]]:
        data = await self.request("GET", LIST)
        if not isinstance(data, list) or not all(isinstance(k, dict) for k in data):
            raise _labelled(BadResponse("the answer is not a JSON array of keys"), "GET", LIST)
        return data

    def in_flight(self) -> list[str]:
        """Writes sent (or being sent) and not answered yet, redacted:
        `POST /auth/proxy/update (ek-proxy-…abcd)`."""
        return sorted(call.label for call in self._calls if call.write and call.reached)

    async def request(self, method: str, path: str, body: Any = None, *, idempotent: bool = True) -> Any:
        """One call: paced, bounded by its deadline, retried as far as `idempotent` allows.

        `idempotent=False` (create, toggle): retried only when the request provably did
        nothing (NotSent, a 429), never after a timeout, a lost answer, a 5xx or an HTML page.
        """
        payload = None if body is None else json_bytes(body)
        deadline = time.monotonic() + self.retry.total
        call = _Call(method, path, payload, idempotent, deadline, _label(method, path, body))
        transport = await self._free.get()
        self._calls.add(call)
        try:
            data = await self._attempts(transport, call)
        except ApiError as exc:
            call.annotate(exc)
            exc.hint = exc.hint or self._hint(exc, path)
            if call.write and call.reached and (call.unsettled or not _refused(exc)):
                self.writes.unknown.append(call.label)
            raise
        except (asyncio.CancelledError, KeyboardInterrupt):
            if call.write and call.reached:
                unsettled.cut_short(call.label)
            raise
        finally:
            self._calls.discard(call)
            self._free.put_nowait(transport)
        if call.write:
            self.writes.answered.append(call.label)
        return data

    def _hint(self, exc: ApiError, path: str) -> str:
        if isinstance(exc, NotFound) and path in ACCOUNT_PATHS and not self._base.endswith("/v1"):
            return "is the base URL right? ElectronHub's ends in /v1"
        return ""

    async def _attempts(self, transport: httpx.AsyncBaseTransport, call: _Call) -> Any:
        while True:
            call.attempts += 1
            try:
                return await self._attempt(transport, call)
            except ApiError as exc:
                delay = self._retry_delay(exc, call)
                if delay is None:
                    raise
                call.unsettled = call.unsettled or not isinstance(exc, (NotSent, RateLimited))
                self.retries += 1
                log.debug("%s: %s; retry %d in %.2fs", call.name, exc.message, call.attempts, delay)
                if exc.wait is not None:
                    self.notices.waiting(delay, self.pacer.clock() + delay)
                await self.sleep(delay)

    def _retry_delay(self, exc: ApiError, call: _Call) -> float | None:
        """Seconds before the next attempt; None to give up (not retryable, no attempts or time left)."""
        retryable = exc.retryable and (call.idempotent or isinstance(exc, (NotSent, RateLimited)))
        if not retryable or call.attempts >= self.retry.attempts:
            return None
        backoff: float = min(self.retry.max_delay, self.retry.base_delay * 2 ** (call.attempts - 1))
        delay = backoff * random.uniform(0.5, 1.0)
        if exc.wait is not None:
            delay = max(exc.wait, 0.05) + random.uniform(0, 0.25)
        if time.monotonic() + delay > call.deadline:
            return None
        return delay

    async def _attempt(self, transport: httpx.AsyncBaseTransport, call: _Call) -> Any:
        self.breaker.check()
        await self.pacer.acquire(call.deadline)
        headers: httpx.Headers | None = None
        started = time.monotonic()
        try:
            self.breaker.check()  # the wait for the pacer may have been long
            status, headers, content = await self._exchange(transport, call)
        finally:
            self.pacer.release(headers)
        self.breaker.answered()
        log.debug("%s -> %s in %.3fs", call.name, status, time.monotonic() - started)
        return _decode(status, headers, content, self.pacer.clock())

    async def _exchange(
        self, transport: httpx.AsyncBaseTransport, call: _Call
    ) -> tuple[int, httpx.Headers, bytes]:
        """One attempt on the wire, within the attempt's timeout and the request's deadline."""
        limit = min(self.retry.timeout, call.deadline - time.monotonic())
        if limit <= 0:
            raise OutOfTime("not sent: the request's deadline passed")
        self.sent += 1
        call.sent += 1
        reached_before, call.reached = call.reached, True
        started = time.monotonic()
        try:
            with anyio.fail_after(limit):  # also bounds in-process transports
                return await self._send(transport, call, limit)
        except TimeoutError:
            self._silent(started, limit)
            raise AnswerLost(f"no answer from the API within {_secs(limit)} s (timed out)") from None
        except httpx.TransportError as exc:
            error = _transport_error(exc, limit, self._base)
            call.reached = reached_before or not isinstance(error, NotSent)
            if isinstance(exc, SILENCE):
                self._silent(started, limit)
            raise error from exc

    def _silent(self, started: float, limit: float) -> None:
        """An attempt timed out: the API was silent if it had (most of) the timeout to answer."""
        if time.monotonic() - started >= limit / 2:
            self.breaker.unanswered(limit)

    async def _send(
        self, transport: httpx.AsyncBaseTransport, call: _Call, limit: float
    ) -> tuple[int, httpx.Headers, bytes]:
        headers = self._headers
        if call.payload is not None:
            headers = {**headers, "Content-Type": "application/json"}
        extensions = self._extensions
        if limit < self.retry.timeout:
            extensions = {"timeout": httpx.Timeout(limit).as_dict()}
        request = httpx.Request(
            call.method, self._base + call.path, headers=headers, content=call.payload, extensions=extensions
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


SILENCE = (httpx.ConnectTimeout, httpx.ReadTimeout, httpx.WriteTimeout)
NEVER_LEFT = (httpx.ConnectError, httpx.ProxyError, httpx.UnsupportedProtocol, httpx.LocalProtocolError)


def _transport_error(exc: httpx.TransportError, limit: float, base_url: str) -> NetworkError:
    """httpx's failure as ours: NotSent when the request cannot have left, else AnswerLost;
    a refused loopback connection stops the run at once (nothing listens there)."""
    if isinstance(exc, httpx.ConnectError) and (nobody := nothing_listens(exc, base_url)):
        return NothingListens(nobody)
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, httpx.ConnectTimeout):
        return NotSent(
            f"the request never reached the API: no connection within {_secs(limit)} s (timed out)"
        )
    if isinstance(exc, httpx.PoolTimeout):
        return NotSent(f"the request was not sent: no connection free within {_secs(limit)} s (timed out)")
    if isinstance(exc, httpx.TimeoutException):
        return AnswerLost(f"no answer from the API within {_secs(limit)} s (timed out)")
    if isinstance(exc, NEVER_LEFT):
        return NotSent(f"the request never reached the API ({detail})")
    return AnswerLost(f"no answer from the API: the connection failed before the answer ({detail})")


def _refused(exc: ApiError) -> bool:
    """A 4xx answer: the API did nothing (anything else may hide a success)."""
    return exc.status is not None and 400 <= exc.status < 500


def _secs(seconds: float) -> str:
    return f"{seconds:.0f}" if seconds >= 10 else f"{seconds:.2g}"


def _label(method: str, path: str, body: Any) -> str:
    """`POST /auth/proxy/update (ek-proxy-…abcd)`: the request and what it is about, no secret."""
    name = f"{method} {path}"
    about = body if isinstance(body, dict) else {}
    if isinstance(about.get("proxy_key"), str):
        return f"{name} ({redact(about['proxy_key'])})"
    if isinstance(about.get("name"), str):
        return f"{name} (name {about['name']!r})"
    return name


def _labelled(error: ApiError, method: str, path: str) -> ApiError:
    error.request = f"{method} {path}"
    return error


@contextlib.contextmanager
def _about(method: str, path: str) -> Iterator[None]:
    """Errors raised while reading an answer name the request."""
    try:
        yield
    except ApiError as exc:
        raise _labelled(exc, method, path) from None


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
    if is_loopback(host) or urllib.request.proxy_bypass(host):
        return None
    proxies = urllib.request.getproxies()
    proxy = proxies.get(urlsplit(url).scheme) or proxies.get("all")
    if not proxy:
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def json_bytes(value: Any) -> bytes:
    """JSON for a request body, money exact: a Decimal goes out as its own digits (a binary
    float is 1.09 credits off above 2^53 cents)."""
    return _json_text(value).encode()


def _json_text(value: Any) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send the amount {value}")
        return format(value, "f")  # plain digits, no exponent: a JSON number
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {_json_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_json_text(v) for v in value) + "]"
    return json.dumps(value, allow_nan=False)


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
    """Seconds to wait: Retry-After when present, else (after a 429) X-RateLimit-Reset.
    None when neither is usable (absent, not a number, absurd: see pacer.sane_reset)."""
    retry_after = header_number(headers, "retry-after")
    if retry_after is not None and -MAX_AHEAD <= retry_after <= MAX_AHEAD:
        return max(retry_after, 0.0)
    reset = sane_reset(header_number(headers, "x-ratelimit-reset"), now) if use_reset else None
    return None if reset is None else max(reset - now, 0.0)
