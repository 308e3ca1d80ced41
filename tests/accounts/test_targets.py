"""Naming keys in a manifest of two accounts (`--target`, `--account`, reveal's IDs): a name that
could be two keys lists both addresses, an address in the wrong account says where the key is,
and a target in an account that --account leaves out is refused by name, never an internal
error or an empty "in sync"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ..helpers import run_cli
from .test_two_accounts import SANDBOX, manifest, seed


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed()))
    Path("keys.yaml").write_text(manifest())
    return tmp_path


def test_a_target_in_an_account_that_account_leaves_out_is_refused_naming_both(
    workdir: Path, capsys: Any
) -> None:
    for command in ("plan", "drift", "apply"):
        code, out, err = run_cli(
            capsys, command, "keys.yaml", *SANDBOX, "--account", "staging", "--target", "prod/backend"
        )
        assert code == 1, (command, out, err)
        assert (
            "--target 'prod/backend': a key of account prod, which --account leaves out "
            "(the run covers staging): add --account prod, or drop --account"
        ) in err
        assert "internal error" not in err and "In sync" not in out
    assert not list(Path(".ehkeys").glob("keys/*/sandbox/state.json"))  # nothing was applied


def test_an_address_in_the_wrong_account_says_where_the_key_is(workdir: Path, capsys: Any) -> None:
    code, _, err = run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--target", "prod/web")
    assert code == 1 and "--target 'prod/web': no such key in the manifest; 'web' is staging/web" in err


def test_a_name_of_two_keys_lists_their_addresses_for_target_and_reveal(workdir: Path, capsys: Any) -> None:
    Path("keys.yaml").write_text(manifest().replace("id: web", "id: backend"))
    code, _, err = run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--target", "backend")
    assert code == 1
    assert (
        "--target 'backend': the id or name of 2 keys (prod/backend, staging/backend); "
        "name one by its address"
    ) in err
    code, _, err = run_cli(capsys, "reveal", "keys.yaml", "backend", *SANDBOX, "--out", "new.env")
    assert code == 1
    assert "error: reveal 'backend': the id or name of 2 keys (prod/backend, staging/backend)" in err
    assert "--target" not in err  # reveal takes no --target: the message names what was given


def test_reveal_opens_only_the_accounts_of_the_keys_asked_for_so_state_works(
    workdir: Path, capsys: Any
) -> None:
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    prod_state = ".ehkeys/keys/prod/sandbox/state.json"
    code, _, err = run_cli(
        capsys, "reveal", "keys.yaml", "prod/backend", *SANDBOX, "--state", prod_state, "--out", "new.env"
    )
    assert code == 0, err
    assert Path("new.env").read_text().startswith("EH_KEY_PROD_BACKEND=ek-proxy-")
    both = ("prod/backend", "web")
    code, _, err = run_cli(
        capsys, "reveal", "keys.yaml", *both, *SANDBOX, "--state", prod_state, "--out", "x.env"
    )
    assert code == 1
    assert (
        "the keys asked for are in 2 accounts (prod, staging): pass --account NAME with it, or reveal "
        "one account's keys at a time"
    ) in err


def test_reveal_takes_account_as_its_state_help_says(workdir: Path, capsys: Any) -> None:
    """`--state` says "pass --account with it": reveal takes it, and with it an id of keys in two
    accounts names the chosen account's; a key of an account it leaves out is refused by name."""
    Path("keys.yaml").write_text(manifest().replace("id: web", "id: backend"))
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    _, out, _ = run_cli(capsys, "reveal", "--help")
    assert "--account NAME" in out and "pass --account with it" in " ".join(out.split())
    prod_state = ".ehkeys/keys/prod/sandbox/state.json"
    code, _, err = run_cli(
        capsys,
        "reveal",
        "keys.yaml",
        "backend",
        *SANDBOX,
        "--account",
        "prod",
        "--state",
        prod_state,
        "--out",
        "new.env",
    )
    assert code == 0, err
    assert Path("new.env").read_text().startswith("EH_KEY_PROD_BACKEND=ek-proxy-")
    code, _, err = run_cli(
        capsys, "reveal", "keys.yaml", "staging/backend", *SANDBOX, "--account", "prod", "--out", "x.env"
    )
    assert code == 1 and "unrecognized arguments" not in err
    assert (
        "reveal 'staging/backend': a key of account staging, which --account leaves out (the run covers "
        "prod): add --account staging, or drop --account"
    ) in err
    code, _, err = run_cli(
        capsys, "reveal", "keys.yaml", "backend", *SANDBOX, "--account", "dev", "--out", "x.env"
    )
    assert code == 1 and "--account 'dev': the manifest has no such account (prod, staging)" in err
    assert "ek-proxy" not in Path("x.env").read_text()  # created 0600 up front, never written
    code, _, err = run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--account", "stagng")
    assert code == 1 and "the manifest has no such account (prod, staging); did you mean 'staging'?" in err


def test_an_exact_id_wins_over_another_keys_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """`import --all` of two keys named `dup` gives them ids `dup` and `dup-2`: `dup` is the first
    by its id, though the second is named `dup` too (its address is the bare id: no other way)."""
    monkeypatch.chdir(tmp_path)
    Path("keys.yaml").write_text(
        "version: 1\nkeys:\n"
        "  - {id: dup, name: dup, limit_type: daily, allocated_ammount: 1}\n"
        "  - {id: dup-2, name: dup, limit_type: daily, allocated_ammount: 2}\n"
    )
    code, out, err = run_cli(capsys, "plan", "keys.yaml", "--sandbox", "--target", "dup")
    assert code == 0, err
    assert "+ dup" in out and "1 to create" in out
    code, _, err = run_cli(capsys, "plan", "keys.yaml", "--sandbox", "--target", "dup-2")
    assert code == 0, err


def test_a_mistyped_target_says_the_closest_key(workdir: Path, capsys: Any) -> None:
    code, _, err = run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--target", "prod/bakcend")
    assert code == 1 and "no key with that id or name in the manifest; did you mean 'prod/backend'?" in err


def test_an_accounts_key_unset_while_electronhub_api_key_is_set_says_which_is_read(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A team moving to `accounts:` (or the action's `api-key` input) sets ELECTRONHUB_API_KEY: the
    message said only 'EH_PROD_API_KEY is not set', as if the key were missing altogether."""
    monkeypatch.delenv("EH_PROD_API_KEY", raising=False)
    monkeypatch.setenv("ELECTRONHUB_API_KEY", "ek-the-single-account-key")
    code, out, err = run_cli(capsys, "plan", "keys.yaml", "--account", "prod")
    said = out + err  # the account's error, in its plan
    assert code == 1 and "EH_PROD_API_KEY is not set: the manifest declares accounts" in said, said
    assert "not from ELECTRONHUB_API_KEY, which is set" in said and "ek-the-single" not in said
    monkeypatch.delenv("ELECTRONHUB_API_KEY", raising=False)
    code, out, err = run_cli(capsys, "plan", "keys.yaml", "--account", "prod")
    assert code == 1 and "EH_PROD_API_KEY is not set (or use --sandbox" in out + err, "as ever, without it"
