"""What is mounted where a `vault` sink writes, asked before any key is made (`send.refused`), as
the `vault kv` command asks it: `GET /v1/sys/internal/ui/mounts/MOUNT`, once per mount. A mount
that is not there, a KV version 1 mount or another engine refuses the apply, naming the sink, the
mount and what to do; an answer that proves nothing (a 403 to a token that is not root, a 5xx, no
answer, a proxy's page) refuses nothing. And check-and-set (`cas_required`): the delivery names
the secret's current version, read first, as KV v2 requires."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator

import pytest
from starlette.responses import JSONResponse, Response

from reconciler.core.secrets import ProxyKey
from reconciler.core.sinks import Recipient, Sink, VaultSink
from reconciler.delivery import errors, send
from reconciler.delivery.errors import DeliveryError

from . import fakevault
from .fakevault import FakeVault, Mount

VALUE = ProxyKey("ek-proxy-delivered-0123456789abcdef")
WHO = Recipient("prod/api", "API", "prod", "EH_KEY_PROD_API")
CAPS = "POST sys/capabilities-self"
UI = "GET sys/internal/ui/mounts/"
UNSAID = (
    "it answers so where nothing is mounted, and where the token's policies reach the mount only through "
    "+ wildcards; not refused, but unless {m} is a KV version 2 mount the delivery will fail after the key "
    "is made (vault secrets list -detailed shows each mount)"
)


@pytest.fixture
def vault() -> Iterator[tuple[FakeVault, dict[str, str]]]:
    fake = FakeVault()
    with fakevault.serve(fake) as url:
        yield fake, {"VAULT_ADDR": url, "VAULT_TOKEN": fakevault.TOKEN}


def refusals(sinks: list[Sink], env: dict[str, str]) -> dict[Sink, str]:
    return asyncio.run(send.refused(sinks, env))


def deliver(sink: Sink, env: dict[str, str]) -> None:
    asyncio.run(send.deliver(sink, VALUE, WHO, {**os.environ, **env}))


def test_a_kv_v2_mount_is_asked_once_and_refuses_nothing(vault: tuple[FakeVault, dict[str, str]]) -> None:
    fake, env = vault
    fake.mounts["kv"] = Mount()
    sinks: list[Sink] = [VaultSink("apps/api", "k"), VaultSink("apps/web", "k"), VaultSink("x", "k", "kv")]
    assert refusals(sinks, env) == dict.fromkeys(sinks, "")
    assert fake.calls == [CAPS, UI + "secret", UI + "kv"]  # one question per mount, none per path


@pytest.mark.parametrize(("token", "held"), [(fakevault.TOKEN, "root"), ("hvs.broad", "create, patch")])
def test_a_mount_that_is_not_there_refuses_the_apply(
    vault: tuple[FakeVault, dict[str, str]], token: str, held: str
) -> None:
    """Vault answers 403 for a path no mount holds; to a token it would describe the mount to
    (its capabilities on secrets/ itself are not deny: a root token, a policy's `secrets/*`), that
    can mean nothing else. The capabilities alone let it through: policies name paths, not mounts."""
    fake, env = vault
    fake.policies["hvs.broad"] = {"secrets/*": ["patch", "create"]}
    sink = VaultSink("apps/api", "k", "secrets")  # a typo of secret, the policy's too
    assert refusals([sink], {**env, "VAULT_TOKEN": token}) == {
        sink: "vault secrets/apps/api#k: no secrets engine is mounted at secrets/: Vault would not describe "
        "it (GET /v1/sys/internal/ui/mounts/secrets: HTTP 403), as it does every mount to a token whose "
        f"policies grant something on the mount's path, as this one's do on secrets/ ({held}); enable a KV "
        "version 2 engine there (vault secrets enable -path=secrets kv-v2), or set the sink's mount: to one"
    }
    assert fake.calls == [CAPS, UI + "secrets"]


def test_a_mount_inside_another_is_no_mount(vault: tuple[FakeVault, dict[str, str]]) -> None:
    """`mount: secret/team` where only secret/ is mounted: Vault names the mount holding the path,
    and its write would go to secret/ as the path team/data/apps/api, which KV v2 has not."""
    fake, env = vault
    sink = VaultSink("apps/api", "k", "secret/team")
    assert refusals([sink], env) == {
        sink: "vault secret/team/apps/api#k: no secrets engine is mounted at secret/team/: that path is "
        "inside the mount secret/ (kv, version 2); set the sink's mount: secret and path: team/apps/api"
    }


def test_a_kv_version_1_mount_refuses_the_apply(vault: tuple[FakeVault, dict[str, str]]) -> None:
    fake, env = vault
    fake.mounts["secret"] = Mount(version=None)
    sink = VaultSink("apps/api", "k")
    assert refusals([sink], {**env, "VAULT_NAMESPACE": "team-a"}) == {
        sink: "vault secret/apps/api#k: secret/ (namespace team-a) is a KV version 1 mount, and the sink "
        "writes KV version 2's API (a merge patch of secret/data/apps/api): deliver to a KV version 2 mount, "
        "or upgrade this one (vault kv enable-versioning secret/: its other readers and writers then use "
        "secret/data/ paths too)"
    }
    assert fake.namespaces == ["team-a", "team-a"]  # asked in the namespace the delivery writes in


def test_another_engine_refuses_the_apply(vault: tuple[FakeVault, dict[str, str]]) -> None:
    _, env = vault
    sink = VaultSink("apps/api", "k", "cubbyhole")
    assert refusals([sink], env) == {
        sink: "vault cubbyhole/apps/api#k: cubbyhole/ is a cubbyhole secrets engine, not KV version 2, "
        "which the sink writes (cubbyhole/data/apps/api): set the sink's mount: to a KV version 2 mount "
        "(vault secrets list -detailed shows each mount's type and version)"
    }


def test_a_token_the_mounts_endpoint_refuses_is_warned_of_not_refused(
    vault: tuple[FakeVault, dict[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    """A token whose policy reaches secret/ only through `+` may write secret/data/apps/api, and
    Vault answers it 403 about secret/ all the same: a 403 proves no missing mount unless the
    token is root. So a typo'd mount, to such a token, is warned of, not refused."""
    fake, env = vault
    fake.policies["hvs.app"] = {"secret/+/apps/*": ["patch", "create"], "nope/+/apps/*": ["patch", "create"]}
    env = {**env, "VAULT_TOKEN": "hvs.app"}
    there, typo = VaultSink("apps/api", "k"), VaultSink("apps/api", "k", "nope")
    with caplog.at_level(logging.WARNING, logger="ehkeys"):
        assert refusals([there, typo], env) == {there: "", typo: ""}
    warned = [r.getMessage() for r in caplog.records]
    assert warned == [
        f"vault secret/apps/api#k: Vault would not say what is mounted at secret/ (GET "
        f"/v1/sys/internal/ui/mounts/secret: HTTP 403): {UNSAID.format(m='secret/')}",
        f"vault nope/apps/api#k: Vault would not say what is mounted at nope/ (GET "
        f"/v1/sys/internal/ui/mounts/nope: HTTP 403): {UNSAID.format(m='nope/')}",
    ]
    assert "hvs.app" not in str(warned)
    deliver(there, env)  # the mount is there: the delivery goes through
    assert fake.secrets == {("secret", "apps/api"): {"k": VALUE.reveal()}}


@pytest.mark.parametrize(
    "answer",
    [
        JSONResponse({"errors": ["Vault is sealed"]}, 503),
        JSONResponse({"errors": ["1 error occurred:\n\t* unsupported path\n\n"]}, 404),  # an older Vault
        Response("<html>Sign in to the proxy</html>", 200, media_type="text/html"),
        JSONResponse({"data": {"description": "no type"}}),
        JSONResponse({"data": {"type": "kv", "options": {"version": ["2"]}}}),  # Vault's options are strings
        Response("<html>403 Forbidden</html>", 403, media_type="text/html"),  # a proxy blocking sys/internal
        JSONResponse({"errors": ["permission denied"]}, 403),  # not this endpoint's own 403
        JSONResponse({"type": "error", "message": "upstream"}),  # a gateway's: no `data`
        JSONResponse({"data": {"type": "kv", "path": "", "options": {"version": "2"}}}),
        JSONResponse({"data": {"type": "kv", "path": "secret", "options": {"version": "2"}}}),
        JSONResponse({"data": {"type": "kv", "path": "nope/", "options": {"version": "v2"}}}),
        JSONResponse({"data": {"type": "kv", "path": "nope/", "options": []}}),
        JSONResponse({"data": {"type": "\x1b[31m" + "x" * 5000, "path": "nope/"}}),
    ],
)
def test_a_mounts_answer_that_proves_nothing_refuses_nothing(
    vault: tuple[FakeVault, dict[str, str]], monkeypatch: pytest.MonkeyPatch, answer: Response
) -> None:
    fake, env = vault
    monkeypatch.setattr(errors, "BACKOFF", (0.0, 0.0))
    fake.faults[UI + "nope"] = answer
    sink = VaultSink("apps/api", "k", "nope")
    assert refusals([sink], env) == {sink: ""}


def test_a_mount_in_a_child_namespace_is_named_with_its_namespace(
    vault: tuple[FakeVault, dict[str, str]],
) -> None:
    """Vault prefixes the mount's namespace where it is not the request's (`team-a/` asked about
    `child/secret` names `team-a/child/secret/`): the sink's mount, not another."""
    fake, env = vault
    data = Mount().info("team-a/child/secret/")
    fake.faults[UI + "child/secret"] = JSONResponse({"data": data})
    sink = VaultSink("apps/api", "k", "child/secret")
    assert refusals([sink], {**env, "VAULT_NAMESPACE": "team-a"}) == {sink: ""}


def test_vaults_own_403_about_a_mount_of_another_namespace_proves_nothing(
    vault: tuple[FakeVault, dict[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    """Vault checks a child namespace's mount at a path it spells wrongly (the namespace twice):
    its 403 there is no proof that nothing is mounted, even to a root token."""
    fake, env = vault
    for mount, namespace in (("child/secret", "team-a"), ("secret", "team-a"), ("child/secret", "")):
        sink = VaultSink("apps/api", "k", mount)
        with caplog.at_level(logging.WARNING, logger="ehkeys"):
            assert refusals([sink], {**env, "VAULT_NAMESPACE": namespace}) == {sink: ""}
        assert "Vault would not say what is mounted at" in caplog.text


def test_nothing_is_asked_of_a_vault_that_refused_the_token(vault: tuple[FakeVault, dict[str, str]]) -> None:
    fake, env = vault
    sink = VaultSink("apps/api", "k", "nope")
    assert "Vault refused the token" in refusals([sink], {**env, "VAULT_TOKEN": "hvs.revoked"})[sink]
    assert fake.calls == [CAPS]


# --- check-and-set ----------------------------------------------------------------------------


def test_a_secret_that_requires_check_and_set_is_written_with_its_current_version(
    vault: tuple[FakeVault, dict[str, str]],
) -> None:
    """KV v2 refuses a write without `options.cas` where the mount's config or the secret's
    metadata sets cas_required; the sink then reads the secret's version and patches with it,
    which Vault refuses if the secret changed in between (nothing overwritten)."""
    fake, env = vault
    fake.mounts["secret"].cas_required = True
    fake.secrets[("secret", "apps/api")], fake.versions[("secret", "apps/api")] = {"db": "kept"}, 4
    deliver(VaultSink("apps/api", "k"), env)
    assert fake.secrets[("secret", "apps/api")] == {"db": "kept", "k": VALUE.reveal()}
    assert fake.versions[("secret", "apps/api")] == 5
    assert fake.calls == ["PATCH secret/apps/api", "GET secret/apps/api", "PATCH secret/apps/api"]
    fake.calls.clear()
    deliver(VaultSink("apps/new", "k"), env)  # one not there yet is made with cas 0, as before
    assert fake.calls == ["PATCH secret/apps/new", "POST secret/apps/new"]
    fake.mounts["secret"].cas_required = False
    fake.cas_required.add(("secret", "apps/api"))  # the secret's own metadata
    deliver(VaultSink("apps/api", "other"), env)
    assert fake.versions[("secret", "apps/api")] == 6


def test_check_and_set_with_a_token_that_may_not_read_the_version(
    vault: tuple[FakeVault, dict[str, str]],
) -> None:
    """A token that may patch and create but not read (the least the sink needs) is not asked
    about check-and-set beforehand, nor refused: its mount's config and the secret's metadata
    need read too, and a secret not there yet is made (cas 0). The delivery to one that exists
    says what the token lacks."""
    fake, env = vault
    fake.mounts["secret"].cas_required = True
    fake.policies["hvs.writer"] = {"secret/data/apps/*": ["patch", "create"]}
    env = {**env, "VAULT_TOKEN": "hvs.writer"}
    new, there = VaultSink("apps/new", "k"), VaultSink("apps/there", "k")
    fake.secrets[("secret", "apps/there")], fake.versions[("secret", "apps/there")] = {"db": "kept"}, 1
    assert refusals([new, there], env) == {new: "", there: ""}
    assert fake.calls == [CAPS, UI + "secret"]
    deliver(new, env)
    with pytest.raises(DeliveryError) as caught:
        deliver(there, env)
    assert caught.value.message == (
        "vault secret/apps/there#k: GET /v1/secret/data/apps/there: HTTP 403: 1 error occurred: * permission "
        "denied: Vault requires check-and-set on this secret (cas_required, on it or its mount), so a write "
        "names its current version, read first, and the token in VAULT_TOKEN may not read it: its policy "
        "needs read on secret/data/apps/there too"
    )
    assert fake.secrets[("secret", "apps/there")] == {"db": "kept"}


def test_a_secret_written_between_the_read_and_the_patch_is_not_overwritten(
    vault: tuple[FakeVault, dict[str, str]],
) -> None:
    fake, env = vault
    fake.cas_required.add(("secret", "apps/api"))
    fake.secrets[("secret", "apps/api")], fake.versions[("secret", "apps/api")] = {"k": "old"}, 2
    read = {"data": {"data": {"k": "old"}, "metadata": {"version": 1}}}  # a stale replica's read, say
    fake.faults["GET secret/apps/api"] = JSONResponse(read)
    with pytest.raises(DeliveryError) as caught:
        deliver(VaultSink("apps/api", "k"), env)
    assert caught.value.message == (
        "vault secret/apps/api#k: PATCH /v1/secret/data/apps/api: HTTP 400: check-and-set parameter did not "
        "match the current version: the secret changed between the read of its version and the patch "
        "(nothing was overwritten): the next apply, or `ehkeys deliver`, delivers it again"
    )
    assert fake.secrets[("secret", "apps/api")] == {"k": "old"}
