"""`apply --report-out` when the run stops part-way (the journal cannot be written, an
interrupt): the report still says what landed before it stopped, marked stopped, with why and
what to do; the error and the exit code are those of the stop. Against the in-process sandbox,
real files."""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from reconciler.api import inventory
from reconciler.delivery import send
from reconciler.sandbox import SandboxTransport
from reconciler.state import files as statefiles

from ..helpers import run_cli, seed_data

SANDBOX = ["--sandbox", "--sandbox-seed", "seed.yaml"]
REPORT = "reports/apply.md"
# key-0 lowered (a refund: the first wave), key-1 and key-2 raised (debits: the second wave)
ALLOCATED = {"key-0": 5, "key-1": 14, "key-2": 13}
JOURNAL_FULL = "journal.jsonl: cannot append to the journal (No space left on device)"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    data = seed_data(3)
    for i, key in enumerate(data["keys"][:3]):
        key["key"] = f"ek-proxy-stop-secretvalue-000{i}"  # each named apart: ek-proxy-…0000
    Path("seed.yaml").write_text(yaml.safe_dump(data))
    keys = [{"name": n, "allocated_ammount": a, "limit_type": "daily"} for n, a in ALLOCATED.items()]
    Path("keys.yaml").write_text(yaml.safe_dump({"version": 1, "keys": keys}))
    Path("reports").mkdir()
    return tmp_path


def apply(capsys: Any) -> tuple[int, str, str]:
    argv = ["apply", "keys.yaml", *SANDBOX, "--auto-approve", "--parallelism", "1", "--report-out", REPORT]
    return run_cli(capsys, *argv)


def disk_full_at_sending(nth: int, then: Callable[[], None] = lambda: None) -> Any:
    """The journal's `nth` "sending" line meets a full disk (`then` runs first)."""
    seen: list[bytes] = []

    def write(fd: int, data: Any) -> int:
        if b'"sending"' in bytes(data):
            seen.append(bytes(data))
            if len(seen) == nth:
                then()
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return os.write(fd, data)

    return write


def two_accounts_seeded(**more: Any) -> dict[str, dict[str, str]]:
    """A seed of prod (Backend) and staging (Web, Docs), 20.00 each, balances 100.00; the
    manifest's `accounts:` for them (their keys' variables)."""
    data: dict[str, Any] = {
        "accounts": [
            {"user_id": "u1", "name": "prod", "api_key": "ek-test-prod-account", "balance": 100.0},
            {"user_id": "u2", "name": "staging", "api_key": "ek-test-staging-account", "balance": 100.0},
        ],
        "keys": [
            {"key": f"ek-proxy-stop-secretvalue-000{i}", "user_id": u, "name": n, "allocated_ammount": 20.0}
            for i, (u, n) in enumerate([("u1", "Backend"), ("u2", "Web"), ("u2", "Docs")])
        ],
        **more,
    }
    Path("seed.yaml").write_text(yaml.safe_dump(data))
    return {n: {"api_key": f"${{EH_{n.upper()}_API_KEY}}"} for n in ("prod", "staging")}


def two_accounts_manifest(
    accounts: dict[str, dict[str, str]], keys: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """keys.yaml of `accounts` (`two_accounts_seeded`) and `keys`, daily; each account's variable
    set (a --sandbox run reads none, but the manifest names them)."""
    doc = {"version": 1, "accounts": accounts, "defaults": {"limit_type": "daily"}, "keys": keys}
    Path("keys.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    for name in accounts:
        monkeypatch.setenv(f"EH_{name.upper()}_API_KEY", "unused-with-sandbox")


def test_a_journal_that_fills_mid_wave_still_writes_the_report_of_what_landed(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refund landed and was checked; key-1's raise was sent and answered, not checked; the
    journal fills before key-2's is sent. Before, --report-out wrote nothing at all."""
    monkeypatch.setattr(statefiles, "_write", disk_full_at_sending(3))
    code, out, err = apply(capsys)
    assert code == 1, err
    last = err.strip().splitlines()
    assert last[0].startswith("ehkeys: error: ") and JOURNAL_FULL in last[0], err  # as before
    report = Path(REPORT).read_text()
    assert report.startswith("<!-- ehkeys-apply -->\n### ehkeys apply\n\n**Stopped part-way: ")
    assert JOURNAL_FULL in report and "nothing more was sent" in report and "plan again" in report
    assert "| ~ | key-0 (`ek-proxy-…0000`) | update | updated | +5.00 |" in report, report
    assert "key-1" not in report and "key-2" not in report and "…0002" not in report, report
    assert "**Before it stopped: 1 updated.**" in report and "Apply complete" not in report
    unchecked = "these writes reached the API but were not checked and recorded yet: "
    assert f"- {unchecked}POST /auth/proxy/update (ek-proxy-…0001); run plan to see" in report
    assert "secretvalue" not in report
    assert "Apply complete" not in out  # the text output says what it said before


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_an_interrupt_mid_apply_still_writes_the_report_of_what_landed(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch, stop: signal.Signals
) -> None:
    """The refund landed and was checked; key-1's raise reached the sandbox, and the signal came
    while its answer was on its way: the report names what landed, and the write in doubt."""
    real = SandboxTransport.handle_async_request

    async def answer(self: SandboxTransport, request: httpx.Request) -> httpx.Response:
        response = await real(self, request)
        if request.url.path.endswith("/auth/proxy/update") and b'"key-1"' in request.content:
            os.kill(os.getpid(), stop)
            await asyncio.sleep(0.5)  # the signal arrives while the answer is on its way
        return response

    monkeypatch.setattr(SandboxTransport, "handle_async_request", answer)
    code, out, err = apply(capsys)
    assert code == 130, err
    assert "ehkeys: interrupted\n" in err, err
    report = Path(REPORT).read_text()
    assert report.startswith("<!-- ehkeys-apply -->\n### ehkeys apply\n\n**Stopped part-way: interrupted")
    assert "| ~ | key-0 (`ek-proxy-…0000`) | update | updated | +5.00 |" in report, report
    assert "**Before it stopped: 1 updated.**" in report and "key-2" not in report, report
    assert "may or may not have reached the API: POST /auth/proxy/update (ek-proxy-…0001)" in report
    assert "secretvalue" not in report


def test_a_report_that_cannot_be_written_then_never_hides_why_the_run_stopped(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report's folder is gone when the journal fills: the journal's error is still the
    run's, with its exit code, and the report's failure a warning before it."""

    def gone() -> None:
        shutil.rmtree("reports")

    monkeypatch.setattr(statefiles, "_write", disk_full_at_sending(3, gone))
    code, _, err = apply(capsys)
    assert code == 1, err
    lines = err.strip().splitlines()
    assert lines[0].startswith("ehkeys: warning: the report of the run stopped part-way was not written: ")
    assert f"--report-out {REPORT}: cannot write the report (No such file or directory)" in lines[0], err
    assert lines[1].startswith("ehkeys: error: ") and JOURNAL_FULL in lines[1], err
    assert not Path("reports").exists()


def test_each_account_of_a_run_stopped_part_way_shows_what_it_did(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two accounts apply at once; staging's journal fills before its debit is sent, once prod
    has finished: prod's section says what it applied, staging's what landed before it stopped."""
    accounts = two_accounts_seeded(rate_limit={"requests": 100_000, "window_s": 60})
    keys = [
        {"id": "backend", "account": "prod", "name": "Backend", "allocated_ammount": 15},  # a refund
        {"id": "web", "account": "staging", "name": "Web", "allocated_ammount": 10},  # a refund
        {"id": "docs", "account": "staging", "name": "Docs", "allocated_ammount": 30},  # then a debit
    ]
    two_accounts_manifest(accounts, keys, monkeypatch)
    real = SandboxTransport.handle_async_request

    async def staging_later(self: SandboxTransport, request: httpx.Request) -> httpx.Response:
        if "staging" in request.headers.get("authorization", ""):
            await asyncio.sleep(0.05)  # prod, in its own requests, is done long before staging's debit
        return await real(self, request)

    monkeypatch.setattr(SandboxTransport, "handle_async_request", staging_later)
    monkeypatch.setattr(statefiles, "_write", disk_full_at_sending(3))  # staging's debit: the 3rd
    code, _, err = apply(capsys)
    assert code == 1 and "staging/sandbox/journal.jsonl: cannot append to the journal" in err, err
    report = Path(REPORT).read_text()
    prod, staging = report.split("#### Account prod\n\n", 1)[1].split("#### Account staging\n\n")
    assert "| ~ | Backend (`ek-proxy-…0000`) | update | updated | +5.00 |" in prod, report
    assert "**Apply complete: 1 updated.**" in prod and "Stopped" not in prod, report
    assert staging.startswith("**Stopped part-way: ") and "staging/sandbox/journal.jsonl" in staging, report
    assert "| ~ | Web (`ek-proxy-…0001`) | update | updated | +10.00 |" in staging, report
    assert "**Before it stopped: 1 updated.**" in staging and "Docs" not in staging, report


def test_an_interrupt_while_delivering_reports_the_creates_and_the_deliveries_made(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two keys created, each delivered to its env file; SIGTERM (a CI job cancelled) while the
    second is written: the report has both creates and the first delivery, not the second."""
    keys = [
        {"id": n, "name": n, "allocated_ammount": 5, "limit_type": "daily", "deliver": [{"file": f"{n}.env"}]}
        for n in ("alpha", "beta")
    ]
    Path("keys.yaml").write_text(yaml.safe_dump({"version": 1, "keys": keys}))
    real = send.deliver

    async def cancelled_at_beta(sink: Any, value: Any, recipient: Any, *rest: Any) -> None:
        if recipient.address == "beta":
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.sleep(0.5)  # the signal arrives while the file is written
        await real(sink, value, recipient, *rest)

    monkeypatch.setattr(send, "deliver", cancelled_at_beta)
    code, _, err = apply(capsys)
    assert code == 130 and "ehkeys: interrupted" in err, err
    report = Path(REPORT).read_text()
    assert report.startswith("<!-- ehkeys-apply -->\n### ehkeys apply\n\n**Stopped part-way: interrupted")
    assert "| + | alpha (`ek-proxy-…" in report and "| + | beta (`ek-proxy-…" in report, report
    assert "**Deliveries:**\n\n- alpha → file alpha.env#EH_KEY_ALPHA: delivered\n\n" in report, report
    assert "**Before it stopped: 2 created.**" in report and Path("alpha.env").exists()
    assert not Path("beta.env").exists() and "beta.env" not in report


@pytest.mark.parametrize(
    ("report", "extra"),
    [
        (".ehkeys/keys/sandbox/journal.jsonl", []),  # the run's journal
        ("kept/journal.jsonl", ["--state", "kept/state.json"]),  # beside a state kept elsewhere
        ("kept/.apply.lock", ["--state", "kept/state.json"]),  # its lock: another run would take a new one
        ("new.env", ["--secrets-out", "new.env"]),  # the created keys' values
        ("up/../journal.jsonl", ["--state", "kept/state.json"]),  # up: a link to kept/sub, `..` is kept
    ],
    ids=["journal", "state-elsewhere", "lock", "secrets-out", "link-then-dotdot"],
)
def test_the_report_never_replaces_the_journal_a_lock_or_the_secrets_file(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch, report: str, extra: list[str]
) -> None:
    """A run stopped part-way writes its report then: over its own journal (a completion gone
    wrong), it replaced the lines of the writes it sent, which the next apply replays, so that a
    create whose answer was lost would be made again. Refused before anything is sent."""
    Path("kept/sub").mkdir(parents=True)
    Path("up").symlink_to("kept/sub")  # up/.. is kept, as the system reads it, not the folder here
    argv = ["apply", "keys.yaml", *SANDBOX, "--auto-approve", "--report-out", report, *extra]
    code, _, err = run_cli(capsys, *argv)
    assert code == 1 and f"--report-out {report}: that is " in err and "like apply.md" in err, err
    assert not Path(report).is_file() or not Path(report).read_text()
    assert run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--detailed-exitcode")[0] == 2  # nothing sent


def test_an_account_cut_off_names_the_write_that_landed_unchecked_in_its_report_and_on_stderr(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """staging's key is revoked between its two raises of one wave: Web's landed (5.00 debited),
    Docs' met a 401. prod went on, so the run ended as usual: Web's write, answered and never
    checked, was named nowhere ("No change was seen to land"), though it moved money."""
    accounts = two_accounts_seeded()
    keys = [
        {"id": i.lower(), "account": a, "name": i, "allocated_ammount": 25}
        for i, a in (("Backend", "prod"), ("Web", "staging"), ("Docs", "staging"))
    ]
    two_accounts_manifest(accounts, keys, monkeypatch)
    real = SandboxTransport.handle_async_request

    async def revoked_before_docs(self: SandboxTransport, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth/proxy/update") and b'"Docs"' in request.content:
            with sqlite3.connect(".ehkeys/sandbox.db") as db:
                db.execute("UPDATE accounts SET api_key = 'ek-test-revoked' WHERE user_id = 'u2'")
        return await real(self, request)

    monkeypatch.setattr(SandboxTransport, "handle_async_request", revoked_before_docs)
    code, _, err = apply(capsys)
    assert code == 1 and "account staging: stopped part-way: POST /auth/proxy/update: HTTP 401" in err, err
    said = "reached the API but were not checked and recorded yet: [staging] POST /auth/proxy/update (ek-proxy-…0001)"
    assert said in err, err
    staging = Path(REPORT).read_text().split("#### Account staging\n\n", 1)[1]
    assert staging.startswith("**Stopped part-way: ") and said in staging, staging
    assert "secretvalue" not in err + staging


def test_a_report_beside_a_manifest_whose_folder_is_below_a_folder_named_ehkeys_is_written(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the `.ehkeys` folder the run's state is kept in is refused: a checkout under a
    folder of that name (a repository named `.ehkeys`) keeps its reports."""
    inner = workdir / ".ehkeys" / "work"
    inner.mkdir(parents=True)
    for name in ("seed.yaml", "keys.yaml"):
        shutil.move(name, inner / name)
    monkeypatch.chdir(inner)
    Path("reports").mkdir()
    code, _, err = apply(capsys)
    assert code == 0 and Path(REPORT).read_text().startswith("<!-- ehkeys-apply -->"), err


def test_a_sigterm_that_lands_inside_an_accounts_task_names_every_write_and_leaves_no_task(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The signal comes while staging's task runs (its update just answered), not while the loop
    waits: prod's raise is still on its way. Before, the stop was raised inside that task, where it
    stood: staging's answered write went unnamed and asyncio printed 'Task was destroyed but it is
    pending'. Now the run stops as Ctrl-C stops it, each task at its next wait."""
    accounts = two_accounts_seeded(rate_limit={"requests": 100_000, "window_s": 60})
    keys = [
        {"id": i.lower(), "account": a, "name": i, "allocated_ammount": 25}
        for i, a in (("Backend", "prod"), ("Web", "staging"))
    ]
    two_accounts_manifest(accounts, keys, monkeypatch)
    real = SandboxTransport.handle_async_request
    answered: list[httpx.Request] = []  # staging's raise, once its answer is back

    async def stopped_in_staging(self: SandboxTransport, request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/auth/proxy/update"):
            return await real(self, request)
        if b'"Backend"' in request.content:
            await asyncio.sleep(0.5)  # prod's raise is on its way when the signal comes
            return await real(self, request)
        response = await real(self, request)
        answered.append(request)
        return response

    real_read = inventory.read_keys

    async def stopped_in_staging_check(client: Any) -> Any:
        if client.account == "staging" and answered:  # the check of staging's answered raise
            os.kill(os.getpid(), signal.SIGTERM)  # handled here, in staging's task, before it awaits
        return await real_read(client)

    monkeypatch.setattr(SandboxTransport, "handle_async_request", stopped_in_staging)
    monkeypatch.setattr(inventory, "read_keys", stopped_in_staging_check)
    code, _, err = apply(capsys)
    assert code == 130 and "ehkeys: interrupted\n" in err, err
    assert "[staging] POST /auth/proxy/update (ek-proxy-…0001)" in err, err
    assert "[prod] POST /auth/proxy/update (ek-proxy-…0000)" in err, err
    assert "Task was destroyed" not in err and "Traceback" not in err, err
    report = Path(REPORT).read_text()
    assert "POST /auth/proxy/update (ek-proxy-…0001)" in report.split("#### Account staging\n\n", 1)[1], (
        report
    )
