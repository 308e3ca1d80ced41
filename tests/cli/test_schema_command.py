"""`ehkeys schema`: the manifest's JSON Schema, the very one `validate` checks with, printed or
written with --out; never written over a file ehkeys keeps, an edit of it, or a file of the user's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler.manifest import resources, schemacheck
from reconciler.manifest.yamlsrc import parse

from ..helpers import ROOT, TESTS, run_cli, sandbox_state_dir

SHIPPED = TESTS / "shipped" / "manifest.schema.79727a1.json"  # ehkeys' first manifest schema
KEY = {"id": "backend", "name": "Backend", "limit_type": "daily", "allocated_ammount": 5}
DOCUMENTS = {  # JSON is YAML: each is read by validate as jsonschema reads it here
    "valid": {"version": 1, "keys": [KEY]},
    "an unknown field": {"version": 1, "keys": [{**KEY, "colour": "red"}]},
    "an amount in words": {"version": 1, "keys": [{**KEY, "allocated_ammount": "ten"}]},
    "a window of no kind": {"version": 1, "keys": [{**KEY, "limit_type": "fortnightly"}]},
    "a key without a name": {"version": 1, "keys": [{k: v for k, v in KEY.items() if k != "name"}]},
    "another version": {"version": 2, "keys": [KEY]},
    "neither version nor keys": {"defaults": {"limit_type": "daily"}},
}
# What a file needs depends on its place, which an editor cannot see: the schema takes each kind.
DIRECTORY = {"ehkeys.yaml": {"version": 1}, "team.yaml": {"keys": [KEY]}}
SHIPPED_MANIFESTS = [ROOT / "keys.example.yaml", *sorted((ROOT / "examples").rglob("*.yaml"))]


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


def editor(capsys: Any) -> jsonschema.protocols.Validator:
    """The printed schema, as an editor checks a file with it."""
    schema = json.loads(printed(capsys))
    return jsonschema.validators.validator_for(schema)(schema)


def test_the_printed_schema_takes_each_file_of_a_directory_manifest(workdir: Path, capsys: Any) -> None:
    """ehkeys.yaml needs no keys, a team file no version: an editor flagged both."""
    for name, document in DIRECTORY.items():
        assert [e.message for e in editor(capsys).iter_errors(document)] == [], name
        Path(name).write_text(json.dumps(document))
    code, out, err = run_cli(capsys, "validate", ".")
    assert (code, out, err) == (0, "", "0 warning(s); 1 key(s) valid\n")


def test_a_file_on_its_own_still_needs_version_and_keys(workdir: Path, capsys: Any) -> None:
    for name, document in DIRECTORY.items():
        Path("keys.yaml").write_text(json.dumps(document))
        code, out, _ = run_cli(capsys, "validate", "keys.yaml")
        missing = "keys" if name == "ehkeys.yaml" else "version"
        assert (code, out) == (1, f"keys.yaml:1:1: missing required field '{missing}'\n"), out


@pytest.mark.parametrize("path", SHIPPED_MANIFESTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_manifest_file_shipped_is_valid_to_an_editor(capsys: Any, path: Path) -> None:
    """Read as YAML 1.2 (as editors read it: a date stays a string), checked by jsonschema."""
    document = parse(path.read_text(encoding="utf-8")).data
    assert [e.message for e in editor(capsys).iter_errors(document)] == []


def test_validate_checks_each_file_by_the_kinds_the_schema_names() -> None:
    """The schema's top level takes any of its kinds of file, and only those: validate checks
    a file with its place's kind in that `anyOf`'s stead."""
    schema = resources.schema("manifest")
    assert schema["anyOf"] == [{"$ref": f"#/$defs/{kind}"} for kind in schemacheck.KINDS.values()]
    assert {role: schemacheck.required(role) for role in schemacheck.KINDS} == {
        "manifest": ("version", "keys"),
        "settings": ("version",),
        "keys": ("keys",),
    }


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


def test_out_never_takes_the_name_of_the_folder_ehkeys_keeps_its_states_in(
    workdir: Path, capsys: Any
) -> None:
    """`--out .ehkeys` (none there yet) wrote a file of that name: the next plan or apply of a
    manifest in that folder could not make the folder it keeps its state in."""
    for path in [".ehkeys", "keys/.ehkeys", "keys/../.ehkeys"]:
        Path("keys").mkdir(exist_ok=True)
        code, out, err = run_cli(capsys, "schema", "--out", path)
        assert (code, out) == (1, ""), err
        assert f"--out {path}: that is where ehkeys keeps a state, its journal or its lock" in err, err
        assert not Path(path).exists()
    Path("keys.yaml").write_text(json.dumps(DOCUMENTS["valid"]))
    assert run_cli(capsys, "plan", "keys.yaml", "--sandbox")[0] == 0


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
