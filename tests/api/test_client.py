"""The API client against the sandbox (in-process and over a socket) and hand-written fakes."""

from __future__ import annotations

import asyncio
import importlib.abc
import json
import math
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.api import errors as api
from reconciler.api.client import Client, RetryPolicy, environment_proxy
from reconciler.api.retry import wait_hint
from reconciler.core.secrets import ProxyKey
from reconciler.sandbox import Faults, RateLimit

from ..helpers import API_KEY, key_value, live_sandbox, sandbox, seed_data
from ..reliability_log import record

API = "https://api.electronhub.ai/v1"
FAST = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.01, total=30, timeout=5)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


class Recorder:
    """A fake transport answering from a script, recording every request."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):  # a transport failure, as httpx raises it
            raise answer
        return answer


LOOKUP = {
    "name": "n",
    "user_id": "u",
    "expires_at": -1,
    "allocated_ammount": 1.5,
    "used_ammount": 0.0,
    "is_active": True,
    "model_whitelist": [],
    "ip_whitelist": ["10.0.0.1"],
    "enabled_thinking": False,
    "created_at": 1,
    "last_used": None,
}


def fake_client(recorder: Recorder, **kw: Any) -> tuple[Client, list[float]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    c = Client(
        API_KEY, "https://api.example.test/v1", transport=httpx.MockTransport(recorder), sleep=sleep, **kw
    )
    return c, slept


@pytest.mark.slow
def test_lookup_in_process_and_over_a_socket(tmp_path: Path) -> None:
    async def lookup(c: Client) -> Any:
        async with c:
            return await c.lookup(ProxyKey(key_value(1)))

    box = sandbox()
    in_process = run(lookup(Client(API_KEY, "http://127.0.0.1/v1", transport=box.transport())))
    with live_sandbox(tmp_path) as base:
        over_socket = run(lookup(Client(API_KEY, base)))
    assert in_process == over_socket
    assert in_process.name == "key-1" and str(in_process.allocated_ammount) == "10.0"


class ImportSpy(importlib.abc.MetaPathFinder):
    """Records every module the import system has to search for (a failed import included)."""

    def __init__(self) -> None:
        self.searched: list[str] = []

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        self.searched.append(name)


@pytest.mark.slow  # a sandbox process
def test_requests_over_a_socket_search_for_no_module(tmp_path: Path) -> None:
    """Without sniffio, httpcore retries a failed `import sniffio` for every lock it makes:
    several path searches per request, a quarter of a plan's CPU (httpcore#1103)."""

    async def lookups(c: Client, spy: ImportSpy) -> None:
        async with c:
            await c.lookup(ProxyKey(key_value(0)))  # first use may import lazily: that is fine
            sys.meta_path.insert(0, spy)
            try:
                await asyncio.gather(*(c.lookup(ProxyKey(key_value(i % 3))) for i in range(12)))
            finally:
                sys.meta_path.remove(spy)

    spy = ImportSpy()
    with live_sandbox(tmp_path) as base:
        run(lookups(Client(API_KEY, base, parallelism=4), spy))
    assert spy.searched == []


@pytest.mark.parametrize("parallelism", [1, 5, 32])
def test_requests_in_flight_reach_the_parallelism_and_never_pass_it(parallelism: int) -> None:
    flight = {"now": 0, "most": 0}

    async def answer(request: httpx.Request) -> httpx.Response:
        flight["now"] += 1
        flight["most"] = max(flight["most"], flight["now"])
        await asyncio.sleep(0.002)
        flight["now"] -= 1
        return httpx.Response(200, json={**LOOKUP, "key": json.loads(request.content)["proxy_key"]})

    async def go() -> None:
        transport = httpx.MockTransport(answer)
        async with Client(API_KEY, API, transport=transport, parallelism=parallelism) as c:
            await asyncio.gather(*(c.lookup(ProxyKey(key_value(i))) for i in range(3 * parallelism + 7)))

    run(go())
    assert flight["most"] == parallelism


def test_only_static_urls_a_descriptive_agent_and_no_secret_in_urls() -> None:
    rec = Recorder(httpx.Response(200, json={**LOOKUP, "key": "ek-proxy-secret-in-body-only"}))
    c, _ = fake_client(rec)
    run(c.lookup(ProxyKey("ek-proxy-secret-in-body-only")))
    request = rec.requests[0]
    assert request.url.path == "/v1/auth/proxy/lookup" and request.method == "POST"
    assert "secret" not in str(request.url)
    assert request.headers["user-agent"].startswith("ehkeys/")


def test_429_with_retry_after_waits_that_long() -> None:
    rec = Recorder(
        httpx.Response(429, headers={"Retry-After": "7"}, json={"error": {"message": "slow down"}}),
        httpx.Response(200, json=LOOKUP),
    )
    c, slept = fake_client(rec, retry=FAST)
    assert run(c.lookup(ProxyKey("ek-proxy-abcd"))).name == "n"
    assert len(rec.requests) == 2 and 7 <= slept[0] < 7.5


@pytest.mark.slow
def test_429_without_retry_after_waits_for_the_rate_limit_reset() -> None:
    reset = f"{time.time() + 2:.3f}"
    rec = Recorder(
        httpx.Response(429, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}, json={}),
        httpx.Response(200, json=LOOKUP),
    )
    c, slept = fake_client(rec, retry=FAST)
    run(c.lookup(ProxyKey("ek-proxy-abcd")))
    assert 1.5 <= slept[0] <= 2.5


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (httpx.Response(404, json={"error": {"message": "Proxy key not found"}}), api.NotFound),
        (httpx.Response(403, json={"error": {"message": "not yours"}}), api.NotYours),
        (httpx.Response(401, json={"error": {"message": "Invalid API key"}}), api.AuthError),
        (httpx.Response(422, json={"detail": "bad"}), api.InvalidRequest),
        (httpx.Response(402, json={"error": {"message": "Insufficient Balance"}}), api.InsufficientBalance),
    ],
)
def test_other_4xx_are_not_retried(answer: httpx.Response, error: type[Exception]) -> None:
    rec = Recorder(answer)
    c, _ = fake_client(rec, retry=FAST)
    with pytest.raises(error):
        run(c.lookup(ProxyKey("ek-proxy-abcd")))
    assert len(rec.requests) == 1


def test_5xx_and_html_are_retried_then_reported_clearly() -> None:
    page = httpx.Response(200, text="<html>Just a moment...</html>", headers={"content-type": "text/html"})
    rec = Recorder(httpx.Response(502, text="bad gateway"), page)
    c, slept = fake_client(rec, retry=FAST)
    with pytest.raises(api.BadResponse, match="expected JSON, got an HTML page"):
        run(c.lookup(ProxyKey("ek-proxy-abcd")))
    assert len(rec.requests) == FAST.attempts and len(slept) == FAST.attempts - 1


def test_an_answer_nested_deeper_than_json_parses_is_a_bad_response_not_a_crash() -> None:
    nested = b"[" * 100_000 + b"]" * 100_000  # json's parser recurses once a level
    rec = Recorder(httpx.Response(200, content=nested, headers={"content-type": "application/json"}))
    c, _ = fake_client(rec, retry=FAST)
    with pytest.raises(api.BadResponse, match="HTTP 200: JSON nested too deeply to read"):
        run(c.lookup(ProxyKey("ek-proxy-abcd")))
    assert len(rec.requests) == FAST.attempts  # tried again, as any answer that cannot be read


def test_server_messages_are_cut_short_and_scrubbed() -> None:
    message = "key ek-proxy-leakedsecret1234 is bad " + "x" * 500
    rec = Recorder(httpx.Response(400, json={"error": {"message": message}}))
    c, _ = fake_client(rec)
    with pytest.raises(api.InvalidRequest) as caught:
        run(c.lookup(ProxyKey("ek-proxy-abcd")))
    assert "leakedsecret" not in str(caught.value) and "ek-proxy-…1234" in str(caught.value)
    assert len(str(caught.value)) < 260


@pytest.mark.parametrize(
    "payload",
    [
        [1, 2],
        {**LOOKUP, "allocated_ammount": "lots"},
        {**LOOKUP, "expires_at": True},
        {**LOOKUP, "ip_whitelist": ["not-an-ip"]},
        {**LOOKUP, "model_whitelist": "gpt-4o"},
        {k: v for k, v in LOOKUP.items() if k != "name"},
        {**LOOKUP, "key": "ek-proxy-abcd\nLD_PRELOAD=/tmp/evil.so"},  # a line of an env file
        {**LOOKUP, "key": "ek-proxy-ab cd"},
    ],
)
def test_answers_off_the_documented_shape_are_bad_responses(payload: Any) -> None:
    c, _ = fake_client(Recorder(httpx.Response(200, json=payload)))
    with pytest.raises(api.BadResponse):
        run(c.lookup(ProxyKey("ek-proxy-abcd")))


def test_huge_answers_are_refused_without_retrying() -> None:
    rec = Recorder(httpx.Response(200, content=b"[" + b"1," * (3 * 1024 * 1024) + b"1]"))
    c, _ = fake_client(rec, retry=FAST)
    with pytest.raises(api.TooLarge):
        run(c.lookup(ProxyKey("ek-proxy-abcd")))
    assert len(rec.requests) == 1
    record("input", "a 6 MB API answer", 1, "refused after 4 MB read (TooLarge), not retried")


def test_redirects_are_not_followed() -> None:
    rec = Recorder(httpx.Response(302, headers={"Location": "https://elsewhere.test/steal"}))
    c, _ = fake_client(rec, retry=FAST)
    with pytest.raises(api.ApiError, match="redirect"):
        run(c.balance())
    assert len(rec.requests) == 1


@pytest.mark.slow
def test_the_pacer_never_fires_into_a_429() -> None:
    box = sandbox(rate=RateLimit(requests=5, window_s=1))

    async def many() -> None:
        async with Client(API_KEY, "http://127.0.0.1/v1", transport=box.transport(), parallelism=8) as c:
            await asyncio.gather(*(c.lookup(ProxyKey(key_value(i % 3))) for i in range(12)))

    run(many())
    assert box.app.counts["429"] == 0 and box.app.limiter.rejected == 0


def test_a_server_that_never_answers_is_a_clear_error_within_the_bound() -> None:
    box = sandbox(faults=Faults(hang_rate=1.0))
    policy = RetryPolicy(attempts=2, base_delay=0.01, timeout=0.3, total=5)

    async def attempt() -> None:
        async with Client(API_KEY, "http://127.0.0.1/v1", transport=box.transport(), retry=policy) as c:
            await c.balance()

    started = time.monotonic()
    with pytest.raises(api.NetworkError, match="timed out"):
        run(attempt())
    assert time.monotonic() - started < 5


def test_dropped_connections_are_retried() -> None:
    box = sandbox(seed_data(1), faults=Faults(drop_rate=0.5, seed=3))

    async def lookups() -> int:
        async with Client(API_KEY, "http://127.0.0.1/v1", transport=box.transport(), retry=FAST) as c:
            for _ in range(10):
                await c.lookup(ProxyKey(key_value(0)))
            return c.retries

    assert run(lookups()) > 0 and box.app.counts["drop"] > 0
    record(
        "fault", "lookups over a connection that drops half the answers", 10, "retried; every lookup answered"
    )


@pytest.mark.slow
@pytest.mark.parametrize("retry_after", [True, False], ids=["with-retry-after", "reset-header-only"])
def test_a_429_from_the_sandbox_is_waited_out(retry_after: bool) -> None:
    """Another tool spent the account's budget: the sandbox answers 429 (and cools down)."""
    box = sandbox(rate=RateLimit(requests=2, window_s=1, cooldown_s=1, retry_after=retry_after))
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(seconds)

    async def go() -> str:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        async with httpx.AsyncClient(transport=box.transport(), base_url="http://127.0.0.1/v1") as other:
            for _ in range(3):  # the third one triggers the cooldown
                await other.get("/user/me", headers=headers)
        async with Client(API_KEY, "http://127.0.0.1/v1", transport=box.transport(), sleep=sleep) as c:
            return (await c.lookup(ProxyKey(key_value(0)))).name

    assert run(go()) == "key-0"
    # the cooldown's length, from the headers, and up to 0.25 s of jitter; X-RateLimit-Reset, in
    # whole seconds, is waited to the end of the second it names (up to one more)
    assert len(slept) >= 1 and 0.5 <= slept[0] <= (1.5 if retry_after else 2.3)
    assert box.app.counts["429"] >= 2  # the other tool's overrun and our first attempt


PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
PROXY_VARS += ("NO_PROXY", "no_proxy", "REQUEST_METHOD")


@pytest.mark.parametrize(
    ("env", "url", "want"),
    [
        ({}, API, None),
        ({"HTTPS_PROXY": "http://proxy.corp:3128"}, API, "http://proxy.corp:3128"),
        ({"https_proxy": "proxy.corp:3128"}, API, "http://proxy.corp:3128"),
        ({"ALL_PROXY": "socks5://proxy.corp:1080"}, API, "socks5://proxy.corp:1080"),
        ({"HTTP_PROXY": "http://proxy.corp:3128"}, API, None),  # http only: not for https
        ({"HTTPS_PROXY": "http://proxy.corp:3128", "NO_PROXY": "electronhub.ai"}, API, None),
        ({"HTTPS_PROXY": "http://proxy.corp:3128", "NO_PROXY": "*"}, API, None),
        ({"HTTP_PROXY": "http://proxy.corp:3128"}, "http://127.0.0.1:8899/v1", None),  # the sandbox
    ],
)
def test_the_environment_proxy_is_used_as_curl_would(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], url: str, want: str | None
) -> None:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert environment_proxy(url) == want


def test_requests_go_through_the_proxy_when_one_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    client = Client(API_KEY, API, parallelism=16)
    assert [type(t._pool).__name__ for t in client._transports] == ["AsyncHTTPProxy"] * 2  # type: ignore[attr-defined]


# --- rate-limit waits: bounded, announced once --------------------------------------------------


class FakeTime:
    """A wall clock that moves only when the client sleeps; records every sleep."""

    def __init__(self) -> None:
        self.now = time.time()
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def paced_client(t: FakeTime, recorder: Recorder, **kw: Any) -> Client:
    transport = httpx.MockTransport(recorder)
    return Client(API_KEY, API, transport=transport, sleep=t.sleep, clock=t.clock, **kw)


def spent(reset: str) -> httpx.Response:
    """A lookup answer that spends the budget, with `reset` as its X-RateLimit-Reset."""
    return httpx.Response(
        200, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}, json=LOOKUP
    )


ABSURD_RESETS = {
    "nan": lambda now: "nan",
    "inf": lambda now: "inf",
    "milliseconds": lambda now: f"{(now + 30) * 1000:.0f}",
    "two hours ahead": lambda now: f"{now + 7200:.3f}",
    "two hours past": lambda now: f"{now - 7200:.3f}",
    "not a number": lambda now: "soon",
}


@pytest.mark.parametrize("kind", list(ABSURD_RESETS))
def test_an_absurd_rate_limit_reset_counts_as_unknown_and_waits_one_window(kind: str) -> None:
    t = FakeTime()
    rec = Recorder(spent(ABSURD_RESETS[kind](t.now)))

    async def two_lookups() -> None:
        async with paced_client(t, rec) as c:
            for _ in range(2):
                await c.lookup(ProxyKey("ek-proxy-abcd"))

    run(asyncio.wait_for(two_lookups(), 10))  # today: minutes, years, or forever
    assert t.slept == [60.0] and len(rec.requests) == 2
    record("answer", f"X-RateLimit-Reset {kind} with the budget spent", 1, "unknown: one 60 s window")


def test_a_rate_limit_wait_never_passes_the_request_deadline() -> None:
    """A server clock 10 minutes ahead: the reset is plausible, but past the deadline."""
    t = FakeTime()
    rec = Recorder(spent(f"{t.now + 600:.3f}"))

    async def two_lookups() -> None:
        async with paced_client(t, rec, retry=RetryPolicy(total=120)) as c:
            await c.lookup(ProxyKey("ek-proxy-abcd"))
            await c.lookup(ProxyKey("ek-proxy-abcd"))

    with pytest.raises(api.NotSent, match=r"rate limit resets in 600 s, after this request's deadline"):
        run(asyncio.wait_for(two_lookups(), 10))
    assert t.slept == [] and len(rec.requests) == 1
    record(
        "answer", "X-RateLimit-Reset 10 min ahead (clock skew), 120 s deadline", 1, "NotSent at once, no wait"
    )


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e308"])
def test_a_429_with_an_absurd_retry_after_backs_off_as_usual(value: str) -> None:
    rec = Recorder(
        httpx.Response(429, headers={"Retry-After": value}, json={}), httpx.Response(200, json=LOOKUP)
    )
    c, slept = fake_client(rec, retry=FAST)
    assert run(c.lookup(ProxyKey("ek-proxy-abcd"))).name == "n"
    assert len(slept) == 1 and 0 < slept[0] <= FAST.max_delay
    record("answer", f"429 with Retry-After: {value}", 1, "ignored: the usual backoff, then answered")


def test_a_long_storm_of_429s_with_retry_after_0_is_retried_for_every_attempt_allowed() -> None:
    """`--max-attempts 2000` against a proxy answering `Retry-After: 0`: the backoff, computed
    beside the wait, overflowed a float at the 1025th attempt (an internal error)."""
    storm = [httpx.Response(429, headers={"Retry-After": "0"}, json={}) for _ in range(1100)]
    rec = Recorder(*storm, httpx.Response(200, json=LOOKUP))
    c, slept = fake_client(rec, retry=RetryPolicy(attempts=2000, total=300))
    assert run(c.lookup(ProxyKey("ek-proxy-abcd"))).name == "n"
    assert len(rec.requests) == 1101 and max(slept) < 1


@pytest.mark.parametrize(
    ("spelling", "unit"), [("{:.0f}", 1.0), ("{:.3f}", 0.001)], ids=["whole-seconds", "milliseconds"]
)
def test_a_spent_budget_waits_until_the_end_of_the_unit_its_reset_is_written_in(
    spelling: str, unit: float
) -> None:
    """rate-limits.mdx writes the reset in whole seconds: rounded down, the window ends up to
    a second later than it says, and a request sent at the stated second would meet a 429
    (and the real service's 180 s cooldown)."""
    t = FakeTime()
    t.now = float(math.floor(t.now))
    rec = Recorder(spent(spelling.format(t.now + 30)))

    async def two_lookups() -> None:
        async with paced_client(t, rec) as c:
            for _ in range(2):
                await c.lookup(ProxyKey("ek-proxy-abcd"))

    run(asyncio.wait_for(two_lookups(), 10))
    assert t.slept == [pytest.approx(30 + unit, abs=1e-6)] and len(rec.requests) == 2


@pytest.mark.parametrize(
    ("reset", "wait"), [("1000", 11.0), ("1000.5", 10.6), ("1000.250", 10.251), ("1e3", 11.0), ("999", 10.0)]
)
def test_a_429_waits_for_the_end_of_the_stated_reset(reset: str, wait: float) -> None:
    headers = httpx.Headers({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset})
    assert wait_hint(headers, 990.0, use_reset=True) == pytest.approx(wait)


def test_a_long_rate_limit_wait_is_announced_once_not_per_request() -> None:
    t = FakeTime()
    t.now = float(math.floor(t.now))  # the notice's second is the reset's, to the millisecond
    reset = t.now + 42
    said: list[str] = []
    rec = Recorder(spent(f"{reset:.3f}"))

    async def lookups() -> None:
        async with paced_client(t, rec, notify=said.append) as c:
            await asyncio.gather(*(c.lookup(ProxyKey("ek-proxy-abcd")) for _ in range(8)))

    run(asyncio.wait_for(lookups(), 10))
    at = time.strftime("%H:%M:%S", time.localtime(reset))
    assert said == [f"waiting 42 s for the API's rate limit (resets at {at})"]
    assert len(rec.requests) == 8


# --- a silent API: the client-wide breaker ------------------------------------------------------


def test_a_silent_api_stops_every_request_after_three_unanswered_attempts() -> None:
    box = sandbox(seed_data(20), faults=Faults(hang_rate=1.0))
    policy = RetryPolicy(timeout=0.2)  # 6 attempts each, as by default

    async def lookups() -> list[Any]:
        async with Client(API_KEY, "http://127.0.0.1/v1", transport=box.transport(), retry=policy) as c:
            work = (c.lookup(ProxyKey(key_value(i))) for i in range(20))
            return await asyncio.gather(*work, return_exceptions=True)

    errors = run(lookups())
    assert all(isinstance(e, api.NetworkError) for e in errors)
    assert sum(isinstance(e, api.Unreachable) for e in errors) >= 12
    assert "has not answered 3 attempts in a row" in str(
        next(e for e in errors if isinstance(e, api.Unreachable))
    )
    assert box.app.counts["hang"] <= 10  # the probe and one round of 8, not 6 attempts of 20
    record(
        "fault",
        "20 lookups (parallelism 8, 6 attempts) against a server that never answers",
        20,
        f"stopped after {box.app.counts['hang']} unanswered attempts, not 120",
    )


# --- errors name the request ---------------------------------------------------------------------


def test_errors_name_the_request_and_a_base_url_without_v1_gets_a_hint() -> None:
    box = sandbox()

    async def balance(base: str, key: str = API_KEY) -> None:
        async with Client(key, base, transport=box.transport()) as c:
            await c.balance()

    with pytest.raises(api.NotFound) as caught:
        run(balance("http://127.0.0.1"))
    assert str(caught.value).startswith("GET /user/me: HTTP 404")
    assert str(caught.value).endswith("is the base URL right? ElectronHub's ends in /v1")
    with pytest.raises(api.AuthError) as caught:
        run(balance("http://127.0.0.1/v1", "ek-not-the-right-key"))
    assert str(caught.value).startswith("GET /user/me: HTTP 401")
    assert "check ELECTRONHUB_API_KEY" in str(caught.value)
    record("cli", "a base URL without /v1; a wrong account key", 2, "the request named, with what to check")


def test_a_key_specific_404_has_no_base_url_hint() -> None:
    rec = Recorder(httpx.Response(404, json={"error": {"message": "Proxy key not found"}}))
    c = Client(API_KEY, "https://api.example.test/api", transport=httpx.MockTransport(rec))
    with pytest.raises(api.NotFound) as caught:
        run(c.lookup(ProxyKey("ek-proxy-abcd")))
    assert str(caught.value) == "POST /auth/proxy/lookup: HTTP 404: Proxy key not found"
    assert caught.value.message == "HTTP 404: Proxy key not found"  # what a plan's key row shows


def test_a_lookup_answer_for_another_key_is_refused_not_retried() -> None:
    rec = Recorder(httpx.Response(200, json={**LOOKUP, "key": "ek-proxy-someone-else-9999"}))
    c, _ = fake_client(rec, retry=FAST)
    with pytest.raises(api.BadResponse, match="lookup answer is for another key"):
        run(c.lookup(ProxyKey("ek-proxy-abcd")))
    assert len(rec.requests) == 1
    record("answer", "a lookup answered for another key than the one asked", 1, "BadResponse, not retried")


# --- money goes out exact ------------------------------------------------------------------------


def test_money_goes_out_as_exact_json_numbers() -> None:
    big = Decimal(2**53 + 1) / 100  # 90071992547409.93: no binary float has it
    rec = Recorder(httpx.Response(200, json={"message": "Proxy key updated"}))
    c, _ = fake_client(rec)
    body = {"proxy_key": "ek-proxy-abcd", "name": "n", "expires_at": -1, "limit_type": "daily"}
    run(c.update({**body, "allocated_ammount": big, "model_whitelist": [], "ip_whitelist": []}))
    run(c.update({**body, "allocated_ammount": Decimal("0.10")}))
    sent = [json.loads(r.content, parse_float=Decimal)["allocated_ammount"] for r in rec.requests]
    assert sent == [big, Decimal("0.10")]
    assert b'"allocated_ammount": 90071992547409.93' in rec.requests[0].content
    record("input", "an allocation above 2^53 cents in an update body", 1, "sent as its exact digits")


# --- the key lifecycle: create, toggle, remove ---------------------------------------------------


NEW_KEY = {**LOOKUP, "key": "ek-proxy-newly-made-secret-0042"}
del NEW_KEY["user_id"], NEW_KEY["enabled_thinking"]
CREATE_BODY = {"name": "n", "expires_at": -1, "allocated_ammount": Decimal("12.50")}


def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


FAILURES: dict[str, tuple[Any, type[api.ApiError], bool]] = {
    # what went wrong: (the fake's answer, the error, whether it proves nothing was done)
    "connection refused": (httpx.ConnectError("[Errno 111] Connection refused"), api.NotSent, True),
    "connect timeout": (httpx.ConnectTimeout("timed out"), api.NotSent, True),
    "429": (httpx.Response(429, json={"error": {"message": "slow down"}}), api.RateLimited, True),
    "read timeout": (httpx.ReadTimeout("timed out"), api.AnswerLost, False),
    "dropped mid-answer": (httpx.RemoteProtocolError("Server disconnected"), api.AnswerLost, False),
    "500": (httpx.Response(500, json={"error": {"message": "oops"}}), api.ServerError, False),
    "HTML page": (
        httpx.Response(200, text="<html>", headers={"content-type": "text/html"}),
        api.BadResponse,
        False,
    ),
}


@pytest.mark.parametrize("what", list(FAILURES))
def test_create_is_retried_only_when_it_provably_did_nothing(what: str) -> None:
    failure, error, did_nothing = FAILURES[what]
    rec = Recorder(failure, httpx.Response(201, json=NEW_KEY))
    c, _ = fake_client(rec, retry=FAST)
    if did_nothing:
        assert run(c.create(CREATE_BODY))["key"] == NEW_KEY["key"]
        assert len(rec.requests) == 2
    else:
        with pytest.raises(error):
            run(c.create(CREATE_BODY))
        assert len(rec.requests) == 1
    record(
        "fault",
        f"create, first attempt: {what}",
        1,
        "retried" if did_nothing else f"not retried: {error.__name__}",
    )


@pytest.mark.parametrize("what", list(FAILURES))
def test_failures_are_told_apart_as_not_sent_or_answer_lost_and_updates_retried(what: str) -> None:
    failure, error, _ = FAILURES[what]
    rec = Recorder(failure)
    c, _ = fake_client(rec, retry=RetryPolicy(attempts=1))
    with pytest.raises(error):
        run(c.update({"proxy_key": "ek-proxy-abcd"}))
    rec = Recorder(failure, httpx.Response(200, json={"message": "Proxy key updated"}))
    c, _ = fake_client(rec, retry=FAST)
    run(c.update({"proxy_key": "ek-proxy-abcd"}))
    assert len(rec.requests) == 2


def test_create_answers_are_checked_and_the_new_key_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    rec = Recorder(httpx.Response(201, json=NEW_KEY))
    c, _ = fake_client(rec)
    made = run(c.create(CREATE_BODY))
    assert made["key"] == NEW_KEY["key"] and made["name"] == "n"
    assert json.loads(rec.requests[0].content, parse_float=Decimal)["allocated_ammount"] == Decimal("12.50")
    assert "newly-made" not in caplog.text
    for answer in ({**NEW_KEY, "key": None}, {**NEW_KEY, "key": "sk-other"}, [NEW_KEY]):
        c, _ = fake_client(Recorder(httpx.Response(201, json=answer)))
        with pytest.raises(api.BadResponse, match="POST /auth/proxy/create: the answer has no new proxy key"):
            run(c.create(CREATE_BODY))


def test_toggle_returns_the_new_state_and_is_never_resent_after_a_lost_answer() -> None:
    for status in (True, False):
        rec = Recorder(httpx.Response(200, json={"message": "Proxy key status updated", "status": status}))
        c, _ = fake_client(rec)
        assert run(c.toggle(ProxyKey("ek-proxy-abcd"))) is status
        assert json.loads(rec.requests[0].content) == {"proxy_key": "ek-proxy-abcd"}
    for answer in ({"message": "ok", "status": "true"}, {"message": "ok"}, [True]):
        c, _ = fake_client(Recorder(httpx.Response(200, json=answer)))
        with pytest.raises(api.BadResponse, match="no true/false 'status'"):
            run(c.toggle(ProxyKey("ek-proxy-abcd")))
    rec = Recorder(httpx.ReadTimeout("timed out"), httpx.Response(200, json={"message": "m", "status": True}))
    c, _ = fake_client(rec, retry=FAST)
    with pytest.raises(api.AnswerLost):
        run(c.toggle(ProxyKey("ek-proxy-abcd")))
    assert len(rec.requests) == 1  # a second toggle would flip it back


def test_remove_treats_a_404_after_a_lost_answer_as_done() -> None:
    gone = httpx.Response(404, json={"error": {"message": "Proxy key not found"}})
    rec = Recorder(httpx.Response(200, json={"message": "Proxy key deleted"}))
    c, _ = fake_client(rec)
    assert run(c.remove(ProxyKey("ek-proxy-abcd"))) is None
    assert rec.requests[0].url.path == "/v1/auth/proxy/remove"
    c, _ = fake_client(Recorder(gone))
    with pytest.raises(api.NotFound):  # it never existed, or someone else removed it
        run(c.remove(ProxyKey("ek-proxy-abcd")))
    rec = Recorder(httpx.RemoteProtocolError("Server disconnected"), gone)
    c, _ = fake_client(rec, retry=FAST)
    assert run(c.remove(ProxyKey("ek-proxy-abcd"))) is None  # the first attempt removed it
    assert len(rec.requests) == 2
    record(
        "fault", "remove whose answer is lost, then 404 on the retry", 1, "done: the first attempt removed it"
    )


def test_in_flight_names_the_writes_awaiting_an_answer_redacted() -> None:
    arrived, release = asyncio.Event(), asyncio.Event()
    seen: list[list[str]] = []

    async def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/update"):
            arrived.set()
            await release.wait()
            return httpx.Response(200, json={"message": "Proxy key updated"})
        return httpx.Response(200, json={**LOOKUP, "key": "ek-proxy-secret-value-wxyz"})

    async def go() -> None:
        async with Client(API_KEY, API, transport=httpx.MockTransport(answer)) as c:
            update = asyncio.ensure_future(c.update({"proxy_key": "ek-proxy-secret-value-abcd"}))
            await arrived.wait()
            await c.lookup(ProxyKey("ek-proxy-secret-value-wxyz"))  # a read: never listed
            seen.append(c.in_flight())
            release.set()
            await update
            seen.append(c.in_flight())

    run(go())
    assert seen == [["POST /auth/proxy/update (ek-proxy-…abcd)"], []]


def test_rate_limit_headers_a_proxy_repeats_still_pace() -> None:
    """A proxy that adds the X-RateLimit-* headers again: HTTP joins a repeated field's values
    with commas ("0, 0"). Read as no header, the budget was unknown and the pacer fired the next
    request at once, into the 429 and the service's 180 s cooldown."""
    t = FakeTime()
    t.now = float(math.floor(t.now))
    reset = f"{t.now + 30:.0f}"
    doubled = [("X-RateLimit-Remaining", "0"), ("X-RateLimit-Remaining", "0")]
    rec = Recorder(
        httpx.Response(200, headers=[*doubled, ("X-RateLimit-Reset", f"{reset}, {reset}")], json=LOOKUP)
    )

    async def two_lookups() -> None:
        async with paced_client(t, rec) as c:
            for _ in range(2):
                await c.lookup(ProxyKey("ek-proxy-abcd"))

    run(asyncio.wait_for(two_lookups(), 10))
    assert t.slept == [pytest.approx(31.0, abs=1e-6)] and len(rec.requests) == 2


@pytest.mark.parametrize(
    ("reset", "wait"),
    [
        ("1000, 1000", 11.0),
        ("1030, 1000", 41.0),
        ("1000, 1000.250", 11.0),
        ("1000, soon", None),
        ("1000,", None),
    ],
    ids=["repeated", "the-later-one", "mixed-units", "one-not-a-number", "one-empty"],
)
def test_a_429_with_a_repeated_reset_waits_for_the_latest(reset: str, wait: float | None) -> None:
    headers = httpx.Headers({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset})
    assert wait_hint(headers, 990.0, use_reset=True) == (None if wait is None else pytest.approx(wait))


def test_a_reset_written_past_a_float_s_precision_still_waits_past_it() -> None:
    """1790000030.1234568 is read as the nearest float, 1.2e-7 s either way (here before), and
    the tenth of a microsecond added to it was lost: the wait ended before the stated reset."""
    stated = "1790000030.1234568"
    headers = httpx.Headers({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": stated})
    wait = wait_hint(headers, 1790000000.0, use_reset=True)
    assert wait is not None and Decimal(1790000000) + Decimal(wait) >= Decimal(stated) + Decimal("1e-7")
