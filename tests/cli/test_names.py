"""Names that are not UTF-8 (Linux allows any bytes; Python hands them over with a lone surrogate a
byte): refused where they come in, each command saying the same, the name shown with `\\xNN`,
never a traceback, and nothing planned, saved or kept: a manifest's file, folder, a link it
follows, its root (`manifest.sources`); a path an option names (`cli.optiontypes.path`); where a
state is kept (`state.paths`); and any other option's value (`cli.optiontypes.text`, `.name`)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..helpers import manifest_text, run_cli, seed_data

WHY = "ehkeys keeps paths in plans, state and GitHub, which spell names in UTF-8"
SANDBOX = ("--sandbox", "--sandbox-seed", "seed.yaml")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "seed.yaml").write_text(yaml.safe_dump(seed_data(3)))
    (tmp_path / "keys.yaml").write_text(manifest_text(2))
    return tmp_path


def put(path: bytes, text: str = "") -> None:
    """A file (a folder when `text` is "", its parents made) at a path written in bytes."""
    os.makedirs(path if not text else os.path.dirname(path) or b".", exist_ok=True)
    if text:
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)


def link(path: bytes, target: bytes) -> None:
    os.makedirs(os.path.dirname(path) or b".", exist_ok=True)
    os.symlink(target, path)


def file_in_folder() -> str:
    put(b"keys/ok.yaml", manifest_text(1))
    put(b"keys/\xff.yaml", manifest_text(1, start=1))
    return "keys"


def folder() -> str:
    put(b"keys/caf\xe9/a.yaml", manifest_text(1))
    return "keys"


def file_link() -> str:
    put(b"caf\xe9/a.yaml", manifest_text(1))
    link(b"keys/a.yaml", b"../caf\xe9/a.yaml")
    return "keys"


def folder_link() -> str:
    put(b"caf\xe9/a.yaml", manifest_text(1))
    link(b"keys", b"caf\xe9")
    return "keys"


def root_named() -> str:
    put(b"caf\xe9/a.yaml", manifest_text(1))
    return os.fsdecode(b"caf\xe9")


def root_file_linked() -> str:
    put(b"caf\xe9.yaml", manifest_text(1))
    link(b"keys.prod.yaml", b"caf\xe9.yaml")
    return "keys.prod.yaml"


LAYOUTS = {  # a manifest holding a name that is not UTF-8, and how the refusal names it
    "file": (file_in_folder, "keys/\\xff.yaml: the name is not UTF-8"),
    "folder": (folder, "keys/caf\\xe9/a.yaml: the name is not UTF-8"),
    "file-link": (file_link, "keys/a.yaml: links to ../caf\\xe9/a.yaml, a name that is not UTF-8"),
    "folder-link": (folder_link, "keys: links to caf\\xe9, a name that is not UTF-8"),
    "root": (root_named, "caf\\xe9: the name is not UTF-8"),
    "root-link": (root_file_linked, "keys.prod.yaml: links to caf\\xe9.yaml, a name that is not UTF-8"),
}
COMMANDS = {
    "validate": ("validate",),
    "validate-json": ("validate", "--format", "json"),
    "plan": ("plan", *SANDBOX),
    "plan-out": ("plan", *SANDBOX, "--out", "plan.json"),
    "apply": ("apply", *SANDBOX, "--auto-approve"),
    "drift": ("drift", *SANDBOX),
    "usage": ("usage", *SANDBOX),
}


def said_cleanly(out: str, err: str) -> str:
    """Everything printed, checked to be UTF-8 (no lone surrogate: what a name printed raw leaves)."""
    text = out + err
    text.encode("utf-8")
    assert "internal error" not in text and "Traceback" not in text, text
    return text


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_manifest_holding_a_name_that_is_not_utf8_is_refused_naming_it(
    workdir: Path, capsys: Any, command: str, layout: str
) -> None:
    make, said = LAYOUTS[layout]
    manifest = make()
    argv = COMMANDS[command]
    code, out, err = run_cli(capsys, argv[0], manifest, *argv[1:])
    text = said_cleanly(out, err)
    assert code == 1, text
    if command == "validate-json":
        (found,) = [d for d in json.loads(out)["diagnostics"] if d["severity"] == "error"]
        assert f"{found['file']}: {found['message']}".startswith(said) and WHY in found["message"]
    else:
        assert f"{said}: rename it" in text and WHY in text
    assert not (workdir / "plan.json").exists()
    assert not list(workdir.glob("**/state.json")), "nothing kept"


def test_several_manifests_name_the_one_refused_printably(workdir: Path, capsys: Any) -> None:
    manifest = root_named()
    code, out, err = run_cli(capsys, "validate", "keys.yaml", manifest)
    text = said_cleanly(out, err)
    assert code == 1 and "caf\\xe9: 1 error(s)" in text and "keys.yaml: 2 warning(s); 2 key(s) valid" in text
    code, out, err = run_cli(capsys, "plan", "keys.yaml", manifest, *SANDBOX)
    text = said_cleanly(out, err)
    assert code == 1 and "# caf\\xe9\n" in text and "\nPlan: " in text  # keys.yaml planned all the same


ODD = os.fsdecode(b"\xff")
OPTIONS = {  # a command whose option names a path that is not UTF-8
    "plan --out": ("plan", "keys.yaml", *SANDBOX, "--out", f"{ODD}.json"),
    "plan --state": ("plan", "keys.yaml", *SANDBOX, "--state", f"{ODD}/state.json"),
    "show": ("show", f"{ODD}.json"),
    "apply --plan": ("apply", "keys.yaml", *SANDBOX, "--plan", f"{ODD}.json"),
    "apply --report-out": ("apply", "keys.yaml", *SANDBOX, "--auto-approve", "--report-out", f"{ODD}.md"),
    "apply --secrets-out": ("apply", "keys.yaml", *SANDBOX, "--auto-approve", "--secrets-out", f"{ODD}.env"),
    "import --out": ("import", "--all", *SANDBOX, "--out", f"{ODD}.yaml"),
    "reveal --out": ("reveal", "keys.yaml", "key-0", *SANDBOX, "--out", f"{ODD}.env"),
    "--sandbox-seed": ("plan", "keys.yaml", "--sandbox", "--sandbox-seed", f"{ODD}.yaml"),
}


@pytest.mark.parametrize("option", list(OPTIONS))
def test_a_path_an_option_names_that_is_not_utf8_is_refused_before_anything(
    workdir: Path, capsys: Any, option: str
) -> None:
    (workdir / f"{ODD}.json").write_text("{}")  # a saved plan there: refused by its name all the same
    code, out, err = run_cli(capsys, *OPTIONS[option])
    text = said_cleanly(out, err)
    assert (
        code == 1
        and ": \\xff" in text
        and f"the name is not UTF-8: rename it, or give a path that is: {WHY}" in text
    )
    assert sorted(p.name for p in workdir.iterdir()) == sorted(["keys.yaml", "seed.yaml", f"{ODD}.json"])


EMPTY = {  # each such option given an empty path, as a script's unset variable gives it
    **{option: tuple("" if ODD in word else word for word in argv) for option, argv in OPTIONS.items()},
    "schema --out": ("schema", "--out", ""),
}


@pytest.mark.parametrize("option", list(EMPTY))
def test_an_empty_path_an_option_names_is_refused_before_anything(
    workdir: Path, capsys: Any, option: str
) -> None:
    """`--out ""` printed the schema, `--state ""` planned with the usual state: a script's unset
    variable went unseen."""
    code, out, err = run_cli(capsys, *EMPTY[option])
    assert (code, out) == (1, ""), err
    assert "the path is empty (an unset variable?): name a file or folder" in err, err
    assert sorted(p.name for p in workdir.iterdir()) == ["keys.yaml", "seed.yaml"]


def test_a_directory_manifest_run_from_its_folder_named_so_keeps_no_state_there(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ehkeys plan .` in caf\\xe9/: its state would be .ehkeys/caf\\xe9/ (the folder's own name)."""
    put(b"caf\xe9/ehkeys.yaml", manifest_text(1))
    monkeypatch.chdir(os.fsdecode(b"caf\xe9"))
    for argv in (("plan", ".", "--sandbox"), ("apply", ".", "--sandbox", "--auto-approve")):
        code, out, err = run_cli(capsys, *argv)
        text = said_cleanly(out, err)
        assert code == 1 and "would be kept in .ehkeys/caf\\xe9/sandbox/state.json" in text, text
        assert "--state" in text and WHY in text
    assert not list(workdir.glob("**/state.json"))
    assert not list(workdir.glob("**/*.db")), "no sandbox made for a run refused"


def test_a_state_elsewhere_that_would_name_its_manifest_through_such_a_folder_is_refused(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from caf\\xe9/ with --state ../states/state.json: the state names its manifest by the
    path from it, ../caf\\xe9/keys.yaml."""
    put(b"caf\xe9/keys.yaml", manifest_text(1))
    monkeypatch.chdir(os.fsdecode(b"caf\xe9"))
    code, out, err = run_cli(
        capsys, "apply", "keys.yaml", "--sandbox", "--auto-approve", "--state", "../st/state.json"
    )
    text = said_cleanly(out, err)
    assert code == 1 and "would name its manifest ../caf\\xe9/keys.yaml" in text and WHY in text, text
    assert not list(workdir.glob("**/state.json"))


VALUES = {  # an option's value that is no path, not UTF-8: shown as the shell writes it
    "--target": ("plan", "keys.yaml", *SANDBOX, "--target", f"key-{ODD}"),
    "--account": ("drift", "keys.yaml", *SANDBOX, "--account", f"prod{ODD}"),
    "rotate's key": ("rotate", "keys.yaml", f"key-{ODD}", *SANDBOX),
    "reveal's key": ("reveal", "keys.yaml", f"key-{ODD}", *SANDBOX),
    "--max-debit": ("apply", "keys.yaml", *SANDBOX, "--auto-approve", "--max-debit", f"1{ODD}"),
    "--expect-digest": ("apply", "keys.yaml", *SANDBOX, "--auto-approve", "--expect-digest", ODD),
    "--base-url": ("plan", "keys.yaml", "--base-url", f"http://h{ODD}/v1"),
    "--parallelism": ("plan", "keys.yaml", *SANDBOX, "--parallelism", f"8{ODD}"),
    "import --key-env": ("import", "--all", *SANDBOX, "--key-env", f"K{ODD}"),
    "sandbox --rate-limit": ("sandbox", "--port", "0", "--rate-limit", f"5{ODD}"),
    "--format": ("plan", "keys.yaml", *SANDBOX, "--format", f"json{ODD}"),
    "validate --format": ("validate", "keys.yaml", "--format", f"json{ODD}"),
    "show --format": ("show", "plan.json", "--format", f"json{ODD}"),
}


@pytest.mark.parametrize("option", list(VALUES))
def test_an_option_value_that_is_not_utf8_is_refused_shown_as_the_shell_writes_it(
    workdir: Path, capsys: Any, option: str
) -> None:
    code, out, err = run_cli(capsys, *VALUES[option])
    text = said_cleanly(out, err)
    why = "expected a whole number" if option == "--parallelism" else "': not UTF-8"
    assert code == 1 and "\\xff" in text and why in text and "\\udc" not in text, text
    assert sorted(p.name for p in workdir.iterdir()) == ["keys.yaml", "seed.yaml"], "nothing made"


PINNED = {"version": 1, "keys": [{"name": "pinned", "proxy_key": "${EH_PIN}", "allocated_ammount": 1}]}
ACCOUNTS = {
    "version": 1,
    "accounts": {"prod": {"api_key": "${EH_PROD_API_KEY}"}},
    "defaults": {"limit_type": "daily"},
    "keys": [{"name": "a", "account": "prod", "allocated_ammount": 1}],
}
ENVIRONMENT = {  # a variable's value not UTF-8: named, shown as the shell writes it
    "ELECTRONHUB_BASE_URL": (None, "ELECTRONHUB_BASE_URL", f"http://127.0.0.1:9/{ODD}", "plan"),
    "an account's key": (ACCOUNTS, "EH_PROD_API_KEY", f"ek-{ODD}", "plan"),
    "a proxy key": (PINNED, "EH_PIN", f"ek-proxy-{ODD}", "plan"),
    "a proxy key, offline": (PINNED, "EH_PIN", f"ek-proxy-{ODD}", "validate"),
    "EHKEYS_PROXY_KEYS": (PINNED, "EHKEYS_PROXY_KEYS", f"EH_PIN=ek-proxy-{ODD}", "plan"),
}


@pytest.mark.parametrize("case", list(ENVIRONMENT))
def test_a_variable_holding_bytes_that_are_not_utf8_is_refused_naming_it(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """Each was an internal error (Python's UnicodeEncodeError, from a key's fingerprint or the
    request): the command line's options were refused so, the environment's were not."""
    manifest, variable, value, command = ENVIRONMENT[case]
    if manifest is not None:
        (workdir / "keys.yaml").write_text(yaml.safe_dump({**manifest, "defaults": {"limit_type": "daily"}}))
    monkeypatch.setenv("ELECTRONHUB_API_KEY", "ek-test-account-key")
    monkeypatch.setenv(variable, value)
    extra = ["--strict"] if command == "validate" else ["--base-url", "http://127.0.0.1:9/v1"]
    extra = [] if case == "ELECTRONHUB_BASE_URL" else extra
    code, out, err = run_cli(capsys, command, "keys.yaml", *extra)
    text = said_cleanly(out, err)
    named = "EH_PIN" if case == "EHKEYS_PROXY_KEYS" else variable
    why = "contains characters no API key has" if case == "an account's key" else "not UTF-8"
    assert code == 1 and named in text and why in text and "\\udc" not in text, text
