"""Requests on their way: paced, bounded by a deadline, retried as far as is safe, and
every write that may have reached the API kept track of.

- Every wait (the pacer's, a retry's, an attempt's) ends by the request's deadline.
- The Pacer reads X-RateLimit-* and holds requests when the budget is spent, instead of
  firing into a 429 (the real service answers an overrun with a 180 s cooldown).
- The Breaker stops every request once the API has left several attempts in a row unanswered.
- A write that ended without a settling answer is named (`unsettled`): the caller checks it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx

from reconciler import __version__
from reconciler.api import transport as transports
from reconciler.api import unsettled
from reconciler.api.breaker import Breaker
from reconciler.api.calls import ACCOUNT_PATHS, Call, label
from reconciler.api.checks import check_api_key, check_base_url
from reconciler.api.errors import (
    MAX_BODY,
    AnswerLost,
    ApiError,
    AuthError,
    NotFound,
    NotSent,
    OutOfTime,
    RateLimited,
    TooLarge,
)
from reconciler.api.pacer import Pacer, WaitNotices
from reconciler.api.retry import RetryPolicy, refused, retry_delay
from reconciler.api.wire import decode, json_bytes, server_time
from reconciler.core.accounts import DEFAULT_KEY_VAR
from reconciler.core.hosts import DEFAULT_BASE_URL, redacted_url

log = logging.getLogger("ehkeys.client")

USER_AGENT = f"ehkeys/{__version__}"


def terminal_notice(text: str) -> None:
    """What a person at a terminal wants to know while nothing seems to happen; not for CI logs."""
    with contextlib.suppress(ValueError, AttributeError):  # stderr closed or absent
        if sys.stderr.isatty():
            print(f"ehkeys: {text}", file=sys.stderr, flush=True)


def _headers(api_key: str) -> tuple[httpx.Headers, httpx.Headers]:
    """Every request's headers, and a JSON body's."""
    headers = {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT, "Accept": "application/json"}
    return httpx.Headers(headers), httpx.Headers({**headers, "Content-Type": "application/json"})


def _free_pools(
    pools: list[httpx.AsyncBaseTransport], parallelism: int
) -> asyncio.Queue[httpx.AsyncBaseTransport]:
    """One entry per request allowed in flight, the pools in turn."""
    free: asyncio.Queue[httpx.AsyncBaseTransport] = asyncio.Queue()
    for i in range(parallelism):
        free.put_nowait(pools[i % len(pools)])
    return free


class Sender:
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
        key_var: str = DEFAULT_KEY_VAR,
        account: str = "",
        sandbox: str = "",
    ) -> None:
        self.key_var = key_var  # where the key came from: a 401 names it
        self.sandbox = sandbox  # the sandbox serving the account, named instead ('' for the API)
        self.account = account  # the manifest's account (one of several): its writes are named by it
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.notices = WaitNotices(notify)
        self.pacer = Pacer(clock, sleep, self.notices)
        self.retries = 0
        self.sent = 0  # attempts that went out: the scarce resource, shown in the plan
        self.parallelism = parallelism = max(parallelism, 1)
        self._base = check_base_url(base_url)
        self.breaker = Breaker(redacted_url(self._base))  # its message names the API: no password
        # Made once: httpx copies Headers and URLs as they are, where it parses dicts and text
        # again for every request (a tenth of a request's CPU).
        self._headers, self._json_headers = _headers(check_api_key(api_key, key_var))
        self._urls: dict[str, httpx.URL] = {}
        self._extensions = {"timeout": httpx.Timeout(self.retry.timeout).as_dict()}
        self._transports = [transport] if transport else transports.pools(self._base, parallelism)
        # One entry per request allowed in flight, each naming a pool with a connection free
        # for it. Round-robin instead would queue a request behind one pool's busy
        # connections while another pool had idle ones (~3% of bench scenario 1).
        self._free = _free_pools(self._transports, parallelism)
        self._calls: set[Call] = set()
        self.writes = unsettled.Writes()  # ended, not yet settled by whoever checks them
        self.server_time: int | None = None  # the API's clock, as its last answer's Date said

    async def close(self, failed: bool) -> None:
        """The connections closed; after an error or an interrupt, the writes no one checked named."""
        if failed:
            self.writes.abandon()
        for pool in self._transports:
            await pool.aclose()

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
        named = label(method, path, body)
        call = Call(
            method,
            path,
            payload,
            idempotent,
            deadline,
            f"[{self.account}] {named}" if self.account else named,
        )
        pool = await self._free.get()
        self._calls.add(call)
        try:
            data = await self._attempts(pool, call)
        except ApiError as exc:
            self._failed(call, exc)
            raise
        except (asyncio.CancelledError, KeyboardInterrupt):
            if call.write and call.reached:
                unsettled.cut_short(call.label)
            raise
        finally:
            self._calls.discard(call)
            self._free.put_nowait(pool)
        if call.write:
            self.writes.answered.append(call.label)
        return data

    def _failed(self, call: Call, exc: ApiError) -> None:
        call.annotate(exc)
        exc.hint = self._hint(exc, call.path) or exc.hint
        if call.write and call.reached and (call.unsettled or not refused(exc)):
            self.writes.unknown.append(call.label)

    def _hint(self, exc: ApiError, path: str) -> str:
        if isinstance(exc, AuthError):
            return f"check {self.key_var} (the account's API key, ek-…)"
        if isinstance(exc, NotFound) and path in ACCOUNT_PATHS and not self._base.endswith("/v1"):
            return "is the base URL right? ElectronHub's ends in /v1"
        return ""

    async def _attempts(self, pool: httpx.AsyncBaseTransport, call: Call) -> Any:
        while True:
            call.attempts += 1
            try:
                return await self._attempt(pool, call)
            except ApiError as exc:
                delay = retry_delay(
                    self.retry,
                    exc,
                    attempts=call.attempts,
                    idempotent=call.idempotent,
                    deadline=call.deadline,
                )
                if delay is None:
                    raise
                call.unsettled = call.unsettled or not isinstance(exc, (NotSent, RateLimited))
                self.retries += 1
                log.debug("%s: %s; retry %d in %.2fs", call.name, exc.message, call.attempts, delay)
                if exc.wait is not None:
                    self.notices.waiting(delay, self.pacer.clock() + delay)
                await self.sleep(delay)

    async def _attempt(self, pool: httpx.AsyncBaseTransport, call: Call) -> Any:
        self.breaker.check()
        await self.pacer.acquire(call.deadline)
        headers: httpx.Headers | None = None
        started = time.monotonic()
        try:
            self.breaker.check()  # the wait for the pacer may have been long
            status, headers, content = await self._exchange(pool, call)
        finally:
            self.pacer.release(headers)
        self.breaker.answered()
        self.server_time = server_time(headers) or self.server_time
        log.debug("%s -> %s in %.3fs", call.name, status, time.monotonic() - started)
        return decode(status, headers, content, self.pacer.clock())

    async def _exchange(self, pool: httpx.AsyncBaseTransport, call: Call) -> tuple[int, httpx.Headers, bytes]:
        """One attempt on the wire, within the attempt's timeout and the request's deadline."""
        limit = min(self.retry.timeout, call.deadline - time.monotonic())
        if limit <= 0:
            raise OutOfTime("not sent: the request's deadline passed")
        self.sent += 1
        call.sent += 1
        reached_before, call.reached = call.reached, True
        started = time.monotonic()
        try:
            # anyio.fail_after's scope, without its two generator-based context managers
            with anyio.CancelScope(deadline=anyio.current_time() + limit):  # bounds in-process transports too
                return await self._send(pool, call, limit)
        except TimeoutError:
            pass  # a transport's own, said as the scope's deadline is
        except httpx.TransportError as exc:
            error = transports.transport_error(exc, limit, self._base)
            call.reached = reached_before or not isinstance(error, NotSent)
            if isinstance(exc, transports.SILENCE):
                self._silent(started, limit)
            raise error from exc
        self._silent(started, limit)  # here only when the attempt timed out
        raise AnswerLost(f"no answer from the API within {transports.secs(limit)} s (timed out)")

    def _url(self, path: str) -> httpx.URL:
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = httpx.URL(self._base + path)
        return url

    def _silent(self, started: float, limit: float) -> None:
        """An attempt timed out: the API was silent if it had (most of) the timeout to answer."""
        if time.monotonic() - started >= limit / 2:
            self.breaker.unanswered(limit)

    async def _send(
        self, pool: httpx.AsyncBaseTransport, call: Call, limit: float
    ) -> tuple[int, httpx.Headers, bytes]:
        headers = self._headers if call.payload is None else self._json_headers
        extensions = self._extensions
        if limit < self.retry.timeout:
            extensions = {"timeout": httpx.Timeout(limit).as_dict()}
        request = httpx.Request(
            call.method, self._url(call.path), headers=headers, content=call.payload, extensions=extensions
        )
        response = await pool.handle_async_request(request)
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
