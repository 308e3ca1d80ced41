"""Several manifests on one command line are planned, applied and checked each on its own; a
file of a directory manifest stands for the whole of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..helpers import manifest_text, run_cli, seed_data

SANDBOX = ("--sandbox", "--sandbox-seed", "seed.yaml")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import yaml

    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed_data(4)))
    Path("a.yaml").write_text(manifest_text(2, allocated_ammount=20))
    Path("b.yaml").write_text(manifest_text(2, start=2, allocated_ammount=30))
    return tmp_path


def test_two_files_are_two_manifests_each_with_its_heading_and_state(workdir: Path, capsys: Any) -> None:
    code, out, _ = run_cli(capsys, "apply", "a.yaml", "b.yaml", *SANDBOX, "--auto-approve")
    assert code == 0, out
    first, second = out.split("# b.yaml\n")
    assert first.startswith("# a.yaml\n") and "~ key-0" in first and "~ key-2" not in first
    assert "~ key-2" in second and "~ key-0" not in second  # each one's keys, the other's unmanaged
    assert Path(".ehkeys/a/sandbox/state.json").is_file() and Path(".ehkeys/b/sandbox/state.json").is_file()
    code, out, _ = run_cli(capsys, "plan", "a.yaml", "b.yaml", *SANDBOX, "--detailed-exitcode")
    assert code == 0 and out.count("No changes to make.") == 2


def test_one_manifests_error_is_its_own_and_the_next_is_still_planned(workdir: Path, capsys: Any) -> None:
    """a.yaml's state cannot be read: its error, under its heading; b.yaml is planned all the same."""
    Path(".ehkeys/a/sandbox").mkdir(parents=True)
    Path(".ehkeys/a/sandbox/state.json").write_text("{not json")
    for command in (("plan",), ("apply", "--auto-approve"), ("drift",)):
        code, out, err = run_cli(capsys, command[0], "a.yaml", "b.yaml", *SANDBOX, *command[1:])
        assert code == 1, out + err
        assert ".ehkeys/a/sandbox/state.json" in err and "internal error" not in err
        assert "# b.yaml\n" in out and "key-0" in out.split("# b.yaml\n")[1]  # a.yaml's, unmanaged for b


def test_a_pruning_manifest_beside_another_of_the_same_account_is_refused_an_apply_only(
    workdir: Path, capsys: Any
) -> None:
    """Applied together, a.yaml's prune could delete keys b.yaml is about to adopt (no state binds
    them yet): refused, saying how. A plan, drift or usage deletes nothing: each runs (a new
    user's two roots were refused even a drift)."""
    Path("a.yaml").write_text("prune: true\n" + manifest_text(2))
    code, out, err = run_cli(capsys, "apply", "a.yaml", "b.yaml", *SANDBOX, "--auto-approve")
    assert code == 1 and out == ""
    assert "a.yaml and b.yaml are two manifests of one account ($ELECTRONHUB_API_KEY)" in err
    assert "a command line of its own, the one without prune first" in err
    for command in ("plan", "drift", "usage"):
        code, out, err = run_cli(capsys, command, "a.yaml", "b.yaml", *SANDBOX)
        assert "two manifests of one account" not in err and "# a.yaml" in out and "# b.yaml" in out, err


def test_options_that_name_one_file_are_refused_with_several_manifests(workdir: Path, capsys: Any) -> None:
    code, _, err = run_cli(capsys, "plan", "a.yaml", "b.yaml", *SANDBOX, "--out", "plan.json")
    assert code == 1 and "--out names one file, but the command line names 2 manifests" in err
    assert not Path("plan.json").exists()
    for command in ("plan", "drift"):  # two documents one after the other would be no JSON at all
        code, out, err = run_cli(capsys, command, "a.yaml", "b.yaml", *SANDBOX, "--format", "json")
        assert code == 1 and out == ""
        assert "--format json prints one document, but the command line names 2 manifests" in err


def test_a_file_of_a_directory_manifest_plans_the_whole_of_it(workdir: Path, capsys: Any) -> None:
    Path("team").mkdir()
    Path("team/ehkeys.yaml").write_text("version: 1\ndefaults: {limit_type: daily}\n")
    Path("team/one.yaml").write_text("keys:\n  - {id: one, name: One, allocated_ammount: 1}\n")
    Path("team/two.yaml").write_text("keys:\n  - {id: two, name: Two, allocated_ammount: 2}\n")
    code, out, _ = run_cli(capsys, "plan", "team/one.yaml", *SANDBOX)
    assert code == 0 and "One (a new key)" in out and "Two (a new key)" in out and "# " not in out


def test_one_account_spelt_two_ways_is_one_account_to_the_prune_refusal(workdir: Path, capsys: Any) -> None:
    """b.yaml spells out the service's own address (case, a trailing slash) where a.yaml names
    none: one API, one account, so applying them together is refused as when spelt alike."""
    account = "version: 1\naccounts:\n  prod:\n    api_key: ${{EH_PROD_API_KEY}}{url}\nprune: {prune}\naccount: prod\n"
    url = "\n    base_url: https://API.electronhub.ai/v1/"
    Path("a.yaml").write_text(account.format(url="", prune="true") + manifest_text(2).split("\n", 1)[1])
    Path("b.yaml").write_text(
        account.format(url=url, prune="false") + manifest_text(2, start=2).split("\n", 1)[1]
    )
    code, out, err = run_cli(capsys, "apply", "a.yaml", "b.yaml", *SANDBOX, "--auto-approve")
    assert code == 1 and out == "" and "two manifests of one account ($EH_PROD_API_KEY)" in err, out + err


@pytest.mark.parametrize("guard", [("--max-debit", "25"), ("--expect-net", "-15")])
def test_a_debit_guard_is_refused_with_several_manifests_not_held_to_each(
    workdir: Path, capsys: Any, guard: tuple[str, str]
) -> None:
    """`--max-debit 25` over a.yaml and b.yaml once held each on its own: two raises of 15 each
    went through, 30 debited by one command that said 25 (and `--expect-net -15` approved a net
    of -30). A guard over the run cannot be held by runs that each see their own: refused before
    anything is read or sent."""
    Path("a.yaml").write_text(manifest_text(1, allocated_ammount=25))
    Path("b.yaml").write_text(manifest_text(1, start=1, allocated_ammount=25))
    code, out, err = run_cli(capsys, "apply", "a.yaml", "b.yaml", *SANDBOX, "--auto-approve", *guard)
    assert code == 1 and out == "", out
    assert f"{guard[0]} holds for one apply, but the command line names 2 manifests" in err
    assert "Run one manifest at a time" in err
    assert not Path(".ehkeys/a").exists() and not Path(".ehkeys/b").exists()  # nothing planned, nor sent
