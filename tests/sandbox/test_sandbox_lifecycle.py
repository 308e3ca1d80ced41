"""The sandbox's key lifecycle, as the docs describe it: create, toggle, remove, delete-all,
the tier's key cap, and the credits each one moves (exactly, also under concurrency)."""

from __future__ import annotations

import logging
import random
import re
import sqlite3
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from reconciler.core.errors import ConfigError
from reconciler.sandbox import Sandbox, seeds

from ..helpers import API_KEY, key_value, sandbox, seed_data

OTHERS = "ek-proxy-someone-elses-key"
NOW = 1_800_000_000  # the tests' sandbox clock (clock.start)


def data(n: int = 3, key_cap: int | None = None, tier: str | None = None, **fields: Any) -> dict[str, Any]:
    """seed_data with the sandbox clock at NOW, and the first account's tier or cap."""
    raw = {**seed_data(n, **fields), "clock": {"start": NOW}}
    extra = {"key_cap": key_cap, "tier": tier}
    raw["accounts"][0].update({k: v for k, v in extra.items() if v is not None})
    return raw


def client(raw: dict[str, Any] | None = None, db: str = ":memory:") -> tuple[Sandbox, TestClient]:
    box = sandbox(raw or data(), db=db)
    return box, TestClient(box.app, base_url="http://127.0.0.1/v1", headers=auth())


def auth(key: str = API_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def new_key(**fields: Any) -> dict[str, Any]:
    """A valid create body, with `fields` changed (None removes a field)."""
    body = {"name": "new", "expires_at": NOW + 86400, "allocated_ammount": 5, **fields}
    return {k: v for k, v in body.items() if v is not None}


def balance(box: Sandbox, user: str = "u1") -> Decimal:
    return Decimal(box.store.account(user)["balance"])


def allocations(box: Sandbox, user: str = "u1") -> Decimal:
    return sum((k["allocated_ammount"] for k in box.store.keys_of(user)), Decimal(0))


# --- create ------------------------------------------------------------------------------------


def test_create_answers_201_with_the_new_key_and_debits_its_allocation() -> None:
    box, c = client()
    body = new_key(allocated_ammount=12.34, model_whitelist=["gpt-4o"], ip_whitelist=["10.0.0.0/8"])
    r = c.post("/auth/proxy/create", json=body)
    assert r.status_code == 201
    got = r.json()
    assert set(got) == {*body, "key", "used_ammount", "is_active", "created_at", "last_used"}
    assert re.fullmatch(r"ek-proxy-[0-9a-f]{32}", got["key"])
    assert got["used_ammount"] == 0.0 and got["last_used"] is None and got["is_active"] is True
    assert NOW <= got["created_at"] <= NOW + 60
    assert balance(box) == Decimal(1000) - Decimal("12.34")  # exact, not 987.66000001
    assert c.post("/auth/proxy/lookup", json={"proxy_key": got["key"]}).json()["name"] == "new"


def test_created_keys_are_unguessable_and_never_reused() -> None:
    _, c = client()
    made = [c.post("/auth/proxy/create", json=new_key()).json()["key"] for _ in range(20)]
    assert len(set(made)) == 20
    assert len({k[-8:] for k in made}) == 20  # no counter: the tails differ too


def test_create_takes_no_limit_type_a_new_key_is_daily() -> None:
    box, c = client()
    key = c.post("/auth/proxy/create", json=new_key(limit_type="monthly")).json()["key"]
    assert box.store.key(key)["limit_type"] == "daily"  # write-only: lookup never shows it
    assert "limit_type" not in c.post("/auth/proxy/lookup", json={"proxy_key": key}).json()


def test_create_accepts_no_expiry_and_the_edges_of_the_rules() -> None:
    _, c = client(data(balance=20000.0))
    for body in (
        new_key(expires_at=-1),
        new_key(name="n" * 25, allocated_ammount=10000),
        new_key(allocated_ammount=0.01, ip_whitelist=["2001:db8::/32", "203.0.113.42"]),
    ):
        assert c.post("/auth/proxy/create", json=body).status_code == 201, body


CREATE_ROWS = [
    # (what, headers, body, status)
    ("no auth", {"Authorization": ""}, new_key(), 401),
    ("a JWT", auth("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"), new_key(), 401),
    ("a proxy key as bearer", auth(key_value(0)), new_key(), 401),
    ("an unknown key", auth("ek-unknown"), new_key(), 401),
    ("no name", {}, new_key(name=None), 422),
    ("no expires_at", {}, new_key(expires_at=None), 422),
    ("no allocation", {}, new_key(allocated_ammount=None), 422),
    ("a list body", {}, [new_key()], 422),
    ("an empty name", {}, new_key(name=""), 400),
    ("a 26-character name", {}, new_key(name="n" * 26), 400),
    ("a number for a name", {}, new_key(name=5), 400),
    ("an expiry in the past", {}, new_key(expires_at=NOW - 1), 400),
    ("an expiry of 0", {}, new_key(expires_at=0), 400),
    ("an expiry of -2", {}, new_key(expires_at=-2), 400),
    ("an expiry as text", {}, new_key(expires_at="tomorrow"), 400),
    ("a fractional expiry", {}, new_key(expires_at=NOW + 0.5), 400),
    ("an allocation of 0", {}, new_key(allocated_ammount=0), 400),
    ("a negative allocation", {}, new_key(allocated_ammount=-1), 400),
    ("an allocation over the per-key cap", {}, new_key(allocated_ammount=10000.01), 400),
    ("an allocation as text", {}, new_key(allocated_ammount="5"), 400),
    ("a boolean allocation", {}, new_key(allocated_ammount=True), 400),
    ("a model whitelist as text", {}, new_key(model_whitelist="gpt-4o"), 400),
    ("a model whitelist of numbers", {}, new_key(model_whitelist=[4]), 400),
    ("a bad IP", {}, new_key(ip_whitelist=["300.0.0.1"]), 400),
    ("an IP whitelist as text", {}, new_key(ip_whitelist="10.0.0.0/8"), 400),
    ("more than the balance", {}, new_key(allocated_ammount=1000.01), 402),
]


@pytest.mark.parametrize(
    ("headers", "body", "status"), [r[1:] for r in CREATE_ROWS], ids=[r[0] for r in CREATE_ROWS]
)
def test_a_refused_create_changes_nothing(headers: dict[str, str], body: Any, status: int) -> None:
    box, c = client()
    r = c.post("/auth/proxy/create", json=body, headers=headers)
    assert r.status_code == status
    error = r.json()["error"]
    assert error["code"] == status and error["message"] and error["param"] is None and error["type"]
    assert len(box.store.keys_of("u1")) == 3 and balance(box) == 1000


def test_a_body_that_is_not_json_is_422() -> None:
    _, c = client()
    r = c.post("/auth/proxy/create", content=b"{name: new", headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == 422


# --- the tier's key cap --------------------------------------------------------------------


def test_create_past_the_key_cap_is_403_until_a_key_goes() -> None:
    box, c = client(data(3, key_cap=4))
    assert c.post("/auth/proxy/create", json=new_key()).status_code == 201
    over = c.post("/auth/proxy/create", json=new_key())
    assert over.status_code == 403
    assert over.json()["error"]["message"] == "Exceeded proxy key limit for your tier"
    assert balance(box) == 1000 - 5  # the refused one took nothing
    assert c.post("/auth/proxy/remove", json={"proxy_key": key_value(0)}).status_code == 200
    assert c.post("/auth/proxy/create", json=new_key()).status_code == 201


@pytest.mark.parametrize(
    ("tier", "cap"),
    [("free", 10), ("basic", 15), ("standard", 30), ("pro", 50), ("enterprise", 100), (None, 100)],
)
def test_the_key_cap_follows_the_tier(tier: str | None, cap: int) -> None:
    box, c = client(data(0, tier=tier))
    codes = [
        c.post("/auth/proxy/create", json=new_key(allocated_ammount=1)).status_code for _ in range(cap + 1)
    ]
    assert codes == [201] * cap + [403]
    me = c.get("/user/me").json()
    assert me["subscription"] == (tier or "enterprise")
    assert me["limits"] == {"proxy_keys": cap, "key_cap": cap, "per_key_cap": 10000.0}


def test_a_seeded_account_may_already_be_over_its_cap() -> None:
    """A downgraded account keeps its keys; it only cannot create more."""
    box, c = client(data(12, tier="free"))
    assert len(box.store.keys_of("u1")) == 12
    assert c.post("/auth/proxy/create", json=new_key()).status_code == 403


# --- toggle --------------------------------------------------------------------------------


@pytest.mark.parametrize("legacy", [False, True], ids=["static", "legacy"])
def test_toggle_flips_is_active_and_the_credits_stay(legacy: bool) -> None:
    box, c = client()

    def toggle() -> Any:
        if legacy:
            return c.post(f"/auth/proxy/toggle/{key_value(1)}").json()
        return c.post("/auth/proxy/toggle", json={"proxy_key": key_value(1)}).json()

    assert toggle() == {"message": "Proxy key status updated", "status": False}
    assert box.store.key(key_value(1))["is_active"] is False
    assert toggle() == {"message": "Proxy key status updated", "status": True}
    assert balance(box) == 1000 and box.store.key(key_value(1))["allocated_ammount"] == 10


# --- remove and delete-all -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("allocated", "used", "refund"), [(10, 2, "8"), (10, 10, "0"), (10, 12.5, "0"), (0.3, 0.1, "0.2")]
)
def test_remove_refunds_the_unused_part(allocated: float, used: float, refund: str) -> None:
    box, c = client(data(1, allocated_ammount=allocated, used_ammount=used))
    r = c.post("/auth/proxy/remove", json={"proxy_key": key_value(0)})
    assert r.status_code == 200 and r.json() == {"message": "Proxy key deleted"}
    assert balance(box) == Decimal(1000) + Decimal(refund)
    assert box.store.key(key_value(0)) is None


def test_remove_twice_is_404_and_refunds_once() -> None:
    box, c = client()
    assert c.post("/auth/proxy/remove", json={"proxy_key": key_value(0)}).status_code == 200
    again = c.post("/auth/proxy/remove", json={"proxy_key": key_value(0)})
    assert again.status_code == 404 and again.json()["error"]["message"] == "Proxy key not found"
    assert balance(box) == 1008


def test_legacy_delete_removes_one_key() -> None:
    box, c = client()
    r = c.delete(f"/auth/proxy/delete/{key_value(2)}")
    assert r.status_code == 200 and r.json() == {"message": "Proxy key deleted"}
    assert [k["name"] for k in c.get("/auth/proxy").json()] == ["key-0", "key-1"]
    assert c.delete(f"/auth/proxy/delete/{key_value(2)}").status_code == 404


def test_delete_all_refunds_every_key_and_leaves_other_accounts_alone() -> None:
    box, c = client(data(3, used_ammount=2.5))
    r = c.delete("/auth/proxy/delete")
    assert r.status_code == 200 and r.json() == {"message": "Proxy keys deleted"}
    assert c.get("/auth/proxy").json() == [] and balance(box) == Decimal("1022.5")
    assert box.store.key(OTHERS) is not None and balance(box, "u2") == 100
    again = c.delete("/auth/proxy/delete")  # no keys: the same answer
    assert again.status_code == 200 and again.json() == {"message": "Proxy keys deleted"}


OWNERSHIP_ROWS = [
    # (endpoint, body, status): someone else's key, no key, no such key, no auth
    ("toggle", {"proxy_key": OTHERS}, 403),
    ("remove", {"proxy_key": OTHERS}, 403),
    ("toggle", {"proxy_key": "ek-proxy-no-such-key"}, 404),
    ("remove", {"proxy_key": "ek-proxy-no-such-key"}, 404),
    ("toggle", {}, 422),
    ("remove", {"proxy_key": "x" * 257}, 422),
]


@pytest.mark.parametrize(("endpoint", "body", "status"), OWNERSHIP_ROWS)
def test_toggle_and_remove_check_ownership(endpoint: str, body: dict[str, Any], status: int) -> None:
    box, c = client()
    r = c.post(f"/auth/proxy/{endpoint}", json=body)
    assert r.status_code == status and r.json()["error"]["code"] == status
    assert box.store.key(OTHERS)["is_active"] is True and balance(box, "u2") == 100


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/auth/proxy/toggle"),
        ("POST", "/auth/proxy/remove"),
        ("DELETE", "/auth/proxy/delete"),
        ("POST", f"/auth/proxy/toggle/{key_value(0)}"),
        ("DELETE", f"/auth/proxy/delete/{key_value(0)}"),
    ],
)
@pytest.mark.parametrize("token", ["", key_value(0), "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"])
def test_lifecycle_endpoints_want_an_account_key(method: str, path: str, token: str) -> None:
    box, c = client()
    headers = {"Authorization": f"Bearer {token}" if token else ""}
    r = c.request(method, path, json={"proxy_key": key_value(0)}, headers=headers)
    assert r.status_code == 401
    assert len(box.store.keys_of("u1")) == 3 and box.store.key(key_value(0))["is_active"] is True


# --- money under concurrency -----------------------------------------------------------------


def _worker(
    db: str, seed: seeds.Seed, jobs: list[tuple[str, Any]], start: threading.Barrier
) -> list[tuple[str, int]]:
    """One connection of its own (as another server process would have), running its jobs."""
    box = Sandbox.open(db, seed)
    done = []
    with TestClient(box.app, base_url="http://127.0.0.1/v1", headers=auth()) as c:
        start.wait()
        for what, arg in jobs:
            body = new_key(allocated_ammount=float(arg)) if what == "create" else {"proxy_key": arg}
            done.append((what, c.post(f"/auth/proxy/{what}", json=body).status_code))
    return done


def _run_parallel(db: str, seed: seeds.Seed, jobs: list[list[tuple[str, Any]]]) -> list[tuple[str, int]]:
    """Each list of jobs in a thread of its own, all starting together; what each job got."""
    start = threading.Barrier(len(jobs))
    results: list[list[tuple[str, int]]] = [[] for _ in jobs]

    def run(i: int) -> None:
        results[i] = _worker(db, seed, jobs[i], start)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [done for worker in results for done in worker]


def test_parallel_creates_and_removes_conserve_credits_exactly(tmp_path: Path) -> None:
    """8 writers on one file, each with its own connection: creates of cent amounts, toggles,
    and every seeded key removed by all of them at once. Balance + allocations never moves,
    and each key is removed (and refunded) exactly once."""
    seed, db = seeds.parse(data(16, used_ammount=0, allocated_ammount=7.77)), str(tmp_path / "sandbox.db")
    box = Sandbox.open(db, seed)
    total = balance(box) + allocations(box)
    rng, jobs = random.Random(7), []
    for w in range(8):
        mine = [("create", f"{w}.{i:02d}") for i in range(1, 11)] + [("toggle", key_value(w))]
        mine += [("remove", key_value(i)) for i in range(16)]
        rng.shuffle(mine)
        jobs.append(mine)
    done = _run_parallel(db, seed, jobs)
    assert [code for what, code in done if what == "create"] == [201] * 80
    removes = [code for what, code in done if what == "remove"]
    assert removes.count(200) == 16 and removes.count(404) == 16 * 7
    assert {code for what, code in done if what == "toggle"} <= {200, 404}
    assert balance(box) + allocations(box) == total
    assert len(box.store.keys_of("u1")) == 80


def test_parallel_creates_never_pass_the_key_cap(tmp_path: Path) -> None:
    seed, db = seeds.parse(data(2, key_cap=10)), str(tmp_path / "sandbox.db")
    box = Sandbox.open(db, seed)
    codes = [code for _, code in _run_parallel(db, seed, [[("create", "1.25")] * 5 for _ in range(6)])]
    assert codes.count(201) == 8 and codes.count(403) == 22
    assert len(box.store.keys_of("u1")) == 10
    assert balance(box) == Decimal(1000) - 8 * Decimal("1.25")


# --- seeds, the database, the logs -------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("tier", "gold", "accounts[0].tier 'gold': expected one of free, basic, standard, pro, enterprise"),
        ("key_cap", -1, "accounts[0].key_cap -1: expected a whole number of keys, 0 or more"),
        ("key_cap", 2.5, "accounts[0].key_cap 2.5: expected a whole number of keys, 0 or more"),
        ("key_cap", True, "accounts[0].key_cap True: expected a whole number of keys, 0 or more"),
    ],
)
def test_a_bad_tier_or_key_cap_is_refused_by_name(field: str, value: Any, message: str) -> None:
    raw = seed_data()
    raw["accounts"][0][field] = value
    with pytest.raises(ConfigError, match=re.escape(f"my-seed: invalid seed: {message}")):
        seeds.parse(raw, "my-seed")


def test_a_bad_clock_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match=re.escape("clock.start -5: expected epoch seconds, 0 or more")):
        seeds.parse({**seed_data(), "clock": {"start": -5}})
    with pytest.raises(ConfigError, match="invalid seed"):
        seeds.parse({**seed_data(), "clock": {"speed": 2}})


def test_a_database_from_before_tiers_gains_them(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    old = sqlite3.connect(db)
    old.executescript(
        "CREATE TABLE accounts (user_id TEXT PRIMARY KEY, api_key TEXT UNIQUE NOT NULL,"
        " balance TEXT NOT NULL, per_key_cap TEXT NOT NULL);"
        f"INSERT INTO accounts VALUES ('u1', '{API_KEY}', '50', '10000');"
    )
    old.close()
    box = Sandbox.open(db, seeds.parse(seed_data()))
    assert box.store.account("u1")["tier"] == "enterprise" and box.store.account("u1")["key_cap"] == 100
    with TestClient(box.app, base_url="http://127.0.0.1/v1", headers=auth()) as c:
        assert c.post("/auth/proxy/create", json=new_key(expires_at=-1)).status_code == 201


def test_no_key_reaches_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    box, c = client()
    made = c.post("/auth/proxy/create", json=new_key()).json()["key"]
    c.post("/auth/proxy/toggle", json={"proxy_key": made})
    c.post("/auth/proxy/remove", json={"proxy_key": made})
    c.post("/auth/proxy/remove", json={"proxy_key": OTHERS})
    c.post("/auth/proxy/create", json=new_key(), headers=auth(made))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert made not in logged and API_KEY not in logged and OTHERS not in logged
