"""`ehkeys drift` end to end on the sandbox: apply, then someone changes keys behind ehkeys' back
through the API, and drift says what happened, group by group."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from reconciler.api.client import Client
from reconciler.core.secrets import ProxyKey
from reconciler.manifest import resources
from reconciler.sandbox import BASE_URL, Sandbox, seeds

from ..helpers import key_value, run_cli, sandbox_state_dir, seed_data

SANDBOX = ["--sandbox", "--sandbox-seed", "seed.yaml"]
FUTURE = 1_900_000_000
DIGEST = re.compile(r"<!-- ehkeys-drift-digest: ([0-9a-f]{64}) -->")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "seed.yaml").write_text(yaml.safe_dump(seed_data(3, expires_at=FUTURE)))
    return tmp_path


def manifest(*entries: str) -> str:
    return "version: 1\nkeys:\n" + "".join(entries)


def key(i: int, allocation: int = 10, extra: str = "") -> str:
    """By id only: bound by name on the first apply, then by the state."""
    text = f"  - id: k{i}\n    name: key-{i}\n    limit_type: daily\n    allocated_ammount: {allocation}\n"
    return text + "".join(f"    {line}\n" for line in extra.splitlines())


def applied(capsys: Any, text: str) -> None:
    Path("keys.yaml").write_text(text)
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0


def drift(capsys: Any, *extra: str) -> tuple[int, str, str]:
    return run_cli(capsys, "drift", "keys.yaml", *SANDBOX, *extra)


def box() -> Sandbox:
    return Sandbox.open(".ehkeys/sandbox.db", seeds.load("seed.yaml"))


def behind_our_back(act: Callable[[Client, Sandbox], Awaitable[object]]) -> None:
    """Someone else, with the account key, through the API (the dashboard does the same)."""
    sandbox = box()

    async def run() -> None:
        async with Client(sandbox.api_key, BASE_URL, transport=sandbox.transport()) as client:
            await act(client, sandbox)

    asyncio.run(run())


def edit(i: int, **fields: Any) -> Callable[[Client, Sandbox], Awaitable[None]]:
    async def update(client: Client, sandbox: Sandbox) -> None:
        now = sandbox.store.key(key_value(i))
        assert now is not None
        body = {
            f: now[f] for f in ("name", "expires_at", "allocated_ammount", "model_whitelist", "ip_whitelist")
        }
        await client.update({"proxy_key": key_value(i), **body, "limit_type": "daily", **fields})

    return update


def test_changes_behind_ehkeys_back_show_field_by_field(workdir: Path, capsys: Any) -> None:
    applied(capsys, manifest(key(0), key(1), key(2), key(3, allocation=5)))
    assert drift(capsys)[0] == 0
    behind_our_back(edit(0, name="renamed by hand", allocated_ammount=12))
    behind_our_back(edit(1, ip_whitelist=["10.0.0.0/8", "192.168.1.0/24"]))
    behind_our_back(lambda client, _: client.toggle(ProxyKey(key_value(2))))
    code, out, _ = drift(capsys)
    assert code == 2
    assert out.startswith(
        "Drift: 3 key(s) changed outside ehkeys (name, allocated_ammount, ip_whitelist, is_active)."
    ) or out.startswith(
        "Drift: 3 key(s) changed outside ehkeys (allocated_ammount, ip_whitelist, is_active, name)."
    )
    assert 'name: "key-0" -> "renamed by hand"   [next apply: reverts it]' in out
    assert "allocated_ammount: 10.00 -> 12.00   [next apply: reverts it]" in out
    assert "ip_whitelist: +192.168.1.0/24   [next apply: nothing: the manifest leaves it unmanaged]" in out
    assert "is_active: true -> false   [next apply: nothing: the manifest leaves it unmanaged]" in out
    assert "Manifest not applied yet" not in out


def test_a_key_deleted_behind_ehkeys_back_would_be_created_again(workdir: Path, capsys: Any) -> None:
    applied(capsys, manifest(key(0), key(1), key(2)))
    behind_our_back(lambda client, _: client.remove(ProxyKey(key_value(1))))
    code, out, _ = drift(capsys, "--format", "json")
    data = json.loads(out)
    (gone,) = data["groups"]["changed_outside"]
    assert code == 2 and gone["address"] == "k1" and gone["deleted"].startswith("creates it again")
    assert data["groups"]["not_applied"] == []


def test_a_manifest_edit_not_applied_is_group_two(workdir: Path, capsys: Any) -> None:
    applied(capsys, manifest(key(0), key(1), key(2)))
    Path("keys.yaml").write_text(manifest(key(0, allocation=15), key(1), key(2), key(9)))
    code, out, _ = drift(capsys)
    assert code == 2 and "Changed outside" not in out
    assert "Manifest not applied yet (2):\n  ~ key-0 (ek-proxy-…part): update\n" in out
    assert "      allocated_ammount: 10.00 -> 15.00\n" in out and "  + key-9 (a new key): create\n" in out


def test_a_new_unmanaged_key_is_new_once(workdir: Path, capsys: Any) -> None:
    applied(capsys, manifest(key(0), key(1), key(2)))
    body = {"name": "made by hand", "expires_at": -1, "allocated_ammount": 3}
    behind_our_back(lambda client, _: client.create({**body, "model_whitelist": [], "ip_whitelist": []}))
    code, out, _ = drift(capsys)
    assert code == 2 and "1 unmanaged key(s) in the account (1 new)" in out
    assert "made by hand (ek-proxy-…" in out and "NEW since the last drift run" in out
    code, out, _ = drift(capsys)
    assert code == 2 and "(0 new)" in out and "NEW" not in out and "first seen 20" in out
    seen = json.loads((sandbox_state_dir() / "drift-seen.json").read_text())
    assert seen["format_version"] == 1 and len(seen["unmanaged"]) == 1
    assert "ek-proxy" not in json.dumps(seen)


def test_state_moves_the_seen_file_too(workdir: Path, capsys: Any) -> None:
    Path("keys.yaml").write_text(manifest(key(0), key(1)))
    run_cli(capsys, "drift", "keys.yaml", *SANDBOX, "--state", "elsewhere/state.json")
    assert (
        Path("elsewhere/drift-seen.json").exists() and not (sandbox_state_dir() / "drift-seen.json").exists()
    )


def test_expiring_and_heavily_used_keys_warn_but_drift_passes(workdir: Path, capsys: Any) -> None:
    data = seed_data(2, expires_at=4_000_000_000)
    data["keys"][0].update(used_ammount=9.5)  # of 10
    Path("seed.yaml").write_text(yaml.safe_dump(data))
    applied(capsys, manifest(key(0), key(1)))
    code, out, _ = drift(capsys)
    assert code == 0 and out.startswith(
        "In sync: the account's keys match the manifest (1 health warning(s))."
    )
    assert "key-0 (ek-proxy-…part): used 9.50 of 10.00 credits (95%)" in out
    code, out, _ = drift(capsys, "--expiring-within", "100000", "--usage-warning", "99")
    assert code == 0 and "expires on 2096-10-02T07:06:40Z" in out and "used 9.50" not in out


def test_the_digest_holds_while_only_usage_moves_and_changes_with_a_finding(
    workdir: Path, capsys: Any
) -> None:
    Path("seed.yaml").write_text(yaml.safe_dump(seed_data(2, used_ammount=9.5)))
    applied(capsys, manifest(key(0), key(1)))
    behind_our_back(edit(1, name="moved"))
    first = DIGEST.findall(drift(capsys, "--format", "markdown")[1])
    box().store.db.execute("UPDATE keys SET used_ammount = 9.9")
    box().store.db.commit()
    code, out, _ = drift(capsys, "--format", "markdown")
    assert "used 9.90 of 10.00 credits (99%)" in out and DIGEST.findall(out) == first
    behind_our_back(edit(0, allocated_ammount=11))
    assert DIGEST.findall(drift(capsys, "--format", "markdown")[1]) != first


def test_markdown_for_the_drift_issue(workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = workdir / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    applied(capsys, manifest(key(0), key(1)))
    behind_our_back(edit(0, name="<b>|pipe`"))
    Path("keys.yaml").write_text(manifest(key(0), key(1, allocation=20)))
    code, out, _ = drift(capsys, "--format", "markdown")
    lines = out.splitlines()
    assert (
        code == 2
        and lines[0] == "<!-- ehkeys-drift -->"
        and lines[1].startswith("### ehkeys drift: 1 key(s)")
    )
    assert DIGEST.fullmatch(lines[2])
    assert '| key-0 (`ek-proxy-…part`) | name | "key-0" → "&lt;b&gt;\\|pipe&#96;" | reverts it |' in out
    assert out.index("#### Changed outside") < out.index("#### Manifest not applied yet")
    assert summary.read_text().endswith(out)  # after the apply's summary


def test_json_follows_its_schema(workdir: Path, capsys: Any) -> None:
    data = seed_data(4, expires_at=FUTURE)
    data["keys"][0].update(used_ammount=9.9)
    Path("seed.yaml").write_text(yaml.safe_dump(data))
    applied(capsys, manifest(key(0), key(1), key(2)))
    behind_our_back(edit(1, ip_whitelist=[]))
    behind_our_back(lambda client, _: client.remove(ProxyKey(key_value(2))))
    Path("keys.yaml").write_text(manifest(key(0, allocation=30), key(1), key(2), key(5)))
    code, out, _ = drift(capsys, "--format", "json")
    found = json.loads(out)
    jsonschema.validate(found, resources.schema("drift"))
    groups = found["groups"]
    assert (
        code == 2
        and found["in_sync"] is False
        and [g["address"] for g in groups["changed_outside"]] == ["k1", "k2"]
    )
    assert [g["address"] for g in groups["not_applied"]] == ["k0", "k5"] and len(groups["unmanaged"]) == 1
    assert {h["kind"] for h in found["health"]} == {"usage"} and "secretpart" not in out
    Path("keys.yaml").write_text(manifest(key(0), key(1)))
    applied(capsys, manifest(key(0), key(1), key(3)))
    code, out, _ = drift(capsys, "--format", "json")
    assert json.loads(out)["in_sync"] is True, out
    assert code == 0
    jsonschema.validate(json.loads(out), resources.schema("drift"))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--expiring-within", "-1"], "argument --expiring-within: expected a number of days of 0 or more"),
        (["--expiring-within", "soon"], "argument --expiring-within: expected a number of days of 0 or more"),
        (["--usage-warning", "-5"], "argument --usage-warning: expected a percentage of 0 or more"),
        (["--usage-warning", "nan"], "argument --usage-warning: expected a percentage of 0 or more"),
    ],
)
def test_bad_health_options_are_usage_errors_naming_the_flag(
    workdir: Path, capsys: Any, argv: list[str], message: str
) -> None:
    Path("keys.yaml").write_text(manifest(key(0)))
    code, _, err = drift(capsys, *argv)
    assert code == 1 and message in err and "Traceback" not in err


def test_a_key_updated_outside_ehkeys_gets_its_limit_type_sent_again(workdir: Path, capsys: Any) -> None:
    """An update without limit_type resets it to daily: the state's `weekly` no longer holds."""
    applied(capsys, manifest(key(0).replace("daily", "weekly"), key(1).replace("daily", "weekly")))
    behind_our_back(edit(0, name="renamed by hand"))  # the edit sends limit_type daily
    assert box().store.key(key_value(0))["limit_type"] == "daily"
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX)
    assert 'limit_type: (unknown) -> "weekly"' in out and out.count("limit_type") == 2  # that key's only
    assert out.count("updated outside ehkeys since the last apply") == 1  # why it is unknown, said once
    applied(capsys, manifest(key(0).replace("daily", "weekly"), key(1).replace("daily", "weekly")))
    assert box().store.key(key_value(0))["limit_type"] == "weekly"


def grouped(*entries: str) -> str:
    """key-0 and key-1 in group ml, key-2 in group pay, key-3 in none."""
    return "version: 1\ngroups:\n  ml: {}\n  pay: {}\nkeys:\n" + "".join(entries)


def test_the_report_rolls_up_per_group_in_text_markdown_and_json(workdir: Path, capsys: Any) -> None:
    """A team sees its keys at a glance: ml has one key changed by hand and one used to 95%; pay's
    key is in sync; key-3 (no group) and the unmanaged key count in no group."""
    data = seed_data(4, expires_at=FUTURE)
    data["keys"][1].update(used_ammount=9.5)
    Path("seed.yaml").write_text(yaml.safe_dump(data))
    entries = (key(0, extra="group: ml"), key(1, extra="group: ml"), key(2, extra="group: pay"))
    applied(capsys, grouped(*entries, key(3)))
    behind_our_back(edit(0, allocated_ammount=12))
    Path("keys.yaml").write_text(grouped(*entries[:2], key(2, 15, "group: pay"), key(3, 20)))
    code, out, _ = drift(capsys)
    assert code == 2
    assert (
        "\nBy group (2):\n"
        "  ml: 2 keys, 1 with drift (1 changed outside ehkeys); 1 health warning\n"
        "  pay: 1 key, 1 with drift (1 not applied yet)\n\n"
    ) in out
    code, md, _ = drift(capsys, "--format", "markdown")
    assert (
        "#### By group (2)\n\n"
        "| Group | Keys | With drift | Changed outside | Not applied | Never applied | Health warnings |\n"
        "|---|---|---|---|---|---|---|\n"
        "| ml | 2 | 1 | 1 | 0 | 0 | 1 |\n"
        "| pay | 1 | 1 | 0 | 1 | 0 | 0 |\n"
    ) in md
    code, raw, _ = drift(capsys, "--format", "json")
    found = json.loads(raw)
    jsonschema.validate(found, resources.schema("drift"))
    assert found["by_group"] == {
        "ml": {
            "keys": 2,
            "drifted": 1,
            "changed_outside": 1,
            "not_applied": 0,
            "never_applied": 0,
            "health": 1,
        },
        "pay": {
            "keys": 1,
            "drifted": 1,
            "changed_outside": 0,
            "not_applied": 1,
            "never_applied": 0,
            "health": 0,
        },
    }
    applied(capsys, grouped(*entries[:2], key(2, extra="group: pay"), key(3)))
    code, out, _ = drift(capsys)
    assert "  pay: 1 key, in sync\n" in out


def test_a_manifest_without_groups_has_no_roll_up(workdir: Path, capsys: Any) -> None:
    applied(capsys, manifest(key(0), key(1)))
    Path("keys.yaml").write_text(manifest(key(0, allocation=20), key(1)))
    assert "By group" not in drift(capsys)[1]
    assert "By group" not in drift(capsys, "--format", "markdown")[1]
    assert "by_group" not in json.loads(drift(capsys, "--format", "json")[1])
