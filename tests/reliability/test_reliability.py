"""Faults, kills and concurrency: every credit accounted for, nothing left half-known."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from reconciler.sandbox import Sandbox, SandboxTransport, seeds

from ..helpers import (
    API_KEY,
    ROOT,
    key_value,
    live_sandbox,
    manifest_text,
    run_cli,
    sandbox_state_dir,
    seed_data,
    state_dir,
)
from ..reliability_log import record

pytestmark = pytest.mark.slow  # faults over 300 keys, SIGKILL and concurrent applies


def _converge(capsys: Any, argv: list[str], tries: int = 5) -> tuple[int, int]:
    """Apply until it reports success; returns (runs, last exit code)."""
    code = -1
    for run in range(1, tries + 1):
        code, _, _ = run_cli(capsys, "apply", *argv)
        if code == 0:
            return run, code
    return tries, code


def _live_matches(box: Sandbox, n: int, amount: Decimal) -> bool:
    for i in range(n):
        key = box.store.key(key_value(i))
        assert key is not None
        if key["allocated_ammount"] != amount or key["limit_type"] != "weekly":
            return False
    return True


def test_apply_converges_under_injected_faults(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = 300
    monkeypatch.chdir(tmp_path)
    data = seed_data(n, balance=10_000.0, used_ammount=1.0)
    data["faults"] = {
        "rate_limited_rate": 0.15,
        "error_rate": 0.05,
        "drop_rate": 0.03,
        "html_rate": 0.02,
        "seed": 7,
    }
    Path("seed.yaml").write_text(yaml.safe_dump(data))
    Path("keys.yaml").write_text(manifest_text(n, allocated_ammount=12.25).replace('"daily"', '"weekly"'))
    argv = ["keys.yaml", "--sandbox", "--sandbox-seed", "seed.yaml", "--auto-approve", "--parallelism", "32"]
    runs, code = _converge(capsys, argv)
    box = Sandbox.open(".ehkeys/sandbox.db", seeds.load("seed.yaml"))
    assert code == 0
    assert _live_matches(box, n, Decimal("12.25"))
    assert box.store.account("u1")["balance"] == Decimal(10_000) - Decimal("2.25") * n
    journal = sandbox_state_dir("keys.yaml") / "journal.jsonl"
    assert not journal.exists()  # compacted away once the apply finished: nothing left pending
    code, out, _ = run_cli(capsys, "apply", *argv)
    assert code == 0 and "Nothing to apply" in out and not journal.exists()
    record(
        "fault",
        "apply of 300 changing keys under 15% 429, 5% 500, 3% dropped, 2% HTML",
        n,
        f"converged in {runs} run(s); live state = manifest; balance exact; rerun sends nothing",
    )


class LosesUpdateAnswers(httpx.AsyncBaseTransport):
    """Forwards every request; the answer of each update is lost after the server applied it."""

    def __init__(self, inner: SandboxTransport) -> None:
        self.inner = inner
        self.updates = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        answer = await self.inner.handle_async_request(request)
        if request.url.path.endswith("/auth/proxy/update"):
            self.updates += 1
            raise httpx.RemoteProtocolError("connection dropped after the update", request=request)
        return answer


def test_an_update_whose_answer_is_lost_is_verified_and_counted_once(tmp_path: Path) -> None:
    from reconciler.api.client import Client, RetryPolicy
    from reconciler.apply.applier import Applier
    from reconciler.core.outcomes import Outcome
    from reconciler.engine.plan import build_plan
    from reconciler.engine.workspace import desired
    from reconciler.manifest import load as manifest
    from reconciler.state.store import State

    box = Sandbox.open(":memory:", seeds.parse(seed_data(2)))
    path = tmp_path / "keys.yaml"
    path.write_text(manifest_text(2, allocated_ammount=30))
    loaded = manifest.load([str(path)]).manifest
    assert loaded is not None
    transport = LosesUpdateAnswers(box.transport())
    results = []

    async def run() -> None:
        retry = RetryPolicy(attempts=3, base_delay=0.001)
        async with Client(API_KEY, "http://127.0.0.1/v1", transport=transport, retry=retry) as client:
            state = State(tmp_path / "state.json")
            plan, account = await build_plan(client, desired(loaded, []), state)
            await Applier(client, state, results.append).run(plan.to_apply, account.keys, plan.balance_before)

    asyncio.run(run())
    assert transport.updates == 6  # every attempt reached the server; none was answered
    assert [r.outcome for r in results] == [Outcome.APPLIED, Outcome.APPLIED]
    assert all("the account's list confirms it" in r.message for r in results)
    assert box.store.account("u1")["balance"] == Decimal(1000 - 40)  # debited once per key
    journal = [json.loads(line) for line in (tmp_path / "journal.jsonl").read_text().splitlines()]
    assert [e["result"] for e in journal].count("applied") == 2
    record(
        "fault",
        "update answer lost after the server applied it (every attempt)",
        2,
        "verified by the list after the wave, reported applied, debited once",
    )


def _sent(journal: Path) -> int:
    """Updates announced in the journal (results follow once the wave's list has checked them)."""
    if not journal.exists():
        return 0
    return sum('"result": "sending"' in line for line in journal.read_text().splitlines())


def _apply_process(base: str, workdir: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ELECTRONHUB_API_KEY": API_KEY, "PYTHONPATH": str(ROOT)}
    argv = [
        sys.executable,
        "-m",
        "reconciler",
        "apply",
        "keys.yaml",
        "--auto-approve",
        "--base-url",
        base,
        "--parallelism",
        "4",
    ]
    return subprocess.Popen(argv, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _account_and_keys(base: str) -> tuple[Decimal, list[dict[str, Any]]]:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {API_KEY}"}) as http:
        credits = Decimal(str(http.get("/user/me").json()["credits"]))
        return credits, http.get("/auth/proxy").json()


def test_sigkill_in_the_middle_then_rerun_converges(tmp_path: Path) -> None:
    n = 120
    (tmp_path / "keys.yaml").write_text(manifest_text(n, allocated_ammount=13))
    # 40 ms a request, 4 at a time: the apply takes over a second, so a loaded machine's poll
    # still sees it mid-way (at 15 ms a fast apply could finish, and fold its journal, first)
    with live_sandbox(tmp_path, seed_data(n), "--latency-ms", "40", "--rate-limit", "100000/60") as base:
        proc = _apply_process(base, tmp_path)
        journal = state_dir(tmp_path / "keys.yaml") / "journal.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _sent(journal) < 10:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        done_before = _sent(journal)
        assert 10 <= done_before < n, "the kill must land mid-apply"
        rerun = _apply_process(base, tmp_path)
        assert rerun.wait(120) == 0, rerun.stderr.read() if rerun.stderr else ""
        credits, keys = _account_and_keys(base)
    assert credits == Decimal(1000 - 3 * n)
    assert all(k["allocated_ammount"] == 13 for k in keys if k["key"].startswith("ek-proxy-test"))
    state = json.loads((state_dir(tmp_path / "keys.yaml") / "state.json").read_text())
    assert len(state["keys"]) == n and not any(r.get("pending") for r in state["keys"].values())
    assert not journal.exists()  # the rerun finished: every write settled, the journal folded in
    record(
        "kill",
        f"SIGKILL of apply after {done_before} of {n} updates were sent, then rerun",
        n,
        "rerun converged; balance exact; state file valid JSON, nothing pending, journal folded in",
    )


def test_two_applies_at_once_leave_exact_credits(tmp_path: Path) -> None:
    n = 60
    for side in ("a", "b"):
        (tmp_path / side).mkdir()
        (tmp_path / side / "keys.yaml").write_text(manifest_text(n, allocated_ammount=17))
    with live_sandbox(tmp_path, seed_data(n), "--latency-ms", "10", "--rate-limit", "100000/60") as base:
        procs = [_apply_process(base, tmp_path / side) for side in ("a", "b")]
        codes = [p.wait(120) for p in procs]
        credits, keys = _account_and_keys(base)
    assert codes == [0, 0]
    assert credits == Decimal(1000 - 7 * n)
    assert all(k["allocated_ammount"] == 17 for k in keys if k["key"].startswith("ek-proxy-test"))
    record(
        "concurrency",
        f"two checkouts (two states) raising the same {n} existing keys at once: updates only "
        "(creates, toggles, deletes, one shared state: the other concurrency rows)",
        n,
        "both exit 0; each raise debited once; every key as the manifest",
    )


def test_a_server_that_never_answers_fails_plan_within_the_bound(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = seed_data(1)
    data["faults"] = {"hang_rate": 1.0}
    Path("seed.yaml").write_text(yaml.safe_dump(data))
    Path("keys.yaml").write_text(manifest_text(1))
    started = time.monotonic()
    code, _, err = run_cli(
        capsys,
        "plan",
        "keys.yaml",
        "--sandbox",
        "--sandbox-seed",
        "seed.yaml",
        "--timeout",
        "0.3",
        "--max-attempts",
        "2",
    )
    assert code == 1 and "timed out" in err and "Traceback" not in err
    assert time.monotonic() - started < 5
    record(
        "fault",
        "a server that never answers (--timeout 0.3, 2 attempts)",
        1,
        "clear error, exit 1, within the bound",
    )


def test_a_huge_manifest_is_refused_without_reading_it(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    code, out, _ = run_cli(capsys, "validate", str(path))
    assert code == 1 and "manifests over 20971520 are refused" in out
    record("input", "a 50 MB manifest", 1, "refused before reading, exit 1")
