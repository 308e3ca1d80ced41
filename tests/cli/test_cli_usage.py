"""The command line's own contract: exit codes, option checks, the sandbox's port, the API's
silence, and messages that say what failed and what to check."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.api.client import RetryPolicy
from reconciler.cli.options import EXIT_CODES, TIMEOUT

from ..helpers import ROOT, live_sandbox, manifest_text, run_cli, seed_data, unwarned
from ..reliability_log import record

NOISE = ("Traceback", "was never awaited", "Task was destroyed", "internal error", "unhandled exception")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keys.yaml").write_text(manifest_text(1))
    monkeypatch.setenv("ELECTRONHUB_API_KEY", "ek-test-account-key")
    return tmp_path


USAGE_ERRORS: dict[str, tuple[list[str], str]] = {
    "a misspelt option": (["plan", "keys.yaml", "--formt", "markdown"], "unrecognized arguments: --formt"),
    "a misspelt --target": (["drift", "keys.yaml", "--taget", "x"], "unrecognized arguments: --taget"),
    "a missing argument": (["plan"], "the following arguments are required"),
    "an unknown command": (["plna", "keys.yaml"], "invalid choice: 'plna'"),
    "--timeout nan": (["plan", "keys.yaml", "--timeout", "nan"], "expected a number of seconds above 0"),
    "--timeout inf": (["plan", "keys.yaml", "--timeout", "inf"], "expected a number of seconds above 0"),
    "--timeout 0": (["apply", "keys.yaml", "--timeout", "0"], "expected a number of seconds above 0"),
    "--timeout -5": (["drift", "keys.yaml", "--timeout=-5"], "expected a number of seconds above 0"),
    "--parallelism x": (["plan", "keys.yaml", "--parallelism", "x"], "expected a whole number from 1 to 256"),
    # was accepted: 12.5 billion connection pools, gigabytes of memory, and a run that never starts
    "--parallelism 99999999999": (
        ["plan", "keys.yaml", "--parallelism", "99999999999"],
        "expected a whole number from 1 to 256",
    ),
    "--max-attempts 0": (
        ["plan", "keys.yaml", "--max-attempts", "0"],
        "expected a whole number of at least 1",
    ),
    "--pr abc": (
        ["github", "comment", "--pr", "abc", "--file", "x"],
        "expected a whole number of at least 1",
    ),
    "--port 99999": (["sandbox", "--port", "99999"], "expected a port number from 0 to 65535"),
}


@pytest.mark.parametrize("what", list(USAGE_ERRORS))
def test_usage_errors_exit_1_not_the_2_of_changes_or_drift(workdir: Path, capsys: Any, what: str) -> None:
    argv, message = USAGE_ERRORS[what]
    code, out, err = run_cli(capsys, *argv)
    assert code == 1 and message in err and "usage:" in err, err
    assert out == "" and "_positive" not in err and "_seconds" not in err
    assert not [n for n in NOISE if n in err]
    record("cli", f"usage error: {what}", 1, "exit 1 (never 2) with argparse's message, readable")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--now"], "github rotate --now: name the keys to rotate with --target"),
        (["--overlap", "3d"], "github rotate --overlap: only with --now"),
    ],
    ids=["--now without --target", "--overlap without --now"],
)
def test_a_rotation_by_hand_in_actions_names_its_keys(
    workdir: Path, capsys: Any, argv: list[str], message: str
) -> None:
    """`--now` alone would rotate nothing, or (read loosely) every key: it is refused, as is an
    overlap the schedule would ignore; before anything is read."""
    code, out, err = run_cli(capsys, "github", "rotate", "keys.yaml", *argv)
    assert code == 1 and message in err and out == "", err


@pytest.mark.parametrize("given", ["-1d", "abc", "10y", "1.5d", ""])
def test_the_actions_overlap_input_that_is_no_duration_is_refused_before_anything_is_read(
    workdir: Path, capsys: Any, given: str
) -> None:
    """The action passes `overlap:` as `--overlap=VALUE` (never taken for an option)."""
    argv = ["github", "rotate", "keys.yaml", "--target", "svc", "--now", f"--overlap={given}"]
    code, out, err = run_cli(capsys, *argv)
    assert code == 1 and "argument --overlap: expected a duration" in err and f"(got {given!r})" in err
    assert out == "" and "Traceback" not in err


def test_the_default_timeout_is_the_clients() -> None:
    assert TIMEOUT == RetryPolicy().timeout == 20.0  # 3 silent attempts: about a minute


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["plan", "--help"], ["sandbox", "--help"]])
def test_help_and_version_exit_0(capsys: Any, argv: list[str]) -> None:
    assert run_cli(capsys, *argv)[0] == 0


@pytest.mark.parametrize(
    "command",
    [
        "validate",
        "schema",
        "plan",
        "drift",
        "usage",
        "apply",
        "rotate",
        "deliver",
        "show",
        "import",
        "reveal",
        "sandbox",
        "github",
    ],
)
def test_every_command_documents_its_exit_codes(capsys: Any, command: str) -> None:
    _, out, _ = run_cli(capsys, command, "--help")
    listed = re.findall(r"^  (\d+) +\S", out.split("exit codes:")[1], re.M)
    assert listed == [code for code, _ in EXIT_CODES[command]] and "1" in listed
    if command in ("plan", "drift", "apply", "rotate", "import", "reveal"):
        assert "130" in listed


@pytest.mark.parametrize("command", [c for c in EXIT_CODES if " " not in c])
def test_help_that_says_pass_an_option_offers_it(capsys: Any, command: str) -> None:
    """rotate's and reveal's --state help said "pass --account with it", and neither took
    --account: a user following the help got 'unrecognized arguments'."""
    _, out, _ = run_cli(capsys, command, "--help")
    prose = " ".join(out.split())
    for option in set(re.findall(r"pass (--[a-z-]+)", prose)):
        assert re.search(rf"^ +{option}\b", out, re.M), f"{command} --help says pass {option}"


def test_import_help_says_it_needs_key_env_or_all_as_import_does(capsys: Any) -> None:
    """--key-env's help said "default: none, then --all", as though import without either read
    every key; it refuses: "name the keys with --key-env VAR (repeatable), or pass --all"."""
    _, out, _ = run_cli(capsys, "import", "--help")
    prose = " ".join(out.split())
    assert "then --all" not in prose
    assert "--key-env VAR a key's env var (repeatable; default: none: give it, or --all)" in prose
    assert "--all every key of the account (default: off; it or --key-env is needed)" in prose


def _codes(text: str) -> set[str]:
    return set(re.findall(r"\b\d+\b", text))


def test_what_help_says_of_exit_codes_outside_its_table_agrees_with_the_table(capsys: Any) -> None:
    """plan's --detailed-exitcode once said "0 no changes, 2 changes, 1 errors", leaving out the 4
    of a policy or budget broken that its own table lists."""
    _, out, _ = run_cli(capsys, "plan", "--help")
    option = " ".join(out.split("  --detailed-exitcode")[1].split("exit codes:")[0].split())
    assert option.startswith("exit 0 no changes, 2 changes, 4 the policy or a budget broken, 1 errors")
    assert _codes(option) == {code for code, _ in EXIT_CODES["plan"]} - {"130"}
    _, out, _ = run_cli(capsys, "drift", "--help")  # its description says what it does, no code
    assert not _codes(out.split("\n\n")[1]) and "exit codes:\n  0    in sync" in out


@pytest.mark.parametrize("page", ["README.md", "docs/commands.md"])
def test_the_docs_list_each_commands_exit_codes_as_its_help_does(page: str) -> None:
    """The commands tables (the README's short one, docs/commands.md's whole one), a row a
    command: its last column names the codes the command's --help lists (Ctrl-C's 130 is said
    once, below docs/commands.md's table)."""
    rows = [line for line in (ROOT / page).read_text().splitlines() if line.startswith("| `ehkeys ")]
    listed = {}
    for row in rows:
        cells = re.split(r"(?<!\\)\|", row)
        listed[cells[1].split()[1].strip("`")] = _codes(cells[-2])
    assert set(listed) == {c for c in EXIT_CODES if " " not in c}, sorted(listed)
    for command, codes in listed.items():
        assert codes == {code for code, _ in EXIT_CODES[command]} - {"130"}, command


@pytest.mark.parametrize("job", ["plan", "comment", "apply", "drift", "rotate", "deliver"])
def test_github_jobs_document_their_exit_codes(capsys: Any, job: str) -> None:
    _, out, _ = run_cli(capsys, "github", job, "--help")
    listed = re.findall(r"^  (\d+) +\S", out.split("exit codes:")[1], re.M)
    assert listed == [code for code, _ in EXIT_CODES[f"github {job}"]] and "1" in listed


def test_a_port_in_use_fails_before_announcing_anything(workdir: Path, capsys: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = run_cli(capsys, "sandbox", "--port", str(port))
    assert code == 1 and f"port {port} on 127.0.0.1 is in use: pick another with --port" in err
    assert "export" not in out and not [n for n in NOISE if n in err]
    record(
        "cli", "ehkeys sandbox on a port in use, or out of range", 2, "exit 1, one message, nothing announced"
    )


def test_a_host_this_machine_cannot_listen_on_is_one_message(workdir: Path, capsys: Any) -> None:
    code, out, err = run_cli(capsys, "sandbox", "--host", "no-such-host.invalid", "--port", "0")
    assert code == 1 and "--host 'no-such-host.invalid'" in err and out == ""


@pytest.mark.slow  # a sandbox process
def test_a_base_url_without_v1_says_so(workdir: Path, capsys: Any) -> None:
    with live_sandbox(workdir) as base:
        code, _, err = run_cli(capsys, "plan", "keys.yaml", "--base-url", base.removesuffix("/v1"))
    assert code == 1
    assert "GET /user/me: HTTP 404" in err and "is the base URL right? ElectronHub's ends in /v1" in err
    assert not [n for n in NOISE if n in err]
    record(
        "cli", "a base URL without /v1 (live sandbox)", 1, "the request named; 'ElectronHub's ends in /v1'"
    )


def _silent_seed(workdir: Path) -> None:
    data = seed_data(5)
    data["faults"] = {"hang_rate": 1.0}
    (workdir / "seed.yaml").write_text(yaml.safe_dump(data))


@pytest.mark.slow
def test_a_silent_api_stops_the_run_with_one_message(workdir: Path, capsys: Any) -> None:
    """Default attempts (6): today every request spends all of them, each a whole timeout."""
    _silent_seed(workdir)
    (workdir / "keys.yaml").write_text(manifest_text(5))
    argv = ["plan", "keys.yaml", "--sandbox", "--sandbox-seed", "seed.yaml", "--timeout", "0.3"]
    code, out, err = run_cli(capsys, *argv)
    lines = unwarned(err).strip().splitlines()
    assert code == 1 and out == "" and len(lines) == 1, err
    assert re.fullmatch(
        r"ehkeys: error: GET /\S+: stopped: the API at http://127\.0\.0\.1/v1 has not answered 3 attempts "
        r"in a row \(each timed out after 0\.3 s\); nothing more is sent \(--timeout sets the wait\)",
        lines[0],
    ), lines[0]
    record(
        "fault",
        "plan against a server that never answers, default attempts",
        1,
        "stopped after 3 silent attempts",
    )


def test_a_timeout_message_says_what_timed_out_and_after_how_long(workdir: Path, capsys: Any) -> None:
    _silent_seed(workdir)
    argv = ["plan", "keys.yaml", "--sandbox", "--sandbox-seed", "seed.yaml", "--timeout", "0.3"]
    code, _, err = run_cli(capsys, *argv, "--max-attempts", "1")
    assert code == 1
    assert re.search(r"error: GET /\S+: no answer from the API within 0\.3 s \(timed out\)$", err.strip()), (
        err
    )


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (
            ["sandbox", "--port", "0", "--db", "/proc/no-such-dir/x.db"],
            "sandbox database /proc/no-such-dir/x.db: cannot open it",
        ),
        (["sandbox", "--cooldown", "inf"], "--cooldown inf"),
    ],
)
def test_bad_sandbox_settings_are_messages(capsys: Any, argv: list[str], fragment: str) -> None:
    code, _, err = run_cli(capsys, *argv)
    assert code == 1 and fragment in err and "internal error" not in err
