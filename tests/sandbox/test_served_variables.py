"""`ehkeys sandbox` printed its variables as export lines, its demo proxy key among them
(`export EH_SUPPORT_KEY=ek-proxy-…`) and its accounts' keys: a terminal's scrollback or a CI
job's log kept them. It prints none now: they are in a file only its user may read, whose
loading command (`. PATH`) it prints, removed when it stops."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.errors import ConfigError
from reconciler.sandbox import Sandbox, envfile, seeds

from ..helpers import run_cli, sandbox_announced, sandbox_variables

KEY = re.compile(r"ek-[A-Za-z0-9_-]{6,}")  # any ElectronHub key, a proxy key or an account's


def _served(cwd: Path, *argv: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "reconciler", "sandbox", "--port", "0", *argv]
    return subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stopped(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return out + err


def test_a_new_database_named_by_a_link_is_made_0600_where_the_link_leads(tmp_path: Path) -> None:
    """O_EXCL refused the link itself (it is there), so SQLite made its target with the umask's
    mode: every sandbox key readable by all."""
    link = tmp_path / "dangling-link-made-0644.db"
    link.symlink_to("target.db")
    umask = os.umask(0o022)
    try:
        Sandbox.open(link, seeds.load())
    finally:
        os.umask(umask)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir() if not p.is_symlink()}
    assert "target.db" in modes and set(modes.values()) == {0o600}, modes


@pytest.mark.slow  # a sandbox process
def test_the_served_sandbox_prints_no_key_its_variables_are_in_a_0600_file_beside_its_database(
    tmp_path: Path,
) -> None:
    (tmp_path / "elsewhere.txt").write_text("kept\n")
    (tmp_path / "s.db.env").symlink_to("elsewhere.txt")  # left by someone: replaced, not followed
    proc, lines = _served(tmp_path, "--db", "s.db", "--account", "prod"), []
    try:
        lines, path = sandbox_announced(proc)
        variables = sandbox_variables(path)
        mode = stat.S_IMODE(path.lstat().st_mode)
    finally:
        said = "\n".join(lines) + _stopped(proc)
    assert path == tmp_path / "s.db.env" and mode == 0o600 and not path.is_symlink()
    assert variables["EH_SUPPORT_KEY"].startswith("ek-proxy-") and "EH_PROD_API_KEY" in variables
    assert not KEY.search(said), said
    assert lines[-1] == f". {path}" and "EH_SUPPORT_KEY" in lines[-2]
    assert not path.exists() and (tmp_path / "elsewhere.txt").read_text() == "kept\n"


@pytest.mark.slow  # a sandbox process
def test_an_in_memory_sandbox_s_variables_are_in_a_folder_of_its_own_gone_when_it_stops(
    tmp_path: Path,
) -> None:
    proc, lines = _served(tmp_path), []
    try:
        lines, path = sandbox_announced(proc)
        folder = stat.S_IMODE(path.parent.stat().st_mode), stat.S_IMODE(path.stat().st_mode)
        variables = sandbox_variables(path)
    finally:
        said = "\n".join(lines) + _stopped(proc)
    assert folder == (0o700, 0o600) and path.parent != tmp_path and list(tmp_path.iterdir()) == []
    assert variables["ELECTRONHUB_API_KEY"] == "ek-sandbox-demo-key" and not KEY.search(said), said
    assert not path.parent.exists()


def test_a_new_sandbox_database_is_readable_by_its_owner_alone(tmp_path: Path) -> None:
    """The database holds every sandbox key, as the variables file does: 0600 too, and so are
    SQLite's -wal and -shm files beside it (made with the database's mode)."""
    Sandbox.open(tmp_path / "fresh.db", seeds.load())
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes and set(modes.values()) == {0o600}, modes


@pytest.mark.slow  # a sandbox process
def test_a_closed_terminal_s_hang_up_stops_the_sandbox_and_removes_its_variables_file(tmp_path: Path) -> None:
    """SIGHUP (the terminal `ehkeys sandbox` ran in closed) ended the process at once, as its
    default does: the file of its keys stayed behind, with the database's -wal and -shm."""
    command = [sys.executable, "-m", "reconciler", "sandbox", "--port", "0", "--db", "s.db"]
    proc = subprocess.Popen(
        command,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL),  # as a terminal starts it
    )
    try:
        _, path = sandbox_announced(proc)
        assert path.exists()
    finally:
        proc.send_signal(signal.SIGHUP)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.db"]


@pytest.mark.slow  # two sandbox processes
def test_a_sandbox_stopping_leaves_the_file_a_second_one_on_its_database_wrote(tmp_path: Path) -> None:
    """Two sandboxes served on one database share its file's name: the second's replaced the
    first's, and the first, stopping, removed it while the second still served (its `. PATH`
    then named nothing)."""
    first = _served(tmp_path, "--db", "s.db")
    second: subprocess.Popen[str] | None = None
    try:
        path = sandbox_announced(first)[1]
        second = _served(tmp_path, "--db", "s.db")
        assert sandbox_announced(second)[1] == path
        served = sandbox_variables(path)["ELECTRONHUB_BASE_URL"]
        _stopped(first)
        assert sandbox_variables(path)["ELECTRONHUB_BASE_URL"] == served, "the second's file, kept"
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                _stopped(proc)
    assert not path.exists()


def test_a_folder_where_its_variables_file_goes_is_refused_not_an_internal_error(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its write refused (a folder of that name), the sandbox then removed the path it never
    wrote, and that raised over the refusal: 'internal error: IsADirectoryError'."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.db.env").mkdir()
    code, out, err = run_cli(capsys, "sandbox", "--port", "0", "--db", "s.db")
    assert code == 1 and out.startswith("ElectronHub sandbox on http://127.0.0.1:"), out
    assert (
        err
        == f"ehkeys: error: sandbox variables file {tmp_path}/s.db.env: cannot write it (Is a directory)\n"
    )
    assert (tmp_path / "s.db.env").is_dir()


def test_a_users_own_file_where_the_variables_go_is_never_replaced(tmp_path: Path) -> None:
    """`--db app` puts the variables in `app.env`: a file of the user's there was replaced, then
    deleted when the sandbox stopped. It is refused, left as it is; one a killed sandbox left
    (its header) is replaced."""
    own = tmp_path / "app.env"
    own.write_text("DATABASE_URL=postgres://localhost/app\n")
    refused = r"app\.env: a file of that name is there, not written by"
    with pytest.raises(ConfigError, match=refused), envfile.exported(str(tmp_path / "app"), [("X", "1")]):
        pass
    assert own.read_text() == "DATABASE_URL=postgres://localhost/app\n"
    own.write_text(envfile.HEADER + "export X=old\n")  # a killed sandbox's
    with envfile.exported(str(tmp_path / "app"), [("X", "1")]) as path:
        assert sandbox_variables(path) == {"X": "1"}
    assert not own.exists()


@pytest.mark.timeout(20)  # the check opened the FIFO to read its header: open() waited for a writer forever
def test_a_fifo_where_the_variables_go_is_refused_without_waiting_for_a_writer(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    os.mkfifo(tmp_path / "blocks-the-header-check.db.env")
    code, out, err = run_cli(capsys, "sandbox", "--port", "0", "--db", "blocks-the-header-check.db")
    assert code == 1 and out.startswith("ElectronHub sandbox on http://127.0.0.1:"), out
    assert err == (
        f"ehkeys: error: sandbox variables file {tmp_path}/blocks-the-header-check.db.env: a file of that "
        "name is there, not written by ehkeys sandbox; it is left as it is: move it, or give --db another name\n"
    )
    assert stat.S_ISFIFO((tmp_path / "blocks-the-header-check.db.env").lstat().st_mode), "left as it is"
