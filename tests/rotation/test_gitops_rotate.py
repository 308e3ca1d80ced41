"""The scheduled rotate job (`ehkeys github rotate`, the action's `command: rotate`) against the
fake GitHub: due rotations and retirements only, never another change; the state across runs on
its branch; the result in the job summary and on the drift issue."""

from __future__ import annotations

import signal
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.responses import JSONResponse

from reconciler.gitops import hub as ghapi
from reconciler.gitops.settings import STATE_BRANCH
from reconciler.state import files as statefiles

from ..apply.test_stopped_report import JOURNAL_FULL, disk_full_at_sending
from ..delivery.test_gitops_delivery import deliver
from ..fakegithub import REPO, TOKEN, FakeGitHub, serve
from ..gitops.test_gitops import MANIFEST, Actions, drift_issue, plan_comment
from ..helpers import run_cli, signalled_while_delivering
from ..reliability_log import record
from .common import gated_sink

pytestmark = pytest.mark.slow  # the GitOps jobs end to end against the fake GitHub

DAY = 86400


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    monkeypatch.setattr(ghapi, "BACKOFF", (0.0, 0.0))
    with serve(fake) as url:
        for name, value in {"GITHUB_API_URL": url, "GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": REPO}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.example")
        yield fake


@pytest.fixture
def actions(tmp_path: Path, hub: FakeGitHub, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Actions:
    return Actions(tmp_path, hub, monkeypatch, capsys)


CREATED = 1704067200  # the seed's keys' created_at (2024-01-01)


def text(k1: int = 10, overlap: str = "7d", sink: Path | None = None, k0: int = 10) -> str:
    keys: list[dict[str, Any]] = [
        {"id": f"k{i}", "name": f"key-{i}", "allocated_ammount": 10, "limit_type": "daily"} for i in range(3)
    ]
    keys[0]["rotate"] = {"every": "90d", "overlap": overlap}
    if sink is not None:
        keys[0]["deliver"] = gated_sink(sink)
    keys[1]["allocated_ammount"] = k1
    keys[0]["allocated_ammount"] = k0
    return yaml.safe_dump({"version": 1, "keys": keys}, sort_keys=False)


def clock(actions: Actions, day: int) -> None:
    """The API's clock on the next run: `day` days after the keys were created."""
    data = yaml.safe_load(actions.seed.read_text())
    data["clock"] = {"start": CREATED + day * DAY}
    actions.seed.write_text(yaml.safe_dump(data))


def reviewed(actions: Actions, manifest: str) -> None:
    """The manifest planned on a PR and applied on its merge, 30 days after the keys were made
    (no rotation due yet)."""
    clock(actions, 30)
    actions.plan_pr(1, "h1", manifest)
    assert actions.merge_and_apply(1, "m1", manifest)[0] == 0


def rotate(actions: Actions, manifest: str) -> tuple[int, str]:
    actions.checkout(manifest, "schedule", "main-head", {})
    code, out, err = actions.run("github", "rotate", MANIFEST, "--sandbox", *actions.seeded)
    return code, out + err


def left_empty(actions: Actions) -> bool | None:
    """Whether the last run's checkout has an empty `ehkeys-out/` (None: it has none)."""
    folder = actions.tmp / f"run-{actions.runs}" / "ehkeys-out"
    return not any(folder.iterdir()) if folder.is_dir() else None


def named(actions: Actions, name: str) -> int:
    with sqlite3.connect(actions.account) as db:
        return int(db.execute("SELECT COUNT(*) FROM keys WHERE name = ?", (name,)).fetchone()[0])


def keys_of(actions: Actions) -> dict[str, str]:
    """Every live key's value -> its name (two keys may share a name during an overlap)."""
    with sqlite3.connect(actions.account) as db:
        return dict(db.execute("SELECT key, name FROM keys WHERE user_id = 'u1'").fetchall())


def balance(actions: Actions) -> Decimal:
    with sqlite3.connect(actions.account) as db:
        return Decimal(str(db.execute("SELECT balance FROM accounts WHERE user_id = 'u1'").fetchone()[0]))


def test_the_rotate_job_applies_due_rotations_and_retirements_only(actions: Actions, hub: FakeGitHub) -> None:
    reviewed(actions, text())  # not due yet: the reviewed apply rotates nothing
    old = actions.live()["key-0"]["key"]
    before = balance(actions)
    assert rotate(actions, text())[1].count("Nothing to rotate or retire") == 1

    clock(actions, 100)  # due; and the manifest on main holds changes no one applied yet
    code, out = rotate(actions, text(k1=15, k0=25))  # the rotating key's own edit rides along neither
    assert code == 0, out
    live = actions.live()
    assert live["key-0"]["key"] != old and live["key-1"]["allocated_ammount"] == 10  # never another change
    assert live["key-0"]["allocated_ammount"] == 10  # the successor copies the live key
    assert balance(actions) == before - 10  # the successor's allocation
    assert (
        "| rotate | rotated | -10.00 |" in actions.summary()
        and "drift issue: none open (nothing failed)" in out
    )
    pushed = hub.branches["ehkeys-state"]  # the rotation under way, kept for the next run
    assert any(b'"rotations"' in content for path, content in pushed.items() if path.endswith("state.json"))

    clock(actions, 104)  # within the overlap: nothing to do, both keys live
    assert "Nothing to rotate or retire" in rotate(actions, text())[1]
    clock(actions, 108)  # the overlap ended: retired, the unused 8.00 refunded
    code, out = rotate(actions, text())
    assert code == 0, out
    assert old not in {k["key"] for k in actions.live().values()}
    assert balance(actions) == before - 10 + 8
    record(
        "gitops",
        "the scheduled rotate job: a rotation due and, 8 days later, its retirement",
        2,
        "only those applied (a pending manifest change left alone); state on its branch; money exact",
    )


def test_a_failed_rotation_is_told_on_the_drift_issue(actions: Actions, hub: FakeGitHub) -> None:
    manifest = text(overlap="0", sink=actions.tmp)  # key-0's sink is down
    reviewed(actions, manifest)
    clock(actions, 100)
    code, out = rotate(actions, manifest)
    assert code == 3 and "drift issue: opened" in out
    body = drift_issue(hub)["body"]
    assert "<!-- ehkeys-rotate -->" in body and "not delivered" in body
    assert named(actions, "key-0") == 2  # the old key stays
    (actions.tmp / "sink-up").touch()  # the sink is back
    code, out = rotate(actions, manifest)
    assert code == 0 and "drift issue: commented on" in out, out
    assert named(actions, "key-0") == 1
    assert (actions.tmp / "delivered.txt").read_text() == actions.live()["key-0"]["key"]


def test_a_rotation_that_cannot_be_planned_fails_the_job_and_is_told_never_nothing_to_rotate(
    actions: Actions, hub: FakeGitHub
) -> None:
    reviewed(actions, text())
    with sqlite3.connect(actions.account) as db:  # key-0 expired since: no successor can copy it
        db.execute("UPDATE keys SET expires_at = ? WHERE name = 'key-0'", (CREATED + 50 * DAY,))
    clock(actions, 100)
    code, out = rotate(actions, text())
    assert code == 1 and "Nothing to rotate or retire" not in out + actions.summary()
    assert left_empty(actions) is False, "its report is there"
    assert "key-0" in actions.summary() and "cannot be rotated: its expires_at is past" in actions.summary()
    body = drift_issue(hub)["body"]
    assert "<!-- ehkeys-rotate -->" in body and "cannot be rotated" in body and "key-0" in body
    assert actions.live()["key-0"]["key"] not in body + out + actions.summary()


def test_a_rotate_job_that_fails_before_writing_leaves_no_empty_output_folder(
    actions: Actions, hub: FakeGitHub
) -> None:
    reviewed(actions, text())
    code, out = rotate(actions, "version: 1\nkeys: [\n")  # main's manifest broken since
    assert code == 1 and "keys.yaml" in out, out
    assert left_empty(actions) is None, "the folder it made for nothing is gone"


def test_a_rotation_that_stopped_says_why_also_when_the_drift_issue_cannot_be_told(
    actions: Actions, hub: FakeGitHub
) -> None:
    reviewed(actions, text())
    clock(actions, 100)
    hub.faults["POST /issues"] = JSONResponse({"message": "Server Error"}, 500)
    actions.checkout(text(), "schedule", "main-head", {})
    code, out, err = actions.run(
        "github", "rotate", MANIFEST, "--sandbox", *actions.seeded, "--max-debit", "1"
    )
    assert code == 1 and "--max-debit" in err.split("ehkeys: error: ", 1)[-1], err
    assert "warning: the drift issue could not be told: GitHub API POST /issues: HTTP 500" in err
    hub.violations.clear()  # GitHub's description lists no 500 here, though GitHub answers one


def test_a_pending_create_the_rotate_job_leaves_alone_never_counts_against_its_key_cap(
    actions: Actions, hub: FakeGitHub
) -> None:
    reviewed(actions, text())
    edited = yaml.safe_load(text())
    edited["key_cap"] = 4  # 3 keys and a successor fit; and a key added on main, not applied yet
    edited["keys"].append({"id": "k9", "name": "key-9", "allocated_ammount": 10, "limit_type": "daily"})
    clock(actions, 100)
    code, out = rotate(actions, yaml.safe_dump(edited, sort_keys=False))
    assert code == 0, out
    assert named(actions, "key-0") == 2 and named(actions, "key-9") == 0


def by_hand(actions: Actions, manifest: str, *options: str) -> tuple[int, str]:
    """keys-rotate run by hand (workflow_dispatch, the action's `keys:` and `overlap:`)."""
    actions.checkout(manifest, "workflow_dispatch", "main-head", {})
    code, out, err = actions.run("github", "rotate", MANIFEST, "--sandbox", *actions.seeded, *options)
    return code, out + err


def test_a_leaked_key_rotated_by_hand_in_actions_is_on_the_branch_so_a_later_rename_prunes_nothing(
    actions: Actions, hub: FakeGitHub
) -> None:
    """Rotated on someone's machine, the rotation would be in that copy of the state only: CI
    would bind the old key, and once a PR renamed it, prune the new one the app now uses. Run
    as the rotate job with --now, it is recorded on the state branch, where CI plans from."""
    pruned = {**yaml.safe_load(text()), "prune": True}
    manifest = yaml.safe_dump(pruned, sort_keys=False)
    reviewed(actions, manifest)  # not due: only the leak makes it rotate
    old = actions.live()["key-0"]["key"]
    code, out = by_hand(actions, manifest, "--now", "--target", "k0", "--overlap", "3d")
    assert code == 0, out
    assert named(actions, "key-0") == 2 and "| rotate | rotated | -10.00 |" in actions.summary()
    new = next(key for key, name in keys_of(actions).items() if name == "key-0" and key != old)

    renamed = {**pruned, "keys": [{**pruned["keys"][0], "name": "key-zero"}, *pruned["keys"][1:]]}
    manifest = yaml.safe_dump(renamed, sort_keys=False)
    code, out = actions.plan_pr(2, "h2", manifest)
    assert code == 0, out
    assert actions.merge_and_apply(2, "m2", manifest)[0] == 0
    keys = keys_of(actions)
    assert keys[new] == "key-zero" and keys[old] == "key-0"  # the successor renamed, the old one held

    clock(actions, 34)  # the overlap ended: the scheduled job retires the old key, never the new
    assert rotate(actions, manifest)[0] == 0
    assert set(keys_of(actions)) & {old, new} == {new}


@pytest.mark.parametrize(
    ("target", "said"),
    [
        ("nosuch", "rotate 'nosuch': no key with that id or name in the manifest"),
        ("key-1", "rotate 'key-1': the id or name of 2 keys (k1, k3); name one by its address"),
        ("k4", "rotate 'k4': the manifest deletes it (absent: true)"),
    ],
    ids=["unknown", "a name two keys share", "absent: true"],
)
def test_a_key_the_run_by_hand_cannot_rotate_is_refused_naming_it_before_the_state_is_read(
    actions: Actions, hub: FakeGitHub, target: str, said: str
) -> None:
    """A mistyped key in the Run workflow form is a refusal in the job's log and summary, never
    a drift issue 'the rotation did not finish' opened for nothing, and never the state read."""
    manifest = yaml.safe_load(text())
    manifest["keys"].append({"id": "k3", "name": "key-1", "allocated_ammount": 10, "limit_type": "daily"})
    manifest["keys"].append({"id": "k4", "name": "key-4", "absent": True})
    code, out = by_hand(actions, yaml.safe_dump(manifest, sort_keys=False), "--now", "--target", target)
    assert code == 1 and said in out and said in actions.summary() and "Traceback" not in out
    assert not hub.issues and "state:" not in out and named(actions, "key-0") == 1
    assert left_empty(actions) is None, "refused: no folder left"


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_run_by_hand_cancelled_after_the_successor_is_created_still_stores_it_on_the_branch(
    actions: Actions, hub: FakeGitHub, monkeypatch: pytest.MonkeyPatch, stop: signal.Signals
) -> None:
    """Cancelled (the runner's SIGINT, SIGTERM 7.5 s later; SIGHUP on some runners) between the
    successor's create and the state's push: the state still reaches the branch, so the next plan
    binds the successor, never shows it unmanaged, and a second run is refused, never doubled."""
    manifest = text(sink=actions.tmp)
    (actions.tmp / "sink-up").touch()
    reviewed(actions, manifest)
    with signalled_while_delivering(monkeypatch, stop) as unhandled:
        code, out = by_hand(actions, manifest, "--now", "--target", "k0", "--overlap", "3d")
    assert code == 130 and "interrupted" in out and not unhandled, out
    assert named(actions, "key-0") == 2
    code, out = actions.plan_pr(2, "h2", manifest)
    assert code == 0 and "unmanaged" not in out and "its old key ek-proxy-…part stays active" in out, out
    code, out = by_hand(actions, manifest, "--now", "--target", "k0", "--overlap", "3d")
    assert code == 1 and "a rotation is under way" in out and named(actions, "key-0") == 2, out


def test_a_scheduled_rotation_cancelled_after_its_create_tells_the_drift_issue_once_its_state_is_pushed(
    actions: Actions, hub: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runner cancels the job while the successor's value is delivered: the successor was
    created (10.00 debited), and the job summary said so, but the drift issue, where the rotate
    job says what it did, heard nothing: only an error told it, never a cancel."""
    manifest = text(sink=actions.tmp)
    (actions.tmp / "sink-up").touch()
    reviewed(actions, manifest)
    clock(actions, 100)
    before = len(hub.calls)
    with signalled_while_delivering(monkeypatch, signal.SIGTERM) as unhandled:
        code, out = rotate(actions, manifest)
    assert code == 130 and "interrupted" in out and not unhandled, out
    body = drift_issue(hub)["body"]
    assert "**ehkeys rotate stopped.** interrupted: the job was cancelled" in body, body
    assert "**Stopped part-way: interrupted" in body and "| rotate | rotated | -10.00 |" in body, body
    writes = [c for c in hub.calls[before:] if not c.startswith("GET")]
    told = min(i for i, c in enumerate(writes) if "/issues" in c)
    assert max(i for i, c in enumerate(writes) if "/issues" not in c) < told, writes  # pushed first
    assert all(value not in body for value in keys_of(actions))


def test_a_target_without_now_rotates_only_what_is_due_and_says_how_to_rotate_it_now(
    actions: Actions, hub: FakeGitHub
) -> None:
    """`github rotate --target svc` (a workflow of one's own, --now forgotten) keeps the schedule's
    meaning, what is due among those keys; a leaked key not due is not rotated, and the run says
    so with the option that would have rotated it, never a bare 'nothing to rotate'."""
    reviewed(actions, text())
    code, out = by_hand(actions, text(), "--target", "k0")
    assert code == 0 and named(actions, "key-0") == 1
    hint = "--target without --now: only what is due among those keys; --now rotates them now"
    assert hint in out and hint in actions.summary(), out
    assert hint not in rotate(actions, text())[1], "the schedule's own run needs no hint"


def test_a_second_run_by_hand_during_the_overlap_is_refused_naming_the_key_unless_overlap_0(
    actions: Actions, hub: FakeGitHub
) -> None:
    reviewed(actions, text())
    assert by_hand(actions, text(), "--now", "--target", "k0", "--overlap", "3d")[0] == 0
    code, out = by_hand(actions, text(), "--now", "--target", "k0")
    assert code == 1 and named(actions, "key-0") == 2 and "Traceback" not in out
    said = "a rotation is under way (ek-proxy-…part retiring until"
    assert said in out and said in actions.summary() and "key-0" in actions.summary()
    code, out = by_hand(actions, text(), "--now", "--target", "k0", "--overlap", "0")
    assert code == 0 and named(actions, "key-0") == 1, out  # the old key retired, never a third
    assert all(value not in out + actions.summary() for value in keys_of(actions))


def test_a_run_by_hand_killed_before_its_state_was_pushed_is_never_rotated_twice(
    actions: Actions, hub: FakeGitHub
) -> None:
    """The runner lost (SIGKILL, a machine gone) after the successor's create and before the
    state's push: the branch still binds the old key and knows nothing of the successor. Run
    again, the job is refused naming that key: never a second successor, a second debit."""
    reviewed(actions, text())
    old = actions.live()["key-0"]["key"]
    before = dict(hub.branches[STATE_BRANCH])
    assert by_hand(actions, text(), "--now", "--target", "k0", "--overlap", "3d")[0] == 0
    hub.branches[STATE_BRANCH] = before  # what a run killed before its push leaves there
    paid = balance(actions)
    new = next(key for key, name in keys_of(actions).items() if name == "key-0" and key != old)
    code, out = by_hand(actions, text(), "--now", "--target", "k0", "--overlap", "3d")
    said = f"ek-proxy-…{new[-4:]}, of its name and created since it, is a key no state binds"
    assert code == 1 and said in out and said in actions.summary(), out
    assert named(actions, "key-0") == 2 and balance(actions) == paid
    record(
        "gitops",
        "github rotate --now run again after a runner lost between the successor's create and the state's push",
        1,
        "refused naming that successor: never a second one, nothing debited",
    )


def test_a_rotation_stopped_part_way_tells_the_drift_issue_what_landed_before(
    actions: Actions, hub: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The successor is created; the journal fills before the old key's delete is sent: the
    issue says why the rotation stopped, then that the successor landed."""
    reviewed(actions, text(overlap="0"))
    clock(actions, 100)
    monkeypatch.setattr(statefiles, "_write", disk_full_at_sending(2))  # the retirement's delete
    code, out = rotate(actions, text(overlap="0"))
    assert code == 1 and JOURNAL_FULL in out, out
    body = drift_issue(hub)["body"]
    assert "**ehkeys rotate stopped.** keys/.ehkeys/" in body and JOURNAL_FULL in body, body
    assert "**Stopped part-way: " in body and "| rotate | rotated | -10.00 |" in body, body
    assert "**Before it stopped: 1 rotated.**" in body and named(actions, "key-0") == 2


THROWN_AWAY = "on the runner of the job that applies this plan, whose disk is thrown away when the job ends"


def test_a_rotation_to_a_file_sink_is_warned_of_in_actions_never_locally(
    actions: Actions, hub: FakeGitHub, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """A `file:` sink in an Actions job writes to the runner's disk, thrown away at the job's end,
    yet counts as delivered: the old key went after its overlap, the application never given the
    new value, and the plan comment said only `The new value goes to: → file app.env#EH_KEY_K0`."""
    manifest = yaml.safe_load(text())
    manifest["keys"][0]["deliver"] = [{"file": "app.env"}]
    sunk = yaml.safe_dump(manifest, sort_keys=False)
    reviewed(actions, sunk)
    clock(actions, 100)  # key-0 due: a pull request's plan shows its rotation
    assert actions.plan_pr(2, "h2", sunk)[0] == 0
    comment = plan_comment(hub, 2)
    assert f"> **Warning:** k0: its new value goes to file app.env#EH_KEY_K0 {THROWN_AWAY}" in comment, (
        comment
    )
    assert "so the old key is deleted after its overlap with the application never given" in comment
    monkeypatch.delenv("GITHUB_ACTIONS")  # the same plan on a machine: its file lasts
    code, out, err = run_cli(capsys, "plan", MANIFEST, "--sandbox", *actions.seeded)
    assert code == 0 and "⟳ key-0" in out and THROWN_AWAY not in out + err, out + err
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code, out = rotate(actions, sunk)  # its log shows the plan, its summary the delivery
    assert code == 0 and THROWN_AWAY in out, out
    delivered = (
        "k0 → file app.env#EH_KEY_K0: delivered, but only to this job's runner, whose disk is thrown away"
    )
    assert delivered in actions.summary() and delivered in out
    code, out, summary = deliver(actions, sunk)  # the deliver job, by hand: the same
    assert code == 0 and delivered in summary and delivered in out, out
