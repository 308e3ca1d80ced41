"""What the state must remember so that no key is lost or doubled (issue 19, items 3, 6, 10),
end to end on the sandbox: a binding used but never sent to, a lost state under `prune: true`,
and a protection that outlives its manifest entry."""

from __future__ import annotations

import json
import shutil
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.sandbox import Sandbox, seeds

from ..helpers import run_cli, sandbox_state_dir, seed_data
from ..reliability_log import record

SANDBOX = ["--sandbox", "--sandbox-seed", "seed.yaml"]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed_data(1, name="Docs Bot")))
    return tmp_path


def manifest(*keys: dict[str, Any], **settings: Any) -> None:
    Path("keys.yaml").write_text(
        yaml.safe_dump({"version": 1, **settings, "keys": list(keys)}, sort_keys=False)
    )


def cli(capsys: Any, command: str, *extra: str) -> tuple[int, str, str]:
    more = ("--auto-approve",) if command == "apply" else ()
    return run_cli(capsys, command, "keys.yaml", *SANDBOX, *more, *extra)


def box() -> Sandbox:
    return Sandbox.open(".ehkeys/sandbox.db", seeds.load("seed.yaml"))


def live() -> dict[str, Decimal]:
    return {k["name"]: Decimal(k["allocated_ammount"]) for k in box().store.keys_of("u1")}


def balance() -> Decimal:
    return Decimal(box().store.account("u1")["balance"])


def rename_in_dashboard(old: str, new: str) -> None:
    with sqlite3.connect(".ehkeys/sandbox.db") as db:
        db.execute("UPDATE keys SET name = ? WHERE name = ?", (new, old))


DOCS = {"name": "Docs Bot", "allocated_ammount": 10, "limit_type": "daily"}


# --- item 3: a binding used is recorded, also when nothing is sent ---------------------------


def test_an_id_added_to_an_adopted_key_is_recorded_so_a_rename_updates_it(workdir: Path, capsys: Any) -> None:
    manifest(DOCS)
    assert cli(capsys, "apply")[0] == 0
    manifest({"id": "dev", **DOCS})  # nothing else changed
    code, out, _ = cli(capsys, "plan")
    assert code == 0 and "Docs Bot: adopted by name (the next apply records it)" in out, out
    code, out, _ = cli(capsys, "apply")
    assert code == 0 and "Nothing to apply." in out and "recorded 1 binding" in out and "(dev)" in out, out
    assert "dev" in json.loads((sandbox_state_dir() / "state.json").read_text())["bindings"]
    assert "adopted by name" not in cli(capsys, "plan")[1]  # bound by the state from now on

    manifest({"id": "dev", **DOCS, "name": "Docs Robot"})
    code, out, _ = cli(capsys, "plan")
    assert code == 0 and "0 to create, 1 to update" in out and '"Docs Bot" -> "Docs Robot"' in out, out
    before = balance()
    assert cli(capsys, "apply")[0] == 0
    assert live() == {"Docs Robot": Decimal(10)} and balance() == before  # renamed, never doubled
    record(
        "state", "an id added to a key adopted by name, then a rename", 1, "binding recorded; rename updates"
    )


def test_import_out_says_how_many_bindings_it_recorded(workdir: Path, capsys: Any) -> None:
    code, _, err = run_cli(capsys, "import", "--all", "--out", "imported.yaml", *SANDBOX)
    assert code == 0 and "recorded its 1 key's binding in" in err, err


def test_import_of_an_empty_account_says_no_state_was_written(workdir: Path, capsys: Any) -> None:
    """It said 'recorded 0 bindings in …/state.json', a file it never wrote."""
    Path("seed.yaml").write_text(
        yaml.safe_dump({**yaml.safe_load(Path("seed.yaml").read_text()), "keys": []})
    )
    code, _, err = run_cli(capsys, "import", "--all", "--out", "imported.yaml", *SANDBOX)
    assert code == 0 and "the account has no keys: no state was written" in err, err
    assert not list(workdir.glob("**/state.json")) and "recorded" not in err


def test_import_over_an_existing_manifest_says_what_to_do_instead(workdir: Path, capsys: Any) -> None:
    Path("imported.yaml").write_text("version: 1\nkeys: []\n")
    code, _, err = run_cli(capsys, "import", "--all", "--out", "imported.yaml", *SANDBOX)
    assert code == 1 and "the file exists" in err and "name another file" in err and "ehkeys plan" in err, err


# --- item 6: a lost state under prune: true costs no key ---------------------------------------


def test_a_lost_state_under_prune_never_deletes_a_renamed_key(workdir: Path, capsys: Any) -> None:
    manifest({"id": "docs", **DOCS}, prune=True)
    assert cli(capsys, "apply")[0] == 0
    rename_in_dashboard("Docs Bot", "Docs Robot")
    shutil.rmtree(".ehkeys/keys")  # the state is lost (the sandbox's account is not)
    before = balance()
    code, out, _ = cli(capsys, "plan")
    assert code == 1 and "prune: true, but the state records no binding" in out, out
    assert "create 'Docs Bot' while deleting 'Docs Robot' (ek-proxy-…part)" in out
    assert "prune: false" in out and "proxy_key or its live name" in out
    code, out, err = cli(capsys, "apply")
    assert code == 1 and "nothing was sent" in err, err
    assert live() == {"Docs Robot": Decimal(10)} and balance() == before  # not deleted, not doubled
    assert cli(capsys, "plan")[0] == 1  # a refused apply recorded nothing: still refused

    manifest({"id": "docs", **DOCS, "name": "Docs Robot"}, prune=True)  # as the message says
    code, out, _ = cli(capsys, "apply")
    assert code == 0 and "0 to create" in out and "0 to delete" in out, out
    assert live() == {"Docs Robot": Decimal(10)} and balance() == before
    record(
        "state", "a key renamed in the dashboard, then .ehkeys/ lost, prune: true", 1, "refused: no key lost"
    )


def test_a_lost_state_under_prune_still_prunes_when_every_key_is_found(workdir: Path, capsys: Any) -> None:
    """Nothing to create: no manifest key can be the key pruned, the state or not."""
    other = {"id": "other", "name": "Other", "allocated_ammount": 5, "limit_type": "daily"}
    manifest(other)
    assert cli(capsys, "apply")[0] == 0
    manifest(other, prune=True)
    shutil.rmtree(".ehkeys/keys")
    code, out, _ = cli(capsys, "apply")
    assert code == 0 and "- Docs Bot" in out and set(live()) == {"Other"}, out


# --- item 10: protection is remembered in the state ------------------------------------------


def protected_state() -> dict[str, str]:
    return dict(json.loads((sandbox_state_dir() / "state.json").read_text())["protected"])


def test_a_protected_key_is_deleted_only_after_its_protect_is_removed_and_applied(
    workdir: Path, capsys: Any
) -> None:
    vault = {"id": "vault", "name": "Vault", "allocated_ammount": 20, "limit_type": "daily", "protect": True}
    manifest(DOCS, vault, prune=True)
    code, out, _ = cli(capsys, "apply")
    assert code == 0 and "Vault" in live() and list(protected_state().values()) == ["vault"], out

    manifest(DOCS, prune=True)  # the entry dropped: prune must not take it
    code, out, _ = cli(capsys, "plan")
    assert code == 1 and "protected when last applied (as 'vault'), but the plan would delete" in out, out
    assert cli(capsys, "apply")[0] == 1 and "Vault" in live()

    manifest(DOCS, {**vault, "protect": False, "absent": True}, prune=True)  # in the same change
    code, out, _ = cli(capsys, "apply")
    assert code == 1 and "Vault" in live() and "protected when last applied (as 'vault')" in out, out

    manifest(DOCS, {**vault, "protect": False}, prune=True)  # the reviewed change that unprotects it
    code, out, _ = cli(capsys, "plan")
    assert code == 0 and "protect removed: once this is applied, a later apply may delete" in out, out
    assert cli(capsys, "apply")[0] == 0 and protected_state() == {}

    manifest(DOCS, prune=True)  # only now does dropping it delete it
    before = balance()
    code, out, _ = cli(capsys, "apply")
    assert code == 0 and set(live()) == {"Docs Bot"} and balance() == before + 20, out
    record(
        "state", "a protected key's entry dropped under prune, or made absent", 2, "refused until unprotected"
    )


def test_a_protected_key_dropped_without_prune_is_told_how_to_delete_it(workdir: Path, capsys: Any) -> None:
    """Its note said "to delete it, put it back with absent: true", which the plan then refuses
    (protected when last applied): the way that works is said instead."""
    vault = {"id": "vault", "name": "Vault", "allocated_ammount": 20, "limit_type": "daily", "protect": True}
    manifest(DOCS, vault)
    assert cli(capsys, "apply")[0] == 0
    manifest(DOCS)
    code, out, _ = cli(capsys, "plan")
    assert (
        code == 0
        and (
            "removed from the manifest (it was 'vault'): ehkeys leaves it alone. If you renamed its id, give "
            "the renamed key `id: vault` and it stays this key; it was protected when last applied: to delete "
            "it, put it back without protect and apply that, then give it absent: true"
        )
        in out
    ), out
    assert "put it back with absent: true" not in out


def test_a_protected_key_adopted_in_sync_is_remembered(workdir: Path, capsys: Any) -> None:
    manifest({**DOCS, "protect": True})
    code, out, _ = cli(capsys, "apply")
    assert code == 0 and list(protected_state().values()) == ["Docs Bot"], out
    manifest({"name": "Other", "allocated_ammount": 5, "limit_type": "daily"}, prune=True)
    code, out, _ = cli(capsys, "apply")
    assert code == 3 and "Docs Bot" in live() and "protected when last applied (as 'Docs Bot')" in out, out


def test_secrets_out_in_a_missing_folder_names_the_folder(workdir: Path, capsys: Any) -> None:
    """It said 'cannot write (No such file or directory)': which of the two was missing?"""
    code, _, err = cli(capsys, "apply", "--secrets-out", "gone/new.env")
    assert code == 1 and "--secrets-out gone/new.env: no such directory gone" in err, err
