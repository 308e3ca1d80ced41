"""`ehkeys import`: the manifest it prints is one that plan finds in sync, with no secret in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.importer import env_name

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


def test_import_all_then_plan_is_in_sync(workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run_cli(capsys, "import", "--all", *SANDBOX)
    assert code == 0
    assert "secretpart" not in out
    assert '"${EH_KEY_BATCH_JOBS}"' in out and "cannot report limit_type" in out
    Path("imported.yaml").write_text(out)
    monkeypatch.setenv("EH_KEY_KEY_0", key_value(0))
    monkeypatch.setenv("EH_KEY_BATCH_JOBS", key_value(1))
    monkeypatch.setenv("EH_KEY_KEY_2", key_value(2))
    code, out, err = run_cli(capsys, "plan", "imported.yaml", *SANDBOX, "--detailed-exitcode")
    assert code == 0, out + err
    assert "Plan: 0 to update, 3 unchanged, 0 errors." in out


def test_import_named_keys(workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", key_value(2))
    code, out, _ = run_cli(capsys, "import", "--key-env", "MY_KEY", *SANDBOX)
    assert code == 0 and '"${MY_KEY}"' in out and "secretpart" not in out
    Path("one.yaml").write_text(out)
    assert run_cli(capsys, "plan", "one.yaml", *SANDBOX, "--detailed-exitcode")[0] == 0


def test_import_of_an_unset_variable_is_a_message(workdir: Path, capsys: Any) -> None:
    code, _, err = run_cli(capsys, "import", "--key-env", "NOT_SET_ANYWHERE", *SANDBOX)
    assert code == 1 and "NOT_SET_ANYWHERE: the variable is not set" in err


def test_env_names_are_safe_and_unique() -> None:
    taken: set[str] = set()
    assert env_name("Prod key!", taken) == "EH_KEY_PROD_KEY"
    assert env_name("prod-key", taken) == "EH_KEY_PROD_KEY_2"
    assert env_name("???", taken) == "EH_KEY_UNNAMED"
