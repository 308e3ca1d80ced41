"""Files that fight back: an env file written by hand (CRLF, `export`, a tab, a form feed in a
value), a path that leads nowhere (a loop of links, a name too long), a disk that refuses the
secrets file after the key is made. Each is said with what to do, never a traceback, and the
value is never lost nor half written."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.secrets import ProxyKey
from reconciler.core.sinks import FileSink, Recipient
from reconciler.delivery import send

from ..helpers import ROOT, files_up_to, run_cli
from ..reliability_log import record
from .manifests import delivering

VALUE = ProxyKey("ek-proxy-delivered-0123456789abcdef")
WHO = Recipient("prod/api", "API", "prod", "EH_KEY_PROD_API")
SANDBOX = ["--sandbox"]
MANIFEST = delivering("file: FILE")
LOOP = "a loop of symbolic links (a link that leads back to itself)"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def delivered(path: Path) -> None:
    asyncio.run(send.deliver(FileSink(path.name, "EH", str(path.parent)), VALUE, WHO, dict(os.environ)))


def test_an_env_file_written_by_hand_keeps_each_line_as_it_was(tmp_path: Path) -> None:
    """Lines were split as Python splits text (a form feed, a line separator in a value were
    line ends, a CRLF file became LF); `export EH=` became `EH=` (no longer exported where the
    file is sourced); `export<TAB>EH=` was not seen as EH's, and came after the new line: the
    old value won wherever the file is read."""
    env = tmp_path / "app.env"
    env.write_bytes(
        b'# settings\r\nexport EH="old"\r\nA=\'x\x0cy\'\r\nB="p\xe2\x80\xa8q"\r\n'
        b"export\tEH=stale\r\n  EH = older\r\n"
    )
    delivered(env)
    assert env.read_bytes() == (
        f"# settings\r\nexport EH={VALUE.reveal()}\r\nA='x\x0cy'\r\nB=\"p\u2028q\"\r\n".encode()
    )
    env.write_bytes(b"A=1\r\nB=2")  # CRLF, no newline at its end: the new line ends as the others
    delivered(env)
    assert env.read_bytes() == f"A=1\r\nB=2\r\nEH={VALUE.reveal()}\r\n".encode()
    env.write_bytes(b"A=1\n\tEH=old\n")  # its indent kept too
    delivered(env)
    assert env.read_bytes() == f"A=1\n\tEH={VALUE.reveal()}\n".encode()
    record(
        "delivery",
        "a file sink's env file with CRLF, export (a tab), form feeds, duplicates",
        3,
        "each line kept",
    )


def _refused_everywhere(capsys: Any, path: str, said: str) -> None:
    Path("keys.yaml").write_text(MANIFEST.replace("FILE", path))
    code, out, err = run_cli(capsys, "validate", "keys.yaml")
    assert code == 1 and f"keys.yaml:8:15: keys[api].deliver: {path}: {said}" in out, out + err
    code, out, err = run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)
    assert code == 1 and said in out + err and "created" not in out, out + err
    Path("keys.yaml").write_text(MANIFEST.replace("FILE", "app.env"))
    for command in (
        ["apply", "keys.yaml", "--auto-approve", "--secrets-out"],
        ["reveal", "keys.yaml", "api", "--out"],
        ["plan", "keys.yaml", "--out"],  # a saved plan's path, too
    ):
        code, out, err = run_cli(capsys, *command, path, *SANDBOX)
        assert code == 1 and f"--{command[-1].split('-', 2)[-1]} {path}: {said}" in err, out + err
        assert "internal error" not in out + err and "ek-proxy-" not in err


def test_a_loop_of_links_is_refused_with_what_to_do_never_a_traceback(workdir: Path, capsys: Any) -> None:
    """Path.resolve() raises on a loop (RuntimeError before Python 3.13): validate, plan, apply,
    --secrets-out, reveal --out and plan --out each stopped on an internal error."""
    Path("l1").symlink_to("l2")
    Path("l2").symlink_to("l1")
    _refused_everywhere(capsys, "l1", LOOP)
    _refused_everywhere(capsys, "l1/app.env", LOOP)
    record(
        "delivery", "a file sink, --secrets-out or reveal --out through a loop of links", 2, "refused, said"
    )


def test_a_name_longer_than_the_system_takes_is_refused(workdir: Path, capsys: Any) -> None:
    _refused_everywhere(capsys, "x" * 300 + ".env", "cannot be followed to a file (File name too long)")


LIMIT = 4 * 1024 * 1024  # bytes: more than the state, the journal and the sandbox's database


def _nearly_full(path: Path) -> bytes:
    """A secrets file 20 bytes short of LIMIT: a line starts, and is cut off after 20 bytes."""
    kept = b"# earlier keys\n" + b"#" * (LIMIT - 20 - 16) + b"\n"
    path.write_bytes(kept)
    path.chmod(0o600)
    return kept


def test_a_secrets_file_the_disk_refuses_after_the_create_is_said_and_the_apply_goes_on(
    workdir: Path, capsys: Any
) -> None:
    """The create's answer came, then the append failed: an internal error stopped the apply
    before it bound the key or delivered it, and half a line (a value cut short) stayed."""
    Path("keys.yaml").write_text(MANIFEST.replace("FILE", "app.env"))
    kept = _nearly_full(workdir / "new.env")
    with files_up_to(LIMIT):
        code, out, err = run_cli(
            capsys, "apply", "keys.yaml", "--auto-approve", "--secrets-out", "new.env", *SANDBOX
        )
    assert code == 3, out + err
    assert "--secrets-out new.env: cannot write (File too large); nothing was added to it" in err
    assert "new.env could not take the new values of api: they are in the account only: " in out
    assert "`ehkeys reveal keys.yaml --sandbox api` prints one" in out
    assert "✓ api → file app.env#EH_KEY_API: delivered" in out and "internal error" not in out + err
    assert (workdir / "new.env").read_bytes() == kept  # nothing half written
    value = (workdir / "app.env").read_text().strip().removeprefix("EH_KEY_API=")
    assert value.startswith("ek-proxy-") and value not in out + err
    code, out, err = run_cli(capsys, "plan", "keys.yaml", *SANDBOX)
    assert code == 0 and "0 to create, 0 to update" in out, out + err  # bound: no second create
    with files_up_to(LIMIT):
        code, out, err = run_cli(capsys, "reveal", "keys.yaml", "api", "--out", "new.env", *SANDBOX)
    assert code == 1 and "--out new.env: cannot write (File too large); nothing was added to it" in err
    assert (workdir / "new.env").read_bytes() == kept and "internal error" not in err
    record(
        "delivery",
        "--secrets-out and reveal --out on a disk that refuses the line",
        2,
        "said, none half written",
    )


KILLED_MID_WRITE = """
import asyncio, os, sys
from reconciler.core.secrets import ProxyKey
from reconciler.core.sinks import FileSink, Recipient
from reconciler.delivery import send
os.fsync = lambda fd: os._exit(9)  # killed as the value is written: no handler runs
sink = FileSink(sys.argv[1], "EH", sys.argv[2])
asyncio.run(send.deliver(sink, ProxyKey("ek-proxy-" + "k" * 32), Recipient("a", "A", "p", "EH"), {}))
"""


@pytest.mark.parametrize(
    ("name", "ignored"), [("app.env", "*.env"), (".env", ".env*"), (".env.prod", ".env*")]
)
def test_a_delivery_killed_while_it_writes_leaves_nothing_git_would_add(
    tmp_path: Path, name: str, ignored: str
) -> None:
    """The temporary file holding the value was `.app.env.XXXX`: a name neither `*.env` nor
    `.env*` (`..env.XXXX` beside .env) covers, which `git add -A` would commit."""
    if subprocess.run(["git", "--version"], capture_output=True).returncode != 0:
        pytest.skip("no git")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text(f"{ignored}\n")
    done = subprocess.run([sys.executable, "-c", KILLED_MID_WRITE, name, str(tmp_path)], cwd=ROOT)
    assert done.returncode == 9 and len(list(tmp_path.iterdir())) == 3  # .git, .gitignore, the left one
    status = subprocess.run(
        ["git", "-C", str(tmp_path), "status", "--porcelain"], capture_output=True, text=True
    )
    assert status.stdout == "?? .gitignore\n", status.stdout
    record(
        "secret",
        f"a file sink's delivery killed mid-write (SIGKILL) beside {name}",
        1,
        "its leftover ignored",
    )


TRIALS = 20


def _delivering(folder: str, name: str, barrier: Any) -> None:
    """One run delivering `name` to app.env, TRIALS times, each at the same moment as another's."""
    for trial in range(TRIALS):
        barrier.wait()
        sink = FileSink("app.env", name, folder)
        asyncio.run(send.deliver(sink, ProxyKey(f"ek-proxy-{name}-{trial:04d}-" + "k" * 24), WHO, {}))
        barrier.wait()


def test_two_runs_writing_two_variables_of_one_file_at_once_keep_both(tmp_path: Path) -> None:
    """Two runs (two accounts' applies, two manifests' delivers) each read the file, replaced
    their line and wrote it whole: the second write dropped the first one's line, which its run
    had reported delivered (one trial in two lost a line)."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(3)
    runs = [context.Process(target=_delivering, args=(str(tmp_path), name, barrier)) for name in ("A", "B")]
    for run in runs:
        run.start()
    lost = []
    try:
        for trial in range(TRIALS):
            (tmp_path / "app.env").write_text("KEPT=1\n")
            barrier.wait(timeout=60)
            barrier.wait(timeout=60)
            text = (tmp_path / "app.env").read_text()
            lost += [trial] if not all(f"{n}=ek-proxy-{n}-{trial:04d}-" in text for n in "AB") else []
    finally:
        for run in runs:
            run.join(timeout=60)
    assert not lost and all(run.exitcode == 0 for run in runs), lost
    record("delivery", "two runs writing two variables of one env file at once", TRIALS, "both lines kept")


@pytest.mark.skipif(
    resource.getrlimit(resource.RLIMIT_CORE)[1] == 0, reason="core dumps are off for good here"
)
def test_a_sink_command_that_crashes_dumps_no_core_holding_the_value(workdir: Path, capsys: Any) -> None:
    """With `ulimit -c unlimited` (a developer's shell) a sink's program that crashed after
    reading the value left `core` beside the manifest, the value in it, for `git add -A`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
    try:
        said = 'cat >/dev/null; echo "core limit $(ulimit -c)" >&2; exit 1'
        Path("keys.yaml").write_text(MANIFEST.replace("file: FILE", f"command: [sh, -c, {said!r}]"))
        code, out, err = run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)
        assert code == 3 and "exited 1: core limit 0" in out, out + err
        assert resource.getrlimit(resource.RLIMIT_CORE)[0] == 0  # nor ehkeys' own
    finally:
        resource.setrlimit(resource.RLIMIT_CORE, (soft, hard))
    record(
        "secret", "a sink's command crashing with core dumps on (ulimit -c unlimited)", 1, "no core dumped"
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="making a file another user owns needs root")
def test_a_secrets_file_another_user_owns_is_refused(workdir: Path, capsys: Any) -> None:
    """Appended to (never replaced), a file someone else made (in /tmp, say) stayed theirs: its
    owner could read the values whatever mode ehkeys set, or set it back."""
    Path("keys.yaml").write_text(MANIFEST.replace("FILE", "app.env"))
    theirs = workdir / "new.env"
    theirs.write_text("")
    os.chown(theirs, 65534, 65534)
    for command in (
        ["apply", "keys.yaml", "--auto-approve", "--secrets-out"],
        ["reveal", "keys.yaml", "api", "--out"],
    ):
        code, out, err = run_cli(capsys, *command, str(theirs), *SANDBOX)
        assert code == 1 and "owned by another user (uid 65534), who could read" in err, out + err
    assert theirs.read_text() == "" and not (workdir / "app.env").exists()
    record("secret", "--secrets-out or reveal --out naming a file another user owns", 2, "refused")


def test_a_key_the_api_lists_with_a_newline_is_refused_never_written_into_an_env_file(
    workdir: Path, capsys: Any
) -> None:
    """A hostile or broken API listing a key whose value holds a newline: a file sink wrote it
    as it came, and the line after the newline became another variable of the app's env file."""
    (workdir / "keys.yaml").write_text(MANIFEST.replace("FILE", "app.env"))
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    before = (workdir / "app.env").read_bytes()
    with sqlite3.connect(workdir / ".ehkeys" / "sandbox.db") as db:
        db.execute("UPDATE keys SET key = key || ? WHERE name = 'API'", ("\nLD_PRELOAD=/tmp/evil.so",))
    for command in (["plan", "keys.yaml", *SANDBOX], ["deliver", "keys.yaml", *SANDBOX]):
        code, out, err = run_cli(capsys, *command)
        assert code == 1 and "key holds characters no proxy key has" in out + err, out + err
        assert "Traceback" not in err and "LD_PRELOAD" not in out + err
    assert (workdir / "app.env").read_bytes() == before
