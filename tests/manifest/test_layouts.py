"""Layouts: which inputs make which manifest. Several files are several manifests (the
pre-commit case); a folder holding ehkeys.yaml is a directory manifest whose settings live in
that file; a folder without one reads as it always did. The trees in tests/layouts/ are named
after what they show (bad-*: the failure they provoke)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.keys import Location
from reconciler.manifest import layout
from reconciler.manifest import load as manifest
from reconciler.state import paths as statepaths

from ..helpers import run_cli

LAYOUTS = Path(__file__).resolve().parent.parent / "layouts"
NOW = 1_800_000_000


def at(*parts: str) -> str:
    return str(LAYOUTS.joinpath(*parts))


def test_the_pre_commit_case_two_manifests_with_the_same_ids_validate_apart(capsys: Any) -> None:
    prod, staging = at("precommit", "keys.prod.yaml"), at("precommit", "keys.staging.yaml")
    code, out, err = run_cli(capsys, "validate", prod, staging)
    assert (code, out) == (0, ""), out
    assert f"{prod}: 0 warning(s); 2 key(s) valid\n{staging}: 0 warning(s); 2 key(s) valid\n" in err
    assert layout.manifests([prod, staging]) == [(prod,), (staging,)]
    merged = manifest.load([prod, staging], env={})  # what validate did before: one manifest
    assert [e.message.split(":")[0] for e in merged.errors] == [
        "duplicate id 'backend'",
        "duplicate id 'worker'",
    ]


def test_a_directory_manifest_has_its_settings_in_ehkeys_yaml_and_keys_in_team_files() -> None:
    result = manifest.load([at("directory")], env={}, now=NOW)
    assert result.errors == [], result.errors
    loaded = result.manifest
    assert loaded is not None
    assert [(loaded.address(k), k.limit_type, k.location.file) for k in loaded.keys] == [
        ("prod/backend", "monthly", at("directory", "team-a.yaml")),  # the file's account, the defaults
        ("staging/worker", "monthly", at("directory", "team-a.yaml")),  # its own account
        ("staging/backend", "daily", at("directory", "team-b", "keys.yaml")),  # a subfolder's file
    ]
    assert loaded.account("staging").prune_at == Location(at("directory", "ehkeys.yaml"), 4, 54)
    assert loaded.account("prod").key_cap == 50 and loaded.account("prod").per_key_cap == 500


@pytest.mark.parametrize(
    "named",
    [
        ("directory", "team-b", "keys.yaml"),
        ("directory", "team-a.yaml"),
        ("directory", "ehkeys.yaml"),
        ("directory",),
    ],
)
def test_one_file_of_a_directory_manifest_validates_the_whole_of_it(
    named: tuple[str, ...], capsys: Any
) -> None:
    assert layout.manifests([at(*named)]) == [(at("directory"),)]
    code, out, err = run_cli(capsys, "validate", at(*named))
    assert (code, out, err) == (0, "", "0 warning(s); 3 key(s) valid\n")


def test_cross_file_rules_hold_when_only_one_team_file_is_named(capsys: Any) -> None:
    code, out, _ = run_cli(capsys, "validate", at("bad-duplicate-across-team-files", "b.yaml"))
    first = at("bad-duplicate-across-team-files", "a.yaml")
    assert code == 1
    assert f"b.yaml:3:5: duplicate id 'backend': already the id (or name) of the key at {first}:2:5\n" in out


# tree -> (file, line, col, path, severity, a fragment of the message)
PROBLEMS = [
    (
        "bad-setting-twice",
        "team.yaml",
        1,
        1,
        "prune",
        "error",
        f"prune is set differently in {at('bad-setting-twice', 'ehkeys.yaml')}:2: a directory manifest "
        "states its settings once, in",
    ),
    (
        "bad-setting-in-a-team-file",
        "team.yaml",
        3,
        1,
        "defaults",
        "error",
        "defaults is a setting of the whole directory manifest: move it to "
        f"{at('bad-setting-in-a-team-file', 'ehkeys.yaml')}, where its settings are stated once",
    ),
    (
        "warn-setting-repeated",
        "team.yaml",
        1,
        1,
        "ignore",
        "warning",
        f"ignore is already set, to the same value, in {at('warn-setting-repeated', 'ehkeys.yaml')}:2: "
        "remove it here",
    ),
    ("bad-team-file-without-keys", "team.yaml", 2, 1, "", "error", "missing required field 'keys'"),
    (
        "bad-group-unknown-at-top-of-file",
        "research.yaml",
        1,
        8,
        "group",
        "error",
        "unknown group 'research': the manifest's groups are ml",
    ),
    ("bad-settings-without-version", "ehkeys.yaml", 1, 1, "", "error", "missing required field 'version'"),
    (
        "legacy-prune-twice",
        "b.yaml",
        2,
        8,
        "prune",
        "error",
        f"prune is set differently in {at('legacy-prune-twice', 'a.yaml')}:2: set it in one file",
    ),
]


@pytest.mark.parametrize(("tree", "file", "line", "col", "path", "severity", "fragment"), PROBLEMS)
def test_each_bad_layout_names_the_places(
    tree: str, file: str, line: int, col: int, path: str, severity: str, fragment: str
) -> None:
    result = manifest.load([at(tree)], env={}, now=NOW)
    assert len(result.diagnostics) == 1, result.diagnostics
    found = result.diagnostics[0]
    assert (found.file, found.line, found.col, found.path, found.severity) == (
        at(tree, file),
        line,
        col,
        path,
        severity,
    )
    assert fragment in found.message
    assert (result.manifest is None) == (severity == "error")


def test_group_at_the_top_of_a_team_file_puts_each_of_its_keys_in_it_but_a_keys_own_wins(
    capsys: Any,
) -> None:
    """ml.yaml says `group: ml` once: ml-train takes ml's defaults (30.00) and keeps its policy;
    ml-bridge names payments itself; research/keys.yaml names no group."""
    result = manifest.load([at("group-per-file")], env={}, now=NOW)
    assert result.errors == [] and result.violations == [], result.diagnostics
    assert result.manifest is not None
    assert [(k.address, k.group, str(k.allocated_ammount)) for k in result.manifest.keys] == [
        ("ml-train", "ml", "30"),
        ("ml-bridge", "payments", "5"),
        ("research-lab", None, "5"),
    ]
    assert run_cli(capsys, "validate", at("group-per-file", "ml.yaml"))[0] == 0


def test_a_file_of_a_folder_without_ehkeys_yaml_may_set_its_group(tmp_path: Path) -> None:
    groups = "version: 1\ngroups: {ml: {policy: {max_allocation: 10}}}\ndefaults: {limit_type: daily}\n"
    (tmp_path / "a.yaml").write_text(groups + "group: ml\nkeys:\n  - {name: big, allocated_ammount: 20}\n")
    (tmp_path / "b.yaml").write_text(groups + "keys:\n  - {name: small, allocated_ammount: 20}\n")
    result = manifest.load([str(tmp_path)], env={}, now=NOW)
    assert result.manifest is not None, result.diagnostics
    assert [(k.address, k.group) for k in result.manifest.keys] == [("big", "ml"), ("small", None)]
    (broken,) = result.violations
    assert (broken.rule, broken.address, broken.where) == (
        "max_allocation",
        "big",
        Location(str(tmp_path / "a.yaml"), 6, 36),
    )


def test_a_folder_without_ehkeys_yaml_is_one_manifest_with_each_file_s_defaults(capsys: Any) -> None:
    result = manifest.load([at("legacy")], env={}, now=NOW)
    assert result.manifest is not None, result.diagnostics
    assert [(k.address, k.limit_type) for k in result.manifest.keys] == [
        ("backend", "weekly"),
        ("worker", "daily"),
    ]
    assert layout.manifests([at("legacy"), at("legacy", "b.yaml")]) == [(at("legacy"),)]
    assert (
        run_cli(capsys, "validate", at("legacy", "a.yaml"), at("legacy"))[2]
        == "0 warning(s); 2 key(s) valid\n"
    )


def test_each_folder_holding_ehkeys_yaml_is_a_manifest_of_its_own() -> None:
    found = layout.sources([at("roots")])
    assert [(s.root, s.settings) for s in found] == [
        (at("roots"), None),  # its loose file
        (at("roots", "payments"), at("roots", "payments", "ehkeys.yaml")),
        (at("roots", "research"), at("roots", "research", "ehkeys.yaml")),
    ]
    loose = manifest.load([at("roots")], env={})
    assert loose.manifest is not None and loose.manifest.files == (at("roots", "loose.yaml"),)
    research = manifest.load([at("roots", "research", "ml", "team.yaml")], env={})
    assert research.manifest is not None
    assert [(k.address, k.limit_type) for k in research.manifest.keys] == [
        ("backend", "weekly"),
        ("trainer", "weekly"),
    ]


def test_a_directory_manifest_is_never_merged_with_another_manifest() -> None:
    result = manifest.load([at("roots", "payments"), at("roots", "loose.yaml")], env={})
    assert result.manifest is None
    (error,) = result.errors
    assert error.file == at("roots", "loose.yaml")
    assert "is a directory manifest (it holds ehkeys.yaml), a manifest of its own" in error.message


def test_each_manifest_s_state_is_named_after_its_root() -> None:
    prod, payments = layout.sources([at("precommit", "keys.prod.yaml"), at("roots", "payments", "team.yaml")])
    assert statepaths.default_state(prod.inputs, sandbox=False) == Path(
        at("precommit", ".ehkeys", "keys.prod", "state.json")
    )
    assert statepaths.default_state(payments.inputs, sandbox=False) == Path(
        at("roots", "payments", ".ehkeys", "payments", "state.json")
    )


def test_a_relative_file_names_its_root_relative_to_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(LAYOUTS / "directory" / "team-b")
    assert layout.manifests(["keys.yaml"]) == [("..",)]
    monkeypatch.chdir(LAYOUTS / "directory")
    assert layout.manifests(["team-b/keys.yaml", "team-a.yaml"]) == [(".",)]
    result = manifest.load(["team-a.yaml"], env={})
    assert result.manifest is not None and result.manifest.files[0] == "ehkeys.yaml"


def test_the_search_for_ehkeys_yaml_stops_at_the_repository_root(tmp_path: Path) -> None:
    (tmp_path / "ehkeys.yaml").write_text("version: 1\n")  # outside the repository: not its settings
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    keys = tmp_path / "repo" / "keys.yaml"
    keys.write_text("version: 1\nkeys: []\n")
    assert layout.sources([str(keys)]) == [layout.Source((str(keys),))]
    assert layout.root_of(tmp_path / "repo" / "missing.yaml") is None  # said missing, not read as another


def test_a_missing_file_in_a_directory_manifest_is_said_missing(capsys: Any) -> None:
    code, out, _ = run_cli(capsys, "validate", at("directory", "no-such-team.yaml"))
    assert code == 1 and "no-such-team.yaml: no such file or directory" in out


def test_several_manifests_say_which_one_each_problem_belongs_to(capsys: Any) -> None:
    ok, bad = at("precommit", "keys.prod.yaml"), at("bad-setting-twice", "team.yaml")
    code, out, err = run_cli(capsys, "validate", ok, bad)
    root = at("bad-setting-twice")
    assert code == 1
    assert out.startswith(f"# {root} (directory manifest, {root}/ehkeys.yaml)\n{root}/team.yaml:1:1: prune:")
    assert (
        f"{ok}: 0 warning(s); 2 key(s) valid\n{root} (directory manifest, {root}/ehkeys.yaml): 1 error(s)"
        in err
    )
    code, out, _ = run_cli(capsys, "validate", "--format", "github", ok, bad)
    assert (
        out.startswith(f"::error file={root}/team.yaml,line=1,col=1::prune: ") and f"[manifest {root}]" in out
    )


def test_a_folder_of_directory_manifests_validates_each_and_loads_as_none(capsys: Any) -> None:
    folder = at("only-directory-manifests")
    code, out, err = run_cli(capsys, "validate", folder, at("roots"))
    assert (code, out) == (0, "")
    assert [line.split(" (")[0].split(":")[0] for line in err.splitlines()] == [
        at("only-directory-manifests", "payments"),
        at("only-directory-manifests", "research"),
        at("roots"),
        at("roots", "payments"),
        at("roots", "research"),
    ]
    (error,) = manifest.load([folder], env={}).errors  # load reads one manifest: which?
    assert error.message.startswith("directory holds no *.yaml manifest of its own, only directory manifests")
    assert error.message.endswith(f"{folder}/payments, {folder}/research")


def test_an_empty_folder_is_said_without_a_line_and_column(capsys: Any, tmp_path: Path) -> None:
    """A folder has no line: `empty:1:1:` pointed an editor at a file that is not there."""
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, _ = run_cli(capsys, "validate", str(empty))
    assert code == 1 and out == f"{empty}: directory holds no *.yaml manifest\n"
    code, out, _ = run_cli(capsys, "validate", str(empty), "--format", "github")
    assert out == f"::error file={empty}::directory holds no *.yaml manifest\n"
    _, out, _ = run_cli(capsys, "validate", str(empty), "--format", "json")
    (said,) = json.loads(out)["diagnostics"]
    assert (said["file"], said["line"], said["col"]) == (str(empty), None, None)
