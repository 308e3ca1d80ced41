"""`ehkeys github rotate`: the scheduled job that applies due rotations and retirements, and
never any other change (those wait for a reviewed pull request); run by hand with `--now`, it
rotates the `--target` keys now (a leaked key), so that the rotation is recorded in the state
on the branch, where CI's next plan reads it, rather than in a copy on someone's machine.

A rotation falls due without a manifest change, so it cannot wait for a pull request: on a
schedule, this job pulls the state, applies the manifest's rotations that are due and the
retirements whose overlap ended (the same guards as apply: --max-debit, the balance, the
policy, the key cap; `engine.settings.Rotate(only=True)`), writes the result to the job
summary, and tells the root's drift issue: a comment on it when one is open, and a new one
when a rotation failed (a successor not delivered keeps its old key: someone must look).
"""

from __future__ import annotations

import sys
from pathlib import Path

from reconciler.core.errors import EhkeysError, UsageError
from reconciler.core.exitcodes import ExitCode
from reconciler.engine import apply as engine_apply
from reconciler.engine import rotate as engine_rotate
from reconciler.engine.apply import AppliedRun
from reconciler.engine.settings import ApplySettings, Guards, Workspace, credits
from reconciler.gitops import outdir
from reconciler.gitops.context import RunContext
from reconciler.gitops.hub import GitHub, NotFound, by_bot, pick
from reconciler.gitops.issues import DRIFT_LABEL, drift_title
from reconciler.gitops.jobstate import on_branch
from reconciler.gitops.reviewed_plan import LIMIT, clip
from reconciler.gitops.roots import Root
from reconciler.gitops.settings import RotateJob
from reconciler.render import plan as render
from reconciler.render.console import Log
from reconciler.render.summary import step_summary
from reconciler.state.paths import JOURNAL_FILE, STATE_FILE

ROTATE_MARKER = "<!-- ehkeys-rotate -->"
NOTHING = "Nothing to rotate or retire: no rotation is due, and no old key's overlap has ended."
INTERRUPTED = "interrupted: the job was cancelled"
NOT_NOW = " (--target without --now: only what is due among those keys; --now rotates them now)"


def rotate_job(job: RotateJob) -> ExitCode:
    with outdir.for_the_run(job.job.out_dir):  # a rotation that failed leaves no empty folder
        return _rotate_job(job)


def _rotate_job(job: RotateJob) -> ExitCode:
    ctx, hub, folder = RunContext.from_env(), GitHub.from_env(), job.job.out_dir
    root = Root.of(job.job.workspace.manifests, ctx.workspace)
    if job.rotate.now:
        _refuse_early(job, root)
    (folder / "apply.md").unlink(missing_ok=True)  # never report an earlier run's result
    cancelled = False
    try:
        with on_branch(job.job, ctx, hub, push=(STATE_FILE, JOURNAL_FILE)) as checkout:
            try:
                applied = _rotate(job, checkout.over(ctx.runs(job.job.workspace)), folder)
            except EhkeysError as exc:
                _stopped(hub, root, folder, render.escape(str(exc)))
                raise
            except KeyboardInterrupt:
                cancelled = True
                raise
    except KeyboardInterrupt:
        if cancelled:  # told once the state is pushed: the push comes first
            _stopped(hub, root, folder, INTERRUPTED)
        raise
    code, report = applied.exit_code, _report(folder)
    if report is None or not any(a.report.results or a.stopped for a in applied.each):
        nothing = NOTHING + (NOT_NOW if job.job.workspace.targets and not job.rotate.now else "")
        step_summary(lambda s: s.write(f"### {root.heading('ehkeys rotate')}\n\n{nothing}\n"))
        print(f"ehkeys: {nothing}")
        return code
    print(f"drift issue: {tell(hub, _stamped(report, root), root, failed=code is not ExitCode.OK)}")
    return code


def _stopped(hub: GitHub, root: Root, folder: Path, why: str) -> None:
    """Why the rotation stopped (`why`, escaped), then what it did before, on the drift issue;
    an issue that cannot be told is a warning, never the job's error."""
    stopped = f"**ehkeys rotate stopped.** {why}\n" + _done_before(folder)
    try:
        print(f"drift issue: {tell(hub, _stamped(stopped, root), root, failed=True)}")
    except EhkeysError as also:  # why the rotation stopped is what the job must say
        print(f"ehkeys: warning: the drift issue could not be told: {also}", file=sys.stderr)


def _refuse_early(job: RotateJob, root: Root) -> None:
    """A key run by hand cannot rotate (mistyped, shared by two, deleted, pinned, in an account
    --account leaves out; an overlap too long): refused in the log and the job summary before
    the state is read, no drift issue for it."""
    try:
        engine_rotate.check(job.job.workspace, job.rotate.overlap)
    except UsageError as exc:
        refused = f"### {root.heading('ehkeys rotate')}\n\n**Refused.** {render.escape(str(exc))}\n"
        step_summary(lambda s: s.write(refused))
        raise


def _rotate(job: RotateJob, workspace: Workspace, folder: Path) -> AppliedRun:
    settings = ApplySettings(
        workspace,
        Guards(credits(job.max_debit, "--max-debit")),
        report_out=str(folder / "apply.md"),
        lock_timeout=job.lock_timeout,
        rotate=job.rotate,  # with --now: its targets, checked before the state was read (`_refuse_early`)
    )
    return engine_apply.run(settings, Log(job.job.workspace.manifests))


def _report(folder: Path) -> str | None:
    try:
        return (folder / "apply.md").read_text(encoding="utf-8")
    except FileNotFoundError:  # apply writes no report when it had nothing to send (or stopped before)
        return None


def _done_before(folder: Path) -> str:
    """What a rotation stopped part-way did before it stopped (the report apply writes once it
    began sending), after the line saying why: '' when there is none."""
    report = _report(folder)
    return "\n" + report.replace("<!-- ehkeys-apply -->\n", "", 1) if report else ""


def _stamped(body: str, root: Root) -> str:
    return root.stamp(f"{ROTATE_MARKER}\n### ehkeys rotate\n\n{body}", ROTATE_MARKER, "ehkeys rotate")


def tell(hub: GitHub, body: str, root: Root, failed: bool) -> str:
    """The result on the root's open drift issue (a comment); with none open, a new issue when
    it failed (else nobody needs to act: the job summary has it)."""
    listed = hub.pages("/issues", state="open", labels=DRIFT_LABEL)
    bots = [i for i in listed if "pull_request" not in i and by_bot(i)]
    issues = root.mine(bots, lambda i: str(i.get("body") or ""))
    body = clip(body, LIMIT, "")
    gone = ""
    if issues:
        number = pick(issues[0], "GET /issues", "number", kind=int)
        try:
            hub.call("POST", f"/issues/{number}/comments", json={"body": body})
            return f"commented on #{number}"
        except NotFound:  # deleted (410) since it was listed: as if none were open
            gone = f"#{number} deleted since it was listed, "
    if not failed:
        return f"none open ({gone}nothing failed)"
    created = hub.call(
        "POST", "/issues", json={"title": drift_title(root), "body": body, "labels": [DRIFT_LABEL]}
    )
    number = pick(created, "POST /issues", "number", kind=int)
    print(f"ehkeys: the rotation did not finish: see #{number}", file=sys.stderr)
    return f"opened #{number}"
