"""`ehkeys github plan|comment|apply|drift|rotate|deliver`: each job's settings from its options, then the job
(`gitops.jobs`, which calls the engine)."""

from __future__ import annotations

import argparse

from reconciler.cli import settings
from reconciler.core.exitcodes import ExitCode
from reconciler.gitops import jobs
from reconciler.gitops.deliver import deliver_job
from reconciler.gitops.rotate import rotate_job


def plan(args: argparse.Namespace) -> ExitCode:
    return jobs.plan_job(settings.job(args))


def comment(args: argparse.Namespace) -> ExitCode:
    return jobs.comment_job(settings.comment_job(args))


def apply(args: argparse.Namespace) -> ExitCode:
    return jobs.apply_job(settings.apply_job(args))


def drift(args: argparse.Namespace) -> ExitCode:
    return jobs.drift_job(settings.drift_job(args))


def deliver(args: argparse.Namespace) -> ExitCode:
    return deliver_job(settings.deliver_job(args))


def rotate(args: argparse.Namespace) -> ExitCode:
    return rotate_job(settings.rotate_job(args))
