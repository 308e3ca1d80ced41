"""Where each account of a manifest is asked: the real service by the account's own variable and
base URL, or, with --sandbox, the sandbox account serving its name."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.core.accounts import Account
from reconciler.engine.settings import Connection
from reconciler.engine.target import Target

PROD = Account(name="prod", key_var="EH_PROD_API_KEY", declared=True)
STAGING = Account(
    name="staging", key_var="EH_STAGING_API_KEY", base_url="https://staging.test/v1", declared=True
)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("ELECTRONHUB_API_KEY", "ek-the-default-key")
    monkeypatch.setenv("EH_PROD_API_KEY", "ek-the-prod-key")
    monkeypatch.delenv("EH_STAGING_API_KEY", raising=False)
    monkeypatch.delenv("ELECTRONHUB_BASE_URL", raising=False)
    return monkeypatch


def test_without_an_account_the_key_and_url_come_from_where_they_always_did(env: pytest.MonkeyPatch) -> None:
    target = Target.of(Connection())
    assert (target.api_key, target.base_url) == ("ek-the-default-key", "https://api.electronhub.ai/v1")
    env.setenv("ELECTRONHUB_BASE_URL", "https://env.test/v1")
    assert Target.of(Connection()).base_url == "https://env.test/v1"
    assert Target.of(Connection(base_url="https://flag.test/v1")).base_url == "https://flag.test/v1"


def test_each_account_reads_its_own_variable_and_its_own_base_url_first(env: pytest.MonkeyPatch) -> None:
    env.setenv("ELECTRONHUB_BASE_URL", "https://env.test/v1")
    prod, staging = Target.of_each(Connection(base_url="https://flag.test/v1"), (), (PROD, STAGING))
    assert (prod.api_key, prod.base_url, prod.account) == ("ek-the-prod-key", "https://flag.test/v1", PROD)
    assert (staging.api_key, staging.base_url) == (None, "https://staging.test/v1")  # its variable unset
    assert Target.of(Connection(), (), PROD).base_url == "https://env.test/v1"


async def _balance_and_keys(target: Target) -> tuple[Decimal, int]:
    async with target.client() as client:
        return await client.balance(), len(await client.list_keys())


def test_with_sandbox_each_account_is_a_sandbox_account_of_its_own_kept_beside_the_manifest(
    tmp_path: Path, env: pytest.MonkeyPatch
) -> None:
    manifests = [str(tmp_path / "keys.yaml")]
    default = Target.of(Connection(sandbox=True), manifests)
    prod, staging = Target.of_each(Connection(sandbox=True), manifests, (PROD, STAGING))
    assert default.api_key == "ek-sandbox-demo-key" and default.is_sandbox
    assert len({default.api_key, prod.api_key, staging.api_key}) == 3
    assert "ek-the-prod-key" not in (prod.api_key, staging.api_key)  # never the real account's
    assert asyncio.run(_balance_and_keys(default)) == (Decimal(1000), 7)
    assert asyncio.run(_balance_and_keys(prod)) == (Decimal(1000), 0)
    again = Target.of_each(Connection(sandbox=True), manifests, (STAGING, PROD))
    assert [t.api_key for t in again] == [staging.api_key, prod.api_key]
