"""The merged PR's apply stopped part-way (the journal cannot be written, the job cancelled):
the PR's comment and the job summary still say what landed before it stopped, and why; the
state it recorded is pushed. Against the fake GitHub, served for real, and the sandbox account."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import httpx
import pytest
from starlette.responses import Response

from reconciler.api import inventory
from reconciler.sandbox import SandboxTransport
from reconciler.state import files as statefiles

from ..apply.test_stopped_report import JOURNAL_FULL, disk_full_at_sending
from . import test_gitops as gitops
from .test_gitops import Actions, apply_comment, manifest

pytestmark = gitops.pytestmark

hub = gitops.hub
actions = gitops.actions

TEXT = manifest(k0=5, k1=14, k2=13)  # a refund (key-0), then two debits (key-1, key-2)
LANDED = "| ~ | key-0 (`ek-proxy-…part`) | update | updated | +5.00 |"


def test_a_journal_that_fills_mid_apply_is_said_on_the_pr_with_what_landed(
    actions: Actions, hub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert actions.plan_pr(1, "h1", TEXT)[0] == 0
    monkeypatch.setattr(statefiles, "_write", disk_full_at_sending(2))  # the debits' first
    code, out = actions.merge_and_apply(1, "m1", TEXT)
    assert code == 1 and JOURNAL_FULL in out, out
    comment = apply_comment(hub, 1)
    said = comment.split("**ehkeys apply stopped.** ", 1)[1]
    assert said.startswith("keys/.ehkeys/") and JOURNAL_FULL in said.split("\n")[0], comment
    assert "**Stopped part-way: " in comment and LANDED in comment, comment
    assert "**Before it stopped: 1 updated.**" in comment and "key-1" not in comment, comment
    assert comment.count("<!-- ehkeys-apply -->") == 1
    summary = actions.summary()
    assert "**Stopped part-way: " in summary and LANDED in summary, summary
    assert actions.live()["key-0"]["allocated_ammount"] == 5


def test_a_job_cancelled_mid_apply_tells_the_pr_what_landed_once_its_state_is_pushed(
    actions: Actions, hub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert actions.plan_pr(1, "h1", TEXT)[0] == 0
    real = SandboxTransport.handle_async_request

    async def answer(self: SandboxTransport, request: httpx.Request) -> httpx.Response:
        response = await real(self, request)
        if request.url.path.endswith("/auth/proxy/update") and b'"key-1"' in request.content:
            os.kill(os.getpid(), signal.SIGTERM)  # the runner cancels the job
            await asyncio.sleep(0.5)  # while key-1's answer is on its way
        return response

    monkeypatch.setattr(SandboxTransport, "handle_async_request", answer)
    code, out = actions.merge_and_apply(1, "m1", TEXT)
    assert code == 130 and "ehkeys: interrupted" in out, out
    comment = apply_comment(hub, 1)
    assert "**ehkeys apply stopped.** interrupted: the job was cancelled" in comment, out
    assert "**Stopped part-way: interrupted" in comment and LANDED in comment, out
    assert "may or may not have reached the API: POST /auth/proxy/update" in comment, comment
    assert "**Stopped part-way: interrupted" in actions.summary()
    writes = [c for c in hub.calls if not c.startswith("GET")]
    told = max(i for i, c in enumerate(writes) if "/comments" in c)
    pushed = [i for i, c in enumerate(writes) if "/comments" not in c]
    assert pushed and max(pushed) < told, writes  # the state pushed first, then the PR told


def test_an_apply_stopped_before_it_began_never_posts_an_earlier_report_left_in_its_folder(
    actions: Actions, hub: Any
) -> None:
    """ehkeys-out/apply.md of another root's apply in the same job (every root's --dir is
    ehkeys-out), or of a workspace a self-hosted runner kept: GitHub down while the reviewed
    plan was fetched, the PR was told 'apply stopped' followed by that report, changes this
    apply never made, as if landed."""
    assert actions.plan_pr(1, "h1", TEXT)[0] == 0
    earlier = (
        "<!-- ehkeys-apply -->\n### ehkeys apply\n\n| - | payroll (`ek-proxy-…9999`) | delete | deleted |\n"
    )
    actions.committed["ehkeys-out/apply.md"] = earlier.encode()
    hub.faults["GET /actions/runs/"] = Response("<html>502 Bad Gateway</html>", status_code=502)
    code, out = actions.merge_and_apply(1, "m1", TEXT)
    assert code == 1, out
    comment = apply_comment(hub, 1)
    assert "**ehkeys apply stopped.** " in comment and "payroll" not in comment, comment
    assert actions.live()["key-0"]["allocated_ammount"] != 5  # nothing applied


def test_a_cancel_that_lands_while_a_task_runs_still_names_the_write_it_answered(
    actions: Actions, hub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runner's SIGINT comes while the apply's task runs (key-1's raise answered, its checking
    list about to be read), not while the loop waits. Before, the stop was raised right there:
    the PR heard of key-0 only, never of key-1's raise, which had landed."""
    assert actions.plan_pr(1, "h1", TEXT)[0] == 0
    real = SandboxTransport.handle_async_request
    answered: list[bytes] = []

    async def answer(self: SandboxTransport, request: httpx.Request) -> httpx.Response:
        response = await real(self, request)
        if request.url.path.endswith("/auth/proxy/update"):
            answered.append(request.content)
        return response

    real_read = inventory.read_keys

    async def cancelled_before_the_check(client: Any) -> Any:
        if any(b'"key-1"' in body for body in answered):
            os.kill(os.getpid(), signal.SIGINT)  # the runner cancels the job; handled right here
        return await real_read(client)

    monkeypatch.setattr(SandboxTransport, "handle_async_request", answer)
    monkeypatch.setattr(inventory, "read_keys", cancelled_before_the_check)
    code, out = actions.merge_and_apply(1, "m1", TEXT)
    assert code == 130 and "ehkeys: interrupted" in out, out
    comment = apply_comment(hub, 1)
    assert "**Stopped part-way: interrupted" in comment and LANDED in comment, comment
    assert "POST /auth/proxy/update (ek-proxy-…part)" in comment.split(LANDED, 1)[1], comment
