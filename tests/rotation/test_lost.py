"""Lost answers and runs cut off mid-rotation, on the in-process sandbox with a fault in front of
it: the successor's create is adopted from the list (a key of its name created since the rotation
began, never the predecessor), never made twice; every step converges with money exact."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.core.secrets import ProxyKey
from reconciler.sandbox import SandboxTransport

from ..helpers import sandbox_state_dir
from ..reliability_log import record
from .common import DAY, OLD, T0, at, balance, cli, journal, keys, made_by_hand, manifest, state

Fault = dict[str, Any]


@pytest.fixture
def workdir(workdir: Path) -> Path:  # the seeded folder (conftest), and a manifest
    manifest("{every: 90d, overlap: 0}")
    return workdir


@pytest.fixture
def fault(monkeypatch: pytest.MonkeyPatch) -> Iterator[Fault]:
    """What happens to an answer of the sandbox once the service acted on a request to `path`:
    `lost` (a timeout: it may have been processed) or `stop` (the run is cut off there)."""
    plan: Fault = {"path": None, "then": "lost", "times": 1, "hit": 0}
    real = SandboxTransport.handle_async_request

    async def answer(self: SandboxTransport, request: httpx.Request) -> httpx.Response:
        response = await real(self, request)
        if plan["path"] and request.url.path.endswith(plan["path"]) and plan["hit"] < plan["times"]:
            plan["hit"] += 1
            if plan["then"] == "stop":
                raise KeyboardInterrupt  # the run ends here: the create landed, nothing recorded it
            raise httpx.ReadTimeout("the answer never came", request=request)
        return response

    monkeypatch.setattr(SandboxTransport, "handle_async_request", answer)
    yield plan


def named() -> list[str]:
    return [k["key"] for k in keys() if k["name"] == "Backend"]


def test_a_lost_create_answer_mid_rotation_is_adopted_never_two_successors(
    workdir: Path, capsys: Any, fault: Fault
) -> None:
    fault["path"] = "/auth/proxy/create"
    code, out, _ = cli(capsys, "apply")
    assert fault["hit"] == 1 and len(named()) == 1  # never sent twice; the predecessor went
    (successor,) = named()
    assert successor != OLD and state()["bindings"]["backend"] == ProxyKey(successor).fingerprint
    assert code == 3 and "1 later step(s) were not sent" in out  # its window, not sent blind
    assert balance() == Decimal(980)  # one successor debited, the predecessor's 30 back
    fault["path"] = None
    code, out, _ = cli(capsys, "apply")
    assert code == 0 and named() == [successor] and balance() == Decimal(980)
    assert keys()[0]["limit_type"] == "weekly"
    record(
        "fault",
        "a rotation's create answer lost after the service created the successor",
        1,
        "adopted from the list, never the predecessor; never two successors; money exact",
    )


def test_a_run_cut_off_after_the_successor_landed_is_finished_by_the_next(
    workdir: Path, capsys: Any, fault: Fault
) -> None:
    fault.update(path="/auth/proxy/create", then="stop")
    code, _, err = cli(capsys, "apply")
    assert code == 130 and len(named()) == 2 and balance() == Decimal(950)
    recorded = [e["result"] for e in journal()][:4]  # before it went: the old key as found, first recorded
    assert recorded == ["bound", "rotating", "snapshot", "sending"]
    fault["path"] = None
    code, out, _ = cli(capsys, "plan", "--detailed-exitcode")
    assert "the successor of a rotation cut off before its create was confirmed" in out
    assert "⟳" not in out  # never a second successor
    code, out, _ = cli(capsys, "apply")
    assert code == 0, out
    (successor,) = named()
    assert successor != OLD and balance() == Decimal(980)
    assert state()["bindings"]["backend"] == ProxyKey(successor).fingerprint and "rotations" not in state()
    record(
        "kill",
        "a rotation cut off after its successor's create landed, before it was recorded",
        1,
        "the next run adopts the successor (created since the rotation began) and retires the old key",
    )


def test_a_key_of_its_name_older_than_the_rotation_is_never_its_successor(workdir: Path, capsys: Any) -> None:
    """A journal as a run killed before its create was sent leaves it: the rotation begun, no key
    made since. The predecessor (and any older key of that name) is never taken for the successor."""
    write_journal(started=T0 + 10)
    code, out, _ = cli(capsys, "plan", "--detailed-exitcode")
    assert code == 2 and "⟳ Backend (ek-proxy-…part)" in out
    assert "a rotation begun earlier made no successor yet: rotated again" in out
    code, out, _ = cli(capsys, "apply")
    assert code == 0 and len(named()) == 1 and named()[0] != OLD and balance() == Decimal(980)


def test_two_keys_made_since_the_rotation_began_are_never_guessed_between(
    workdir: Path, capsys: Any, fault: Fault
) -> None:
    fault.update(path="/auth/proxy/create", then="stop")
    cli(capsys, "apply")  # cut off: its successor made, not recorded
    fault["path"] = None
    made_by_hand(T0 + 5)  # another key named Backend, made since
    code, out, _ = cli(capsys, "apply")
    assert code == 1 and "2 keys named 'Backend' were created since its rotation started" in out
    assert "never two successors" in out and len(named()) == 3 and OLD in named()


def write_journal(started: int) -> None:
    """The state a run leaves when killed right after journalling its rotation (before any create)."""
    folder = sandbox_state_dir()
    folder.mkdir(parents=True, exist_ok=True)
    rotation = {"predecessor": ProxyKey(OLD).fingerprint, "started": started, "overlap": 0, "name": "Backend"}
    lines = [  # no binding recorded: the key was found by name in the run that was cut off
        {"address": "backend", "result": "rotating", "rotation": rotation},
        {"address": "backend", "name": "Backend", "operation": "create", "result": "sending"},
    ]
    (folder / "journal.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    at(started + 60)


def test_a_run_cut_off_while_deleting_the_predecessor_converges(
    workdir: Path, capsys: Any, fault: Fault
) -> None:
    """Cut off once the successor was created, recorded and delivered, as the predecessor's remove
    landed (its outcome never recorded): the next run finds the old key gone and ends the rotation.
    (Cut off before the delivery: the delivery is owed, see test_emergency and apply's deliveries.)"""
    fault.update(path="/auth/proxy/remove", then="stop")
    code, _, _ = cli(capsys, "apply")
    assert code == 130 and state()["rotations"]["backend"]["delivered"] is True and len(named()) == 1
    fault["path"] = None
    code, out, _ = cli(capsys, "apply")
    assert code == 0, out
    assert len(named()) == 1 and named()[0] != OLD and balance() == Decimal(980)
    assert "rotations" not in state() and ProxyKey(OLD).fingerprint not in json.dumps(state())


def test_the_overlap_is_counted_from_the_successors_creation(workdir: Path, capsys: Any) -> None:
    manifest("{every: 90d, overlap: 2d}")
    at(T0 + 5)
    cli(capsys, "apply")
    at(T0 + 2 * DAY)  # 2 days after the plan, not yet 2 days after the successor was created
    code, out, _ = cli(capsys, "plan", "--detailed-exitcode")
    assert code == 0
    at(T0 + 2 * DAY + 10)
    code, out, _ = cli(capsys, "plan", "--detailed-exitcode")
    assert code == 2 and "# retired" in out


def test_a_lost_answer_to_the_predecessors_delete_refunds_it_once(
    workdir: Path, capsys: Any, fault: Fault
) -> None:
    fault["path"] = "/auth/proxy/remove"
    code, out, _ = cli(capsys, "apply")
    assert code == 0 and fault["hit"] == 1, out
    assert "Credits moved: -20.00 (balance 1,000.00 -> 980.00)" in out  # its 30 back once, not twice
    assert len(named()) == 1 and named()[0] != OLD and balance() == Decimal(980)
    fault["path"] = None
    code, out, _ = cli(capsys, "apply")
    assert code == 0 and "Nothing to apply." in out and balance() == Decimal(980)
    assert "rotations" not in state()


def test_usage_after_a_run_cut_off_past_its_create_shows_the_successor_under_its_address(
    workdir: Path, capsys: Any, fault: Fault
) -> None:
    """The successor landed, nothing recorded it: plan adopts it for the key (never a second one),
    so usage shows it under the key's address beside the old key, never as an unmanaged `?` key."""
    manifest("{every: 90d, overlap: 7d}")
    fault.update(path="/auth/proxy/create", then="stop")
    assert cli(capsys, "apply")[0] == 130 and len(named()) == 2
    fault["path"] = None
    code, out, _ = cli(capsys, "usage", "--format", "json")
    shown = [(k["address"], k["key"]) for a in json.loads(out)["accounts"].values() for k in a["keys"]]
    assert code == 0 and sorted(a or "?" for a, _ in shown) == ["backend", "backend"], shown
    code, out, _ = cli(capsys, "usage")
    assert code == 0 and "unmanaged" not in out, out


def test_deliver_after_a_run_cut_off_past_its_create_never_sends_the_old_keys_value(
    workdir: Path, capsys: Any, fault: Fault
) -> None:
    """The successor landed but nothing recorded it, so the state still binds the old key: deliver
    sent the old value and recorded the sinks done, and the next apply then retired that very key
    while the sinks held it. deliver now leaves the key to the apply that finds its successor."""
    manifest("{every: 90d, overlap: 0}", deliver=[{"file": "backend.env"}])
    fault.update(path="/auth/proxy/create", then="stop")
    assert cli(capsys, "apply")[0] == 130 and len(named()) == 2
    fault["path"] = None
    code, out, _ = cli(capsys, "deliver")
    assert code == 3 and "a rotation of this key is under way" in out, out
    assert not (workdir / "backend.env").exists()
    code, out, _ = cli(capsys, "apply")
    assert code == 0, out
    (successor,) = named()
    assert successor != OLD and (workdir / "backend.env").read_text() == f"EH_KEY_BACKEND={successor}\n"


def test_a_successor_lost_with_the_list_that_would_show_it_never_gets_the_old_value_delivered(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The create's answer lost, and the list read after the wave unavailable: the successor is
    made but unknown. Its sinks got the old key's value, recorded done; the next apply adopted the
    successor, owed nothing, and retired the old key the sinks held. They stay owed instead."""
    manifest("{every: 90d, overlap: 0}", deliver=[{"file": "backend.env"}])
    real, seen = SandboxTransport.handle_async_request, {"create": False}

    async def answer(self: SandboxTransport, request: httpx.Request) -> httpx.Response:
        response = await real(self, request)
        if request.url.path.endswith("/auth/proxy/create") or seen["create"]:
            seen["create"] = True
            raise httpx.ReadTimeout("the answer never came", request=request)
        return response

    monkeypatch.setattr(SandboxTransport, "handle_async_request", answer)
    code, out, _ = cli(capsys, "apply", "--max-attempts", "1")
    assert code != 0 and len(named()) == 2, out
    assert not (workdir / "backend.env").exists(), "the old key's value went to the sink"
    monkeypatch.setattr(SandboxTransport, "handle_async_request", real)
    code, out, _ = cli(capsys, "apply")
    assert code == 0, out
    (successor,) = named()
    assert successor != OLD and (workdir / "backend.env").read_text() == f"EH_KEY_BACKEND={successor}\n"


def test_a_rotation_cut_off_before_its_create_keeps_the_old_keys_snapshot(
    workdir: Path, capsys: Any, fault: Fault
) -> None:
    """The old key's snapshot (taken as the rotation began, no apply having recorded it) was in
    memory only: a run cut off before the create left none, and a hand change to the old key
    during the overlap was then never drift."""
    fault.update(path="/auth/proxy/create", then="stop")
    assert cli(capsys, "apply")[0] == 130
    lines = journal()
    taken = [e for e in lines if e.get("result") == "snapshot"]
    assert taken and taken[0]["snapshot"]["allocated_ammount"] == "50.00", lines
    assert lines.index(taken[0]) < next(i for i, e in enumerate(lines) if e.get("result") == "sending")
