"""What each GitOps job is asked to do, as its options say (built by `cli/`; the run itself,
its event and commit, is the job's `RunContext`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reconciler.core.usage import UNUSED_DAYS
from reconciler.engine.settings import HealthLimits, Rotate, Workspace
from reconciler.gitops.trust import PLAN_AUTHOR, Trust

STATE_BRANCH = "ehkeys-state"
OUT_DIR = Path("ehkeys-out")
SCHEDULED = Rotate(only=True)  # the rotate job's own: what is due, and nothing else


@dataclass(frozen=True)
class Job:
    """A job that reads the account: its workspace, where its state is kept, where its files go."""

    workspace: Workspace
    state_branch: str = STATE_BRANCH
    out_dir: Path = OUT_DIR  # plan.json, plan.md and apply.md
    when_modified: tuple[str, ...] = ()  # more paths (globs) that make a PR touch the root
    rules_apart: bool = False  # plan: a PR that changes the rules and a key fails its check


@dataclass(frozen=True)
class CommentJob:
    manifests: tuple[str, ...] = ()  # the root whose comment it is (none: an unnamed root)
    out_dir: Path = OUT_DIR
    pr: int | None = None  # None: the event's pull request
    author: str = PLAN_AUTHOR  # the identity the jobs write with: only its comments are edited
    artifact_url: str | None = None  # where the full plan is, linked when the comment cuts it


@dataclass(frozen=True)
class ApplyJob:
    job: Job
    trust: Trust = field(default_factory=Trust)
    max_debit: str | None = None  # as given: a bad amount is a refusal the pull request is told of
    allow_mass_delete: bool = False
    fresh: bool = False  # apply a fresh plan (run by hand), not the reviewed one
    lock_timeout: float = 0.0


@dataclass(frozen=True)
class DriftJob:
    job: Job
    limits: HealthLimits = field(default_factory=HealthLimits)
    unused_days: int = UNUSED_DAYS  # the usage view beside the drift report


@dataclass(frozen=True)
class DeliverJob:
    """By hand: the root's keys' current values to their sinks again (`ehkeys deliver`)."""

    job: Job
    ids: tuple[str, ...] = ()  # the keys to deliver (an address, id or name each); () every key with sinks
    lock_timeout: float = 0.0


@dataclass(frozen=True)
class RotateJob:
    """The scheduled rotation: due rotations and retirements only, under apply's guards; by hand
    (`rotate.now`), the workspace's targets rotated now."""

    job: Job
    max_debit: str | None = None  # as given: a bad amount is a refusal the drift issue is told of
    lock_timeout: float = 0.0
    rotate: Rotate = SCHEDULED
