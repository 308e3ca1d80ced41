"""The fake Vault answers as Vault's API documents it: `sys/capabilities-self` gives a token's
capabilities on each path (`root` for a root token, `deny` where no rule grants any, 403 for a
token Vault does not know), and each KV v2 request needs the capability its operation does
(`patch` for PATCH; `create`, or `update` once the secret exists, for POST)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from . import fakevault
from .fakevault import FakeVault

LIMITED = "hvs.limited"
RULES = {
    "secret/data/apps/*": ["read", "update"],
    "secret/data/apps/api": ["patch", "create", "read"],
    "secret/data/apps/locked": ["patch", "deny"],
}


@pytest.fixture
def vault() -> Iterator[tuple[FakeVault, str]]:
    fake = FakeVault(policies={LIMITED: RULES})
    with fakevault.serve(fake) as url:
        yield fake, url


def ask(url: str, token: str, *paths: str) -> httpx.Response:
    body = {"paths": list(paths)}
    return httpx.post(f"{url}/v1/sys/capabilities-self", json=body, headers={"X-Vault-Token": token})


def test_capabilities_self_answers_per_path_from_the_tokens_policy(vault: tuple[FakeVault, str]) -> None:
    _, url = vault
    paths = ("secret/data/apps/api", "secret/data/apps/web", "secret/data/apps/locked", "kv/data/x")
    answer = ask(url, LIMITED, *paths)
    assert answer.status_code == 200
    expected = {
        "secret/data/apps/api": ["create", "patch", "read"],  # the exact rule wins over the glob
        "secret/data/apps/web": ["read", "update"],
        "secret/data/apps/locked": ["deny"],
        "kv/data/x": ["deny"],  # no rule grants any
    }
    assert answer.json()["data"] == expected
    assert {p: answer.json()[p] for p in paths} == expected  # also at the top, as Vault's sample shows
    one = ask(url, LIMITED, "secret/data/apps/web").json()
    assert one["capabilities"] == one["secret/data/apps/web"] == ["read", "update"]  # a single path


def test_a_root_token_has_root_and_an_unknown_one_is_denied(vault: tuple[FakeVault, str]) -> None:
    _, url = vault
    assert ask(url, fakevault.TOKEN, "anything/at/all").json()["data"] == {
        "anything/at/all": ["root"],
        "capabilities": ["root"],
    }
    refused = ask(url, "hvs.revoked", "secret/data/apps/api")
    assert refused.status_code == 403 and refused.json() == {"errors": ["permission denied"]}


def test_each_write_needs_the_capability_of_its_operation(vault: tuple[FakeVault, str]) -> None:
    fake, url = vault
    headers = {"X-Vault-Token": LIMITED, "Content-Type": "application/merge-patch+json"}
    web = f"{url}/v1/secret/data/apps/web"
    assert httpx.patch(web, json={"data": {"k": "v"}}, headers=headers).status_code == 403  # no patch
    assert httpx.post(web, json={"data": {"k": "v"}}, headers=headers).status_code == 403  # no create
    fake.secrets[("secret", "apps/web")], fake.versions[("secret", "apps/web")] = {"k": "old"}, 1
    assert httpx.post(web, json={"data": {"k": "v"}}, headers=headers).status_code == 200  # update
    api = f"{url}/v1/secret/data/apps/api"
    assert httpx.patch(api, json={"data": {"k": "v"}}, headers=headers).status_code == 404  # none yet
    first = {"data": {"k": "v"}, "options": {"cas": 0}}
    assert httpx.post(api, json=first, headers=headers).status_code == 200
    assert httpx.patch(api, json={"data": {"j": "w"}}, headers=headers).status_code == 200
    assert fake.secrets[("secret", "apps/api")] == {"k": "v", "j": "w"}
