"""The parsed command line of `ehkeys github JOB` turned into the job's settings: once, here
(the engine's, which a job holds, from `settings`). Apart from those so that no other command
imports the jobs' settings at start-up."""

from __future__ import annotations

import argparse
from pathlib import Path

from reconciler.cli.settings import limits, workspace
from reconciler.core.errors import UsageError
from reconciler.engine.settings import Rotate
from reconciler.gitops.settings import ApplyJob, CommentJob, DeliverJob, DriftJob, Job, RotateJob
from reconciler.gitops.trust import Trust


def job(args: argparse.Namespace) -> Job:
    when = tuple(getattr(args, "when_modified", ()))
    apart = bool(getattr(args, "rules_apart", False))
    return Job(workspace(args), args.state_branch, Path(args.dir), when, apart)


def comment_job(args: argparse.Namespace) -> CommentJob:
    return CommentJob(tuple(args.manifests), Path(args.dir), args.pr, args.plan_author, args.artifact_url)


def apply_job(args: argparse.Namespace) -> ApplyJob:
    trust = Trust(args.plan_author, args.plan_workflow, bool(args.rules_apart))
    return ApplyJob(job(args), trust, args.max_debit, args.allow_mass_delete, args.fresh, args.lock_timeout)


def drift_job(args: argparse.Namespace) -> DriftJob:
    return DriftJob(job(args), limits(args), args.unused_days)


def deliver_job(args: argparse.Namespace) -> DeliverJob:
    return DeliverJob(job(args), tuple(args.target), args.lock_timeout)  # --target: the keys


def rotate_job(args: argparse.Namespace) -> RotateJob:
    return RotateJob(job(args), args.max_debit, args.lock_timeout, rotation(args))


def rotation(args: argparse.Namespace) -> Rotate:
    """The schedule's rotations, or with --now the --target keys' rotated now."""
    if args.overlap is not None and not args.now:
        raise UsageError(
            "github rotate --overlap: only with --now "
            "(a scheduled rotation's overlap is its key's rotate.overlap)"
        )
    if args.now and not args.target:
        raise UsageError(
            "github rotate --now: name the keys to rotate with --target (an address, id or name; repeatable)"
        )
    return Rotate(now=args.now, overlap=args.overlap, only=True)
