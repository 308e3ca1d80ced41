"""`ehkeys import`: the manifest it prints is one that plan finds in sync, with no secret in it."""

from __future__ import annotations

import json
import os
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.engine.target import SANDBOX_DB
from reconciler.manifest import resources
from reconciler.planning.importer import env_name
from reconciler.sandbox import Sandbox, seeds

from ..helpers import TESTS, key_value, run_cli, seed_data
from ..reliability_log import record


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    data = seed_data(3)
    data["keys"][1].update(
        name="Batch & Jobs",
        expires_at=1900000000,
        model_whitelist=[],
        ip_whitelist=["2001:db8::/32", "10.1.2.3"],
    )
    (tmp_path / "seed.yaml").write_text(yaml.safe_dump(data))
    return tmp_path


SANDBOX = ["--sandbox", "--sandbox-seed", "seed.yaml"]
SHIPPED = TESTS / "shipped" / "manifest.schema.79727a1.json"  # ehkeys' first manifest schema


def test_an_unedited_import_never_resets_a_weekly_or_monthly_window(workdir: Path, capsys: Any) -> None:
    """Only the account key is needed (ids, no ${VAR}); the window nobody chose is never sent."""
    data = yaml.safe_load(Path("seed.yaml").read_text())
    for key, window in zip(data["keys"], ("weekly", "monthly", "daily"), strict=False):
        key["limit_type"] = window
    Path("seed.yaml").write_text(yaml.safe_dump(data))
    code, out, _ = run_cli(capsys, "import", "--all", *SANDBOX)
    assert code == 0 and "secretpart" not in out and "${" not in out
    assert '  - id: "batch-jobs"\n    name: "Batch & Jobs"\n' in out
    assert out.count("limit_type: unknown  # the API cannot report it: choose daily, weekly or monthly") == 3
    code, said, _ = run_cli(capsys, "validate", write("imported.yaml", out))
    assert code == 0 and "limit_type is unknown (as `ehkeys import` writes it" in said  # as plan refuses it
    assert "until then plan and apply refuse this key" in said
    assert run_cli(capsys, "validate", "imported.yaml", "--strict")[0] == 1
    edit("imported.yaml", "allocated_ammount: 10.00", "allocated_ammount: 12.00")  # key-0: a real change
    code, out, _ = run_cli(capsys, "plan", "imported.yaml", *SANDBOX, "--detailed-exitcode")
    assert code == 1 and out.count("limit_type: (unknown) -> ? choose daily, weekly or monthly") == 3
    assert "allocated_ammount: 10.00 -> 12.00" in out and "3 errors" in out  # still shown as ever
    code, out, _ = run_cli(capsys, "apply", "imported.yaml", *SANDBOX, "--auto-approve")
    assert code == 1 and "Nothing to apply: 3 error(s) above." in out
    assert windows() == ["weekly", "monthly", "daily"] and allocations() == [10, 10, 10]  # nothing sent
    for window in ("weekly", "monthly", "daily"):
        edit("imported.yaml", "limit_type: unknown", f"limit_type: {window}")
    code, out, _ = run_cli(capsys, "apply", "imported.yaml", *SANDBOX, "--auto-approve")
    assert code == 0 and 'limit_type: (unknown) -> "weekly"' in out
    assert windows() == ["weekly", "monthly", "daily"] and allocations() == [12, 10, 10]
    code, out, _ = run_cli(capsys, "plan", "imported.yaml", *SANDBOX, "--detailed-exitcode")
    assert code == 0 and "No changes." in out
    record("money", "an unedited import of weekly and monthly keys, applied", 3, "refused; no window sent")


def edit(path: str, old: str, new: str) -> None:
    Path(path).write_text(Path(path).read_text().replace(old, new, 1))


def stored() -> list[dict[str, Any]]:
    store = Sandbox.open(SANDBOX_DB, seeds.load("seed.yaml")).store
    return [store.key(key_value(i)) or {} for i in range(3)]


def windows() -> list[str]:
    return [k["limit_type"] for k in stored()]


def allocations() -> list[Decimal]:
    return [k["allocated_ammount"] for k in stored()]


def write(name: str, text: str) -> str:
    Path(name).write_text(text)
    return name


def test_two_live_keys_of_one_name_get_distinct_ids_and_their_bindings(workdir: Path, capsys: Any) -> None:
    data = seed_data(3)
    data["keys"][2]["name"] = "key-0"
    Path("seed.yaml").write_text(yaml.safe_dump(data))
    code, _, err = run_cli(capsys, "import", "--all", *SANDBOX, "--out", "keys/keys.yaml")
    text = Path("keys/keys.yaml").read_text()
    assert code == 0 and '  - id: "key-0"\n' in text and '  - id: "key-0-2"\n' in text
    assert "another live key has this name" in text and "secretpart" not in text + err
    assert run_cli(capsys, "validate", "keys/keys.yaml")[0] == 0
    Path("keys/keys.yaml").write_text(text.replace("limit_type: unknown", "limit_type: daily"))
    code, out, _ = run_cli(capsys, "plan", "keys/keys.yaml", *SANDBOX)
    assert code == 0 and "0 errors" in out and "unmanaged" not in out


def test_import_named_keys(workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", key_value(2))
    code, out, _ = run_cli(capsys, "import", "--key-env", "MY_KEY", *SANDBOX)
    assert code == 0 and '"${MY_KEY}"' in out and "secretpart" not in out
    Path("one.yaml").write_text(out)
    code, out, _ = run_cli(capsys, "plan", "one.yaml", *SANDBOX, "--detailed-exitcode")
    assert code == 1 and "limit_type: (unknown) -> ? choose daily, weekly or monthly" in out
    edit("one.yaml", "limit_type: unknown", "limit_type: daily")
    code, out, _ = run_cli(capsys, "plan", "one.yaml", *SANDBOX, "--detailed-exitcode")
    assert code == 2 and "Plan: 0 to create, 1 to update" in out and 'limit_type: (unknown) -> "daily"' in out


def test_import_of_two_keys_of_one_name_by_their_variables_is_a_valid_manifest(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = seed_data(3)
    data["keys"][2]["name"] = "key-0"
    Path("seed.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setenv("K0", key_value(0))
    monkeypatch.setenv("K2", key_value(2))
    code, out, _ = run_cli(
        capsys, "import", "--key-env", "K0", "--key-env", "K2", "--key-env", "K0", *SANDBOX
    )
    assert code == 0 and out.count("proxy_key:") == 2  # K0 named twice: one entry
    assert (
        '  - id: "key-0"\n    proxy_key: "${K0}"' in out
        and '  - id: "key-0-2"\n    proxy_key: "${K2}"' in out
    )
    write("two.yaml", out.replace("limit_type: unknown", "limit_type: daily"))
    assert run_cli(capsys, "validate", "two.yaml")[0] == 0
    code, out, _ = run_cli(capsys, "plan", "two.yaml", *SANDBOX)
    assert code == 0 and "0 errors" in out
    monkeypatch.setenv("K2", key_value(0))
    code, _, err = run_cli(capsys, "import", "--key-env", "K0", "--key-env", "K2", *SANDBOX)
    assert code == 1 and "--key-env K2: the same key as --key-env K0" in err and "secretpart" not in err


def test_a_printed_manifest_names_no_schema_and_no_file_is_written(workdir: Path, capsys: Any) -> None:
    """Printed, its modeline named `manifest.schema.json`, which import wrote nowhere: an editor
    opening `ehkeys import --all > keys.yaml` met a schema it could not load. It names none, writes
    nothing but the sandbox it was asked for, and says how to have one."""
    before = set(workdir.iterdir())
    code, out, err = run_cli(capsys, "import", "--all", *SANDBOX)
    assert code == 0 and out.startswith("# Written by `ehkeys import`.") and "$schema" not in out
    assert set(workdir.iterdir()) - before == {workdir / ".ehkeys"}  # the sandbox: --sandbox asked
    assert "names no schema, and no manifest.schema.json was written: with --out FILE" in err


def test_a_schema_file_of_the_users_beside_the_manifest_is_never_overwritten(
    workdir: Path, capsys: Any
) -> None:
    """It was overwritten, said only as `wrote keys/manifest.schema.json`; refused now, before any
    request or file, naming it."""
    Path("keys").mkdir()
    theirs = Path("keys/manifest.schema.json")
    for text in ('{"title": "our own schema"}\n', "not json at all\n"):
        theirs.write_text(text)
        code, out, err = run_cli(capsys, "import", "--all", *SANDBOX, "--out", "keys/keys.yaml")
        assert code == 1 and out == "" and theirs.read_text() == text
        assert "keys/manifest.schema.json is there and is not ehkeys' manifest schema" in err, err
        assert "move that file away, or write the manifest in another folder" in err
        assert [p.name for p in Path("keys").iterdir()] == ["manifest.schema.json"]  # not even a sandbox


def test_an_edited_schema_that_keeps_ehkeys_id_is_kept_and_one_ehkeys_shipped_is_updated(
    workdir: Path, capsys: Any
) -> None:
    """A schema the user edited, keeping ehkeys' `$id`, was taken for ehkeys' own of another
    version and replaced, the edit lost. What is there is told by its content: a schema ehkeys
    shipped, byte for byte, is updated; anything else with ehkeys' `$id` is an edit, kept and
    named by the manifest's modeline, and stderr says so and why."""
    Path("keys").mkdir()
    theirs = Path("keys/manifest.schema.json")
    edited = json.dumps({**resources.schema("manifest"), "title": "ehkeys manifest, with our team's rules"})
    theirs.write_text(edited)
    code, _, err = run_cli(capsys, "import", "--all", *SANDBOX, "--out", "keys/keys.yaml")
    assert code == 0 and theirs.read_text() == edited, err
    assert (
        Path("keys/keys.yaml").read_text().startswith("# yaml-language-server: $schema=manifest.schema.json")
    )
    said = " ".join(err.split())
    assert (
        "kept keys/manifest.schema.json as it is: an edited copy of ehkeys' manifest schema (its $id is "
        "ehkeys', its text no schema ehkeys shipped), and an edit is never overwritten; the manifest's "
        "first line names it: merge your edits into this version's schema, which `ehkeys schema` prints"
        in said
    ), said

    shutil.rmtree("keys")
    Path("keys").mkdir()
    shutil.copy(SHIPPED, theirs)  # the first manifest schema ehkeys shipped, as it shipped
    code, _, err = run_cli(capsys, "import", "--all", *SANDBOX, "--out", "keys/keys.yaml")
    assert code == 0 and theirs.read_text() == resources.schema_text("manifest"), err
    assert "updated keys/manifest.schema.json to this ehkeys' manifest schema (it held another" in err


def test_import_of_an_unset_variable_is_a_message(workdir: Path, capsys: Any) -> None:
    code, _, err = run_cli(capsys, "import", "--key-env", "NOT_SET_ANYWHERE", *SANDBOX)
    assert code == 1 and "NOT_SET_ANYWHERE: the variable is not set" in err


def test_env_names_are_safe_and_unique() -> None:
    taken: set[str] = set()
    assert env_name("Prod key!", taken) == "EH_KEY_PROD_KEY"
    assert env_name("prod-key", taken) == "EH_KEY_PROD_KEY_2"
    assert env_name("???", taken) == "EH_KEY_UNNAMED"


def test_a_new_key_whose_window_is_unknown_is_never_created(workdir: Path, capsys: Any) -> None:
    text = "version: 1\nkeys:\n  - {name: fresh, limit_type: unknown, allocated_ammount: 5}\n"
    Path("keys.yaml").write_text(text)
    code, out, _ = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")
    assert code == 1 and "limit_type is unknown: choose daily, weekly or monthly to create it" in out
    store = Sandbox.open(SANDBOX_DB, seeds.load("seed.yaml")).store
    assert "fresh" not in [k["name"] for k in store.keys_of("u1")]


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _device(path: Path) -> None:
    path.symlink_to("/dev/zero")  # read whole, it never ends


def _linked_older(path: Path) -> None:
    elsewhere = path.parent.parent / "shared.schema.json"
    elsewhere.write_text(json.dumps({**resources.schema("manifest"), "title": "theirs, shared"}))
    path.symlink_to(elsewhere.resolve())


@pytest.mark.parametrize("made", [_fifo, _device, _linked_older], ids=["fifo", "device", "link"])
def test_a_schema_name_held_by_a_pipe_a_device_or_a_link_is_refused_untouched(
    workdir: Path, capsys: Any, made: Any
) -> None:
    """A pipe there hung import for ever (read, waiting for a writer); a link to /dev/zero ate
    every byte of memory; a link to ehkeys' schema elsewhere was written through, replacing a
    file outside the folder. Each is refused, before any request, and left as it was."""
    Path("keys").mkdir()
    theirs = Path("keys/manifest.schema.json")
    made(theirs)
    before = os.lstat(theirs)
    shared = Path("shared.schema.json").read_text() if Path("shared.schema.json").exists() else None
    code, out, err = run_cli(capsys, "import", "--all", *SANDBOX, "--out", "keys/keys.yaml")
    assert code == 1 and out == "" and "is there and is not ehkeys' manifest schema" in err, err
    assert os.lstat(theirs).st_ino == before.st_ino, "left as it was"
    assert [p.name for p in Path("keys").iterdir()] == [theirs.name]
    assert shared is None or Path("shared.schema.json").read_text() == shared


def test_import_from_a_seed_says_plan_reads_that_account_only_with_the_seed(
    workdir: Path, capsys: Any
) -> None:
    """The notice said `where plan --sandbox reads it`: without --sandbox-seed that plan read the
    bundled seed's account in the same file, and refused every key the state binds."""
    code, _, err = run_cli(capsys, "import", "--all", *SANDBOX, "--out", "keys/keys.yaml")
    assert code == 0, err
    said = "read the sandbox keys/.ehkeys/sandbox.db, beside the manifest, where plan --sandbox"
    assert f"{said} --sandbox-seed seed.yaml reads it" in err, err
    text = Path("keys/keys.yaml").read_text().replace("limit_type: unknown", "limit_type: daily")
    Path("keys/keys.yaml").write_text(text)
    code, out, _ = run_cli(capsys, "plan", "keys/keys.yaml", *SANDBOX)
    assert code == 0 and " 0 errors" in out, out  # as said, the account import read
