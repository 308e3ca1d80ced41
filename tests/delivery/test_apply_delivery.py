"""Delivery end to end on the sandbox: a key apply creates reaches every sink (a file, a command,
a GitHub secret, a Vault field) with the value the account holds, and nowhere else; a failed
delivery makes the apply exit 3 naming the sink, and the next apply delivers it without a second
create; `ehkeys deliver` delivers again; a sink that cannot be written refuses the apply first."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler.core.sinks import CommandSink

from .. import fakegithub
from ..fakegithub import FakeGitHub
from ..helpers import ROOT, run_cli
from ..reliability_log import record
from . import fakevault
from .fakevault import FakeVault, Mount
from .manifests import delivering

RECORDER = Path(__file__).parent / "record_sink.py"
SANDBOX = ["--sandbox"]
RECORDING = CommandSink((sys.executable, str(RECORDER))).describe()  # its words, shortened
MISSING = CommandSink(("ehkeys-no-such-deliverer", str(RECORDER))).describe()  # a program not there


def manifest(recorder: Path = RECORDER) -> str:
    return delivering(
        "file: app.env",
        f"command: [{json.dumps(sys.executable)}, {json.dumps(str(recorder))}]",
        'github_secret: {repo: acme/api, name: EH_KEY, token: "${DEPLOY_TOKEN}"}',
        "vault: {path: apps/api}",
    )


@dataclass
class World:
    root: Path
    github: FakeGitHub
    vault: FakeVault

    def recorded(self) -> list[dict[str, Any]]:
        path = self.root / "record.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def file_value(self) -> str:
        return (self.root / "app.env").read_text().strip().removeprefix("EH_KEY_API=")


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keys.yaml").write_text(manifest())
    github, vault = FakeGitHub(), FakeVault()
    with fakegithub.serve(github) as api, fakevault.serve(vault) as addr:
        monkeypatch.setenv("GITHUB_API_URL", api)
        monkeypatch.setenv("DEPLOY_TOKEN", fakegithub.TOKEN)
        monkeypatch.setenv("VAULT_ADDR", addr)
        monkeypatch.setenv("VAULT_TOKEN", fakevault.TOKEN)
        monkeypatch.setenv("RECORD_TO", str(tmp_path / "record.jsonl"))
        yield World(tmp_path, github, vault)


def account_value(capsys: Any) -> str:
    Path("revealed.env").unlink(missing_ok=True)  # reveal --out appends
    code, _, err = run_cli(capsys, "reveal", "keys.yaml", "api", "--out", "revealed.env", *SANDBOX)
    assert code == 0, err
    return Path("revealed.env").read_text().strip().removeprefix("EH_KEY_API=")


def plan_json(capsys: Any) -> dict[str, Any]:
    code, out, err = run_cli(capsys, "plan", "keys.yaml", "--format", "json", *SANDBOX)
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    return data


def test_a_created_key_reaches_every_sink_and_nowhere_else(world: World, capsys: Any) -> None:
    planned = plan_json(capsys)
    jsonschema.validate(planned, json.loads((ROOT / "schemas" / "plan.schema.json").read_text()))
    (row,) = [k for k in planned["keys"] if k["address"] == "api"]
    assert row["deliver"] == [
        "file app.env#EH_KEY_API",
        RECORDING,
        "github_secret acme/api:EH_KEY",
        "vault secret/apps/api#EH_KEY_API",
    ]
    code, out, err = run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)
    assert code == 0, out + err
    value = account_value(capsys)
    assert value.startswith("ek-proxy-")
    assert world.file_value() == value
    assert [r["stdin"] for r in world.recorded()] == [value]
    assert world.github.secrets == {("acme/api", None, "EH_KEY"): value}
    assert world.vault.secrets == {("secret", "apps/api"): {"EH_KEY_API": value}}
    assert "✓ api → vault secret/apps/api#EH_KEY_API: delivered" in out
    assert world.vault.calls == [  # asked before the create: the token's capabilities, the mount
        "POST sys/capabilities-self",
        "GET sys/internal/ui/mounts/secret",
        "PATCH secret/apps/api",
        "POST secret/apps/api",
    ]
    assert "in the account only" not in out  # it went to its sinks, as the lines above say
    state = [
        p for p in (world.root / ".ehkeys").rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl")
    ]
    for text in [out, err, *(p.read_text() for p in state)]:
        assert value not in text


def test_a_failed_delivery_is_delivered_by_the_next_apply_without_a_second_create(
    world: World, capsys: Any
) -> None:
    world.vault.failing = 1
    code, out, err = run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)
    assert code == 3, out + err
    assert "✗ api → vault secret/apps/api#EH_KEY_API: failed: vault secret/apps/api#EH_KEY_API: PATCH" in out
    assert "Delivery failed (api → vault secret/apps/api#EH_KEY_API)" in out
    value = account_value(capsys)
    assert world.github.secrets == {("acme/api", None, "EH_KEY"): value} and not world.vault.secrets
    notes = plan_json(capsys)["notes"]
    assert notes == [
        "api: its value is still to be delivered to vault secret/apps/api#EH_KEY_API (a delivery failed or "
        "was cut short): the next apply, or `ehkeys deliver`, delivers it"
    ]
    code, out, err = run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)
    assert code == 0, out + err
    assert "Nothing to apply." in out and "✓ api → vault secret/apps/api#EH_KEY_API: delivered" in out
    assert world.vault.secrets == {("secret", "apps/api"): {"EH_KEY_API": value}}
    assert len(world.recorded()) == 1  # the sinks that had their value are not written again
    after = plan_json(capsys)
    assert after["notes"] == [] and [k["action"] for k in after["keys"]] == ["no-op"]
    assert after["summary"]["account_debit"] == 0 and account_value(capsys) == value
    assert "API" not in [u["name"] for u in after["unmanaged"]]  # one key of that name: one create


def test_deliver_sends_the_current_value_again(world: World, capsys: Any) -> None:
    assert run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)[0] == 0
    value = account_value(capsys)
    world.github.secrets.clear()
    code, out, err = run_cli(capsys, "deliver", "keys.yaml", "api", *SANDBOX)
    assert code == 0, out + err
    assert world.github.secrets == {("acme/api", None, "EH_KEY"): value}
    assert [r["stdin"] for r in world.recorded()] == [value, value]
    world.vault.failing = 2
    code, out, err = run_cli(capsys, "deliver", "keys.yaml", *SANDBOX)
    assert code == 3 and "✗ api → vault secret/apps/api#EH_KEY_API: failed" in out
    assert value not in out + err


def test_a_sink_that_cannot_be_written_refuses_the_apply_before_anything_is_sent(
    world: World, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEPLOY_TOKEN")
    code, out, err = run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)
    assert code == 1
    assert (
        "a new key's value could not be delivered: keys.yaml:4:5: api: github_secret acme/api:EH_KEY: "
        "DEPLOY_TOKEN is not set" in err
    )
    assert "nothing was sent" in err and not world.recorded()
    if subprocess.run(["git", "--version"], capture_output=True).returncode != 0:
        return
    monkeypatch.setenv("DEPLOY_TOKEN", fakegithub.TOKEN)
    subprocess.run(["git", "init", "-q", str(world.root)], check=True)
    (world.root / ".gitignore").write_text(".ehkeys/\n")
    code, out, err = run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)
    assert code == 1 and "app.env: git would track this file" in err
    code, out, err = run_cli(capsys, "plan", "keys.yaml", "--format", "json", *SANDBOX)
    (row,) = json.loads(out)["keys"]  # nothing was created; the plan says why it would not be
    assert code == 1 and row["action"] == "error" and "app.env: git would track this file" in row["error"]


def test_a_command_sink_whose_program_is_not_there_refuses_the_apply_at_its_line(
    world: World, capsys: Any
) -> None:
    text = manifest().replace(json.dumps(sys.executable), "ehkeys-no-such-deliverer")
    (world.root / "keys.yaml").write_text(text)
    code, out, err = run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)
    assert code == 1, out + err
    assert (
        f"a new key's value could not be delivered: keys.yaml:4:5: api: {MISSING}: "
        "ehkeys-no-such-deliverer is not a command on PATH; nothing was sent" in err
    )
    assert [k["action"] for k in plan_json(capsys)["keys"]] == ["create"]  # no key made, no debit


def test_a_command_sink_never_sees_the_account_key_under_any_name(
    world: World, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ELECTRONHUB_API_KEY", "ek-sandbox-account-key")
    monkeypatch.setenv("OPENAI_API_KEY", "ek-sandbox-account-key")  # a copy under another name
    monkeypatch.setenv("KEPT_SETTING", "kept")
    code, out, err = run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)
    assert code == 0, out + err
    (got,) = world.recorded()
    assert "ELECTRONHUB_API_KEY" not in got["env"] and "OPENAI_API_KEY" not in got["env"]
    assert "ek-sandbox-account-key" not in json.dumps(got) and got["env"]["KEPT_SETTING"] == "kept"


PINNED = """
  - id: support-bot
    name: Support Bot
    proxy_key: ${EH_SUPPORT_KEY}
  - id: intern
    name: Intern Sandbox
    proxy_key: ek-proxy-${INTERN_KEY_BODY}
"""  # the bundled seed's keys, ek-proxy-demo-support-0004 and ek-proxy-demo-intern-0005


def test_a_command_sink_never_sees_another_keys_proxy_key(
    world: World, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not the variables the manifest's proxy keys are read from (whole or in part), nor a copy
    of one under another name, nor EHKEYS_PROXY_KEYS, nor any variable holding a proxy key."""
    (world.root / "keys.yaml").write_text(manifest() + PINNED)
    secrets = {
        "EH_SUPPORT_KEY": "ek-proxy-demo-support-0004",
        "INTERN_KEY_BODY": "demo-intern-0005",
        "INTERN_COPY": "demo-intern-0005",
        "EHKEYS_PROXY_KEYS": "OTHER_KEY=ek-proxy-lines-sentinel-0006",
        "STRAY_KEY": "ek-proxy-stray-sentinel-0007",  # no manifest names it: its value says what it is
        "EH_PROD_API_KEY": "ek-another-roots-account-key",  # a root beside this one reads it (a matrix)
        "ALL_SECRETS": '{"EH_STG_API_KEY": "ek-staging-account-key-01"}',  # ${{ toJSON(secrets) }}
        "STG_URL": "https://u:ek-3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e@example.test",  # a key as keys are made
    }
    kept = {  # no key in them: an ek- name, a path, a branch
        "KEPT_SETTING": "kept",
        "EKS_CLUSTER": "ek-production-eu-west-1",
        "TOOLS": "/opt/ek-internal-tooling/bin:/usr/bin",
        "BRANCH": "ek-1234-fix-the-delivery-of-keys",
        "WEEK": "week-2026-49",
    }
    for name, value in {**secrets, **kept}.items():
        monkeypatch.setenv(name, value)
    code, out, err = run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)
    assert code == 0, out + err
    code, out, err = run_cli(capsys, "deliver", "keys.yaml", "api", *SANDBOX)
    assert code == 0, out + err
    runs = world.recorded()
    assert len(runs) == 2 and all(kept.items() <= got["env"].items() for got in runs)
    for got in runs:
        assert not set(secrets) & set(got["env"]), sorted(set(secrets) & set(got["env"]))
        assert not [value for value in secrets.values() if value in json.dumps(got["env"])]
        assert not [name for name, value in got["env"].items() if "ek-proxy-" in value]
    record(
        "secret",
        "a command sink's environment: proxy keys' variables (whole, part, copy), EHKEYS_PROXY_KEYS, a stray "
        "key, another manifest's account key (alone, in JSON, in a URL)",
        8,
        "none passed on (apply and deliver)",
    )


CUTS_ITS_PREFIX = """version: 1
defaults: {limit_type: daily}
keys:
  - id: api
    name: API
    allocated_ammount: 5
    deliver: [{command: [sh, -c, 'read -r v; echo "${v#ek-}" >&2; exit 3']}]
"""


def test_a_command_that_prints_the_value_without_its_prefix_never_shows_it(world: World, capsys: Any) -> None:
    """Its standard error quoted in the apply's output, the --report-out file and the state's
    record of the failed delivery: `proxy-…`, never the key's body."""
    (world.root / "keys.yaml").write_text(CUTS_ITS_PREFIX)
    code, out, err = run_cli(
        capsys, "apply", "keys.yaml", "--auto-approve", "--report-out", "report.md", *SANDBOX
    )
    sink = """command sh -c 'read -r v; echo "${v#ek-}" >&2; exit 3'"""  # its words as written
    assert code == 3 and f"✗ api → {sink}: failed: sh exited 3: proxy-…" in out, out + err
    body = account_value(capsys).removeprefix("ek-proxy-")
    state = [p.read_text() for p in (world.root / ".ehkeys").rglob("*") if p.suffix in (".json", ".jsonl")]
    for text in [out, err, (world.root / "report.md").read_text(), *state]:
        assert not [body[i : i + 8] for i in range(len(body) - 7) if body[i : i + 8] in text]
    record(
        "secret",
        "a command sink printing the value without its ek- prefix on stderr",
        1,
        "no 8 characters of it in the output, --report-out or the state",
    )


def test_a_failed_sink_fixed_in_the_manifest_is_said_to_need_deliver(world: World, capsys: Any) -> None:
    world.vault.failing = 1  # the first apply's Vault delivery fails: owed
    assert run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)[0] == 3
    fixed = manifest().replace("{path: apps/api}", "{path: apps/api-fixed}")
    (world.root / "keys.yaml").write_text(fixed)
    dropped = (
        "api: its value was still owed to vault secret/apps/api#EH_KEY_API, no longer in the manifest: the "
        "next apply drops that delivery, and delivers to no other sink; `ehkeys deliver` sends the value to "
        "the sinks the key has now"
    )
    never = (
        "api: vault secret/apps/api-fixed#EH_KEY_API never received this key's value: `ehkeys deliver` (or "
        "the deliver workflow) delivers it; apply delivers a value only when it creates the key"
    )
    assert plan_json(capsys)["notes"] == [dropped, never]
    code, out, err = run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)
    assert code == 0 and dropped in out + err and not world.vault.secrets
    code, out, err = run_cli(capsys, "deliver", "keys.yaml", *SANDBOX)
    assert code == 0, out + err
    assert world.vault.secrets == {("secret", "apps/api-fixed"): {"EH_KEY_API": account_value(capsys)}}
    assert plan_json(capsys)["notes"] == []


def test_deliver_of_an_account_address_or_key_without_sinks_says_so(world: World, capsys: Any) -> None:
    code, out, err = run_cli(capsys, "deliver", "keys.yaml", "--account", "prod", *SANDBOX)
    assert code == 1  # not "no such account (default)": no account the user wrote is named so
    assert (
        "--account 'prod': the manifest declares no accounts (it has no `accounts:`): drop --account" in err
    )
    code, out, err = run_cli(capsys, "deliver", "keys.yaml", "nope", *SANDBOX)
    assert code == 1 and "deliver 'nope': no key with that id or name in the manifest" in err
    (world.root / "keys.yaml").write_text(manifest() + "  - {id: web, name: Web, allocated_ammount: 1}\n")
    code, out, err = run_cli(capsys, "deliver", "keys.yaml", "web", *SANDBOX)
    assert code == 1 and "web: no deliver: sinks (or absent: true): nothing to deliver" in err
    assert not world.recorded() and not world.github.secrets


def test_a_key_deleted_by_hand_before_its_owed_delivery_is_reported_then_made_anew(
    world: World, capsys: Any
) -> None:
    other = "  - {id: web, name: Web, allocated_ammount: 1}\n"  # still there: the state's account is this one
    (world.root / "keys.yaml").write_text(manifest() + other)
    world.vault.failing = 1
    assert run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)[0] == 3  # Vault owed
    first = account_value(capsys)
    with sqlite3.connect(world.root / ".ehkeys" / "sandbox.db") as db:  # the dashboard's delete
        db.execute("DELETE FROM keys WHERE name = 'API'")
    code, out, err = run_cli(capsys, "deliver", "keys.yaml", *SANDBOX)
    assert code == 3, out + err
    assert "✗ api → vault secret/apps/api#EH_KEY_API: failed: the key is not in the account" in out
    planned = plan_json(capsys)
    assert [k["action"] for k in planned["keys"]] == ["create", "no-op"]
    assert planned["notes"][0].startswith("api: its value is still to be delivered to vault")
    code, out, err = run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)
    assert code == 0, out + err
    second = account_value(capsys)
    assert second != first and world.file_value() == second  # every sink gets the new key's value
    assert world.vault.secrets == {("secret", "apps/api"): {"EH_KEY_API": second}}
    assert world.github.secrets == {("acme/api", None, "EH_KEY"): second}
    assert [r["stdin"] for r in world.recorded()] == [first, second]


def test_a_token_that_may_not_write_secrets_refuses_the_apply_before_any_key_is_made(
    world: World, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEPLOY_TOKEN", fakegithub.NO_SECRETS_TOKEN)  # a workflow's own GITHUB_TOKEN, say
    web = '      - github_secret: {repo: acme/api, name: EH_WEB, token: "${DEPLOY_TOKEN}"}\n'
    (world.root / "keys.yaml").write_text(
        manifest() + "  - id: web\n    name: Web\n    allocated_ammount: 1\n    deliver:\n" + web
    )
    code, out, err = run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)
    assert code == 1, out + err
    assert (
        "a new key's value could not be delivered: keys.yaml:4:5: api: github_secret acme/api:EH_KEY: "
        "GET /repos/acme/api/actions/secrets/public-key: HTTP 403: Resource not accessible by integration: "
        "the token in DEPLOY_TOKEN may not write acme/api's secrets; it needs a fine-grained or GitHub App "
        'token with the "Secrets" repository permission' in err
    )
    assert "keys.yaml:12:5: web: github_secret acme/api:EH_KEY" in err, err  # refused by the same answer
    assert err.rstrip().endswith("; nothing was sent"), err  # every sink said, none hidden behind "1 more"
    assert world.github.calls == ["GET /repos/acme/api/actions/secrets/public-key"]  # one per repository
    assert [k["action"] for k in plan_json(capsys)["keys"]] == ["create", "create"]  # no key made
    assert not world.recorded() and not (world.root / "app.env").exists()
    monkeypatch.setenv("DEPLOY_TOKEN", fakegithub.TOKEN)  # a token that may
    code, out, err = run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)
    assert code == 0, out + err
    assert set(world.github.secrets) == {("acme/api", None, "EH_KEY"), ("acme/api", None, "EH_WEB")}


def test_a_vault_token_that_may_not_write_the_path_refuses_the_apply_before_any_key_is_made(
    world: World, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asked before the create (its debit): a token Vault does not know (403), then one whose
    policy cannot make the secret; the apply is refused, naming the sink, the path and what is
    missing, and no key is made. A token that may write it is then applied."""
    refused = (
        "a new key's value could not be delivered: keys.yaml:4:5: api: vault secret/apps/api#EH_KEY_API: "
    )
    world.vault.policies["hvs.reader"] = {"secret/data/apps/*": ["read", "update"]}
    world.vault.policies["hvs.writer"] = {"secret/data/apps/api": ["patch", "create"]}
    said = {
        "hvs.wrong-token": "POST /v1/sys/capabilities-self: HTTP 403: permission denied: Vault refused the "
        "token in VAULT_TOKEN (unknown to this Vault or namespace, expired or revoked): it may not write "
        "secret/data/apps/api; nothing was sent",
        "hvs.reader": "the token in VAULT_TOKEN may not write secret/data/apps/api: its policies lack the "
        "patch and create capabilities there (Vault gives it read, update); a delivery needs patch",
    }
    for token, why in said.items():
        monkeypatch.setenv("VAULT_TOKEN", token)
        code, out, err = run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)
        assert code == 1 and refused + why in err, out + err
        assert token not in out + err
    assert world.vault.calls == ["POST sys/capabilities-self"] * 2  # nothing written
    assert [k["action"] for k in plan_json(capsys)["keys"]] == ["create"]  # no key made, no debit
    assert not world.recorded() and not world.github.secrets and not (world.root / "app.env").exists()
    monkeypatch.setenv("VAULT_TOKEN", "hvs.writer")
    code, out, err = run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)
    assert code == 0, out + err
    assert world.vault.secrets == {("secret", "apps/api"): {"EH_KEY_API": account_value(capsys)}}
    record(
        "answer",
        "a Vault sink's token refused before a create: unknown to Vault (403), a policy without patch and create",
        2,
        "apply refused naming the sink, the path and the capability; no key made, no debit",
    )


def ledger(world: World) -> tuple[Decimal, int]:
    """The sandbox account's balance, and how many keys named API it holds."""
    with sqlite3.connect(world.root / ".ehkeys" / "sandbox.db") as db:
        (balance,) = db.execute("SELECT balance FROM accounts WHERE user_id = 'user_abc123'").fetchone()
        (made,) = db.execute("SELECT COUNT(*) FROM keys WHERE name = 'API'").fetchone()
    return Decimal(balance), made


def test_a_vault_mount_that_cannot_take_the_value_refuses_the_apply_before_any_key_is_made(
    world: World, capsys: Any
) -> None:
    """The token may write secret/data/apps/api (a root token may write anything), but no engine
    is mounted at secret/, then a KV version 1 one is: the capabilities said yes, the key was
    made and paid for, and the delivery failed. Vault is now asked what is mounted there."""
    refused = (
        "a new key's value could not be delivered: keys.yaml:4:5: api: vault secret/apps/api#EH_KEY_API: "
    )
    said = {
        "none": "no secrets engine is mounted at secret/: Vault would not describe it (GET "
        "/v1/sys/internal/ui/mounts/secret: HTTP 403), as it does every mount to a token whose policies grant "
        "something on the mount's path, as this one's do on secret/ (root); enable a KV version 2 engine there "
        "(vault secrets enable -path=secret kv-v2), or set the sink's mount: to one; nothing was sent",
        "kv1": "secret/ is a KV version 1 mount, and the sink writes KV version 2's API (a merge patch of "
        "secret/data/apps/api): deliver to a KV version 2 mount, or upgrade this one (vault kv "
        "enable-versioning secret/: its other readers and writers then use secret/data/ paths too); "
        "nothing was sent",
    }
    for case, why in said.items():
        world.vault.calls.clear()
        world.vault.mounts.pop("secret", None)
        if case == "kv1":
            world.vault.mounts["secret"] = Mount(version=None)
        code, out, err = run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)
        assert code == 1 and refused + why in err, out + err
        assert world.vault.calls == ["POST sys/capabilities-self", "GET sys/internal/ui/mounts/secret"]
        assert ledger(world) == (Decimal(1000), 0)  # no key made, no debit
        assert not world.recorded() and not world.github.secrets and not (world.root / "app.env").exists()
    world.vault.mounts["secret"] = Mount()
    code, out, err = run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)
    assert code == 0, out + err
    assert world.vault.secrets == {("secret", "apps/api"): {"EH_KEY_API": account_value(capsys)}}
    record(
        "answer",
        "a Vault sink's mount refused before a create: none mounted there, a KV version 1 mount",
        2,
        "apply refused naming the sink, the mount and the fix; no key made, no debit",
    )


def test_a_vault_mount_requiring_check_and_set_gets_the_value_with_the_secrets_version(
    world: World, capsys: Any
) -> None:
    """cas_required on the mount: KV v2 refuses a write that does not name the secret's current
    version. It passed the apply's checks, and the delivery then failed after the key was made;
    the sink now reads the version and patches with it."""
    world.vault.mounts["secret"].cas_required = True
    world.vault.secrets[("secret", "apps/api")] = {"db_password": "kept"}
    world.vault.versions[("secret", "apps/api")] = 3
    code, out, err = run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)
    assert code == 0, out + err
    assert "✓ api → vault secret/apps/api#EH_KEY_API: delivered" in out
    value = account_value(capsys)
    assert world.vault.secrets[("secret", "apps/api")] == {"db_password": "kept", "EH_KEY_API": value}
    assert world.vault.versions[("secret", "apps/api")] == 4
    assert world.vault.calls[2:] == ["PATCH secret/apps/api", "GET secret/apps/api", "PATCH secret/apps/api"]
    assert value not in out + err


def test_a_token_vault_will_not_describe_the_mount_to_is_warned_not_refused(
    world: World, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its policy reaches secret/ only through a `+` segment: Vault answers it 403 about the mount
    as it would were nothing mounted there. No proof of anything: the apply goes on, warned."""
    world.vault.policies["hvs.segment"] = {"secret/+/apps/*": ["patch", "create"]}
    monkeypatch.setenv("VAULT_TOKEN", "hvs.segment")
    code, out, err = run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)
    assert code == 0, out + err
    assert (
        "ehkeys: WARNING: vault secret/apps/api#EH_KEY_API: Vault would not say what is mounted at secret/ "
        "(GET /v1/sys/internal/ui/mounts/secret: HTTP 403): it answers so where nothing is mounted" in err
    )
    assert world.vault.secrets == {("secret", "apps/api"): {"EH_KEY_API": account_value(capsys)}}
    assert ledger(world)[1] == 1 and "hvs.segment" not in out + err


REFUSES = (
    ": an apply run so refuses to create the key (a warning, not an error: a plan job may lack what only "
    "the apply job is given)"
)


def plan_of(capsys: Any, fmt: str) -> str:
    code, out, err = run_cli(capsys, "plan", "keys.yaml", "--format", fmt, *SANDBOX)
    assert code == 0, out + err  # a warning: a pull request's plan job may lack the apply's tokens
    return out


def test_a_plan_warns_of_each_sink_the_apply_would_refuse_without_failing(
    world: World, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The apply's offline checks (a token or VAULT_ADDR not set or unusable, a command not on
    PATH) said on the create in every format, at the key's FILE:LINE: the plan of a pull request
    is not green while the apply after its merge is refused. No request to GitHub or Vault."""
    (world.root / "keys.yaml").write_text(
        manifest().replace(json.dumps(sys.executable), "ehkeys-no-such-deliverer")
    )
    monkeypatch.delenv("DEPLOY_TOKEN")
    monkeypatch.setenv("VAULT_TOKEN", "hvs.pasted-token\n")  # unusable: never shown
    monkeypatch.delenv("VAULT_ADDR")
    vault = "keys.yaml:4:5: vault secret/apps/api#EH_KEY_API: VAULT_ADDR is not set" + REFUSES
    planned = json.loads(plan_of(capsys, "json"))
    jsonschema.validate(planned, json.loads((ROOT / "schemas" / "plan.schema.json").read_text()))
    (row,) = planned["keys"]
    assert row["action"] == "create" and row["error"] is None and planned["summary"]["error"] == 0
    assert row["warnings"][2:] == [
        f"keys.yaml:4:5: {MISSING}: ehkeys-no-such-deliverer is not a command on PATH" + REFUSES,
        "keys.yaml:4:5: github_secret acme/api:EH_KEY: DEPLOY_TOKEN is not set; it must hold a token that may "
        'write the repository\'s secrets (a fine-grained or GitHub App token with the "Secrets" repository '
        "permission, read and write, or a classic token with the repo scope; a workflow's own GITHUB_TOKEN "
        "cannot)" + REFUSES,
        vault,
    ]
    text, markdown = plan_of(capsys, "text"), plan_of(capsys, "markdown")
    assert f"      warning: {vault}\n" in text
    assert f"\n- warning: {vault}" in markdown  # in the PR comment, under the key's details
    monkeypatch.setenv("VAULT_ADDR", "http://127.0.0.1:1")
    row = json.loads(plan_of(capsys, "json"))["keys"][0]
    assert row["warnings"][-1] == (
        "keys.yaml:4:5: vault secret/apps/api#EH_KEY_API: VAULT_TOKEN holds a character no token has (a "
        "newline, a space, or one beyond ASCII): check how it is set (its value is not shown)" + REFUSES
    )
    assert not world.vault.calls and not world.github.calls  # offline
    code, out, err = run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)
    assert code == 1 and "ehkeys-no-such-deliverer is not a command on PATH" in err  # as the plan warned
    for output in (text, markdown, out, err):
        assert "hvs.pasted-token" not in output
    (world.root / "keys.yaml").write_text(manifest())  # every sink usable: nothing warned
    monkeypatch.setenv("DEPLOY_TOKEN", fakegithub.TOKEN)
    monkeypatch.setenv("VAULT_TOKEN", fakevault.TOKEN)
    (row,) = json.loads(plan_of(capsys, "json"))["keys"]
    assert row["action"] == "create" and not [w for w in row["warnings"] if "refuses" in w]


def test_a_sink_added_to_an_existing_key_is_noted_until_deliver_fills_it(world: World, capsys: Any) -> None:
    only_file = "\n".join(line for line in manifest().splitlines() if "command" not in line) + "\n"
    (world.root / "keys.yaml").write_text(only_file)
    assert run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)[0] == 0
    assert plan_json(capsys)["notes"] == []  # every sink it has got the value
    state = json.loads(next((world.root / ".ehkeys").rglob("state.json")).read_text())
    assert state["delivered"]["api"][0] == "file app.env#EH_KEY_API"  # sinks by name, never a value
    (world.root / "keys.yaml").write_text(manifest())  # the command sink added to the existing key
    notes = plan_json(capsys)["notes"]
    assert notes == [
        f"api: {RECORDING} never received this key's value: `ehkeys deliver` (or the deliver workflow) "
        "delivers it; apply delivers a value only when it creates the key"
    ]
    code, out, err = run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)
    assert code == 0 and not world.recorded()  # apply sends a key's value only when it creates it
    assert run_cli(capsys, "deliver", "keys.yaml", *SANDBOX)[0] == 0
    assert [r["stdin"] for r in world.recorded()] == [account_value(capsys)]
    assert plan_json(capsys)["notes"] == []


def test_a_state_without_deliveries_has_no_delivered_record(world: World, capsys: Any) -> None:
    (world.root / "keys.yaml").write_text(
        "version: 1\nkeys:\n  - {id: web, name: Web, limit_type: daily, allocated_ammount: 1}\n"
    )
    assert run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)[0] == 0
    state = json.loads(next((world.root / ".ehkeys").rglob("state.json")).read_text())
    assert "delivered" not in state and "deliveries" not in state and state["bindings"]


TWO_OF_A_KIND = delivering(
    """command: [sh, -c, 'read -r v; printf %s "$v" | gh secret set EH_KEY --repo acme/api']""",
    """command: [sh, -c, 'curl -H "X-Token: ${DEPLOY_TOKEN}" -d @- https://hooks.example']""",
    """command: [sh, -c, 'read -r v; echo ek-proxy-writtenintheline0123 &&
          aws secretsmanager put-secret-value --secret-id prod/api --secret-string "$v"']""",
    "file: app.env",
    "file: app.env\n        name: OPENAI_API_KEY",
)


def test_two_sinks_of_one_kind_are_told_apart_in_the_plan_with_no_value_shown(
    world: World, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each was `→ command sh` (and `→ file app.env`): a reviewer could not tell which command
    would get the key. Each shows its words as written, the variable a word names but never its
    value, a long one shortened, anything key-shaped in it redacted."""
    (world.root / "keys.yaml").write_text(TWO_OF_A_KIND)
    monkeypatch.setenv("DEPLOY_TOKEN", "ghp_tokenfromtheenvironment42")
    shown = [
        """command sh -c 'read -r v; printf %s "$v" | gh secret set EH_KEY --repo acme/api'""",
        """command sh -c 'curl -H "X-Token: ${DEPLOY_TOKEN}" -d @- https://hooks.example'""",
        """command sh -c 'read -r v; echo ek-proxy-…0123 && aws se…pi --secret-string "$v"'""",
        "file app.env#EH_KEY_API",
        "file app.env#OPENAI_API_KEY",
    ]
    (row,) = json.loads(plan_of(capsys, "json"))["keys"]
    assert row["deliver"] == shown
    text, markdown = plan_of(capsys, "text"), plan_of(capsys, "markdown")
    assert "".join(f"      → {sink}\n" for sink in shown) in text, text
    assert 'The new value goes to: → command sh -c \'read -r v; printf %s "$v" \\| gh' in markdown, markdown
    for output in (json.dumps(row), text, markdown):
        assert "tokenfromtheenvironment" not in output and "writtenintheline" not in output
