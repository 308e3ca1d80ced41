"""Delivery in the GitOps loop, against the fake GitHub served for real: the merged pull
request's apply job delivers the key it creates to its GitHub secret (the value a workflow would
read, and nowhere else: not in the job's output, its summary, the PR's comments or the state on
its branch); a delivery that fails fails the job (exit 3) naming the sink, never the value, and
the next apply job (run by hand) delivers it, with no second create. The deliver job (run by
hand) fills a sink added to an existing key, with the account key only CI holds."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.responses import JSONResponse, Response

from reconciler.delivery import errors

from ..fakegithub import TOKEN, FakeGitHub
from ..githubspec import error
from ..gitops.test_gitops import MANIFEST, Actions, apply_comment, plan_comment
from ..gitops.test_gitops import actions as actions
from ..gitops.test_gitops import hub as hub
from ..helpers import signalled_while_delivering
from ..reliability_log import record

pytestmark = pytest.mark.slow  # the GitOps jobs end to end

SECRET = ("acme/api", None, "EH_KEY")


def manifest(*names: str) -> str:
    sinks = [
        {"github_secret": {"repo": "acme/api", "name": name, "token": "${DEPLOY_TOKEN}"}}
        for name in names or ("EH_KEY",)
    ]
    key = {"id": "api", "name": "API", "allocated_ammount": 5, "limit_type": "daily", "deliver": sinks}
    return yaml.safe_dump({"version": 1, "keys": [key]}, sort_keys=False)


def _everything_said(actions: Actions, hub: FakeGitHub, *outputs: str) -> str:
    """The jobs' output, summaries, every comment and every file of the state branch."""
    summaries = [p.read_text() for p in Path(actions.tmp).glob("summary-*.md")]
    branch = [data.decode("utf-8", "replace") for files in hub.branches.values() for data in files.values()]
    return "\n".join([*outputs, *summaries, *(c["body"] for c in hub.comments.values()), *branch])


def _value(actions: Actions) -> str:
    (key,) = [k["key"] for k in actions.live().values() if k["name"] == "API"]
    return str(key)


def test_the_merged_prs_apply_delivers_the_new_key_to_its_github_secret(
    actions: Actions, hub: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEPLOY_TOKEN", TOKEN)  # a token that may write secrets, given in the step's env:
    code, planned = actions.plan_pr(1, "h1", manifest())
    assert code == 0, planned
    assert "The new value goes to: → github_secret acme/api:EH_KEY" in plan_comment(hub, 1)
    code, applied = actions.merge_and_apply(1, "m1", manifest())
    assert code == 0, applied
    value = _value(actions)
    assert hub.secrets == {SECRET: value}
    assert "- api → github_secret acme/api:EH_KEY: delivered" in apply_comment(hub, 1)
    assert value not in _everything_said(actions, hub, planned, applied)


def test_a_failed_delivery_fails_the_apply_job_naming_the_sink_and_the_next_job_delivers(
    actions: Actions, hub: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEPLOY_TOKEN", TOKEN)
    monkeypatch.setattr(errors, "BACKOFF", (0.0, 0.0))  # the 502 is tried again, at once
    assert actions.plan_pr(1, "h1", manifest())[0] == 0
    hub.faults["PUT /repos/acme/api/actions/secrets/EH_KEY"] = JSONResponse(error(502, "Bad Gateway"), 502)
    code, failed = actions.merge_and_apply(1, "m1", manifest())
    assert code == 3, failed
    value = _value(actions)
    sink = "api → github_secret acme/api:EH_KEY: failed: github_secret acme/api:EH_KEY: PUT"
    assert sink in failed and sink in apply_comment(hub, 1) and not hub.secrets
    hub.faults.clear()
    actions.checkout(manifest(), "workflow_dispatch", "m1", {})  # the apply workflow run by hand
    code, out, err = actions.run("github", "apply", MANIFEST, "--sandbox", *actions.seeded, "--fresh")
    again = out + err
    assert code == 0, again
    assert hub.secrets == {SECRET: value} and _value(actions) == value  # no second create
    assert "✓ api → github_secret acme/api:EH_KEY: delivered" in again
    assert value not in _everything_said(actions, hub, failed, again)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_merged_prs_apply_cancelled_after_its_create_still_stores_the_key_on_the_branch(
    actions: Actions, hub: FakeGitHub, monkeypatch: pytest.MonkeyPatch, stop: signal.Signals
) -> None:
    """Cancelled (the runner's SIGINT, SIGTERM 7.5 s later; SIGHUP on some runners) between the
    key's create and the state's push: the state still reaches the branch with the key bound and
    its delivery owed, so the next job delivers it, never a second key (a second debit)."""
    monkeypatch.setenv("DEPLOY_TOKEN", TOKEN)
    assert actions.plan_pr(1, "h1", manifest())[0] == 0
    with signalled_while_delivering(monkeypatch, stop) as unhandled:
        code, out = actions.merge_and_apply(1, "m1", manifest())
    assert code == 130 and "interrupted" in out and not unhandled, out
    value = _value(actions)
    code, out, _ = deliver(actions, manifest())
    assert code == 0 and hub.secrets == {SECRET: value} and _value(actions) == value, out
    record(
        "gitops",
        f"the merged PR's apply job cancelled by {stop.name} between a create and the state's push",
        1,
        "exit 130; the key bound on the state branch; the deliver job delivers it, no second create",
    )


class _CancelledWhilePushed(Response):
    """The state's first write: the runner's SIGTERM arrives while the job waits for its answer,
    a 502 (a write GitHub did not make, which the job tries again); the writes after it served."""

    def __init__(self, hub: FakeGitHub, prefix: str) -> None:
        super().__init__("<html>502 Bad Gateway</html>", status_code=502)
        self.hub, self.prefix = hub, prefix

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        del self.hub.faults[self.prefix]
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(0.2)  # the signal reaches the job while it waits for this answer
        await super().__call__(scope, receive, send)


def test_an_apply_job_cancelled_while_it_pushes_its_state_still_pushes_it(
    actions: Actions, hub: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runner's signal arrives during the state's push itself (the job's work done): the push
    goes on to the end, so the key's binding is on the branch and the next job makes no second key."""
    monkeypatch.setenv("DEPLOY_TOKEN", TOKEN)
    assert actions.plan_pr(1, "h1", manifest())[0] == 0
    unhandled: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda number, _: unhandled.append(number))
    hub.faults["PUT /contents/"] = _CancelledWhilePushed(hub, "PUT /contents/")
    try:
        code, out = actions.merge_and_apply(1, "m1", manifest())
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert code == 130 and "interrupted" in out and not unhandled, out
    assert "to branch ehkeys-state" in out and "nothing new" not in out, out
    state = next(data for path, data in hub.branches["ehkeys-state"].items() if path.endswith("state.json"))
    value = _value(actions)
    assert value[-4:] not in state.decode() and "api" in state.decode()  # bound, by fingerprint
    code, out, _ = deliver(actions, manifest())
    assert code == 0 and hub.secrets == {SECRET: value} and _value(actions) == value, out


def deliver(actions: Actions, text: str, *options: str) -> tuple[int, str, str]:
    """keys-deliver, run by hand: the step's summary besides its output."""
    actions.checkout(text, "workflow_dispatch", "m2", {})
    code, out, err = actions.run("github", "deliver", MANIFEST, "--sandbox", *actions.seeded, *options)
    return code, out + err, (Path(actions.tmp) / f"summary-{actions.runs}.md").read_text()


def test_the_deliver_job_fills_a_sink_added_to_an_existing_key(
    actions: Actions, hub: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEPLOY_TOKEN", TOKEN)
    monkeypatch.setattr(errors, "BACKOFF", (0.0, 0.0))
    assert actions.plan_pr(1, "h1", manifest())[0] == 0
    assert actions.merge_and_apply(1, "m1", manifest())[0] == 0
    value, added = _value(actions), manifest("EH_KEY", "EH_KEY_NEW")  # a sink added to the key
    hub.faults["PUT /repos/acme/api/actions/secrets/EH_KEY_NEW"] = JSONResponse(
        error(502, "Bad Gateway"), 502
    )
    code, failed, summary = deliver(actions, added, "--target", "api")
    assert code == 3, failed
    assert "ehkeys: delivery failed: api → github_secret acme/api:EH_KEY_NEW" in failed
    assert "**Delivery failed** (api → github_secret acme/api:EH_KEY_NEW)" in summary
    assert "✓ api → github_secret acme/api:EH_KEY: delivered" in summary
    hub.faults.clear()
    code, out, summary = deliver(actions, added)
    assert code == 0, out
    assert hub.secrets == {SECRET: value, ("acme/api", None, "EH_KEY_NEW"): value}
    assert (
        "### ehkeys deliver" in summary and "✓ api → github_secret acme/api:EH_KEY_NEW: delivered" in summary
    )
    assert _value(actions) == value and value not in _everything_said(actions, hub, failed, out)
    code, out, summary = deliver(actions, added, "--target", "nope")
    assert code == 1 and "**ehkeys deliver stopped.** --target 'nope': no key with that id or name" in summary
