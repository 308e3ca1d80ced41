"""The options of `ehkeys github plan|comment|apply|drift|rotate|deliver`: the action's jobs."""

from __future__ import annotations

import argparse

from reconciler.cli import commands
from reconciler.cli import optiontypes as types
from reconciler.cli.optiongroups import (
    MAX_DEBIT,
    ROOT,
    Handler,
    Sub,
    api_options,
    command,
    health_options,
    lock_option,
    plan_author_option,
    unused_days_option,
)
from reconciler.gitops.settings import OUT_DIR, STATE_BRANCH
from reconciler.gitops.trust import PLAN_WORKFLOW


def add(github: argparse.ArgumentParser) -> None:
    """The jobs, under `github`'s own parser."""
    jobs = github.add_subparsers(dest="job", required=True, metavar="JOB")
    plan = "pull request: plan, and save plan.json and plan.md for the artifact and comment"
    _rules_apart(_when_modified(_api(_job(jobs, "plan", plan, commands.github_plan))))
    comment = "pull request: post or update the plan comment, with the plan's digest"
    _comment(_job(jobs, "comment", comment, commands.github_comment))
    apply = "merged: apply the reviewed plan, comment the result on the PR"
    _when_modified(_apply(_api(_job(jobs, "apply", apply, commands.github_apply))))
    rotate = (
        "schedule: apply due rotations and retirements only; by hand, --now: rotate the --target keys "
        "now; the result to the drift issue"
    )
    rotates = _api(_job(jobs, "rotate", rotate, commands.github_rotate))
    rotates.add_argument("--max-debit", type=types.text, metavar="AMOUNT", help=MAX_DEBIT)
    _rotate_now(rotates)
    lock_option(rotates)
    deliver = "by hand: deliver keys' current values to their sinks again; the result to the job summary"
    lock_option(_api(_job(jobs, "deliver", deliver, commands.github_deliver)))  # --target: which keys
    drift = "schedule: report drift; open, edit or close the drift issue"
    drifts = _api(_job(jobs, "drift", drift, commands.github_drift))
    health_options(drifts)
    unused_days_option(drifts)


def _job(jobs: Sub, name: str, help: str, handler: Handler) -> argparse.ArgumentParser:
    return command(jobs, name, help, handler, full=f"github {name}")


def _api(j: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """A job that reads the account: the API's options and where its state is kept."""
    api_options(j, formats=None, manifests=ROOT)
    j.add_argument(
        "--state-branch",
        default=STATE_BRANCH,
        type=types.text,
        metavar="BRANCH",
        help="where the state is kept",
    )
    _dir(j)
    return j


def _dir(j: argparse.ArgumentParser) -> None:
    j.add_argument(
        "--dir",
        default=str(OUT_DIR),
        **types.file("DIR", dash=types.FOLDER),
        help="where plan.json, plan.md and apply.md go (removed if the job made it and wrote nothing)",
    )


def _rotate_now(j: argparse.ArgumentParser) -> None:
    """An emergency rotation run in Actions, so that the state it records is the branch's."""
    j.add_argument(
        "--now",
        action="store_true",
        help="rotate the --target keys now, whatever their schedule, and nothing else (a leaked key; "
        "default: only what is due)",
    )
    j.add_argument(
        "--overlap",
        type=types.overlap,
        metavar="DURATION",
        help="with --now: how long each old key stays after its successor is created (7d, 12h; 0: "
        "deleted in this run once the successor is delivered; default: the key's rotate.overlap, else 0)",
    )


def _rules_apart(j: argparse.ArgumentParser) -> None:
    j.add_argument(
        "--rules-apart",
        action="store_true",
        help="fail the plan (exit 4, the comment still posted) when the PR changes the rules (a "
        "policy, a budget, an exception: against its base commit's) and any key too: rules go in a "
        "PR of their own. Such a plan is marked refused (refused.txt, the comment): apply never "
        "applies it, even if the PR is merged",
    )


def _when_modified(j: argparse.ArgumentParser) -> argparse.ArgumentParser:
    j.add_argument(
        "--when-modified",
        action="append",
        default=[],
        type=types.text,
        metavar="PATTERN",
        help="a path (a workflow `paths:` pattern) whose change in the PR also makes it touch this "
        "manifest root (repeatable; default: only the root's own files); a PR that touches the "
        "root neither way is not planned, and its merge applies nothing",
    )
    return j


def _comment(c: argparse.ArgumentParser) -> None:
    c.add_argument(
        "manifests",
        nargs="*",
        metavar="MANIFEST_OR_DIR",
        help="the manifest root whose plan it is, as `github plan` was given it (default: none, one root)",
    )
    _dir(c)
    c.add_argument("--pr", type=types.positive, help="the pull request (default: the event's)")
    plan_author_option(c)
    c.add_argument(
        "--artifact-url",
        type=types.text,
        metavar="URL",
        help="where the full plan is, linked when it is cut (default: none)",
    )


def _apply(a: argparse.ArgumentParser) -> argparse.ArgumentParser:
    a.add_argument("--max-debit", type=types.text, metavar="AMOUNT", help=MAX_DEBIT)
    a.add_argument(
        "--allow-mass-delete",
        action="store_true",
        help="allow deleting over 30%% of the keys (accounts of over 5)",
    )
    a.add_argument(
        "--fresh", action="store_true", help="apply a fresh plan (run by hand), not a reviewed one"
    )
    lock_option(a)
    plan_author_option(a)
    a.add_argument(
        "--rules-apart",
        action="store_true",
        help="apply only a plan whose run says it passed rules-apart (made-for.json in its artifact): "
        "one made without it, or by an ehkeys that did not say, is refused (default: a plan refused "
        "by rules-apart is refused, one that does not say is applied)",
    )
    a.add_argument(
        "--plan-workflow",
        default=PLAN_WORKFLOW,
        type=types.text,
        metavar="PATH",
        help=f"trust only artifacts of this workflow's pull-request runs (default {PLAN_WORKFLOW})",
    )
    return a
