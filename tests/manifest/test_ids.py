"""A key's id: any name is one (the default id is the name), never a '/', never two ids that
become one secrets variable; and after a rename the plan says how to keep the live key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.manifest import load as manifest

from ..helpers import run_cli, seed_data
from ..reliability_log import record

SANDBOX = ["--sandbox", "--sandbox-seed", "seed.yaml"]


def manifest_with(*keys: dict[str, Any]) -> str:
    return yaml.safe_dump({"version": 1, "defaults": {"limit_type": "daily"}, "keys": list(keys)})


def load(tmp_path: Path, *keys: dict[str, Any]) -> manifest.LoadResult:
    path = tmp_path / "keys.yaml"
    path.write_text(manifest_with(*keys))
    return manifest.load([str(path)], env={})


# id -> the fragment of the error, or "" when the id is valid
ID_CASES = [
    ("Docs Bot", ""),  # the default id of a key named "Docs Bot", written down
    ("docs-bot", ""),
    ("a.b_c-d", ""),
    ("Équipe données", ""),
    ("Batch & Jobs (v2)", ""),
    ("x" * 64, ""),
    ("team-a/backend", "must not contain '/'"),
    ("/", "must not contain '/'"),
    ("", "must be 1 to 64 characters (got 0)"),
    ("x" * 65, "must be 1 to 64 characters (got 65)"),
]


@pytest.mark.parametrize(("address", "fragment"), ID_CASES)
def test_which_ids_validate(tmp_path: Path, address: str, fragment: str) -> None:
    result = load(tmp_path, {"id": address, "name": "Docs Bot"})
    messages = [e.message for e in result.errors]
    if fragment:
        assert result.manifest is None and len(messages) == 1 and fragment in messages[0], messages
    else:
        assert messages == [] and result.manifest is not None
        assert result.manifest.keys[0].address == address


def test_the_default_id_written_down_is_the_same_key(tmp_path: Path) -> None:
    implicit = load(tmp_path, {"name": "Docs Bot"}).manifest
    explicit = load(tmp_path, {"id": "Docs Bot", "name": "Docs Bot"}).manifest
    assert implicit is not None and explicit is not None
    assert implicit.keys[0].address == explicit.keys[0].address == "Docs Bot"
    assert implicit.digest == explicit.digest  # the same desired state: nothing to review


def test_a_name_with_a_slash_needs_an_id(tmp_path: Path) -> None:
    result = load(tmp_path, {"name": "CI/CD Bot"})
    assert [e.path for e in result.errors] == ["keys[0].name"]
    assert "give the key an id: without '/'" in result.errors[0].message
    assert load(tmp_path, {"id": "ci-cd", "name": "CI/CD Bot"}).manifest is not None


@pytest.mark.parametrize(
    "addresses",
    [("prod-backend", "prod.backend"), ("prod-backend", "Prod_Backend"), ("Docs Bot", "docs-bot")],
)
def test_ids_that_become_one_variable_are_refused_naming_both(
    tmp_path: Path, capsys: Any, addresses: tuple[str, str]
) -> None:
    first, second = addresses
    path = tmp_path / "keys.yaml"
    entries = [f"  - id: {first}\n    name: A\n", f"  - id: {second}\n    name: B\n"]
    path.write_text("version: 1\ndefaults: {limit_type: daily}\nkeys:\n" + "".join(entries))
    code, out, _ = run_cli(capsys, "validate", str(path))
    assert code == 1
    assert f"{path}:6:5: id {second!r} and id {first!r} at {path}:4:5 both become the variable" in out
    record(
        "secret", f"ids {first!r} and {second!r}: one secrets variable", 1, "refused by validate, naming both"
    )


def test_after_a_rename_the_plan_says_to_give_the_old_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """A key known by its name (its default id) is renamed: the plan says how to keep it."""
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed_data(0)))
    bot = {"name": "Docs Bot", "allocated_ammount": 5, "expires_at": "never"}
    Path("keys.yaml").write_text(manifest_with(bot))
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    Path("keys.yaml").write_text(manifest_with({**bot, "name": "Docs Helper"}))
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX)
    flat = " ".join(out.split())
    assert "+ Docs Helper (a new key)" in out
    assert "If you renamed its id, give the renamed key `id: Docs Bot` and it stays this key" in flat
    Path("keys.yaml").write_text(manifest_with({**bot, "id": "Docs Bot", "name": "Docs Helper"}))
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--detailed-exitcode")
    assert code == 2 and "Plan: 0 to create, 1 to update, 0 to delete" in out
    assert 'name: "Docs Bot" -> "Docs Helper"' in out and "unmanaged" not in out
