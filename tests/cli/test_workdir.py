"""A run from a folder removed under it (`cli.workdir`): a relative path is refused, naming it and
saying why, before anything is read or sent (Python's `abspath` raised: an internal error); every
path absolute, the run goes on; the folder removed while it runs: said so, not a bug."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from reconciler.sandbox import SandboxTransport

from ..helpers import manifest_text, run_cli, seed_data

GONE = "error: the current directory no longer exists (removed, or moved?)"


@pytest.fixture
def removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from tmp_path/gone, removed: keys.yaml and seed.yaml are in tmp_path, its parent."""
    (tmp_path / "seed.yaml").write_text(yaml.safe_dump(seed_data(3)))
    (tmp_path / "keys.yaml").write_text(manifest_text(2))
    (tmp_path / "gone").mkdir()
    monkeypatch.chdir(tmp_path / "gone")
    (tmp_path / "gone").rmdir()
    return tmp_path


def sandbox(at: At) -> tuple[str, ...]:
    return ("--sandbox", "--sandbox-seed", at("../seed.yaml"))


At = Callable[[str], str]  # a path as the command line gives it: as written, or made absolute
COMMANDS: dict[str, Callable[[At], tuple[str, ...]]] = {
    "validate": lambda at: ("validate", at("../keys.yaml")),
    "plan": lambda at: ("plan", at("../keys.yaml"), *sandbox(at)),
    "apply": lambda at: ("apply", at("../keys.yaml"), *sandbox(at), "--auto-approve"),
    "plan --out": lambda at: ("plan", at("../keys.yaml"), *sandbox(at), "--out", at("../p.json")),
    "schema --out": lambda at: ("schema", "--out", at("../s.json")),
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_relative_path_from_a_removed_folder_is_refused_and_absolute_ones_run(
    removed: Path, capsys: Any, command: str
) -> None:
    relative = COMMANDS[command](lambda path: path)
    code, out, err = run_cli(capsys, *relative)
    assert (code, out) == (1, ""), err
    named = ", ".join(arg for arg in relative if arg.startswith("../"))
    assert err == f"ehkeys: {GONE}, so a relative path names nothing ({named}): cd to a directory that " + (
        "exists, or give absolute paths\n"
    )
    assert sorted(p.name for p in removed.iterdir()) == ["keys.yaml", "seed.yaml"], "no sandbox opened"
    code, _, err = run_cli(
        capsys, *COMMANDS[command](lambda path: os.path.normpath(f"{removed}/gone/{path}"))
    )
    assert code == 0, err


def test_the_folder_removed_while_the_command_runs_is_said_not_called_a_bug(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Removed once the run began (a CI clean-up), while the plan is made: it looked for other
    manifests' states beside this one, a path made absolute from the folder gone by then."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "seed.yaml").write_text(yaml.safe_dump(seed_data(3)))
    (run / "keys.yaml").write_text(manifest_text(2, allocated_ammount=12))
    monkeypatch.chdir(run)
    real = SandboxTransport.handle_async_request

    async def removing(self: SandboxTransport, request: httpx.Request) -> httpx.Response:
        shutil.rmtree(run, ignore_errors=True)
        return await real(self, request)

    monkeypatch.setattr(SandboxTransport, "handle_async_request", removing)
    argv = ("apply", "keys.yaml", "--sandbox", "--sandbox-seed", "seed.yaml", "--auto-approve")
    code, out, err = run_cli(capsys, *argv)
    assert code == 1 and "Applying" not in out, out
    assert err.endswith(f"ehkeys: {GONE}: cd to a directory that exists, or give absolute paths\n"), err
    assert "internal error" not in err


def test_absolute_paths_run_from_a_removed_folder_beside_another_manifest_s_state(
    removed: Path, capsys: Any
) -> None:
    """Another manifest's state in the checkout (the usual several-manifests layout) was named
    from the working directory (`os.path.relpath`), which raised once that was removed: plan,
    apply, drift and usage stopped with 'the current directory no longer exists', every path
    they were given absolute."""
    (removed / "other.yaml").write_text(manifest_text(1, start=2))
    seed = ("--sandbox", "--sandbox-seed", str(removed / "seed.yaml"))
    assert run_cli(capsys, "apply", str(removed / "other.yaml"), *seed, "--auto-approve")[0] == 0
    for command, *more in (["plan"], ["apply", "--auto-approve"], ["drift"], ["usage"]):
        code, out, err = run_cli(capsys, command, str(removed / "keys.yaml"), *seed, *more)
        assert code == 0 and "no longer exists" not in err, (command, out + err)
