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


def test_a_plus_rule_matches_one_segment_and_the_documented_priority_picks_the_rule() -> None:
    rules = {
        "secret/+/apps/*": ["read"],
        "secret/data/*": ["list"],  # its first wildcard comes later: it wins over the one above
        "secret/data/+/api": ["patch"],  # as late, and not ending in *: it wins over both
    }
    assert fakevault.granted(rules, "secret/data/apps/api") == ["patch"]
    assert fakevault.granted(rules, "secret/data/apps/web") == ["list"]
    assert fakevault.granted(rules, "secret/metadata/apps/api") == ["read"]
    assert fakevault.granted({"secret/+/apps/*": ["read"]}, "secret/data/x/apps/api") == ["deny"]
    assert fakevault.granted({"secret/+/apps/*": ["read"], "secret/+/+/*": ["list"]}, "secret/a/apps/b") == [
        "read"  # fewer + segments first
    ]


def ui_mount(url: str, token: str, path: str) -> httpx.Response:
    return httpx.get(f"{url}/v1/sys/internal/ui/mounts/{path}", headers={"X-Vault-Token": token})


def test_the_ui_mounts_endpoint_names_the_mount_holding_a_path(vault: tuple[FakeVault, str]) -> None:
    """As `pathInternalUIMountRead`: the longest mounted prefix of the path (given a trailing /),
    its type and options under `data`; `options` null where the engine has none (KV v1)."""
    fake, url = vault
    fake.mounts["kv1"] = fakevault.Mount(version=None)
    answer = ui_mount(url, fakevault.TOKEN, "secret/apps/api")
    assert answer.status_code == 200
    data = answer.json()["data"]
    assert (data["path"], data["type"], data["options"]) == ("secret/", "kv", {"version": "2"})
    assert answer.json() == ui_mount(url, fakevault.TOKEN, "secret").json()  # the docs: identical
    assert ui_mount(url, fakevault.TOKEN, "kv1").json()["data"]["options"] is None
    assert ui_mount(url, fakevault.TOKEN, "cubbyhole").json()["data"]["type"] == "cubbyhole"


def test_the_ui_mounts_endpoint_refuses_alike_a_missing_mount_and_one_the_token_sees_nothing_under(
    vault: tuple[FakeVault, str],
) -> None:
    """Vault answers 403 where no mount holds the path, so the endpoint lists no mounts to a
    guesser; and where the token's policies grant nothing under the mount but through `+`."""
    fake, url = vault
    fake.policies["hvs.segment"] = {"secret/+/apps/*": ["patch", "create"], "nope/data/*": ["create"]}
    missing = ui_mount(url, fakevault.TOKEN, "nope")  # a root token: no mount there
    assert missing.status_code == 403
    assert missing.json() == {
        "errors": [
            'preflight capability check returned 403, please ensure client\'s policies grant access to path "nope/"'
        ]
    }
    assert ui_mount(url, "hvs.segment", "nope").json() == missing.json()
    hidden = ui_mount(url, "hvs.segment", "secret")  # it may write secret/data/apps/x, yet
    assert hidden.status_code == 403 and 'access to path "secret/"' in hidden.json()["errors"][0]
    assert ask(url, "hvs.segment", "secret/data/apps/x").json()["data"]["secret/data/apps/x"] == [
        "create",
        "patch",
    ]
    assert ui_mount(url, LIMITED, "secret").status_code == 200  # a rule under secret/ grants read
    assert ui_mount(url, "hvs.revoked", "secret").json() == {"errors": ["permission denied"]}


def test_check_and_set_is_required_where_the_mount_or_the_secret_says_so(
    vault: tuple[FakeVault, str],
) -> None:
    fake, url = vault
    headers = {"X-Vault-Token": fakevault.TOKEN, "Content-Type": "application/merge-patch+json"}
    api = f"{url}/v1/secret/data/apps/api"
    fake.mounts["secret"].cas_required = True
    config = httpx.get(f"{url}/v1/secret/config", headers=headers).json()["data"]
    assert config["cas_required"] is True
    assert httpx.post(api, json={"data": {"k": "v"}}, headers=headers).json() == {
        "errors": [fakevault.CAS_REQUIRED]
    }
    assert (
        httpx.post(api, json={"data": {"k": "v"}, "options": {"cas": 0}}, headers=headers).status_code == 200
    )
    assert httpx.patch(api, json={"data": {"j": "w"}}, headers=headers).status_code == 400
    stale = httpx.patch(api, json={"data": {"j": "w"}, "options": {"cas": 0}}, headers=headers)
    assert stale.json() == {"errors": [fakevault.CAS_MISMATCH]}
    assert (
        httpx.patch(api, json={"data": {"j": "w"}, "options": {"cas": 1}}, headers=headers).status_code == 200
    )
    fake.mounts["secret"].cas_required = False
    fake.cas_required.add(("secret", "apps/api"))  # the secret's own metadata
    assert httpx.patch(api, json={"data": {"j": "x"}}, headers=headers).status_code == 400
    assert fake.secrets[("secret", "apps/api")] == {"k": "v", "j": "w"}
    limited = httpx.get(f"{url}/v1/secret/config", headers={"X-Vault-Token": LIMITED})
    assert limited.status_code == 403  # reading the config needs read on secret/config


def test_a_kv_version_1_mount_has_no_patch(vault: tuple[FakeVault, str]) -> None:
    fake, url = vault
    fake.mounts["kv1"] = fakevault.Mount(version=None)
    headers = {"X-Vault-Token": fakevault.TOKEN, "Content-Type": "application/merge-patch+json"}
    patched = httpx.patch(f"{url}/v1/kv1/data/apps/api", json={"data": {"k": "v"}}, headers=headers)
    assert patched.status_code == 405 and not fake.secrets
