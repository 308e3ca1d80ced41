"""Two applies at once: creates, toggles and deletes, in one folder (one state: the lock) and in
two checkouts (two states, one account: adopt a key another run created, report duplicates)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from reconciler.api.client import Client, RetryPolicy
from reconciler.apply.applier import Applier
from reconciler.core.outcomes import Report, Result
from reconciler.engine.plan import build_plan
from reconciler.engine.workspace import desired
from reconciler.manifest import load as manifest
from reconciler.sandbox import Sandbox, seeds
from reconciler.state import lock as statelock
from reconciler.state.store import State

from ..helpers import API_KEY, ROOT, key_value, live_sandbox, run_cli, sandbox_state_dir, seed_data, state_dir
from ..reliability_log import record

pytestmark = pytest.mark.slow  # two applies at once against one account, many times over

NEW = [f"New {i}" for i in range(5)]
SANDBOX = ["--sandbox", "--sandbox-seed", "seed.yaml", "--auto-approve"]


def manifest_text(creates: bool = True, disable: bool = True, delete: bool = True) -> str:
    """Five new keys at 10 credits, key-0 disabled, key-1 deleted (each kind as asked)."""
    keys: list[dict[str, Any]] = [
        {"id": "k0", "name": "key-0", **({"is_active": False} if disable else {})},
        {"id": "k1", "name": "key-1", **({"absent": True} if delete else {})},
    ]
    if creates:
        keys += [{"id": f"new-{i}", "name": name, "allocated_ammount": 10} for i, name in enumerate(NEW)]
    return yaml.safe_dump({"version": 1, "defaults": {"limit_type": "daily"}, "keys": keys})


def new_keys(keys: list[dict[str, Any]]) -> list[str]:
    return sorted(k["name"] for k in keys if k["name"] in NEW)


# --- one folder, one state: the second apply is refused, or waits -------------------------------


@contextmanager
def lock_held_here(state_dir: Path) -> Iterator[None]:
    """The apply lock, as another apply would hold it (this process; its pid in the file)."""
    with statelock.held(state_dir / "state.json"):
        yield


def test_an_apply_on_a_locked_state_is_refused_at_once_and_sends_nothing(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed_data(2)))
    Path("keys.yaml").write_text(manifest_text())
    started = time.monotonic()
    with lock_held_here(sandbox_state_dir()):
        code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX)
        code_plan, _, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX[:-1])  # read-only: no lock
    assert time.monotonic() - started < 5
    assert code == 1 and "Applying" not in out
    assert "another apply holds the state since 20" in err and f"pid {os.getpid()} (on " in err
    assert "nothing was sent" in err and "--lock-timeout" in err
    assert code_plan == 0
    box = Sandbox.open(".ehkeys/sandbox.db", seeds.load("seed.yaml"))
    assert new_keys(box.store.keys_of("u1")) == [] and box.store.account("u1")["balance"] == 1000
    record(
        "concurrency",
        "apply on a state another apply holds (the lock)",
        1,
        "exit 1 at once naming the holder's pid and start; nothing sent; plan still runs",
    )


def test_lock_timeout_waits_for_the_other_apply_then_applies(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed_data(2)))
    Path("keys.yaml").write_text(manifest_text())
    release = threading.Event()

    def hold() -> None:
        with lock_held_here(sandbox_state_dir()):
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.2)
    threading.Timer(1.0, release.set).start()
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--lock-timeout", "20s")
    holder.join()
    assert "another apply holds the state since" in err and "waiting up to 20s" in err
    assert code == 0 and "Apply complete: 5 created, 1 disabled, 1 deleted." in out
    code, _, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--lock-timeout", "0.3s")
    assert code == 0  # free again: no wait, nothing left to do


def test_lock_timeout_refuses_once_it_has_waited(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed_data(2)))
    Path("keys.yaml").write_text(manifest_text())
    started = time.monotonic()
    with lock_held_here(sandbox_state_dir()):
        code, _, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--lock-timeout", "500ms")
    assert code == 1 and "after waiting 0.5s" in err and 0.5 <= time.monotonic() - started < 5


def test_a_killed_apply_leaves_no_stale_lock(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed_data(2)))
    Path("keys.yaml").write_text(manifest_text())
    hold = (
        "import pathlib, sys, time; from reconciler.state import lock as statelock\n"
        "with statelock.held(pathlib.Path(sys.argv[1]) / 'state.json'):\n"
        "    print('held', flush=True); time.sleep(60)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    holder = subprocess.Popen(
        [sys.executable, "-c", hold, str(sandbox_state_dir())], stdout=subprocess.PIPE, env=env
    )
    assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
    code, _, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX)
    assert code == 1 and f"pid {holder.pid} (on " in err  # another process, named
    holder.kill()  # SIGKILL: no cleanup runs; the kernel drops the lock
    holder.wait(10)
    code, out, _ = run_cli(capsys, "apply", "keys.yaml", *SANDBOX)
    assert code == 0 and "Apply complete: 5 created, 1 disabled, 1 deleted." in out
    record("kill", "SIGKILL of an apply holding the state lock", 1, "the next apply takes the lock at once")


def test_lock_timeout_takes_a_duration(capsys: Any) -> None:
    code, out, _ = run_cli(capsys, "apply", "--help")
    assert "--lock-timeout DURATION" in out and "(default 0: refuse at once)" in " ".join(out.split())
    code, _, err = run_cli(capsys, "apply", "keys.yaml", "--lock-timeout", "soon")
    assert code == 1 and "expected a duration of 0 or more, like 30s, 2m or 0 (got 'soon')" in err
    code, out, _ = run_cli(capsys, "github", "apply", "--help")
    assert "--lock-timeout DURATION" in out


def _apply_process(base: str, workdir: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ELECTRONHUB_API_KEY": API_KEY, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "reconciler", "apply", "keys.yaml", "--auto-approve", "--base-url", base]
    return subprocess.Popen(
        [*argv, *extra], cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _both(base: str, folders: list[Path], *extra: str) -> list[tuple[int, str]]:
    """Two applies started at the same moment; each one's exit code and output."""
    procs = [_apply_process(base, folder, *extra) for folder in folders]
    done = [p.communicate(timeout=120) for p in procs]
    return [(p.returncode, out.decode() + err.decode()) for p, (out, err) in zip(procs, done, strict=True)]


def _account(base: str) -> tuple[Decimal, list[dict[str, Any]]]:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {API_KEY}"}) as http:
        credits = Decimal(str(http.get("/user/me").json()["credits"]))
        return credits, http.get("/auth/proxy").json()


def _as_planned(credits: Decimal, keys: list[dict[str, Any]]) -> None:
    """5 new keys, 50 credits debited, key-1's unused 8 refunded once, key-0 flipped once."""
    assert new_keys(keys) == NEW
    assert credits == Decimal(1000 - 50 + 8)
    by_name = {k["name"]: k for k in keys}
    assert by_name["key-0"]["is_active"] is False and "key-1" not in by_name


@pytest.mark.parametrize("wait", [False, True], ids=["refused", "waits"])
def test_two_applies_at_once_in_one_folder_create_toggle_and_delete_once(tmp_path: Path, wait: bool) -> None:
    (tmp_path / "keys.yaml").write_text(manifest_text())
    extra = ("--lock-timeout", "60s") if wait else ()
    with live_sandbox(tmp_path, seed_data(2), "--latency-ms", "300") as base:
        runs = _both(base, [tmp_path, tmp_path], *extra)
        credits, keys = _account(base)
    _as_planned(credits, keys)
    codes = sorted(code for code, _ in runs)
    applied = [out for code, out in runs if "Apply complete: 5 created, 1 disabled, 1 deleted." in out]
    assert len(applied) == 1, runs
    other = next(out for out in (o for _, o in runs) if out not in applied)
    if wait:  # the second waited, then found nothing left to do
        assert codes == [0, 0] and "Nothing to apply." in other, runs
    else:  # refused at once, unless it started only once the first was done
        assert codes in ([0, 1], [0, 0]), runs
        assert "another apply holds the state since" in other or "Nothing to apply." in other, runs
    record(
        "concurrency",
        f"two applies at once in one folder (one state), {'--lock-timeout 60s' if wait else 'no wait'}: "
        "5 creates, a disable, a delete, sandbox latency 300 ms",
        7,
        ("the second waits, then has nothing to do" if wait else "the second is refused, exit 1")
        + "; 5 keys, 50 debited, refunded once, flipped once",
    )


# --- two checkouts, two states, one account ------------------------------------------------------


class Meeting:
    """Holds every write of `path` until `expected` of them arrived from both runs (so both runs
    read the account before either wrote), and every later list until they were answered."""

    def __init__(self, path: str, expected: int) -> None:
        self.path, self.expected = path, expected
        self.arrived = self.answered = 0
        self.all_arrived, self.all_answered = asyncio.Event(), asyncio.Event()


class AtTheSameMoment(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, meeting: Meeting) -> None:
        self.inner, self.meeting, self.wrote = inner, meeting, False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        m = self.meeting
        if request.url.path.endswith(m.path):
            return await self._write(request)
        if self.wrote and request.method == "GET" and request.url.path.endswith("/auth/proxy"):
            await asyncio.wait_for(m.all_answered.wait(), 10)  # the list after the wave sees both
        return await self.inner.handle_async_request(request)

    async def _write(self, request: httpx.Request) -> httpx.Response:
        m = self.meeting
        self.wrote = True
        if not m.all_arrived.is_set():
            m.arrived += 1
            if m.arrived >= m.expected:
                m.all_arrived.set()
            await asyncio.wait_for(m.all_arrived.wait(), 10)
        answer = await self.inner.handle_async_request(request)
        m.answered += 1
        if m.answered >= m.expected:
            m.all_answered.set()
        return answer


async def _apply(
    folder: Path, transport: httpx.AsyncBaseTransport, meanwhile: Awaitable[object] | None = None
) -> tuple[Report, list[Result]]:
    """Plan and apply keys.yaml in `folder` with its own state, as `ehkeys apply` does;
    `meanwhile` runs between the plan and the apply."""
    loaded = manifest.load([str(folder / "keys.yaml")]).manifest
    assert loaded is not None
    results: list[Result] = []
    retry = RetryPolicy(attempts=1)
    async with Client(API_KEY, "http://127.0.0.1/v1", transport=transport, retry=retry) as client:
        state = State(state_dir(folder / "keys.yaml") / "state.json")
        plan, account = await build_plan(client, desired(loaded, []), state)
        if meanwhile is not None:
            await meanwhile
        report = await Applier(client, state, results.append).run(
            plan.to_apply, account.keys, plan.balance_before
        )
    return report, results


def _checkouts(tmp: Path, text: str) -> list[Path]:
    folders = [tmp / "a", tmp / "b"]
    for folder in folders:
        folder.mkdir()
        (folder / "keys.yaml").write_text(text)
    return folders


def test_a_key_created_since_the_plan_by_another_checkout_is_adopted_not_created_again(
    tmp_path: Path,
) -> None:
    box = Sandbox.open(":memory:", seeds.parse(seed_data(2)))
    a, b = _checkouts(tmp_path, manifest_text(disable=False, delete=False))

    other: list[Report] = []

    async def a_whole() -> None:  # started only once b's plan is made
        other.append((await _apply(a, box.transport()))[0])

    report, results = asyncio.run(_apply(b, box.transport(), meanwhile=a_whole()))
    assert other[0].exit_code == 0 and report.exit_code == 0
    assert sorted(r.message for r in results if r.change.address.startswith("new-")) == sorted(
        f"adopted {name}, created since the plan by another run" for name in NEW
    )
    assert new_keys(box.store.keys_of("u1")) == NEW  # not ten
    assert box.store.account("u1")["balance"] == Decimal(950)  # debited once
    again, results = asyncio.run(_apply(b, box.transport()))  # b's state recorded the bindings
    assert again.exit_code == 0 and results == []
    record(
        "concurrency",
        "two checkouts (two states): 5 keys created by one after the other planned them",
        5,
        "adopted from the list before the create wave, bound in the state; 5 keys, 50 debited",
    )


def test_two_keys_of_one_name_created_since_the_plan_are_never_guessed_between(tmp_path: Path) -> None:
    box = Sandbox.open(":memory:", seeds.parse(seed_data(2)))
    (b,) = _checkouts(tmp_path, manifest_text(disable=False, delete=False))[1:]

    async def two_other_runs() -> None:  # each created "New 0" after b's plan
        async with Client(API_KEY, "http://127.0.0.1/v1", transport=box.transport()) as client:
            for _ in range(2):
                await client.create({"name": "New 0", "allocated_ammount": 10, "expires_at": -1})

    report, results = asyncio.run(_apply(b, box.transport(), meanwhile=two_other_runs()))
    first = next(r for r in results if r.change.address == "new-0")
    assert report.exit_code == 3 and "2 keys named 'New 0' were created since the plan" in first.message
    assert "not created a third time" in first.message
    assert new_keys(box.store.keys_of("u1")).count("New 0") == 2  # no third
    assert not any(r.message.startswith("adopted") for r in results)  # never a guess


def test_keys_both_checkouts_created_at_the_same_moment_are_reported_never_silent(
    tmp_path: Path,
) -> None:
    box = Sandbox.open(":memory:", seeds.parse(seed_data(2)))
    a, b = _checkouts(tmp_path, manifest_text(disable=False, delete=False))
    meeting = Meeting("/auth/proxy/create", expected=10)

    async def both() -> list[tuple[Report, list[Result]]]:
        runs = [_apply(folder, AtTheSameMoment(box.transport(), meeting)) for folder in (a, b)]
        return list(await asyncio.gather(*runs))

    runs = asyncio.run(both())
    live = box.store.keys_of("u1")
    assert len(new_keys(live)) == 10  # both read the account before either created: no lock can help
    for report, results in runs:
        assert report.exit_code == 3
        for result in (r for r in results if r.change.address.startswith("new-")):
            twins = sorted(f"ek-proxy-…{k['key'][-4:]}" for k in live if k["name"] == result.change.name)
            assert f"2 live keys are named {result.change.name!r} ({twins[0]}, {twins[1]})" in result.message
            assert "another run created one at the same time" in result.message
            assert "keep the key whose last 4 characters it ends with" in result.message  # a sink's
    record(
        "concurrency",
        "two checkouts (two states): 5 creates, both read the account before either created",
        10,
        "both runs exit 3 naming both keys of each name (redacted); never a silent duplicate",
    )


@pytest.mark.parametrize("kind", ["disable", "delete"])
def test_two_checkouts_toggle_once_and_delete_once_at_the_same_moment(tmp_path: Path, kind: str) -> None:
    box = Sandbox.open(":memory:", seeds.parse(seed_data(2)))
    text = manifest_text(creates=False, disable=kind == "disable", delete=kind == "delete")
    a, b = _checkouts(tmp_path, text)
    path = "/auth/proxy/toggle" if kind == "disable" else "/auth/proxy/remove"
    meeting = Meeting(path, expected=2)

    async def both() -> list[tuple[Report, list[Result]]]:
        runs = [_apply(folder, AtTheSameMoment(box.transport(), meeting)) for folder in (a, b)]
        return list(await asyncio.gather(*runs))

    runs = asyncio.run(both())
    assert [report.exit_code for report, _ in runs] == [0, 0]
    if kind == "disable":
        assert box.store.key(key_value(0))["is_active"] is False  # flipped once, not back
    else:
        assert box.store.key(key_value(1)) is None
        assert box.store.account("u1")["balance"] == Decimal(1008)  # refunded once
    record(
        "concurrency",
        f"two checkouts (two states) {'disabling' if kind == 'disable' else 'deleting'} one key at the same moment",
        2,
        "both exit 0; the key flipped once" if kind == "disable" else "both exit 0; refunded once",
    )


def test_two_checkouts_applying_at_the_same_moment_never_duplicate_silently(tmp_path: Path) -> None:
    folders = _checkouts(tmp_path, manifest_text())
    with live_sandbox(tmp_path, seed_data(2), "--latency-ms", "300") as base:
        runs = _both(base, folders)
        credits, keys = _account(base)
    names = [k["name"] for k in keys if k["name"] in NEW]
    by_name = {k["name"]: k for k in keys}
    assert by_name["key-0"]["is_active"] is False and "key-1" not in by_name  # flipped once, deleted
    twice = sorted({name for name in names if names.count(name) == 2})
    assert sorted(set(names)) == sorted(NEW) and len(names) == len(NEW) + len(twice), names
    assert credits == Decimal(1000) - 10 * len(names) + 8  # one debit per live key, refunded once
    if not twice:  # the list before each create saw the other run's keys: all adopted
        assert [code for code, _ in runs] == [0, 0], runs
    for name in twice:  # a create no list could see in time: named by a run that exits 3
        assert any(code == 3 and f"2 live keys are named {name!r}" in out for code, out in runs), runs
    for code, out in runs:
        assert all(f"2 live keys are named {name!r}" not in out for name in NEW if name not in twice)
        assert code == (3 if "2 live keys are named" in out else 0), out
    record(
        "concurrency",
        "two checkouts applying 5 creates, a disable, a delete at the same moment (latency 300 ms)",
        7,
        "flipped once, refunded once; each create adopted, or its duplicate named by a run that "
        "exits 3; one debit per live key",
    )


class RivalThenRefused(httpx.AsyncBaseTransport):
    """Another run creates `New 0` just after this run's pre-create list, and this run's create
    of it is then refused (403, the tier's key cap): nothing of this run's was lost."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.done = inner, False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.done or not request.url.path.endswith("/auth/proxy/create"):
            return await self.inner.handle_async_request(request)
        self.done = True
        rival = httpx.Request("POST", request.url, headers=request.headers, content=request.content)
        await (await self.inner.handle_async_request(rival)).aread()
        return httpx.Response(403, json={"error": "Exceeded proxy key limit for your tier"})


def test_a_refused_create_whose_key_another_run_made_says_so_not_that_an_answer_was_lost(
    tmp_path: Path,
) -> None:
    box = Sandbox.open(":memory:", seeds.parse(seed_data(2)))
    (b,) = _checkouts(tmp_path, manifest_text(disable=False, delete=False))[1:]
    report, results = asyncio.run(_apply(b, RivalThenRefused(box.transport())))
    first = next(r for r in results if r.change.address == "new-0")
    assert "answer was lost" not in first.message, first.message
    assert "adopted New 0, created since the plan by another run" in first.message
    assert "refused" in first.message and "Exceeded proxy key limit" in first.message
    assert new_keys(box.store.keys_of("u1")) == NEW and report.exit_code == 0
    assert box.store.account("u1")["balance"] == Decimal(950)  # New 0 debited once, by the rival


def test_an_apply_lock_that_is_a_symlink_is_refused_and_its_target_left_whole(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock is truncated when taken and when let go: a `.apply.lock` committed as a symlink
    (a checkout holds what a branch pushed) emptied the file it pointed to, here the manifest."""
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed_data(2)))
    Path("keys.yaml").write_text(manifest_text())
    sandbox_state_dir().mkdir(parents=True)
    (sandbox_state_dir() / statelock.LOCK_NAME).symlink_to(Path("keys.yaml").resolve())
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX)
    assert code == 1 and "Applying" not in out and "cannot open the apply lock" in err, err
    assert Path("keys.yaml").read_text() == manifest_text()
    box = Sandbox.open(".ehkeys/sandbox.db", seeds.load("seed.yaml"))
    assert new_keys(box.store.keys_of("u1")) == [] and box.store.account("u1")["balance"] == 1000
