"""What stands in front of the sandbox's API: the rate limit, and injected faults.

`Gate` is plain ASGI middleware. Every answer of the API carries the X-RateLimit-* headers;
over the limit the answer is 429 (and, if configured, a cooldown answers 429 to everything).
Faults (latency, 500s, 429s, Cloudflare-style HTML pages, dropped connections, hangs) are
drawn per request from a seeded random generator so that a test run can be repeated; the
500/429/HTML ones stand for the edge in front of the API, so they carry no rate headers.
"""

from __future__ import annotations

import asyncio
import collections
import json
import math
import random
import time
from collections.abc import Callable, Mapping
from email.utils import formatdate

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reconciler.sandbox.seed import Faults, RateLimit

CHALLENGE_PAGE = (
    b"<!DOCTYPE html><html><head><title>Just a moment...</title></head>"
    b"<body><h1>Checking your browser before accessing api.electronhub.ai</h1></body></html>"
)


class DropConnection(Exception):
    """Raised after the response has started: the server hangs up mid-answer."""


class SlidingWindow:
    """Requests per token over a sliding window, with an optional cooldown on overrun. Each
    token has its own window and cooldown (an account's 429 storm leaves the others alone), by
    one rule, or by its own (`own`: the accounts a seed gives a `rate_limit:` of their own).

    The limit is checked before authentication (as at an edge), so any string can be a
    token: tokens idle for a whole window are forgotten, and memory follows the tokens
    active in one window rather than every token ever seen.
    """

    SWEEP_AT = 1024  # tokens held before the first sweep for idle ones

    def __init__(
        self,
        rule: RateLimit,
        clock: Callable[[], float] = time.time,
        own: Mapping[str, RateLimit] | None = None,
    ) -> None:
        self.rule = rule
        self.own = dict(own or {})  # a token's own rule (an account's seeded rate_limit), else `rule`
        self.clock = clock
        self.hits: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self.cooldown_until: dict[str, float] = {}
        self.rejected = 0
        self._sweep_at = self.SWEEP_AT

    def check(self, token: str) -> tuple[bool, dict[str, str]]:
        now = self.clock()
        if len(self.hits) >= self._sweep_at:
            self._forget_idle(now)
        rule, hits = self.own.get(token, self.rule), self.hits[token]
        while hits and hits[0] <= now - rule.window_s:
            hits.popleft()
        until = self.cooldown_until.get(token, 0.0)
        allowed = now >= until and len(hits) < rule.requests
        if allowed:
            hits.append(now)
        else:
            self.rejected += 1
            if now >= until and rule.cooldown_s > 0:
                until = self.cooldown_until[token] = now + rule.cooldown_s
        reset = max(until, hits[0] + rule.window_s if hits else now)
        headers = {
            "x-ratelimit-limit": str(rule.requests),
            "x-ratelimit-remaining": str(max(rule.requests - len(hits), 0) if allowed else 0),
            "x-ratelimit-reset": str(int(reset)),  # whole epoch seconds, as the docs show it
        }
        if not allowed and rule.retry_after:
            headers["retry-after"] = str(max(math.ceil(reset - now), 1))
        return allowed, headers

    def _forget_idle(self, now: float) -> None:
        """Drop tokens with no hit in the window and no cooldown running (amortised O(1))."""
        idle = [
            token
            for token, hits in self.hits.items()
            if (not hits or hits[-1] <= now - self.own.get(token, self.rule).window_s)
            and self.cooldown_until.get(token, 0.0) <= now
        ]
        for token in idle:
            del self.hits[token]
            self.cooldown_until.pop(token, None)
        self._sweep_at = max(self.SWEEP_AT, 2 * len(self.hits))


def error_body(status: int, message: str, kind: str) -> bytes:
    error = {"message": message, "type": kind, "param": None, "code": status}
    return json.dumps({"error": error}).encode()


class Gate:
    def __init__(
        self,
        app: ASGIApp,
        rate: RateLimit,
        faults: Faults,
        clock: Callable[[], float] = time.time,
        own_rates: Mapping[str, RateLimit] | None = None,
        now: Callable[[], int] | None = None,
    ) -> None:
        self.app = app
        self.now = now or (lambda: int(clock()))  # the API's clock: each answer's Date
        self.faults = faults
        self.limiter = SlidingWindow(rate, clock, own_rates)
        self.random = random.Random(faults.seed)
        self.counts: collections.Counter[str] = collections.Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == "/_sandbox/stats":  # for benchmarks and fault tests; not the API
            stats = {**self.counts, "rejected_by_rate_limit": self.limiter.rejected}
            await _respond(send, 200, json.dumps(stats).encode())
            return
        await self._delay()
        allowed, headers = self.limiter.check(_bearer(scope))
        headers["date"] = formatdate(self.now(), usegmt=True)  # HTTP's Date, as a service sends
        if not allowed:
            self.counts["429"] += 1
            body = error_body(429, "Rate limit exceeded, please slow down", "rate_limit_error")
            await _respond(send, 429, body, headers)
            return
        if self.faults.list_unavailable and _is_list(scope):
            self.counts["list_unavailable"] += 1
            await _respond(send, 404, error_body(404, "Not Found", "not_found_error"), headers)
            return
        fault = self._draw()
        self.counts[fault or "ok"] += 1
        if fault in ("500", "429", "html"):  # from the edge: no rate-limit headers
            await _respond(send, *self._fault_answer(fault))
        elif fault == "hang":
            await asyncio.sleep(3600)
        else:
            await self.app(scope, receive, _with_headers(send, headers, drop=fault == "drop"))

    async def _delay(self) -> None:
        f = self.faults
        if f.latency_ms or f.jitter_ms:
            await asyncio.sleep((f.latency_ms + self.random.uniform(0, f.jitter_ms)) / 1000)

    def _draw(self) -> str | None:
        f = self.faults
        if not f.any_random:
            return None
        roll = self.random.random()
        for name, rate in (
            ("429", f.rate_limited_rate),
            ("500", f.error_rate),
            ("drop", f.drop_rate),
            ("html", f.html_rate),
            ("hang", f.hang_rate),
        ):
            if roll < rate:
                return name
            roll -= rate
        return None

    @staticmethod
    def _fault_answer(fault: str) -> tuple[int, bytes, dict[str, str]]:
        if fault == "html":
            return 200, CHALLENGE_PAGE, {"content-type": "text/html; charset=utf-8"}
        if fault == "429":
            return 429, error_body(429, "Too many requests", "rate_limit_error"), {}
        return 500, error_body(500, "Internal server error", "server_error"), {}


def _is_list(scope: Scope) -> bool:
    return bool(scope["method"] == "GET" and scope["path"].rstrip("/") == "/v1/auth/proxy")


def _bearer(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            return str(value.decode("latin-1").removeprefix("Bearer ").strip())
    return ""


async def _respond(send: Send, status: int, body: bytes, *header_sets: dict[str, str]) -> None:
    headers = {"content-type": "application/json", "content-length": str(len(body))}
    for extra in header_sets:
        headers.update(extra)
    raw = [(k.encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _with_headers(send: Send, headers: dict[str, str], *, drop: bool) -> Send:
    extra = [(k.encode(), v.encode()) for k, v in headers.items()]

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        elif drop and message["type"] == "http.response.body":
            raise DropConnection("sandbox fault: connection dropped after the update")
        await send(message)

    return wrapped
