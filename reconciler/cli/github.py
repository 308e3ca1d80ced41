"""`ehkeys github plan|comment|apply|drift|rotate|deliver`: each job's settings from its options, then the job
(`gitops.jobs`, which calls the engine)."""

from __future__ import annotations

import argparse
import signal
from contextlib import AbstractContextManager

from reconciler.cli import jobsettings
from reconciler.cli.stops import first_stops
from reconciler.core.exitcodes import ExitCode
from reconciler.gitops import jobs
from reconciler.gitops.cancel import cancel
from reconciler.gitops.deliver import deliver_job
from reconciler.gitops.rotate import rotate_job


def plan(args: argparse.Namespace) -> ExitCode:
    return jobs.plan_job(jobsettings.job(args))


def comment(args: argparse.Namespace) -> ExitCode:
    return jobs.comment_job(jobsettings.comment_job(args))


def apply(args: argparse.Namespace) -> ExitCode:
    with cancellable():
        return jobs.apply_job(jobsettings.apply_job(args))


def drift(args: argparse.Namespace) -> ExitCode:
    return jobs.drift_job(jobsettings.drift_job(args))


def deliver(args: argparse.Namespace) -> ExitCode:
    with cancellable():
        return deliver_job(jobsettings.deliver_job(args))


def rotate(args: argparse.Namespace) -> ExitCode:
    with cancellable():
        return rotate_job(jobsettings.rotate_job(args))


STOPS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def cancellable() -> AbstractContextManager[None]:
    """A cancelled run (the runner's SIGINT, then SIGTERM 7.5 s later, SIGHUP on some runners)
    is Ctrl-C, once: the job stops where it is and still pushes its state (a key or a successor
    created is then on the branch, never a key CI does not know); the signals after it wait for
    the push, and so does one that comes during the push (`gitops.cancel`). The jobs that change
    keys take it: apply, rotate, deliver."""
    return first_stops(STOPS, cancel)  # cancel: KeyboardInterrupt, once a push under way has ended
