"""One sandbox serves every account of a manifest, by the account's name: seeded when its seed names
one so, else made on its first use; each with its own keys, balance, key cap and rate limit."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from reconciler.core.accounts import DEFAULT
from reconciler.core.errors import ConfigError
from reconciler.sandbox import RateLimit, Sandbox, seeds

from ..helpers import API_KEY, TESTS, run_cli, sandbox, sandbox_announced, sandbox_variables, seed_data

NEW_KEY = {"name": "n", "expires_at": -1, "allocated_ammount": 10}


def http(box: Sandbox, account_key: str) -> TestClient:
    return TestClient(
        box.app, base_url="http://127.0.0.1/v1", headers={"Authorization": f"Bearer {account_key}"}
    )


def credits(c: TestClient) -> Decimal:
    return Decimal(str(c.get("/user/me").json()["credits"]))


def create(c: TestClient, **fields: Any) -> httpx.Response:
    return c.post("/auth/proxy/create", json={**NEW_KEY, **fields})


def named_seed() -> dict[str, Any]:
    """prod and staging named, prod with one key and room for two; a third account unnamed."""
    data = seed_data(0)
    data["accounts"] = [
        {"name": "prod", "user_id": "p", "api_key": "ek-prod-key", "balance": 50, "key_cap": 2},
        {"name": "staging", "user_id": "s", "api_key": "ek-staging-key", "balance": 7},
        {"user_id": "x", "api_key": "ek-unnamed-key"},
    ]
    data["keys"] = [
        {"key": "ek-proxy-prod-backend-0001", "user_id": "p", "name": "Backend", "allocated_ammount": 5}
    ]
    return data


# --- the default account: today's, unchanged --------------------------------------------------


def test_a_manifest_without_accounts_is_served_by_the_seed_s_first_account_as_before() -> None:
    demo = Sandbox.open(":memory:", seeds.load())
    assert demo.api_key_for(DEFAULT) == demo.api_key == "ek-sandbox-demo-key"
    assert sandbox().api_key_for(DEFAULT) == API_KEY
    with http(demo, demo.api_key_for(DEFAULT)) as c:
        assert len(c.get("/auth/proxy").json()) == 7 and credits(c) == Decimal(1000)


def test_the_first_account_serves_default_even_when_named_unless_another_is_named_default() -> None:
    assert sandbox(named_seed()).api_key_for(DEFAULT) == "ek-prod-key"
    data = named_seed()
    data["accounts"][2]["name"] = "default"
    assert sandbox(data).api_key_for(DEFAULT) == sandbox(data).api_key == "ek-unnamed-key"


# --- accounts made on first use ---------------------------------------------------------------


def test_an_account_the_seed_does_not_name_starts_as_the_demo_s_first_account_with_no_keys() -> None:
    box = sandbox()
    prod = box.api_key_for("prod")
    assert prod.startswith("ek-") and prod not in (API_KEY, "ek-test-other-key")
    assert box.api_key_for("prod") == prod != box.api_key_for("staging")
    with http(box, prod) as c:
        me = c.get("/user/me").json()
        assert (me["subscription"], Decimal(str(me["credits"])), me["limits"]["key_cap"]) == (
            "basic",
            1000,
            15,
        )
        assert c.get("/auth/proxy").json() == []


def test_two_accounts_have_their_own_keys_and_balances() -> None:
    box = sandbox()
    with http(box, box.api_key_for("prod")) as prod, http(box, box.api_key_for("staging")) as staging:
        made = create(prod, allocated_ammount=100).json()["key"]
        assert (credits(prod), credits(staging)) == (Decimal(900), Decimal(1000))
        assert staging.get("/auth/proxy").json() == []
        assert staging.post("/auth/proxy/lookup", json={"proxy_key": made}).status_code == 403
        assert staging.post("/auth/proxy/remove", json={"proxy_key": made}).status_code == 403
        assert create(staging, allocated_ammount=0.1).status_code == 201
        assert (credits(prod), credits(staging)) == (Decimal(900), Decimal("999.9"))
    with http(box, API_KEY) as default:
        assert credits(default) == Decimal(1000) and len(default.get("/auth/proxy").json()) == 3


def test_one_account_at_its_key_cap_leaves_the_other_free_to_create() -> None:
    box = sandbox()
    with http(box, box.api_key_for("prod")) as prod, http(box, box.api_key_for("staging")) as staging:
        assert [create(prod, name=f"k{i}").status_code for i in range(16)] == [201] * 15 + [403]
        assert create(staging).status_code == 201
        assert len(staging.get("/auth/proxy").json()) == 1


def test_a_429_storm_on_one_account_leaves_the_other_s_rate_limit_whole() -> None:
    box = sandbox(rate=RateLimit(requests=3, window_s=60, cooldown_s=600))
    with http(box, box.api_key_for("staging")) as staging, http(box, box.api_key_for("prod")) as prod:
        storm = [staging.get("/auth/proxy").status_code for _ in range(10)]
        assert storm == [200] * 3 + [429] * 7
        answer = prod.get("/auth/proxy")
        assert answer.status_code == 200 and answer.headers["x-ratelimit-remaining"] == "2"
        assert staging.get("/user/me").status_code == 429  # still cooling down


def test_an_account_s_own_rate_limit_in_the_seed_is_its_alone() -> None:
    data = named_seed()
    data["accounts"][1]["rate_limit"] = {"requests": 1, "window_s": 60, "cooldown_s": 600}
    box = sandbox(data, rate=RateLimit(requests=5))
    with http(box, box.api_key_for("staging")) as staging, http(box, box.api_key_for("prod")) as prod:
        assert [staging.get("/user/me").status_code for _ in range(3)] == [200, 429, 429]
        assert staging.get("/user/me").headers["x-ratelimit-limit"] == "1"
        assert [prod.get("/user/me").status_code for _ in range(6)] == [200] * 5 + [429]
        assert prod.get("/user/me").headers["x-ratelimit-limit"] == "5"


# --- the name -> account mapping is kept with the database -------------------------------------


def test_a_name_gets_the_same_account_and_keys_on_every_run_against_the_same_file(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    first = Sandbox.open(db, seeds.parse(seed_data()))
    prod, staging = first.api_key_for("prod"), first.api_key_for("staging")
    with http(first, prod) as c:
        made = create(c, allocated_ammount=30).json()["key"]
    again = Sandbox.open(db, seeds.parse(seed_data()))
    assert (again.api_key_for("staging"), again.api_key_for("prod")) == (staging, prod)
    assert again.api_key_for(DEFAULT) == API_KEY
    with http(again, prod) as c:
        assert [k["key"] for k in c.get("/auth/proxy").json()] == [made] and credits(c) == Decimal(970)


def test_two_sandboxes_sharing_a_file_make_one_account_for_a_new_name(tmp_path: Path) -> None:
    one, two = (Sandbox.open(tmp_path / "sandbox.db", seeds.parse(seed_data())) for _ in range(2))
    assert one.api_key_for("prod") == two.api_key_for("prod")


def test_a_reset_starts_the_accounts_made_on_first_use_over(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    box = Sandbox.open(db, seeds.parse(seed_data()))
    with http(box, box.api_key_for("prod")) as c:
        create(c)
    fresh = Sandbox.open(db, seeds.parse(seed_data()), reset=True)
    with http(fresh, fresh.api_key_for("prod")) as c:
        assert c.get("/auth/proxy").json() == [] and credits(c) == Decimal(1000)


# --- a seed that names accounts ----------------------------------------------------------------


def test_a_seed_s_named_accounts_serve_the_manifest_s_accounts_of_those_names() -> None:
    box = sandbox(named_seed())
    assert (box.api_key_for("prod"), box.api_key_for("staging")) == ("ek-prod-key", "ek-staging-key")
    with http(box, "ek-prod-key") as prod, http(box, "ek-staging-key") as staging:
        assert [k["name"] for k in prod.get("/auth/proxy").json()] == ["Backend"]
        assert (credits(prod), credits(staging)) == (Decimal(50), Decimal(7))
        assert [create(prod).status_code for _ in range(2)] == [201, 403]  # its key_cap: 2
        assert create(staging, allocated_ammount=8).status_code == 402  # its balance: 7


def test_an_account_named_in_the_seed_after_the_database_was_made_is_added(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    Sandbox.open(db, seeds.parse(seed_data()))
    data = named_seed()
    data["accounts"].insert(0, seed_data()["accounts"][0])
    box = Sandbox.open(db, seeds.parse(data))
    assert box.api_key_for("prod") == "ek-prod-key"
    with http(box, "ek-prod-key") as prod:
        assert [k["name"] for k in prod.get("/auth/proxy").json()] == ["Backend"]


def test_a_seed_account_that_clashes_with_the_database_asks_for_a_reset(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    Sandbox.open(db, seeds.parse(seed_data()))
    data = named_seed()
    data["accounts"][0]["api_key"] = API_KEY  # already the key of the database's account u1
    with pytest.raises(ConfigError, match=r"sandbox database .*sandbox\.db: the seed's account p \(prod\)"):
        Sandbox.open(db, seeds.parse(data)).api_key_for("prod")


BAD_SEEDS = {
    "bad-seed-account-name-twice.yaml": "accounts[1].name 'prod': already the name of accounts[0]",
    "bad-seed-account-name-not-text.yaml": "accounts[0].name ['prod']: expected the name of a manifest's account, like prod",
    "bad-seed-account-rate-limit-not-a-number.yaml": "accounts[1].rate_limit.requests 'lots': expected a whole number",
    "bad-seed-account-rate-limit-not-a-mapping.yaml": "accounts[0].rate_limit: expected a mapping of fields, got int",
    "bad-seed-account-user-id-twice.yaml": "accounts[1].user_id 'u1': already the user_id of accounts[0]",
    "bad-seed-account-api-key-twice.yaml": "accounts[1].api_key: already the api_key of accounts[0]",
    "bad-seed-key-twice.yaml": "keys[1].key: already the key of keys[0]",
    "bad-seed-key-variable-twice.yaml": "keys[1].variable 'EH_API_KEY': already the variable of keys[0]",
    "bad-seed-key-variable-not-a-name.yaml": "keys[0].variable '${EH_API_KEY}': expected a name, like EH_SUPPORT_KEY",
}


@pytest.mark.parametrize("fixture", sorted(BAD_SEEDS))
def test_a_bad_account_in_a_seed_is_named_in_one_line(capsys: Any, fixture: str) -> None:
    seed = str(TESTS / "seeds" / fixture)
    code, out, err = run_cli(capsys, "sandbox", "--seed", seed, "--port", "0")
    assert (code, out) == (1, "")
    assert err == f"ehkeys: error: {seed}: invalid seed: {BAD_SEEDS[fixture]}\n", err


# --- `ehkeys sandbox --account`: a served sandbox announces the accounts asked for -------------


def served(tmp_path: Path, *argv: str) -> dict[str, str]:
    """`ehkeys sandbox` started on a free port with `argv`: the variables of the file it says to
    load; it is stopped then."""
    command = [sys.executable, "-m", "reconciler", "sandbox", "--port", "0", "--db", str(tmp_path / "s.db")]
    proc = subprocess.Popen([*command, *argv], cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    try:
        _, path = sandbox_announced(proc)
        return sandbox_variables(path)
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.slow  # two sandbox processes, one after the other
def test_the_served_sandbox_exports_each_account_s_key_and_the_same_keys_next_time(
    tmp_path: Path,
) -> None:
    exports = served(tmp_path, "--account", "prod", "--account", "staging=STAGING_KEY")
    assert list(exports) == [
        "ELECTRONHUB_BASE_URL",
        "EH_PROD_API_KEY",
        "STAGING_KEY",
        "EH_SUPPORT_KEY",  # the bundled seed's support bot, which keys.example.yaml reads
        "ELECTRONHUB_API_KEY",
    ]
    assert exports["ELECTRONHUB_API_KEY"] == "ek-sandbox-demo-key"
    keys = {exports["EH_PROD_API_KEY"], exports["STAGING_KEY"], exports["ELECTRONHUB_API_KEY"]}
    assert len(keys) == 3 and all(k.startswith("ek-sandbox-") for k in keys)
    assert served(tmp_path, "--account", "staging=STAGING_KEY")["STAGING_KEY"] == exports["STAGING_KEY"]
    assert len(served(tmp_path)) == 3  # without --account: its URL, the seed's EH_SUPPORT_KEY, its own key


def test_an_account_flag_without_a_name_or_with_a_bad_variable_is_a_usage_error(capsys: Any) -> None:
    for bad in ("=EH_KEY", "prod=1KEY", "prod=EH-KEY"):
        code, out, err = run_cli(capsys, "sandbox", "--port", "0", "--account", bad)
        assert (code, out) == (1, "")
        expected = "expected an account name, and its key's variable: prod or prod=EH_PROD_API_KEY"
        assert f"error: argument --account: {expected} (got '{bad}')" in err, err
