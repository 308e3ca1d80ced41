"""A `--sandbox` run's account is the `sandbox.db` beside its manifest: another folder's sandbox
state, written against another database that the same seed filled with the same keys, owns none
of its keys (a new user's trial in `my/try/` was told the demo's keys were keys.example.yaml's);
manifests of one folder share its database, and still see each other's."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.state import others

from ..helpers import ROOT, run_cli

DEMO_PLAN = "Plan: 1 to create, 4 to update, 1 to disable, 1 to delete, 0 unchanged, 0 errors."
DEMO_APPLY = "Apply complete: 1 created, 4 updated, 1 disabled, 1 deleted."


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git checkout holding the README's quick tour: keys.example.yaml and its schemas/."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()  # what ehkeys looks for: the checkout's top
    shutil.copy(ROOT / "keys.example.yaml", tmp_path)
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    Path("my/try").mkdir(parents=True)
    shutil.copy("keys.example.yaml", "my/try/keys.yaml")
    return tmp_path


def _tour(capsys: Any, *seed: str) -> None:
    """The quick tour at the top applied, then the trial's plan and apply: the demo's own."""
    code, out, err = run_cli(capsys, "apply", "keys.example.yaml", "--sandbox", *seed, "--auto-approve")
    assert code == 0 and DEMO_APPLY in out, out + err
    code, out, err = run_cli(capsys, "plan", "my/try/keys.yaml", "--sandbox", *seed)
    assert code == 0 and DEMO_PLAN in out, out + err
    assert "managed by" not in out and "keys.example" not in out, out
    assert Path("my/try/.ehkeys/sandbox.db").is_file()
    code, out, err = run_cli(capsys, "apply", "my/try/keys.yaml", "--sandbox", *seed, "--auto-approve")
    assert code == 0 and DEMO_APPLY in out, out + err
    code, out, _ = run_cli(capsys, "plan", "keys.example.yaml", "--sandbox", *seed, "--detailed-exitcode")
    assert code == 0 and "No changes." in out, out  # the top's sandbox untouched by the trial


def test_a_trial_in_a_subfolder_of_the_checkout_plans_the_demo_on_its_own_sandbox(
    checkout: Path, capsys: Any
) -> None:
    _tour(capsys)


def test_so_does_a_copied_seed_whose_first_account_is_prod_for_a_manifest_without_accounts(
    checkout: Path, capsys: Any
) -> None:
    seed = yaml.safe_load((ROOT / "reconciler/sandbox/demo_seed.yaml").read_text())
    seed["accounts"][0]["name"] = "prod"
    Path("seed.yaml").write_text(yaml.safe_dump(seed))
    _tour(capsys, "--sandbox-seed", "seed.yaml")


def test_manifests_of_one_folder_share_its_sandbox_and_a_prune_spares_the_others_keys(
    checkout: Path, capsys: Any
) -> None:
    code, out, err = run_cli(capsys, "apply", "keys.example.yaml", "--sandbox", "--auto-approve")
    assert code == 0, out + err
    Path("other.yaml").write_text(
        "version: 1\nprune: true\nkeys: [{id: extra, name: Extra, limit_type: daily, allocated_ammount: 5}]\n"
    )
    code, out, err = run_cli(capsys, "plan", "other.yaml", "--sandbox")
    spared = "not pruned: managed by keys.example.yaml (its state binds it: .ehkeys/keys.example/sandbox/state.json)"
    assert out.count(spared) == 6 and "- Production Backend" not in out, out + err


@pytest.mark.parametrize(
    ("path", "taken"),
    [
        ("keys/.ehkeys/search/sandbox/state.json", True),  # beside this root's sandbox.db
        ("keys/.ehkeys/search/prod/sandbox/state.json", True),
        ("keys/.ehkeys/sandbox/state.json", True),  # the earlier versions' sandbox state of the folder
        ("keys/sub/.ehkeys/x/sandbox/state.json", False),  # another folder's sandbox.db
        ("other/.ehkeys/x/sandbox/state.json", False),
        ("keys/.ehkeys/search/state.json", False),  # the real account's
    ],
)
def test_a_sandbox_root_takes_on_the_state_branch_only_the_states_beside_its_database(
    tmp_path: Path, path: str, taken: bool
) -> None:
    search = others.Search.of([str(tmp_path / "keys/pay.yaml")], True, tmp_path)
    assert search.takes(Path(path)) is taken
    real = others.Search.of([str(tmp_path / "keys/pay.yaml")], False, tmp_path)
    assert real.takes(Path(path)) is ("sandbox" not in Path(path).parts)
