"""A new user's first week (issue 19's frictions): the sandbox served, stopped and pointed at,
a closed pipe, a sandbox that is not running, and what the messages say."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli import options
from reconciler.core.secrets import scrub
from reconciler.manifest import resources

from ..helpers import (
    ROOT,
    TESTS,
    free_port,
    interruptible,
    manifest_text,
    run_cli,
    sandbox_announced,
    sandbox_variables,
    unwarned,
)
from ..reliability_log import record

NOISE = ("Traceback", "interrupted", "Exception ignored", "internal error")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keys.yaml").write_text(manifest_text(1))
    return tmp_path


def ehkeys(workdir: Path, *argv: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler", *argv],
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
    )


def announced(proc: subprocess.Popen[str]) -> list[str]:
    """The sandbox's first lines, up to the one that loads its variables' file."""
    return sandbox_announced(proc)[0]


@pytest.mark.slow
@pytest.mark.parametrize("after", [0.0, 0.5], ids=["as-soon-as-announced", "while-serving"])
def test_ctrl_c_stops_the_sandbox_with_exit_0_as_its_help_says(workdir: Path, after: float) -> None:
    proc = ehkeys(workdir, "sandbox", "--port", "0")
    announced(proc)
    time.sleep(after)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert not [n for n in NOISE if n in err], err
    record("cli", "one Ctrl-C stops `ehkeys sandbox` (real process)", 1, "exit 0, as --help says")


@pytest.mark.slow
def test_sigterm_stops_the_sandbox_with_exit_0_and_its_database_closed(workdir: Path) -> None:
    """`docker stop`, `timeout` and service managers send SIGTERM: uvicorn stopped, then raised it
    again with its default action, which ended the process (exit 143) before the database was
    closed: `sandbox.db-wal` and `-shm` were left beside it."""
    proc = ehkeys(workdir, "sandbox", "--port", "0", "--db", "sandbox.db")
    announced(proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert sorted(p.name for p in workdir.glob("sandbox.db*")) == ["sandbox.db"]
    record("cli", "SIGTERM stops `ehkeys sandbox --db FILE` (real process)", 1, "exit 0, no -wal left")


def test_a_port_in_use_leaves_no_database_file_behind(workdir: Path, capsys: Any) -> None:
    db = workdir / "state" / "sandbox.db"
    with __import__("socket").socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = run_cli(capsys, "sandbox", "--port", str(port), "--db", str(db))
    assert code == 1 and "is in use" in err
    assert not db.exists() and not db.parent.exists()
    record("files", "ehkeys sandbox --db on a port in use", 1, "exit 1; no database file made")


def planned_with_exports(
    proc: subprocess.Popen[str], where: Path, manifest: str
) -> tuple[dict[str, str], subprocess.CompletedProcess[str]]:
    """The served sandbox's variables, and `ehkeys plan manifest` run in a shell that loaded them
    as the sandbox says (`. PATH`), no other EH_ variable set; the sandbox stopped after."""
    try:
        lines, path = sandbox_announced(proc)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("EH_", "ELECTRONHUB_"))}
        plan = subprocess.run(
            ["sh", "-c", f'{lines[-1]} && exec "$0" -m reconciler plan "$1"', sys.executable, manifest],
            cwd=where,
            env={**env, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        exports = sandbox_variables(path)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    return exports, plan


@pytest.mark.slow
def test_a_served_sandbox_exports_the_variables_the_example_reads(tmp_path: Path) -> None:
    """docs/sandbox.md's recipe: `ehkeys sandbox`, its variables loaded, then a plan of
    keys.example.yaml, which binds the support bot by `${EH_SUPPORT_KEY}`. They were the base URL
    and the account key only: the plan stopped on an unset variable."""
    shutil.copy(ROOT / "keys.example.yaml", tmp_path / "keys.example.yaml")
    proc = ehkeys(tmp_path, "sandbox", "--port", "0", "--db", str(tmp_path / "served.db"))
    exports, plan = planned_with_exports(proc, tmp_path, "keys.example.yaml")
    assert "EH_SUPPORT_KEY" in exports, exports
    assert plan.returncode == 0 and "Read with 2 requests" in plan.stdout, plan.stderr


@pytest.mark.slow
def test_the_export_line_of_a_sandbox_on_all_interfaces_is_one_the_cli_accepts(workdir: Path) -> None:
    """`--host 0.0.0.0` used to export `ELECTRONHUB_BASE_URL=http://0.0.0.0:…`, which the CLI
    refuses (plain http only to a loopback host)."""
    proc = ehkeys(workdir, "sandbox", "--host", "0.0.0.0", "--port", "0")
    exports, plan = planned_with_exports(proc, workdir, "keys.yaml")
    assert exports["ELECTRONHUB_BASE_URL"].startswith("http://127.0.0.1:"), exports
    assert plan.returncode in (0, 1) and "base URL" not in plan.stderr, plan.stderr
    assert "Read with 2 requests" in plan.stdout, plan.stderr
    record(
        "cli", "ehkeys sandbox --host 0.0.0.0, its export lines used as printed", 1, "the CLI accepts them"
    )


def test_a_refused_loopback_connection_stops_at_once_and_says_what_to_start(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing listens: today 16 s of silent retries, then 'the request never reached the API'."""
    monkeypatch.setenv("ELECTRONHUB_API_KEY", "ek-test-account-key")
    port = free_port()
    started = time.monotonic()
    code, out, err = run_cli(capsys, "plan", "keys.yaml", "--base-url", f"http://127.0.0.1:{port}/v1")
    took = time.monotonic() - started
    assert code == 1 and out == ""
    assert err.strip().endswith(f"nothing listens on 127.0.0.1:{port}: is `ehkeys sandbox` running?"), err
    assert len(unwarned(err).strip().splitlines()) == 1 and took < 5, (took, err)
    record("cli", "plan against a loopback port nothing listens on", 1, "exit 1 in under 5 s, one message")


def _demo_plan_into(workdir: Path, stdout: Any) -> subprocess.CompletedProcess[str]:
    """`plan --detailed-exitcode --out plan.json` of the demo's changes, its output into `stdout`."""
    (workdir / "keys.yaml").write_text((ROOT / "keys.example.yaml").read_text())
    argv = ["plan", "keys.yaml", "--sandbox", "--detailed-exitcode", "--out", "plan.json"]
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *argv],
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
def test_a_reader_that_goes_away_keeps_the_documented_exit_code(workdir: Path) -> None:
    """`plan --detailed-exitcode | head -1`: the pipe closes before ehkeys writes; it exited 1."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone: every write to the pipe fails (EPIPE)
    try:
        done = _demo_plan_into(workdir, write_end)
    finally:
        os.close(write_end)
    assert done.returncode == 2, done.stderr  # changes, as without the pipe
    assert (workdir / "plan.json").exists() and "Saved the plan to plan.json" in done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
    record(
        "cli", "plan --detailed-exitcode into a pipe already closed (| head -1)", 1, "exit 2, as documented"
    )


@pytest.mark.slow
@pytest.mark.skipif(not Path("/dev/full").exists(), reason="/dev/full: a device every write to fails full")
def test_output_to_a_full_disk_is_an_error_said_not_an_internal_one(workdir: Path) -> None:
    """`plan > /dev/full`: "internal error: OSError: [Errno 28]"; and with --detailed-exitcode a
    plan nobody could read would have exited 2, changes, as if all were well."""
    with open("/dev/full", "w") as full:
        done = _demo_plan_into(workdir, full)
    assert done.returncode == 1, done.stderr
    said = "ehkeys: error: cannot write the output (No space left on device); the rest of it is lost"
    assert done.stderr.count(said) == 1 and "internal error" not in done.stderr, done.stderr
    assert (workdir / "plan.json").exists(), "what was made besides the output stays made"
    record("cli", "plan --detailed-exitcode into a full disk (> /dev/full)", 1, "said once, exit 1")


@pytest.mark.parametrize(
    ("argv", "code"),
    [(["schema"], 0), (["validate", "keys.yaml"], 0), (["schema", "--out", "."], 1)],
    ids=["prints", "prints-a-summary", "refuses"],
)
def test_a_command_started_with_stdout_closed_keeps_its_exit_code_and_says_no_traceback(
    workdir: Path, argv: list[str], code: int
) -> None:
    """`ehkeys schema >&-`: Python gives no sys.stdout at all; every command, whatever it printed,
    ended 'internal error: AttributeError' and a traceback, exit 120."""
    (workdir / "keys.yaml").write_text(manifest_text(1, allocated_ammount=5))
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", *argv],
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        preexec_fn=lambda: os.close(1),
    )
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr


def test_an_account_key_that_is_a_proxy_key_is_shown_as_its_last_four(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It read `ek-proxy-…xy-…`: the message's own placeholder redacted a second time."""
    monkeypatch.setenv("ELECTRONHUB_API_KEY", "ek-proxy-1234567890abcdef")
    code, _, err = run_cli(capsys, "plan", "keys.yaml")
    assert code == 1
    assert "ELECTRONHUB_API_KEY holds a proxy key (ek-proxy-…cdef)" in err, err
    assert "…xy-…" not in err and "1234567890" not in err
    assert scrub("a proxy key (ek-proxy-…) or an account key (ek-…)") == (
        "a proxy key (ek-proxy-…) or an account key (ek-…)"
    )
    record("secret", "a proxy key given as the account key", 1, "shown as ek-proxy-… and its last 4")


def test_reveal_out_inside_the_repository_names_out_not_secrets_out(workdir: Path, capsys: Any) -> None:
    subprocess.run(["git", "init", "-q", str(workdir)], check=True)
    code, out, err = run_cli(capsys, "reveal", "keys.yaml", "key-0", "--sandbox", "--out", "reveal.env")
    assert code == 1 and out == ""
    assert "--out reveal.env: git would track this file" in err and "--secrets-out" not in err, err
    assert not (workdir / "reveal.env").exists()
    record("secret", "reveal --out to a file git would track", 1, "refused, naming --out")


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["plan", "keys.yaml", "--sandbox-seed", "seed.yaml"], "--sandbox-seed"),
        (["apply", "keys.yaml", "--sandbox-reset", "--auto-approve"], "--sandbox-reset"),
        (["import", "--all", "--sandbox-seed", "seed.yaml"], "--sandbox-seed"),
    ],
    ids=["plan-seed", "apply-reset", "import-seed"],
)
def test_sandbox_options_without_sandbox_say_they_need_it(
    workdir: Path, capsys: Any, argv: list[str], flag: str
) -> None:
    """They failed on the API key that was never needed ('ELECTRONHUB_API_KEY is not set')."""
    code, out, err = run_cli(capsys, *argv)
    assert code == 1 and out == ""
    assert f"{flag} acts on the in-process sandbox: add --sandbox" in err, err
    assert f"usage: ehkeys {argv[0]}" in err and "ELECTRONHUB_API_KEY" not in err
    record("cli", f"{flag} without --sandbox ({argv[0]})", 1, "usage error naming --sandbox")


def _commands() -> list[tuple[str, argparse.ArgumentParser]]:
    """Every command's parser, the GitOps jobs too: ("plan", parser), ("github apply", parser)."""
    found = []
    todo = [("", options.parser())]
    while todo:
        name, parser = todo.pop()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo += [(f"{name} {sub}".strip(), p) for sub, p in action.choices.items()]
        if name:
            found.append((name, parser))
    return sorted(found, key=lambda pair: pair[0])


def test_every_command_help_has_a_description_debug_and_each_option_s_default(capsys: Any) -> None:
    """`ehkeys plan --help` had no description, no --debug, and options with no default shown."""
    for command, parser in _commands():
        code, out, _ = run_cli(capsys, *command.split(), "--help")
        assert code == 0 and parser.description and f"\n\n{parser.description}\n\n" in out, command
        assert out == parser.format_help(), command  # a run builds its command's options alone: the same
        assert "--debug" in out, command
        for action in parser._actions:
            if not action.option_strings or action.nargs == 0 or action.dest == "help":
                continue  # positionals and flags (off unless given)
            text = parser._get_formatter()._expand_help(action)
            assert "default" in text, (command, action.option_strings, text)
    record("cli", "every command's --help: description, --debug, option defaults", 1, "all shown")


def test_each_command_is_summed_up_in_one_line_and_its_exit_codes_left_to_its_help(capsys: Any) -> None:
    """`ehkeys --help` said of drift `(0 in sync, 2 drift, 1 error)`, on two lines, where every
    other command says what it does: the codes are in each command's own --help."""
    code, out, _ = run_cli(capsys, "--help")
    summaries = {
        name: parser.description for name, parser in _commands() if " " not in name and parser.description
    }
    assert code == 0 and "    drift     read-only: what changed outside ehkeys since the last apply\n" in out
    for name, summary in summaries.items():
        assert not re.search(r"\b\d+ (in sync|drift|error|changes)", summary), (name, summary)
    code, out, _ = run_cli(capsys, "drift", "--help")
    assert "exit codes:\n  0    in sync" in out and "\n  2    drift: " in out


@pytest.mark.parametrize(
    ("argv", "bad"),
    [
        (["plan", "keys.yaml", "--formt", "json"], "--formt json"),
        (["github", "plan", "keys.yaml", "--bogus"], "--bogus"),
        (["sandbox", "--prot", "1"], "--prot 1"),
    ],
    ids=["plan", "github-plan", "sandbox"],
)
def test_an_unknown_option_prints_its_command_s_usage(capsys: Any, argv: list[str], bad: str) -> None:
    """argparse printed the top-level usage (`ehkeys [-h] [--version] [--debug] COMMAND ...`)."""
    command = " ".join(a for a in argv[:2] if a in ("plan", "github", "sandbox"))
    code, out, err = run_cli(capsys, *argv)
    assert code == 1 and out == ""
    assert err.startswith(f"usage: ehkeys {command} [-h] [--debug]"), err
    assert f"ehkeys {command}: error: unrecognized arguments: {bad}" in err
    record("cli", f"an unknown option after `{command}`", 1, "that command's usage")


SEEDS = TESTS / "seeds"
BAD_SEEDS = {
    "bad-seed-without-accounts.yaml": "invalid seed: `accounts:` must be a list of at least one entry",
    "bad-seed-account-without-api-key.yaml": "invalid seed: accounts[0]: api_key missing",
    "bad-seed-key-without-name.yaml": "invalid seed: keys[0]: name missing",
    # These said `invalid seed (InvalidOperation: [<class 'decimal.ConversionSyntax'>])`,
    # `(ValueError: invalid literal for int() ...)`, `(AttributeError: 'Faults' object has no
    # attribute ...)` and `in "<unicode string>", line 4`, over five lines: no field, no line.
    "bad-seed-balance-not-a-number.yaml": "invalid seed: accounts[0].balance 'lots': expected a number",
    "bad-seed-key-amount-not-a-number.yaml": "invalid seed: keys[0].allocated_ammount 'ten': expected a number",
    "bad-seed-requests-not-a-number.yaml": "invalid seed: rate_limit.requests 'lots': expected a whole number",
    "bad-seed-unknown-fault.yaml": "invalid seed: faults.earthquake_rate 0.1: no such setting (known: latency_ms,",
    "bad-seed-not-yaml.yaml": "invalid seed: not YAML at line 4, column 1:",
    "bad-seed-nested-too-deeply.yaml": "invalid seed: nested too deeply to read",  # was a RecursionError
}


@pytest.mark.parametrize("fixture", sorted(BAD_SEEDS))
@pytest.mark.parametrize("command", ["sandbox", "plan"])
def test_a_bad_seed_names_the_missing_field(workdir: Path, capsys: Any, fixture: str, command: str) -> None:
    """`accounts` missing was `invalid seed (KeyError: 'accounts')`."""
    seed = str(SEEDS / fixture)
    argv = ["sandbox", "--seed", seed, "--port", "0"] if command == "sandbox" else []
    argv = argv or ["plan", "keys.yaml", "--sandbox", "--sandbox-seed", seed]
    code, out, err = run_cli(capsys, *argv)
    assert code == 1 and out == ""
    assert err == f"ehkeys: error: {seed}: {BAD_SEEDS[fixture]}" + err.split(BAD_SEEDS[fixture])[1], err
    assert "KeyError" not in err and len(err.strip().splitlines()) == 1, err
    record(
        "input",
        f"sandbox seed: {fixture.removeprefix('bad-seed-').removesuffix('.yaml')} ({command})",
        1,
        "the field named",
    )


def test_a_seed_that_is_not_there_is_said_in_words_not_errno(workdir: Path, capsys: Any) -> None:
    code, _, err = run_cli(capsys, "plan", "keys.yaml", "--sandbox", "--sandbox-seed", "nope.yaml")
    assert code == 1 and err == "ehkeys: error: cannot read seed nope.yaml: no such file or directory\n", err


def test_import_writes_a_schema_modeline_that_works_in_any_repository(workdir: Path, capsys: Any) -> None:
    """The modeline named `schemas/manifest.schema.json`, a path only ehkeys' own repository has;
    editors resolve it relative to the manifest (yaml-language-server), so it was a broken path."""
    code, _, err = run_cli(capsys, "import", "--all", "--sandbox", "--out", "keys/keys.yaml")
    assert code == 0, err
    first = (workdir / "keys" / "keys.yaml").read_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema="), first
    schema = workdir / "keys" / first.split("$schema=", 1)[1]
    assert json.loads(schema.read_text()) == resources.schema("manifest")  # offline, as shipped
    assert f"wrote keys/{schema.name}" in err
    assert "read the sandbox keys/.ehkeys/sandbox.db, beside the manifest, where plan --sandbox" in err
    assert run_cli(capsys, "validate", "keys")[0] == 0  # the folder still reads as one manifest
    record(
        "files", "import --out in a repository without ehkeys' schemas/", 1, "the modeline's schema is there"
    )


def test_the_command_list_says_what_each_command_does(capsys: Any) -> None:
    """`ehkeys --help` said Ctrl-C exits 130 (the sandbox exits 0), that apply "sends the updates"
    (it creates and deletes too), and that import prints (with --out it writes, and records)."""
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0
    assert "Ctrl-C 130 (sandbox: 0)" in " ".join(out.split())
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("    ")}
    assert "create" in lines["apply"] and "delete" in lines["apply"], lines["apply"]
    assert "--out" in lines["import"], lines["import"]
    code, out, _ = run_cli(capsys, "import", "--help")
    assert "written with --out" in out


def test_the_first_command_of_a_fresh_clone_plans_the_example_with_no_variable_set(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ehkeys plan keys.example.yaml --sandbox`, the README's first command. The example found
    its support bot by `${EH_SUPPORT_KEY:-ek-proxy-demo-support-0004}`: a key's value in the
    manifest, taught to every new user. A --sandbox run reads it from the sandbox's own seed."""
    (workdir / "keys.example.yaml").write_text((ROOT / "keys.example.yaml").read_text())
    for name in ("EH_SUPPORT_KEY", "EHKEYS_PROXY_KEYS", "ELECTRONHUB_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    code, out, err = run_cli(capsys, "plan", "keys.example.yaml", "--sandbox")
    assert code == 0 and err == "", err  # nothing warned that a new user cannot act on
    assert '  ~ Support Bot (ek-proxy-…0004)\n      name: "support bot (old)" -> "Support Bot"\n' in out
    assert "\nPlan: 1 to create, 4 to update, 1 to disable, 1 to delete, 0 unchanged, 0 errors.\n" in out
    code, out, err = run_cli(capsys, "validate", "keys.example.yaml")
    assert (code, out, err) == (0, "", "0 warning(s); 7 key(s) valid\n")


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("ek-proxy-demo-support-0004", "plain-text proxy key in the manifest: it is a secret"),
        (
            "${EH_BOT:-ek-proxy-demo-support-0004}",
            "plain-text proxy key in the manifest, as a ${VAR:-…} default",
        ),
    ],
    ids=["literal", "default"],
)
def test_a_proxy_key_written_as_a_default_is_warned_of_as_a_literal_one(
    workdir: Path, capsys: Any, written: str, said: str
) -> None:
    """The default went unsaid when shaped as a placeholder (`ek-proxy-demo-…`): it is a key,
    the sandbox's here, and may be a real one's. By validate and by plan, at its line."""
    (workdir / "keys.yaml").write_text(
        f"version: 1\nkeys:\n  - proxy_key: '{written}'\n    name: Bot\n    limit_type: daily\n"
    )
    code, out, _ = run_cli(capsys, "validate", "keys.yaml")
    assert code == 0 and out.startswith(f"keys.yaml:3:16: warning: keys[Bot].proxy_key: {said}"), out
    code, out, err = run_cli(capsys, "plan", "keys.yaml", "--sandbox")
    assert code == 0 and err.startswith(f"keys.yaml:3:16: warning: keys[Bot].proxy_key: {said}"), err
    assert "support-0004" not in out + err and "~ Bot (ek-proxy-…0004)" in out
