"""Ctrl-C and failing runs as a user meets them: a real process, one SIGINT, the last words."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from reconciler.api.concurrency import bounded

from ..helpers import (
    API_KEY,
    ROOT,
    interruptible,
    live_sandbox,
    manifest_text,
    seed_data,
    state_dir,
    unwarned,
)
from ..reliability_log import record

pytestmark = pytest.mark.slow  # real processes interrupted mid-apply

NOISE = (
    "Traceback",
    "Task was destroyed",
    "was never awaited",
    "Lock is not acquired",
    "RuntimeWarning",
    "Exception ignored",
    "unhandled exception",
)


def ehkeys(workdir: Path, *argv: str, api_key: str = API_KEY) -> subprocess.Popen[str]:
    env = {**os.environ, "ELECTRONHUB_API_KEY": api_key, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler", *argv],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
    )


def stats(base: str) -> dict[str, Any]:
    root = base.removesuffix("/v1")
    with urllib.request.urlopen(f"{root}/_sandbox/stats", timeout=5) as answer:
        data: dict[str, Any] = json.load(answer)
        return data


def wait_for(condition: Any, what: str, limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.02)


def interrupt(proc: subprocess.Popen[str], stop: signal.Signals = signal.SIGINT) -> tuple[str, str]:
    proc.send_signal(stop)  # once
    return proc.communicate(timeout=30)  # a generous bound: today's first Ctrl-C is ignored for 60 s+


@pytest.mark.parametrize(
    ("command", "budget"),
    [("plan", 1), ("apply", 2)],
    ids=["plan-waits-after-a-429", "apply-waits-for-the-window"],
)
def test_one_ctrl_c_during_a_rate_limit_wait_stops_at_once_and_cleanly(
    tmp_path: Path, command: str, budget: int
) -> None:
    """plan: its two reads overrun a budget of 1, the 429 is waited out; apply: the plan's two
    reads spend a budget of 2, and the first update waits for the window to reset."""
    data = seed_data(6)
    data["rate_limit"] = {"requests": budget, "window_s": 60}
    (tmp_path / "keys.yaml").write_text(manifest_text(6, allocated_ammount=13))
    approve = ["--auto-approve"] if command == "apply" else []
    with live_sandbox(tmp_path, data) as base:
        proc = ehkeys(tmp_path, command, "keys.yaml", *approve, "--base-url", base)
        wait_for(lambda: stats(base).get("ok", 0) >= budget, "the budget spent")
        time.sleep(0.5)  # now waiting for the window to reset
        _, err = interrupt(proc)
        sent_after = stats(base).get("ok", 0)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "ehkeys: interrupted", err
    assert not [n for n in NOISE if n in err], err
    assert sent_after == budget  # nothing went out after the wait began
    record(
        "cli", f"one Ctrl-C while {command} waits for the rate limit (real process)", 1, "exit 130 at once"
    )


def _journal_sending(workdir: Path) -> bool:
    journal = state_dir(workdir / "keys.yaml") / "journal.jsonl"
    return journal.exists() and '"result": "sending"' in journal.read_text()


def test_one_ctrl_c_during_apply_names_the_writes_in_flight(tmp_path: Path) -> None:
    (tmp_path / "keys.yaml").write_text(manifest_text(2, allocated_ammount=13))
    with live_sandbox(tmp_path, seed_data(2), "--latency-ms", "1500") as base:
        proc = ehkeys(tmp_path, "apply", "keys.yaml", "--auto-approve", "--base-url", base)
        wait_for(lambda: _journal_sending(tmp_path), "an update sent")
        time.sleep(0.3)  # the updates are on the wire; the sandbox answers after 1.5 s
        out, err = interrupt(proc)
    assert proc.returncode == 130, err
    update = "POST /auth/proxy/update (ek-proxy-…part)"
    assert f"these writes may or may not have reached the API: {update}, {update}; run plan to see" in err
    assert not [n for n in NOISE if n in err], err
    assert "secretpart" not in err and "test-00000" not in err
    record(
        "cli",
        "one Ctrl-C while apply's updates are in flight (real process)",
        2,
        "exit 130; the writes named, redacted",
    )


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_or_sighup_during_apply_stops_it_as_ctrl_c_does(tmp_path: Path, stop: signal.Signals) -> None:
    """`timeout 60 ehkeys apply`, a scheduler stopping a job, a closed terminal: Python's default
    ended the process where it stood (exit -15, not a word of the writes in flight, a command
    sink's process group left running)."""
    (tmp_path / "keys.yaml").write_text(manifest_text(2, allocated_ammount=13))
    with live_sandbox(tmp_path, seed_data(2), "--latency-ms", "1500") as base:
        proc = ehkeys(tmp_path, "apply", "keys.yaml", "--auto-approve", "--base-url", base)
        wait_for(lambda: _journal_sending(tmp_path), "an update sent")
        time.sleep(0.3)  # the updates are on the wire; the sandbox answers after 1.5 s
        proc.send_signal(stop)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    update = "POST /auth/proxy/update (ek-proxy-…part)"
    assert "ehkeys: interrupted" in err and f"may or may not have reached the API: {update}, {update}" in err
    assert not [n for n in NOISE if n in err], err


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_one_ctrl_c_during_an_apply_of_two_accounts_names_each_writes_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop: signal.Signals
) -> None:
    """Each account's writes in flight are named with their account: 'POST /auth/proxy/update
    (ek-proxy-…0001)' alone does not say which account to look in."""
    accounts = [("prod", "u1", "ek-test-prod-account"), ("staging", "u2", "ek-test-staging-account")]
    data: dict[str, Any] = {
        "accounts": [{"user_id": u, "name": n, "api_key": k, "balance": 100.0} for n, u, k in accounts],
        "keys": [
            {"key": f"ek-proxy-ctrlc-secretvalue-000{i}", "user_id": u, "name": n.title()}
            for i, (n, u, _) in enumerate(accounts, 1)
        ],
        "rate_limit": {"requests": 100_000, "window_s": 60},
    }
    declared = {n: {"api_key": f"${{EH_{n.upper()}_API_KEY}}"} for n, _, _ in accounts}
    keys = [
        {"name": n.title(), "account": n, "allocated_ammount": 13, "limit_type": "daily"}
        for n, _, _ in accounts
    ]
    (tmp_path / "keys.yaml").write_text(json.dumps({"version": 1, "accounts": declared, "keys": keys}))
    for name, _, key in accounts:
        monkeypatch.setenv(f"EH_{name.upper()}_API_KEY", key)
    journals = [state_dir(tmp_path / "keys.yaml") / name / "journal.jsonl" for name, _, _ in accounts]
    with live_sandbox(tmp_path, data, "--latency-ms", "1500") as base:
        proc = ehkeys(tmp_path, "apply", "keys.yaml", "--auto-approve", "--base-url", base)
        wait_for(
            lambda: all(j.exists() and '"sending"' in j.read_text() for j in journals), "both updates sent"
        )
        time.sleep(0.3)  # both updates are on the wire; the sandbox answers after 1.5 s
        out, err = interrupt(proc, stop)
    assert proc.returncode == 130, err
    assert "[prod] POST /auth/proxy/update (ek-proxy-…0001)" in err, err
    assert "[staging] POST /auth/proxy/update (ek-proxy-…0002)" in err, err
    assert not [n for n in NOISE if n in err], err
    assert "secretvalue" not in err and "ek-test-" not in err


def _distinct_keys(n: int) -> dict[str, Any]:
    """n keys whose redacted forms differ (`ek-proxy-…0000`, …), so each write can be named."""
    data = seed_data(n)
    for i, key in enumerate(data["keys"][:n]):
        key["key"] = f"ek-proxy-ctrlc-secretvalue-{i:04d}"
    return data


def _landed(base: str, allocated: float) -> set[str]:
    """The keys the sandbox now holds with `allocated`: the updates that reached it, redacted."""
    request = urllib.request.Request(f"{base}/auth/proxy", headers={"Authorization": f"Bearer {API_KEY}"})
    with urllib.request.urlopen(request, timeout=5) as answer:
        keys = json.load(answer)
    return {f"ek-proxy-…{k['key'][-4:]}" for k in keys if k["allocated_ammount"] == allocated}


@pytest.mark.parametrize(
    "answered", [1, 2, 3], ids=["after-1st-answer", "after-2nd", "after-3rd-list-on-way"]
)
def test_one_ctrl_c_after_the_nth_write_is_answered_names_every_write_that_landed(
    tmp_path: Path, answered: int
) -> None:
    """One update at a time, 0.9 s each: Ctrl-C just after the N-th is answered, while the next
    one (or, after the 3rd, the list that checks them) is on its way. Before, writes answered but
    not yet checked were never named: after the 3rd, nothing was, though 3 updates had landed."""
    reads = 2  # the plan's list and balance
    (tmp_path / "keys.yaml").write_text(
        "version: 1\nkeys:\n"
        + "".join(f"  - {{name: key-{i}, allocated_ammount: 13, limit_type: daily}}\n" for i in range(3))
    )
    with live_sandbox(tmp_path, _distinct_keys(3), "--latency-ms", "900") as base:
        proc = ehkeys(
            tmp_path, "apply", "keys.yaml", "--auto-approve", "--parallelism", "1", "--base-url", base
        )
        wait_for(lambda: stats(base).get("ok", 0) >= reads + answered, f"update {answered} let through")
        time.sleep(0.3)  # its answer is back; the next request waits out its 0.9 s
        out, err = interrupt(proc)
        landed = _landed(base, 13)
    assert proc.returncode == 130, err
    assert len(landed) >= answered, landed
    for key in landed:
        assert f"POST /auth/proxy/update ({key})" in err, (key, err)
    assert not [n for n in NOISE if n in err], err
    assert "secretvalue" not in err
    record(
        "cli",
        f"one Ctrl-C just after the {answered}. of 3 updates is answered (real process)",
        1,
        "exit 130; every update that landed is named",
    )


def test_a_wrong_api_key_is_one_clear_message_and_nothing_else(tmp_path: Path) -> None:
    (tmp_path / "keys.yaml").write_text(manifest_text(12))
    with live_sandbox(tmp_path) as base:
        proc = ehkeys(tmp_path, "plan", "keys.yaml", "--base-url", base, api_key="ek-not-the-right-key")
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    lines = unwarned(err).strip().splitlines()
    assert len(lines) == 1 and "HTTP 401" in lines[0] and "check ELECTRONHUB_API_KEY" in lines[0], err
    assert lines[0].startswith(("ehkeys: error: GET /user/me: ", "ehkeys: error: POST /auth/proxy/lookup: "))
    record(
        "cli",
        "a wrong account key, 12 lookups and the balance at once (real process)",
        1,
        "one line: the 401",
    )


def test_a_failing_item_cancels_the_others_and_leaves_no_task_behind() -> None:
    """bounded() over many keys: one failure (a 401) must not leave the others running, to fail
    later unheard or to be destroyed pending when the loop closes."""

    async def work(item: int) -> int:
        if item == 0:
            await asyncio.sleep(0.01)
            raise PermissionError("HTTP 401")
        await asyncio.Event().wait()  # a request that would not end soon
        return item

    async def run() -> list[asyncio.Task[Any]]:
        with pytest.raises(PermissionError):
            await bounded(work, list(range(6)), 6)
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    assert asyncio.run(run()) == []
