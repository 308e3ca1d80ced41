"""`ehkeys import`: the manifest it prints is one that plan finds in sync, with no secret in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.importer import env_name
from reconciler.sandbox import Sandbox, seeds

from .helpers import key_value, run_cli, seed_data


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


def test_import_all_edit_limit_type_apply_then_plan_is_in_sync(workdir: Path, capsys: Any) -> None:
    """Only the account key is needed: ids, no ${VAR}; the write-only window converges."""
    code, out, _ = run_cli(capsys, "import", "--all", *SANDBOX)
    assert code == 0 and "secretpart" not in out and "${" not in out
    assert '  - id: "batch-jobs"\n    name: "Batch & Jobs"\n' in out and "cannot report limit_type" in out
    assert run_cli(capsys, "validate", write("imported.yaml", out))[0] == 0
    code, out, _ = run_cli(capsys, "plan", "imported.yaml", *SANDBOX, "--detailed-exitcode")
    assert code == 2 and out.count('limit_type: (unknown) -> "daily"') == 3  # never recorded yet
    edited = Path("imported.yaml").read_text().replace("limit_type: daily", "limit_type: monthly", 1)
    Path("imported.yaml").write_text(edited)
    code, out, _ = run_cli(capsys, "apply", "imported.yaml", *SANDBOX, "--auto-approve")
    assert code == 0 and 'limit_type: (unknown) -> "monthly"' in out
    assert (
        Sandbox.open(".ehkeys/sandbox.db", seeds.load("seed.yaml")).store.key(key_value(0))["limit_type"]
        == "monthly"
    )
    code, out, _ = run_cli(capsys, "plan", "imported.yaml", *SANDBOX, "--detailed-exitcode")
    assert code == 0 and "No changes." in out


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
    code, out, _ = run_cli(capsys, "plan", "keys/keys.yaml", *SANDBOX)
    assert code == 0 and "0 errors" in out and "unmanaged" not in out


def test_import_named_keys(workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", key_value(2))
    code, out, _ = run_cli(capsys, "import", "--key-env", "MY_KEY", *SANDBOX)
    assert code == 0 and '"${MY_KEY}"' in out and "secretpart" not in out
    Path("one.yaml").write_text(out)
    code, out, _ = run_cli(capsys, "plan", "one.yaml", *SANDBOX, "--detailed-exitcode")
    assert code == 2 and "Plan: 0 to create, 1 to update" in out and 'limit_type: (unknown) -> "daily"' in out


def test_import_of_an_unset_variable_is_a_message(workdir: Path, capsys: Any) -> None:
    code, _, err = run_cli(capsys, "import", "--key-env", "NOT_SET_ANYWHERE", *SANDBOX)
    assert code == 1 and "NOT_SET_ANYWHERE: the variable is not set" in err


def test_env_names_are_safe_and_unique() -> None:
    taken: set[str] = set()
    assert env_name("Prod key!", taken) == "EH_KEY_PROD_KEY"
    assert env_name("prod-key", taken) == "EH_KEY_PROD_KEY_2"
    assert env_name("???", taken) == "EH_KEY_UNNAMED"
