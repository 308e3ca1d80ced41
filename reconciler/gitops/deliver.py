"""`ehkeys github deliver`: by hand (workflow_dispatch), the root's keys' current values
delivered to their sinks again, as `ehkeys deliver` does, with the account key only CI holds: a
sink added to an existing key is filled without anyone holding the account key locally.

The state is pulled from its branch and pushed back (the deliveries owed and made are
journalled there); the result goes to the job summary, a line per sink, never a value; the job
exits 3 naming each sink that failed (still owed: the next apply, or this job again, delivers)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from reconciler.core.errors import EhkeysError
from reconciler.core.exitcodes import ExitCode
from reconciler.core.sinks import Delivered
from reconciler.engine import deliver as engine_deliver
from reconciler.engine.settings import DeliverSettings
from reconciler.gitops.context import RunContext
from reconciler.gitops.hub import GitHub
from reconciler.gitops.jobstate import on_branch
from reconciler.gitops.roots import Root
from reconciler.gitops.settings import DeliverJob
from reconciler.render import apply as applyrender
from reconciler.render import plan as render
from reconciler.render.console import Log
from reconciler.render.summary import step_summary
from reconciler.state.paths import JOURNAL_FILE, STATE_FILE

TITLE = "ehkeys deliver"


def deliver_job(job: DeliverJob) -> ExitCode:
    ctx, hub = RunContext.from_env(), GitHub.from_env()
    root = Root.of(job.job.workspace.manifests, ctx.workspace)
    with on_branch(job.job, ctx, hub, push=(STATE_FILE, JOURNAL_FILE)) as checkout:
        settings = DeliverSettings(checkout.over(ctx.runs(job.job.workspace)), job.ids, job.lock_timeout)
        try:
            done = engine_deliver.run(settings, Log(job.job.workspace.manifests))
        except EhkeysError as exc:
            _summary(root, f"**{TITLE} stopped.** {render.escape(str(exc))}\n")
            raise
    print("\n".join(applyrender.delivered(done)))
    _summary(root, summary(done))
    failed = [d for d in done if not d.ok]
    if failed:
        sinks = ", ".join(f"{d.address} → {d.sink}" for d in failed)
        print(f"ehkeys: delivery failed: {sinks}", file=sys.stderr)
    return ExitCode.INCOMPLETE if failed else ExitCode.OK


def summary(done: Sequence[Delivered]) -> str:
    """A line per sink, delivered or why not; the failed ones named again, with what next."""
    lines = "".join(f"- {'✓' if d.ok else '✗'} {render.escape(d.line())}\n" for d in done)
    failed = [d for d in done if not d.ok]
    if not failed:
        return f"Delivered to {len(done)} sink(s):\n\n{lines}"
    sinks = "; ".join(render.escape(f"{d.address} → {d.sink}") for d in failed)
    return (
        f"**Delivery failed** ({sinks}): still owed; the next apply, or this job again, delivers it.\n\n"
        f"{lines}"
    )


def _summary(root: Root, body: str) -> None:
    step_summary(lambda s: s.write(f"### {root.heading(TITLE)}\n\n{body}\n"))
