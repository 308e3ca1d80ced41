"""`ehkeys github plan|comment|apply|drift`: the GitOps jobs, as the composite action runs them.

Each job is for one manifest root (`roots`): its comments, artifact, state and drift issue are
its own, so several roots in one repository never collide.

- plan (pull request): pull the state, plan, save `plan.json` and `plan.md`; the action then
  uploads the plan as the root's artifact, and `comment` posts it with its digest. A plan
  rules-apart refuses is saved beside `refused.txt` (in the artifact too), and its comment
  marks it refused: apply never applies it. What the plan was made for (the PR, its base,
  its head, the verdict) goes in the artifact as `made-for.json` (`madefor`). A root the
  PR does not touch is not planned (`skipped.md` says why, and `comment` tells an earlier
  plan comment of that root so; it posts none otherwise).
- apply (push to the default branch): find every PR the push merged (`pushed`) and the one
  that touches the root (`batch`), and apply exactly its reviewed plan (only a comment by
  `--plan-author`, naming a run of `--plan-workflow` for the PR's head commit: `trust`); with
  none, several, or a manifest changed since, apply nothing and post a fresh plan. By hand
  (`--fresh`, workflow_dispatch) it applies a fresh plan under the same guards. The result
  goes on the PR (each one the refusal concerns) and in the job summary; the state goes back
  to its branch either way. A root the push did not touch has nothing to apply: said, exit 0
  (each PR whose change to it the same push undid is told why its plan was not applied).
- drift (schedule): pull the state, report, and open, edit or close the drift issue. The
  issue and the job summary end with the usage view (where the credit goes). The issue's
  findings are edited only when their digest changes, and usage is not in it: numbers that
  move every day would change the issue every day. So the issue's usage is as of its findings'
  last change (it says when); the job summary's is the day's. Its "Last checked" line (the
  run's time and link) is edited on each run, alone while the findings stay (`issues`). With
  accounts, one that cannot be read (its key refused) is an error beside the others' report:
  the issue shows both, and is not closed until every account is checked.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import sys
from dataclasses import dataclass
from pathlib import Path

from reconciler.core.errors import EhkeysError, StalePlan, UsageError
from reconciler.core.exitcodes import ExitCode
from reconciler.engine import apply as engine_apply
from reconciler.engine import drift as engine_drift
from reconciler.engine import plan as engine_plan
from reconciler.engine.settings import ApplySettings, DriftSettings, Guards, PlanSettings, Workspace, credits
from reconciler.gitops import baserules, madefor, outdir
from reconciler.gitops.batch import Verdict, judge
from reconciler.gitops.comments import own_comments
from reconciler.gitops.context import RunContext, set_output
from reconciler.gitops.hub import GitHub
from reconciler.gitops.issues import checked, sync_drift_issue, upsert_comment
from reconciler.gitops.jobstate import on_branch
from reconciler.gitops.madefor import MADE_FOR
from reconciler.gitops.otherstates import with_branch_states
from reconciler.gitops.reviewed_plan import (
    PLAN_FILE,
    REFUSED,
    Artifact,
    NoReviewedPlan,
    PlanMeta,
    comment_body,
    digest,
    fetch,
)
from reconciler.gitops.roots import PullFiles, Root, untouched
from reconciler.gitops.settings import ApplyJob, CommentJob, DriftJob, Job
from reconciler.gitops.state_branch import unheld_note
from reconciler.render import drifts as driftrender
from reconciler.render import plan as render
from reconciler.render import plans as planrender
from reconciler.render import usage_md as usagerender
from reconciler.render.console import Log
from reconciler.render.summary import step_summary
from reconciler.state.paths import JOURNAL_FILE, SEEN_FILE, STATE_FILE

PLAN_MD = "plan.md"
SKIPPED = "skipped.md"  # the plan job's word that the PR leaves its root alone
REVIEWED = "reviewed-plan.json"
APPLY_MARKER = "<!-- ehkeys-apply -->"
INTERRUPTED = "interrupted: the job was cancelled"


def plan_job(job: Job) -> ExitCode:
    with outdir.for_the_run(job.out_dir):  # a plan that failed leaves no empty folder
        return _plan_job(job)


def _plan_job(job: Job) -> ExitCode:
    ctx, hub, out = RunContext.from_env(), GitHub.from_env(), job.out_dir
    if not job.workspace.connection.sandbox:  # the sandbox needs no secret: a fork is planned
        ctx.refuse_fork()
    root = Root.of(job.workspace.manifests, ctx.workspace)
    set_output("artifact", root.artifact)  # the name the action uploads the plan under
    for name in (PLAN_FILE, PLAN_MD, SKIPPED, REFUSED, MADE_FOR):
        (out / name).unlink(missing_ok=True)  # a failed plan leaves no earlier one to comment
    files = PullFiles.of(hub, ctx.pr_number) if ctx.pr_number else None
    why = untouched(hub, root, ctx.pr_number, job.when_modified, files) if ctx.pr_number else None
    if why:
        return _not_planned(out, root, why)
    # the other roots' states, whose keys a prune spares, are those on the state branch
    workspace = with_branch_states(ctx.runs(job.workspace), hub, ctx.workspace, job.state_branch)
    with on_branch(job, ctx, hub, push=()) as checkout:
        planned = engine_plan.make(PlanSettings(checkout.over(workspace)), Log(job.workspace.manifests))
    plans, title = planned.plans, root.heading("ehkeys plan")
    manifests = job.workspace.manifests
    review = baserules.review(hub, ctx, manifests, planned.manifest, plans, job.rules_apart, files)
    baserules.tell(review)
    if review and review.fails:  # checked here only: written before the plan, it is never applied
        (out / REFUSED).write_text(review.apart or "rules-apart", encoding="utf-8")
    madefor.keep(out, ctx, review, job.rules_apart)  # what it was made for, in the artifact
    engine_plan.save(planned, str(out / PLAN_FILE))  # the rules' review is no part of the plan
    with open(out / PLAN_MD, "w", encoding="utf-8") as md:
        planrender.markdown(plans, md, title, review=review)
    step_summary(lambda s: planrender.markdown(plans, s, title, review=review))
    planrender.text(plans, sys.stdout)
    code = planned.exit_code()
    return ExitCode.POLICY if review and review.fails and code is ExitCode.OK else code


def _not_planned(out: Path, root: Root, why: str) -> ExitCode:
    (out / SKIPPED).write_text(why, encoding="utf-8")
    note = f"### {root.heading('ehkeys plan')}: not planned\n\n{render.escape(why, ours=True)}.\n"
    step_summary(lambda s: s.write(note))
    print(f"ehkeys: {why}.")
    return ExitCode.OK


def comment_job(job: CommentJob) -> ExitCode:
    ctx, hub, folder = RunContext.from_env(), GitHub.from_env(), job.out_dir
    ctx.refuse_fork()
    root = Root.of(job.manifests, ctx.workspace) if job.manifests else Root()
    number = job.pr or ctx.pr_number
    if number is None:
        raise UsageError("--pr N: this run is not for a pull request")
    if (folder / SKIPPED).is_file():
        why = (folder / SKIPPED).read_text(encoding="utf-8")
        print(f"plan comment {_retire(hub, number, root, job.author, why)}")
        return ExitCode.OK
    try:
        saved, markdown = (folder / PLAN_FILE).read_bytes(), (folder / PLAN_MD).read_text(encoding="utf-8")
    except OSError:
        body = f"ehkeys could not plan commit `{ctx.head_sha[:12]}`: see [the run]({ctx.run_url})."
        print(f"plan comment {upsert_comment(hub, number, body, render.MARKER, job.author, root)} (no plan)")
        return ExitCode.ERROR
    meta = PlanMeta(ctx.run_id, ctx.head_sha, digest(saved), root.artifact, _refusal(folder))
    kept = Artifact.of(job.artifact_url or "", ctx.retention, _today())
    body = comment_body(markdown, meta, ctx.run_url, kept, root)
    posted = upsert_comment(hub, number, body, render.MARKER, job.author, root)
    print(f"plan comment {posted} ({meta.digest})")
    return ExitCode.OK


def _refusal(folder: Path) -> str:
    """Why the plan job's own check (rules-apart) refused the plan ("": it did not)."""
    try:
        return (folder / REFUSED).read_text(encoding="utf-8").strip() or REFUSED
    except FileNotFoundError:
        return ""
    except (OSError, ValueError):  # there, but unreadable: refused all the same
        return REFUSED


def _retire(hub: GitHub, number: int, root: Root, author: str, why: str) -> str:
    """A root the PR leaves alone: a plan comment an earlier push left is told so (it names no
    plan any more, so none is applied); none is posted when there is none."""
    if own_comments(hub, number, render.MARKER, author, root).current is None:
        return "none: not planned"
    body = f"### {root.heading('ehkeys plan')}: not planned\n\n{render.escape(why, ours=True)}.\n"
    return f"{upsert_comment(hub, number, body, render.MARKER, author, root)}: not planned"


def apply_job(job: ApplyJob) -> ExitCode:
    with outdir.for_the_run(job.job.out_dir):  # nothing to apply leaves no empty folder
        return _apply_job(job)


def _apply_job(job: ApplyJob) -> ExitCode:
    ctx, hub, folder = RunContext.from_env(), GitHub.from_env(), job.job.out_dir
    root = Root.of(job.job.workspace.manifests, ctx.workspace)
    (folder / "apply.md").unlink(missing_ok=True)  # another root's, or a kept workspace's: never posted
    verdict = Verdict() if job.fresh else judge(hub, ctx, root, job.job.when_modified)
    _tell(root, verdict)
    if verdict.nothing:
        for number, why in verdict.undone:  # a PR whose change the push undid: told why none applied
            said = f"**Nothing was applied.** {render.escape(why, ours=True)}.\n"
            _on_pull(hub, (number,), job.trust.author, f"{APPLY_MARKER}\n### ehkeys apply\n\n{said}", root)
        return ExitCode.OK
    workspace = with_branch_states(ctx.runs(job.job.workspace), hub, ctx.workspace, job.job.state_branch)
    told = _Told(hub, verdict.told, job.trust.author, root, folder)
    try:
        with on_branch(job.job, ctx, hub, push=(STATE_FILE, JOURNAL_FILE)) as checkout:
            workspace = checkout.over(workspace)
            if job.fresh:
                return _apply(job, workspace, reviewed=None)
            return _merged(job, workspace, verdict, told)
    except KeyboardInterrupt:
        if told.interrupted:  # said once the state is pushed: the push comes first
            told.stopped(INTERRUPTED)
        raise


def _tell(root: Root, verdict: Verdict) -> None:
    """Why there is nothing to apply, or what came of each PR of a push that merged several (both
    when the push undid a PR's change): in the log and the job summary."""
    said = ""
    if verdict.nothing:
        said = f"{render.escape(verdict.nothing, ours=True)}.\n\n"
        print(f"ehkeys: {verdict.nothing}.")
    if verdict.note and (verdict.undone or not verdict.nothing):
        lines = "".join(f"- {render.escape(line, ours=True)}\n" for line in verdict.note)
        said += f"The pull requests this push merged, in merge order:\n\n{lines}\n"
        print("ehkeys: this push merged, in merge order: " + "; ".join(verdict.note))
    if not said:
        return
    step_summary(lambda s: s.write(f"### {root.heading('ehkeys apply')}\n\n{said}"))


def _merged(job: ApplyJob, workspace: Workspace, verdict: Verdict, told: _Told) -> ExitCode:
    """The merged PR's reviewed plan applied, its result on the PR (`told`); a refusal on each
    PR the verdict names."""
    try:
        if verdict.pull is None:
            raise NoReviewedPlan(verdict.refusal)
        code = _apply(
            job, workspace, fetch(told.hub, verdict.pull, told.folder / REVIEWED, job.trust, told.root).meta
        )
    except (NoReviewedPlan, StalePlan) as exc:
        try:
            _post_fresh_plan(job, workspace, told.hub, told.numbers, str(exc), told.root)
        except EhkeysError as also:  # the refusal is what the job must say first
            print(f"ehkeys: warning: the fresh plan could not be posted: {also}", file=sys.stderr)
        raise
    except EhkeysError as exc:
        told.stopped(str(exc))
        raise
    except KeyboardInterrupt:
        told.interrupted = True
        raise
    told.report()
    return code


@dataclass
class _Told:
    """Where the apply job says what the apply did: the PRs `numbers` (none: no PR)."""

    hub: GitHub
    numbers: tuple[int, ...]
    author: str
    root: Root
    folder: Path
    interrupted: bool = False  # the apply was: the PR is told once the state is pushed

    def report(self) -> None:
        _on_pull(self.hub, self.numbers, self.author, _report(self.folder), self.root)

    def stopped(self, why: str) -> None:
        """Why the apply stopped, then its report of what it did before (when it wrote one: it
        began sending); a comment that cannot be posted is a warning, never the job's error."""
        stopped = f"{APPLY_MARKER}\n**ehkeys apply stopped.** {render.escape(why, ours=True)}\n"
        with contextlib.suppress(OSError, ValueError):  # none (nothing sent), or unreadable
            done = (self.folder / "apply.md").read_text(encoding="utf-8")
            stopped += "\n" + done.replace(f"{APPLY_MARKER}\n", "", 1)
        try:
            _on_pull(self.hub, self.numbers, self.author, stopped, self.root)
        except EhkeysError as also:  # why the apply stopped is what the job must say
            print(f"ehkeys: warning: the pull request could not be told: {also}", file=sys.stderr)


def _report(folder: Path) -> str:
    try:
        return (folder / "apply.md").read_text(encoding="utf-8")
    except FileNotFoundError:  # apply writes no report when it had nothing to send
        return f"{APPLY_MARKER}\n### ehkeys apply\n\nNothing to apply: the reviewed plan changes no key.\n"


def _on_pull(hub: GitHub, numbers: tuple[int, ...], author: str, body: str, root: Root) -> None:
    body = root.stamp(body, APPLY_MARKER, "ehkeys apply")
    for number in numbers:
        upsert_comment(hub, number, body, APPLY_MARKER, author, root)


def _apply(job: ApplyJob, workspace: Workspace, reviewed: PlanMeta | None) -> ExitCode:
    """The engine's apply of the reviewed plan (a fresh one without), approved by the merge;
    its report in apply.md for the pull request."""
    folder = job.job.out_dir
    (folder / "apply.md").unlink(missing_ok=True)  # never post an earlier run's report
    settings = ApplySettings(
        workspace,
        Guards(credits(job.max_debit, "--max-debit"), allow_mass_delete=job.allow_mass_delete),
        saved_plan=str(folder / REVIEWED) if reviewed else None,
        expect_digest=reviewed.digest if reviewed else None,
        report_out=str(folder / "apply.md"),
        lock_timeout=job.lock_timeout,
    )
    return engine_apply.run(settings, Log(job.job.workspace.manifests)).exit_code


def _post_fresh_plan(
    job: ApplyJob, workspace: Workspace, hub: GitHub, numbers: tuple[int, ...], why: str, root: Root
) -> None:
    """What applying now would do, where the reviewers look: the PR and the job summary."""
    plans = engine_plan.make(PlanSettings(workspace), Log(workspace.manifests)).plans
    text, of = io.StringIO(), f"`{root.name}`" if root.name else "the merged manifest"
    planrender.markdown(plans, text, f"ehkeys: fresh plan of {of} (not applied)")
    body = f"{APPLY_MARKER}\n**Nothing was applied.** {render.escape(why, ours=True)}\n\n{text.getvalue()}"
    step_summary(lambda s: s.write(body))
    _on_pull(hub, numbers, job.trust.author, body, root)


def drift_job(job: DriftJob) -> ExitCode:
    ctx, hub = RunContext.from_env(), GitHub.from_env()
    root = Root.of(job.job.workspace.manifests, ctx.workspace)
    workspace = with_branch_states(job.job.workspace, hub, ctx.workspace, job.job.state_branch)
    with on_branch(job.job, ctx, hub, push=(SEEN_FILE,), told=True) as checkout:  # seen once said
        settings = DriftSettings(checkout.over(workspace), job.limits, job.unused_days)
        drifted = engine_drift.examine(settings, Log(job.job.workspace.manifests))
        note = unheld_note(job.job.state_branch, checkout.names)
        return _drift_said(hub, root, drifted, note, ctx.run_url)


def _drift_said(hub: GitHub, root: Root, drifted: engine_drift.Drifted, note: str, run_url: str) -> ExitCode:
    """The drift found, in the log, the job summary and the drift issue (`note` after the findings,
    when and by which run it was checked after their heading)."""
    driftrender.text(drifted.reports, sys.stdout)
    text = io.StringIO()
    driftrender.markdown(drifted.reports, text)
    text.write("\n" + note)
    usagerender.markdown(drifted.usage, text)  # after the findings: never in their digest
    said = checked(text.getvalue(), datetime.datetime.now(datetime.timezone.utc), run_url)
    body = root.stamp(said, render.DRIFT_MARKER, "ehkeys drift")
    step_summary(lambda s: s.write(body))
    if drifted.has_errors and all(d.has_errors for d in drifted.each):
        return ExitCode.ERROR  # the check itself failed: the issue says nothing it cannot stand behind
    # Some accounts checked, some not (a key refused): their drift is reported, the others'
    # errors beside it; an open issue is never closed on what could not be checked.
    said = sync_drift_issue(hub, body, drifted.drifted, root, close=not drifted.has_errors)
    print(f"drift issue: {said}")
    return ExitCode.ERROR if drifted.has_errors else ExitCode.OK


def _today() -> datetime.date:
    return datetime.datetime.now(datetime.timezone.utc).date()
