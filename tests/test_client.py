"""The API client against the sandbox (in-process and over a socket) and hand-written fakes."""

from __future__ import annotations

import asyncio
import importlib.abc
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler import apierrors as api
from reconciler.client import Client, RetryPolicy, environment_proxy
from reconciler.model import ProxyKey
from reconciler.sandbox import Faults, RateLimit

from .helpers import API_KEY, key_value, live_sandbox, sandbox, seed_data
from .reliability_log import record

API = "https://api.electronhub.ai/v1"
FAST = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.01, total=30, timeout=5)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


class Recorder:
    """A fake transport answering from a script, recording every request."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


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
        return httpx.Response(200, json=LOOKUP)

    async def go() -> None:
        transport = httpx.MockTransport(answer)
        async with Client(API_KEY, API, transport=transport, parallelism=parallelism) as c:
            await asyncio.gather(*(c.lookup(ProxyKey(key_value(i))) for i in range(3 * parallelism + 7)))

    run(go())
    assert flight["most"] == parallelism


def test_only_static_urls_a_descriptive_agent_and_no_secret_in_urls() -> None:
    rec = Recorder(httpx.Response(200, json=LOOKUP))
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
    assert len(slept) >= 1 and 0.5 <= slept[0] <= 1.5  # the cooldown's length, from the headers
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
