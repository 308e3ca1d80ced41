"""`ehkeys schema`: the manifest's JSON Schema, the very one `validate` checks with, printed or
written with --out; never written over a file ehkeys keeps, an edit of it, or a file of the user's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler.manifest import resources

from ..helpers import TESTS, run_cli, sandbox_state_dir

SHIPPED = TESTS / "shipped" / "manifest.schema.79727a1.json"  # ehkeys' first manifest schema
KEY = {"id": "backend", "name": "Backend", "limit_type": "daily", "allocated_ammount": 5}
DOCUMENTS = {  # JSON is YAML: each is read by validate as jsonschema reads it here
    "valid": {"version": 1, "keys": [KEY]},
    "an unknown field": {"version": 1, "keys": [{**KEY, "colour": "red"}]},
    "an amount in words": {"version": 1, "keys": [{**KEY, "allocated_ammount": "ten"}]},
    "a window of no kind": {"version": 1, "keys": [{**KEY, "limit_type": "fortnightly"}]},
    "a key without a name": {"version": 1, "keys": [{k: v for k, v in KEY.items() if k != "name"}]},
    "another version": {"version": 2, "keys": [KEY]},
    "no keys": {"version": 1},
}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def printed(capsys: Any) -> str:
    code, out, err = run_cli(capsys, "schema")
    assert (code, err) == (0, ""), err
    return out


@pytest.mark.parametrize("case", list(DOCUMENTS))
def test_the_printed_schema_judges_a_manifest_as_validate_does(workdir: Path, capsys: Any, case: str) -> None:
    schema = json.loads(printed(capsys))
    valid = jsonschema.validators.validator_for(schema)(schema).is_valid(DOCUMENTS[case])
    Path("keys.yaml").write_text(json.dumps(DOCUMENTS[case]))
    code, out, _ = run_cli(capsys, "validate", "keys.yaml")
    assert valid == (code == 0) == (case == "valid"), out


def test_it_prints_the_schema_validate_loads_byte_for_byte(workdir: Path, capsys: Any) -> None:
    assert printed(capsys) == resources.schema_text("manifest")
    assert json.loads(printed(capsys)) == resources.schema("manifest")


def test_out_writes_it_once_and_says_so(workdir: Path, capsys: Any) -> None:
    code, out, err = run_cli(capsys, "schema", "--out", "manifest.schema.json")
    assert (code, out) == (0, "") and Path("manifest.schema.json").read_text() == printed(capsys)
    assert "wrote manifest.schema.json, ehkeys' manifest schema: name it on a manifest's first line" in err
    assert "`# yaml-language-server: $schema=<its path from the manifest's folder>`" in err
    code, _, err = run_cli(capsys, "schema", "--out", "manifest.schema.json")
    assert code == 0 and "holds this ehkeys' manifest schema already: nothing was written" in err
    shutil.copy(SHIPPED, "older.schema.json")  # a schema ehkeys shipped, unedited: brought up to date
    code, _, err = run_cli(capsys, "schema", "--out", "older.schema.json")
    assert code == 0 and Path("older.schema.json").read_text() == printed(capsys)
    assert "updated older.schema.json to this ehkeys' manifest schema (it held another version's" in err


def test_out_never_replaces_a_state_its_journal_or_lock(workdir: Path, capsys: Any) -> None:
    Path("keys.yaml").write_text(json.dumps(DOCUMENTS["valid"]))
    assert run_cli(capsys, "apply", "keys.yaml", "--sandbox", "--auto-approve")[0] == 0
    state = sandbox_state_dir("keys.yaml") / "state.json"
    kept = {p: p.read_bytes() for p in [state, Path(".ehkeys/sandbox.db")]}
    for path in [
        state,
        state.parent / "journal.jsonl",
        state.parent / ".apply.lock",
        Path(".ehkeys/new.json"),
    ]:
        code, out, err = run_cli(capsys, "schema", "--out", str(path))
        assert (code, out) == (1, ""), err
        assert f"--out {path}: that is where ehkeys keeps a state, its journal or its lock" in err, err
    shutil.copy(state, "state-elsewhere.json")  # a state kept with --state: told by its content
    code, _, err = run_cli(capsys, "schema", "--out", "state-elsewhere.json")
    assert code == 1 and "--out state-elsewhere.json: it is there and is not ehkeys' manifest schema" in err
    assert "nothing was written: move it away, or name another file" in err
    assert {p: p.read_bytes() for p in kept} == kept
    assert Path("state-elsewhere.json").read_bytes() == kept[state]


def test_out_refuses_an_edit_a_manifest_and_what_is_no_file(workdir: Path, capsys: Any) -> None:
    edited = json.dumps({**resources.schema("manifest"), "title": "ehkeys manifest, with our rules"})
    Path("manifest.schema.json").write_text(edited)
    code, _, err = run_cli(capsys, "schema", "--out", "manifest.schema.json")
    assert code == 1 and Path("manifest.schema.json").read_text() == edited
    said = " ".join(err.split())
    assert (
        "--out manifest.schema.json: it holds an edited copy of ehkeys' manifest schema (its $id is "
        "ehkeys', its text no schema ehkeys shipped), and an edit is never overwritten; nothing was "
        "written: move it away first, or merge your edits into this version's schema" in said
    ), said
    Path("keys.yaml").write_text("version: 1\nkeys: []\n")
    for path, why in [
        ("keys.yaml", "the schema is JSON, and a YAML file is read as a manifest; like manifest.schema.json"),
        ("new.yml", "the schema is JSON"),
        (".", "not a regular file (a device, a pipe or a folder)"),
        ("/dev/null", "not a regular file (a device, a pipe or a folder)"),
        ("no/such/schema.json", "no such directory no/such"),
    ]:
        code, out, err = run_cli(capsys, "schema", "--out", path)
        assert (code, out) == (1, "") and f"ehkeys: error: --out {path}: {why}" in err, err
    assert Path("keys.yaml").read_text() == "version: 1\nkeys: []\n" and not Path("new.yml").exists()


def test_a_mistyped_option_is_a_usage_error(capsys: Any) -> None:
    code, out, err = run_cli(capsys, "schema", "--outt", "x.json")
    assert (code, out) == (1, "") and "usage: ehkeys schema" in err
