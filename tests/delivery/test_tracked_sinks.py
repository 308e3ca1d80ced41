"""A file sink git would track is said by `validate` and `plan`, at the sink's FILE:LINE, not
only refused by the apply: a pull request adding one fails its checks, rather than the apply
after its merge. A repository git cannot read (owned by another user, as in a container's CI
job; a broken config) fails closed: every secret file in it is refused, with git's reason."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ..helpers import run_cli
from ..reliability_log import record
from .manifests import delivering

SANDBOX = ["--sandbox"]
MANIFEST = (
    delivering("file: app.env")
    + """  - id: web
    name: Web
    allocated_ammount: 1
"""
)
SINK_AT = "keys.yaml:8:15"  # `app.env`, the file sink's own line
TRACKED = "app.env: git would track this file (it is inside a repository and not ignored)"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if subprocess.run(["git", "--version"], capture_output=True).returncode != 0:
        pytest.skip("no git")
    monkeypatch.chdir(tmp_path)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text(".ehkeys/\n")
    (tmp_path / "keys.yaml").write_text(MANIFEST)
    return tmp_path


def test_validate_says_a_tracked_file_sink_at_its_line(repo: Path, capsys: Any) -> None:
    code, out, err = run_cli(capsys, "validate", "keys.yaml")
    assert code == 1, out + err
    assert f"{SINK_AT}: keys[api].deliver: {TRACKED}" in out
    (repo / ".gitignore").write_text(".ehkeys/\n*.env\n")
    code, out, err = run_cli(capsys, "validate", "keys.yaml")
    assert code == 0 and "git would track" not in out + err


def test_validate_names_the_key_of_a_tracked_file_sink_as_it_names_any_keys_problem(
    repo: Path, capsys: Any
) -> None:
    """It said `keys.yaml:8:15: deliver: app.env: ...`: which key, the reader had to work out. A
    sink that defaults gives several keys is said once, naming each."""
    shared = MANIFEST.replace("{limit_type: daily}", "{limit_type: daily, deliver: [{file: all.env}]}")
    (repo / "keys.yaml").write_text(shared)
    code, out, err = run_cli(capsys, "validate", "keys.yaml")
    why = "git would track this file (it is inside a repository and not ignored); write secrets"
    assert code == 1 and [
        line.split("; write secrets")[0] + "; write secrets" for line in out.splitlines()
    ] == [
        f"keys.yaml:2:48: keys[web].deliver: all.env: {why}",
        f"{SINK_AT}: keys[api].deliver: app.env: {why}",
    ], out
    (repo / "keys.yaml").write_text(shared + "  - {id: db, name: DB, allocated_ammount: 1}\n")
    code, out, err = run_cli(capsys, "validate", "keys.yaml", "--format", "json")
    found = [(d["line"], d["path"], d["key"], d["message"][:7]) for d in json.loads(out)["diagnostics"]]
    assert found == [(2, "deliver", None, "all.env"), (8, "deliver", "api", "app.env")], out
    assert json.loads(out)["diagnostics"][0]["message"].endswith("(the sink of keys 'web', 'db')")


def test_plan_holds_the_create_of_a_key_whose_file_sink_is_tracked(repo: Path, capsys: Any) -> None:
    code, out, err = run_cli(capsys, "plan", "keys.yaml", "--format", "json", *SANDBOX)
    assert code == 1, out + err
    rows = {k["address"]: k for k in json.loads(out)["keys"]}
    assert rows["api"]["action"] == "error" and rows["web"]["action"] == "create"
    assert f"{SINK_AT}: {TRACKED}" in rows["api"]["error"]
    assert "the apply refuses to create the key" in rows["api"]["error"]
    code, out, err = run_cli(capsys, "plan", "keys.yaml", *SANDBOX)
    assert code == 1 and f"{SINK_AT}: {TRACKED}" in out + err
    (repo / ".gitignore").write_text(".ehkeys/\napp.env\n")
    code, out, err = run_cli(capsys, "plan", "keys.yaml", "--format", "json", *SANDBOX)
    assert code == 0, out + err
    assert [k["action"] for k in json.loads(out)["keys"] if k["address"] in ("api", "web")] == [
        "create",
        "create",
    ]


# --- a repository git cannot read: fail closed ------------------------------------------------

CANNOT_SAY = "app.env: git cannot say whether it would track this file"


@dataclass(frozen=True)
class Unreadable:
    """How a repository was made unreadable to git, what git says, and the fix it suggests."""

    how: str
    reason: str
    fix: str


def _dubious_ownership(repo: Path) -> Unreadable:
    """`.git` owned by another user, as a checkout made by one user and read by another."""
    if os.geteuid() != 0:
        pytest.skip("making a repository another user's needs root")
    for path in [repo / ".git", *(repo / ".git").rglob("*")]:
        os.lchown(path, 1234, 1234)
    fix = f"git config --global --add safe.directory {repo}"
    return Unreadable("dubious ownership", "detected dubious ownership in repository at", fix)


def _broken_config(repo: Path) -> Unreadable:
    with (repo / ".git" / "config").open("a") as config:
        config.write("[core\n")
    return Unreadable("a broken .git/config", "bad config line", f"git -C {repo} status")


@pytest.fixture(params=[_dubious_ownership, _broken_config], ids=["dubious-ownership", "broken-config"])
def unreadable(request: Any, repo: Path, monkeypatch: pytest.MonkeyPatch) -> Unreadable:
    """The repository made unreadable to git (no global or system config: a CI runner's
    `safe.directory = *` would let git read it)."""
    (repo / ".gitconfig").write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(repo / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    broken: Callable[[Path], Unreadable] = request.param
    return broken(repo)


def test_validate_and_plan_refuse_a_file_sink_git_cannot_say_it_would_not_track(
    repo: Path, unreadable: Unreadable, capsys: Any
) -> None:
    code, out, err = run_cli(capsys, "validate", "keys.yaml")
    assert code == 1, out + err
    assert f"{SINK_AT}: keys[api].deliver: {CANNOT_SAY} ({unreadable.reason}" in out, out
    assert unreadable.fix in out and "Traceback" not in out + err
    code, out, err = run_cli(capsys, "plan", "keys.yaml", "--format", "json", *SANDBOX)
    rows = {k["address"]: k for k in json.loads(out)["keys"]}
    assert code == 1 and rows["api"]["action"] == "error", out + err
    assert f"{SINK_AT}: {CANNOT_SAY} ({unreadable.reason}" in rows["api"]["error"]


def test_apply_reveal_and_secrets_out_write_nothing_where_git_cannot_say(
    repo: Path, unreadable: Unreadable, capsys: Any
) -> None:
    said = f"{CANNOT_SAY} ({unreadable.reason}"
    code, out, err = run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)
    assert code == 1 and said in out + err, out + err
    code, out, err = run_cli(
        capsys, "apply", "keys.yaml", "--auto-approve", "--secrets-out", "app.env", *SANDBOX
    )
    assert code == 1 and f"--secrets-out {said}" in err, out + err
    code, out, err = run_cli(capsys, "reveal", "keys.yaml", "web", "--out", "app.env", *SANDBOX)
    assert code == 1 and f"--out {said}" in err, out + err
    assert not (repo / "app.env").exists() and "Traceback" not in out + err
    record(
        "secret",
        f"a secret file in a repository git cannot read ({unreadable.how})",
        3,
        "refused (file sink, --secrets-out, reveal --out), with git's reason and fix",
    )


def test_a_file_sink_outside_any_repository_is_still_written(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keys.yaml").write_text(MANIFEST)
    code, out, err = run_cli(capsys, "validate", "keys.yaml")
    assert code == 0, out + err
    code, out, err = run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)
    assert code == 0, out + err
    assert (tmp_path / "app.env").read_text().startswith("EH_KEY_API=ek-proxy-")


def test_a_relative_git_dir_names_the_repository_where_ehkeys_runs(
    repo: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tool may export GIT_DIR=.git: asked from keys/, git looked for keys/.git, 'not a git
    repository', and a tracked file passed."""
    (repo / "keys").mkdir()
    (repo / "keys" / "keys.yaml").write_text(MANIFEST)
    monkeypatch.setenv("GIT_DIR", ".git")
    code, out, err = run_cli(capsys, "validate", "keys/keys.yaml")
    assert code == 1 and "keys/app.env: git would track this file" in out, out + err


def test_a_dotfiles_repository_named_by_the_environment_is_asked(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """yadm and vcsh keep a bare repository and export GIT_DIR and GIT_WORK_TREE: asked from the
    file's folder without them, git said 'not a git repository' and the secret was written."""
    if subprocess.run(["git", "--version"], capture_output=True).returncode != 0:
        pytest.skip("no git")
    home = tmp_path / "home"
    home.mkdir()
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "dot.git")], check=True)
    (home / "keys.yaml").write_text(MANIFEST)
    monkeypatch.chdir(home)
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "dot.git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(home))
    code, out, err = run_cli(capsys, "validate", "keys.yaml")
    assert code == 1 and "app.env: git would track this file" in out, out + err


@pytest.mark.parametrize(
    "git_dir", [".git", "/nonexistent/.git", "another"], ids=["relative", "left-over", "another-repository"]
)
def test_a_git_dir_in_the_environment_never_hides_the_files_own_repository(
    repo: Path, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch, git_dir: str
) -> None:
    """Asked only of the repository GIT_DIR names, a file its own repository tracks passed: GIT_DIR
    relative from a subfolder, left over, or another repository's (a hook's)."""
    if git_dir == "another":
        git_dir = str(tmp_path.parent / f"{tmp_path.name}-other")
        subprocess.run(["git", "init", "-q", git_dir], check=True)
        git_dir += "/.git"
    (repo / "keys").mkdir()
    (repo / "keys" / "keys.yaml").write_text(MANIFEST)
    monkeypatch.chdir(repo / "keys")
    monkeypatch.setenv("GIT_DIR", git_dir)
    code, out, err = run_cli(capsys, "validate", "keys.yaml")
    assert code == 1 and "app.env: git would track this file" in out, out + err
