"""The sandbox against the API documentation (tests/api-docs: copies of shared/electronhub-api)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from reconciler.sandbox import RateLimit, listen
from reconciler.sandbox.gate import SlidingWindow
from reconciler.sandbox.store import credit_change

from ..helpers import API_KEY, ROOT, key_value, live_sandbox, sandbox, seed_data

DOCS = ROOT / "tests" / "api-docs"
DOC_KEY = "ek-proxy-1234567890abcdef"


def client(**kw: Any) -> TestClient:
    box = sandbox(**kw)
    return TestClient(box.app, base_url="http://127.0.0.1/v1")


def auth(key: str = API_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# --- the docs' examples (their curl commands: test_docs_curl.py) ------------------------------


def test_docs_common_update_scenarios_are_accepted() -> None:
    text = (DOCS / "proxy-update.txt").read_text()
    section = text.split("Common Update Scenarios")[1].split("Error Codes")[0]
    bodies = [json.loads(b) for b in re.findall(r"^\{\n.*?^\}", section, flags=re.S | re.M)]
    assert len(bodies) == 4
    data = __import__("yaml").safe_load((ROOT / "reconciler/sandbox/demo_seed.yaml").read_text())
    with client(data=data) as c:
        for body in bodies:
            r = c.post("/auth/proxy/update", json=body, headers=auth("ek-sandbox-demo-key"))
            assert r.json() == {"message": "Proxy key updated"}
            got = c.post(
                "/auth/proxy/lookup", json={"proxy_key": DOC_KEY}, headers=auth("ek-sandbox-demo-key")
            ).json()
            assert got["allocated_ammount"] == body["allocated_ammount"]
            assert got["ip_whitelist"] == body["ip_whitelist"]


# --- one test per row of the docs' error tables ----------------------------------------------


def update(**fields: Any) -> dict[str, Any]:
    """A valid update body for key-0, with `fields` changed (None removes a field)."""
    body = {"proxy_key": key_value(0), "name": "n", "expires_at": -1, "allocated_ammount": 1, **fields}
    return {k: v for k, v in body.items() if v is not None}


LOOKUP = {"proxy_key": key_value(0)}
ERROR_ROWS = [
    # (endpoint, headers, body, status): one per row of the docs' error tables, and per rule
    ("lookup", {}, LOOKUP, 401),
    ("lookup", auth("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"), LOOKUP, 401),
    ("lookup", auth(key_value(0)), LOOKUP, 401),
    ("lookup", auth("ek-unknown-key"), LOOKUP, 401),
    ("lookup", {"Authorization": "Token " + API_KEY}, LOOKUP, 401),
    ("lookup", auth(), {"proxy_key": "ek-proxy-someone-elses-key"}, 403),
    ("lookup", auth(), {"proxy_key": "ek-proxy-no-such-key"}, 404),
    ("lookup", auth(), {}, 422),
    ("lookup", auth(), {"proxy_key": ""}, 422),
    ("lookup", auth(), {"proxy_key": "x" * 257}, 422),
    ("update", auth(), update(name=""), 400),
    ("update", auth(), update(name="n" * 26), 400),
    ("update", auth(), update(allocated_ammount=-1), 400),
    ("update", auth(), update(allocated_ammount=10001), 400),
    ("update", auth(), update(expires_at=-2), 400),
    ("update", auth(), update(expires_at="soon"), 400),
    ("update", auth(), update(limit_type="hourly"), 400),
    ("update", auth(), update(ip_whitelist=["300.0.0.1"]), 400),
    ("update", auth(), update(model_whitelist="gpt-4o"), 400),
    ("update", auth(), {**update(), "model_whitelist": None}, 400),  # left out is [], null is no list
    ("update", auth(), {**update(), "ip_whitelist": None}, 400),
    ("update", auth(), {**update(), "limit_type": None}, 400),  # left out is daily, null no window
    ("update", auth(), update(expires_at=2**63), 400),  # more than SQLite holds
    ("update", {}, update(), 401),
    ("update", auth(), update(proxy_key="ek-proxy-someone-elses-key"), 403),
    ("update", auth(), update(proxy_key="ek-proxy-no-such-key"), 404),
    ("update", auth(), update(name=None), 422),
    ("update", auth(), update(proxy_key=None), 422),
    ("update", auth(), update(allocated_ammount=5000), 402),
]


@pytest.mark.parametrize(("endpoint", "headers", "body", "status"), ERROR_ROWS)
def test_error_table_rows(endpoint: str, headers: dict[str, str], body: dict[str, Any], status: int) -> None:
    with client() as c:
        r = c.post(f"/auth/proxy/{endpoint}", json=body, headers=headers)
        assert r.status_code == status
        error = r.json()["error"]
        assert error["code"] == status and error["param"] is None and error["message"]
        assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"} <= set(r.headers)
        assert r.headers["x-ratelimit-reset"].isdigit()  # whole epoch seconds, as rate-limits.mdx shows
        after = c.post("/auth/proxy/lookup", json={"proxy_key": key_value(0)}, headers=auth()).json()
        assert after["name"] == "key-0" and after["allocated_ammount"] == 10.0  # nothing changed


@pytest.mark.parametrize("endpoint", ["lookup", "update"])
def test_rate_limit_row_429(endpoint: str) -> None:
    with client(rate=RateLimit(requests=2, window_s=60)) as c:
        body = {"proxy_key": key_value(0), "name": "n", "expires_at": -1, "allocated_ammount": 10}
        codes = [c.post(f"/auth/proxy/{endpoint}", json=body, headers=auth()).status_code for _ in range(3)]
        assert codes[:2] == [200, 200] and codes[2] == 429


def test_cooldown_answers_429_to_everything_and_headers_say_when() -> None:
    clock = [1000.0]
    box = sandbox(rate=RateLimit(requests=1, window_s=10, cooldown_s=180, retry_after=True))
    box.app.limiter.clock = lambda: clock[0]
    with TestClient(box.app, base_url="http://127.0.0.1/v1") as c:
        assert c.get("/user/me", headers=auth()).status_code == 200
        over = c.get("/user/me", headers=auth())
        assert over.status_code == 429 and over.headers["retry-after"] == "180"
        clock[0] += 60  # the window has passed, the cooldown has not
        still = c.get("/user/me", headers=auth())
        assert still.status_code == 429 and still.headers["x-ratelimit-reset"] == "1180"
        clock[0] += 121
        assert c.get("/user/me", headers=auth()).status_code == 200


def test_no_retry_after_unless_configured() -> None:
    with client(rate=RateLimit(requests=1, window_s=60)) as c:
        c.get("/user/me", headers=auth())
        assert "retry-after" not in c.get("/user/me", headers=auth()).headers


def test_update_replaces_everything_and_omitted_fields_reset() -> None:
    with client() as c:
        body = {
            "proxy_key": key_value(0),
            "name": "renamed",
            "expires_at": 2000000000,
            "allocated_ammount": 10,
        }
        assert c.post("/auth/proxy/update", json=body, headers=auth()).status_code == 200
        got = c.post("/auth/proxy/lookup", json={"proxy_key": key_value(0)}, headers=auth()).json()
        assert got["model_whitelist"] == [] and got["ip_whitelist"] == []  # omitted: all
        assert "limit_type" not in got
        assert set(got) == {
            "name",
            "key",
            "user_id",
            "expires_at",
            "allocated_ammount",
            "used_ammount",
            "is_active",
            "model_whitelist",
            "ip_whitelist",
            "enabled_thinking",
            "created_at",
            "last_used",
        }


def test_legacy_routes_list_and_me() -> None:
    with client() as c:
        assert c.get(f"/auth/proxy/{key_value(1)}", headers=auth()).json()["name"] == "key-1"
        body = {"name": "legacy", "expires_at": -1, "allocated_ammount": 10}
        assert c.post(f"/auth/proxy/update/{key_value(1)}", json=body, headers=auth()).status_code == 200
        listed = c.get("/auth/proxy", headers=auth()).json()
        assert [k["name"] for k in listed] == ["key-0", "legacy", "key-2"]
        assert c.get("/user/me", headers=auth()).json()["credits"] == 1000.0


def test_html_fault_is_a_200_challenge_page() -> None:
    from reconciler.sandbox import Faults

    with client(faults=Faults(html_rate=1.0)) as c:
        r = c.get("/user/me", headers=auth())
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")


# --- money -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_concurrent_updates_conserve_credits_exactly(tmp_path: Path) -> None:
    """200 concurrent updates over a real socket: balance + allocations is conserved (used 0)."""
    data = seed_data(4, balance=5000.0, used_ammount=0)
    amounts = [Decimal(a) / 4 for a in range(1, 201)]

    async def hammer(base: str) -> list[int]:
        async with httpx.AsyncClient(base_url=base, headers=auth(), timeout=60) as http:
            bodies = [
                {
                    "proxy_key": key_value(i % 4),
                    "name": f"n{i}",
                    "expires_at": -1,
                    "allocated_ammount": float(a),
                }
                for i, a in enumerate(amounts)
            ]
            answers = await asyncio.gather(*(http.post("/auth/proxy/update", json=b) for b in bodies))
            return [r.status_code for r in answers]

    with live_sandbox(tmp_path, data, "--rate-limit", "10000/60") as base:
        codes = asyncio.run(hammer(base))
        with httpx.Client(base_url=base, headers=auth()) as http:
            keys = [k for k in http.get("/auth/proxy").json()]
            balance = Decimal(str(http.get("/user/me").json()["credits"]))
    assert codes == [200] * 200
    total = balance + sum(Decimal(str(k["allocated_ammount"])) for k in keys)
    assert total == Decimal(5000) + 4 * Decimal(10)
    last = {k["key"]: k["name"] for k in keys}
    assert all(name.startswith("n") for name in last.values())  # every key took an update


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(
    start=st.decimals(min_value=0, max_value=500, places=2),
    used=st.decimals(min_value=0, max_value=600, places=2),
    targets=st.lists(st.decimals(min_value=0, max_value=900, places=2), min_size=1, max_size=5),
)
def test_credit_rules_follow_the_formula(start: Decimal, used: Decimal, targets: list[Decimal]) -> None:
    box = sandbox(seed_data(1, balance=1000.0, allocated_ammount=float(start), used_ammount=float(used)))
    balance, old = Decimal(1000), start
    with TestClient(box.app, base_url="http://127.0.0.1/v1") as c:
        for new in targets:
            body = {"proxy_key": key_value(0), "name": "k", "expires_at": -1, "allocated_ammount": float(new)}
            status = c.post("/auth/proxy/update", json=body, headers=auth()).status_code
            expected = -(new - old) if new >= old else min(old - new, max(old - used, Decimal(0)))
            if balance + expected < 0:
                assert status == 402
                continue
            assert status == 200
            balance, old = balance + expected, new
            got = c.get("/user/me", headers=auth()).json()["credits"]
            assert Decimal(str(got)) == balance
    assert credit_change(Decimal(10), Decimal(4), Decimal(8)) == Decimal(2)


@pytest.mark.parametrize(
    "seed_text",
    [
        "accounts: [{user_id: u}]\n",
        "accounts: [{user_id: u, api_key: ek-x}]\nrate_limit: {requests: lots}\n",
        "accounts: [{user_id: u, api_key: ek-x}]\nfaults: {earthquake_rate: 0.1}\n",
        "- not a mapping\n",
        "accounts: [{user_id: u, api_key: ek-x}]\nfaults: {error_rate: 3}\n",
        "accounts: [{user_id: u, api_key: ek-x}]\nrate_limit: {requests: 0}\n",
    ],
    ids=["missing-api-key", "bad-number", "unknown-fault", "not-a-mapping", "rate-over-1", "no-requests"],
)
def test_a_bad_seed_is_a_message_naming_the_file(tmp_path: Path, capsys: Any, seed_text: str) -> None:
    from reconciler.cli.main import main

    path = tmp_path / "bad-seed.yaml"
    path.write_text(seed_text)
    assert main(["sandbox", "--seed", str(path), "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert f"{path}: invalid seed" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--error-rate", "5"], "--error-rate 5: expected a share of requests, 0 to 1"),
        (["--html-rate", "nan"], "--html-rate nan: expected a share of requests, 0 to 1"),
        (["--latency-ms", "-5"], "--latency-ms -5: expected milliseconds, 0 to 3600000 (an hour)"),
        (["--latency-ms", "1e308"], "--latency-ms 1e+308: expected milliseconds, 0 to 3600000 (an hour)"),
        (["--jitter-ms", "inf"], "--jitter-ms inf: expected milliseconds, 0 to 3600000 (an hour)"),
        (["--rate-limit", "0/2"], "--rate-limit '0/2': expected at least 1 request per window"),
        (["--rate-limit", "20/0"], "--rate-limit '20/0': expected a window of more than 0 seconds"),
        (["--rate-limit", "abc"], "--rate-limit 'abc': expected N or N/SECONDS, like 20/2"),
        (["--cooldown", "-1"], "--cooldown -1: expected a cooldown of 0 seconds or more"),
        (["--error-rate", ".6", "--drop-rate", ".6"], "the fault rates add up to 1.2: expected at most 1"),
    ],
)
def test_sandbox_flags_out_of_range_are_refused_by_name(
    tmp_path: Path, capsys: Any, flags: list[str], message: str
) -> None:
    from reconciler.cli.main import main

    assert main(["sandbox", "--db", str(tmp_path / "s.db"), "--port", "0", *flags]) == 1
    assert f"ehkeys: error: {message}" in capsys.readouterr().err


def test_the_rate_limiter_forgets_idle_tokens_but_not_a_cooldown() -> None:
    """The limit is checked before auth, so garbage tokens must not pile up in memory."""
    now = [1000.0]
    limiter = SlidingWindow(RateLimit(requests=2, window_s=10, cooldown_s=300), clock=lambda: now[0])
    for _ in range(3):
        limiter.check(API_KEY)
    assert not limiter.check(API_KEY)[0]  # over the limit: cooling down
    most = 0
    for round_ in range(10):
        for i in range(1000):
            limiter.check(f"ek-garbage-{round_}-{i}")
            most = max(most, len(limiter.hits))
        now[0] += 11
    assert most < 3 * SlidingWindow.SWEEP_AT  # 10,000 tokens seen, never all held
    assert not limiter.check(API_KEY)[0]  # 110 s into a 300 s cooldown: still refused
    now[0] += 200
    assert limiter.check(API_KEY)[0]


def test_the_served_sandbox_sends_each_answer_without_waiting_for_an_ack() -> None:
    """`ehkeys sandbox` serves on the socket `listen` binds: every connection it accepts has
    Nagle's algorithm off, as asyncio sets for a socket it binds itself. With it on, each
    answer's body (written after its headers) waited for the client's delayed ACK: ~40 ms a
    request, 2,000 lookups at 32 in flight 2.5 s slower (bench scenario 1)."""
    sock = listen("127.0.0.1", 0)
    nodelay: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nodelay.append(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    async def connect_once() -> None:
        server = await asyncio.start_server(handle, sock=sock)
        async with server:
            reader, writer = await asyncio.open_connection(*sock.getsockname()[:2])
            await reader.read()
            writer.close()

    asyncio.run(connect_once())
    assert nodelay and nodelay[0] != 0
