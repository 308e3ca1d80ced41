"""`ehkeys github plan|comment|apply|drift`: the GitOps jobs, as the composite action runs them.

- plan (pull request): pull the state, plan, save `plan.json` and `plan.md`; the action then
  uploads the plan as an artifact, and `comment` posts it with its digest.
- apply (push to the default branch): find the merged PR's reviewed plan and apply exactly
  that (only a comment by `--plan-author`, naming a run of `--plan-workflow` for the PR's head
  commit: reconciler/ghtrust.py); with none, or a manifest changed since, apply nothing and
  post a fresh plan. By hand
  (`--fresh`, workflow_dispatch) it applies a fresh plan under the same guards. The result
  goes on the PR and in the job summary; the state goes back to its branch either way.
- drift (schedule): pull the state, report, and open, edit or close the drift issue.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from reconciler.cli import commands
from reconciler.core.errors import EhkeysError, StalePlan, UsageError
from reconciler.gitops.context import RunContext
from reconciler.gitops.hub import GitHub, pick
from reconciler.gitops.issues import sync_drift_issue, upsert_comment
from reconciler.gitops.reviewed_plan import (
    PLAN_FILE,
    NoReviewedPlan,
    PlanMeta,
    comment_body,
    digest,
    fetch,
    merged_pull,
)
from reconciler.gitops.state_branch import StateBranch
from reconciler.gitops.trust import Trust
from reconciler.render import plan as render
from reconciler.state import paths as statepaths
from reconciler.state import saved_plan as planfile
from reconciler.state.store import State

PLAN_MD = "plan.md"
REVIEWED = "reviewed-plan.json"
APPLY_MARKER = "<!-- ehkeys-apply -->"


def _state(args: argparse.Namespace) -> Path:
    return commands.state_path(args, args.sandbox)


def _legacy(args: argparse.Namespace) -> Path | None:
    """Where earlier versions kept the state on the branch, pulled when the new place is empty
    (the run then moves it, `statemigrate`); none with --state."""
    return None if args.state else statepaths.legacy_state(args.manifests, args.sandbox)


@contextlib.contextmanager
def _branch(args: argparse.Namespace, ctx: RunContext, hub: GitHub, push: tuple[str, ...]) -> Iterator[None]:
    """The state pulled from its branch before the body, and what changed pushed after it,
    also when the body fails (a partial apply recorded bindings); a push error never hides
    the body's own error."""
    branch, state = StateBranch(hub, ctx.workspace, args.state_branch), _state(args)
    legacy = _legacy(args)
    pulled = branch.pull(state) or (branch.pull(legacy) if legacy else [])
    print(f"state: {', '.join(pulled) or 'nothing yet'} from branch {branch.branch}", file=sys.stderr)
    failed = False
    try:
        yield
    except BaseException:
        failed = True
        raise
    finally:
        try:
            if "journal.jsonl" in push and (state.parent / "journal.jsonl").exists():
                State(state).compact()  # the journal folded in: what the branch keeps stays small
            written = branch.push(state, push, ctx.run_id) if push else []
            print(f"state: {', '.join(written) or 'nothing new'} to branch {branch.branch}", file=sys.stderr)
        except EhkeysError as exc:
            if not failed:
                raise
            print(f"ehkeys: error: {exc}", file=sys.stderr)


def plan_job(args: argparse.Namespace) -> int:
    ctx, hub, out = RunContext.from_env(), GitHub.from_env(), Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in (PLAN_FILE, PLAN_MD):
        (out / name).unlink(missing_ok=True)  # a failed plan leaves no earlier one to comment
    with _branch(args, ctx, hub, push=()):
        plan, loaded = asyncio.run(commands.make_plan(args))
    planfile.save(plan, str(out / PLAN_FILE), loaded.digest)
    with open(out / PLAN_MD, "w", encoding="utf-8") as md:
        render.markdown(plan, md, "ehkeys plan")
    commands.step_summary(lambda s: render.markdown(plan, s, "ehkeys plan"))
    render.text(plan, sys.stdout)
    return 1 if plan.has_errors else 0


def comment_job(args: argparse.Namespace) -> int:
    ctx, hub, folder = RunContext.from_env(), GitHub.from_env(), Path(args.dir)
    number = args.pr or ctx.pr_number
    if number is None:
        raise UsageError("--pr N: this run is not for a pull request")
    try:
        saved, markdown = (folder / PLAN_FILE).read_bytes(), (folder / PLAN_MD).read_text(encoding="utf-8")
    except OSError:
        body = f"ehkeys could not plan commit `{ctx.head_sha[:12]}`: see [the run]({ctx.run_url})."
        print(f"plan comment {upsert_comment(hub, number, body, render.MARKER, args.plan_author)} (no plan)")
        return 1
    meta = PlanMeta(ctx.run_id, ctx.head_sha, digest(saved))
    body = comment_body(markdown, meta, ctx.run_url, args.artifact_url or "")
    print(
        f"plan comment {upsert_comment(hub, number, body, render.MARKER, args.plan_author)} ({meta.digest})"
    )
    return 0


def apply_job(args: argparse.Namespace) -> int:
    ctx, hub, folder = RunContext.from_env(), GitHub.from_env(), Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    with _branch(args, ctx, hub, push=("state.json", "journal.jsonl")):
        if args.fresh:
            return _apply(args, folder, reviewed=None)
        pull = merged_pull(hub, ctx.sha)
        number = pick(pull, "GET /commits/SHA/pulls", "number", kind=int) if pull else None
        trust = Trust(args.plan_author, args.plan_workflow)
        try:
            code = _apply(args, folder, _reviewed(hub, pull, ctx, folder, trust))
        except (NoReviewedPlan, StalePlan) as exc:
            try:
                _post_fresh_plan(args, hub, number, str(exc))
            except EhkeysError as also:  # the refusal is what the job must say first
                print(f"ehkeys: warning: the fresh plan could not be posted: {also}", file=sys.stderr)
            raise
        except EhkeysError as exc:
            _on_pull(
                hub,
                number,
                args.plan_author,
                f"{APPLY_MARKER}\n**ehkeys apply stopped.** {render.escape(str(exc))}\n",
            )
            raise
        _on_pull(hub, number, args.plan_author, _report(folder))
        return code


def _report(folder: Path) -> str:
    try:
        return (folder / "apply.md").read_text(encoding="utf-8")
    except FileNotFoundError:  # apply writes no report when it had nothing to send
        return f"{APPLY_MARKER}\n### ehkeys apply\n\nNothing to apply: the reviewed plan changes no key.\n"


def _reviewed(
    hub: GitHub, pull: dict[str, Any] | None, ctx: RunContext, folder: Path, trust: Trust
) -> PlanMeta:
    if pull is None:
        raise NoReviewedPlan(
            f"commit {ctx.sha[:12]} was not merged from a pull request, so no plan of it was "
            "reviewed: plan again (run this workflow by hand to apply a fresh plan); nothing was sent"
        )
    return fetch(hub, pull, folder / REVIEWED, trust).meta


def _on_pull(hub: GitHub, number: int | None, author: str, body: str) -> None:
    if number is not None:
        upsert_comment(hub, number, body, APPLY_MARKER, author)


def _apply(args: argparse.Namespace, folder: Path, reviewed: PlanMeta | None) -> int:
    (folder / "apply.md").unlink(missing_ok=True)  # never post an earlier run's report
    apply_args = argparse.Namespace(
        **{
            **vars(args),
            "plan": str(folder / REVIEWED) if reviewed else None,
            "expect_digest": reviewed.digest if reviewed else None,
            "auto_approve": True,
            "expect_net": None,
            "secrets_out": None,
            "report_out": str(folder / "apply.md"),
        }
    )
    return commands.apply_command(apply_args)


def _post_fresh_plan(args: argparse.Namespace, hub: GitHub, number: int | None, why: str) -> None:
    """What applying now would do, where the reviewers look: the PR and the job summary."""
    plan, _ = asyncio.run(commands.make_plan(args))
    text = io.StringIO()
    render.markdown(plan, text, "ehkeys: fresh plan of the merged manifest (not applied)")
    body = f"{APPLY_MARKER}\n**Nothing was applied.** {render.escape(why)}\n\n{text.getvalue()}"
    commands.step_summary(lambda s: s.write(body))
    _on_pull(hub, number, args.plan_author, body)


def drift_job(args: argparse.Namespace) -> int:
    from reconciler.cli.drift import examine
    from reconciler.render.drift import markdown, text

    ctx, hub = RunContext.from_env(), GitHub.from_env()
    with _branch(args, ctx, hub, push=("drift-seen.json",)):
        found, has_errors = asyncio.run(examine(args))
    text(found, sys.stdout)
    body = io.StringIO()
    markdown(found, body)
    commands.step_summary(lambda s: s.write(body.getvalue()))
    if has_errors:
        return 1  # the check itself failed: the issue says nothing it cannot stand behind
    print(f"drift issue: {sync_drift_issue(hub, body.getvalue(), drifted=found.drifted)}")
    return 0
