"""What each engine job is asked to do: frozen values, built once by each caller (`cli/` from its
options, `gitops/` from the run and its job's options). Nothing here reads the environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from reconciler.core.durations import Duration
from reconciler.core.errors import UsageError
from reconciler.core.money import CENT
from reconciler.core.usage import UNUSED_DAYS
from reconciler.planning.pruning import OtherStates

TIMEOUT = 20.0  # seconds per attempt, as RetryPolicy's: 3 silent attempts stop a run in ~60 s


@dataclass(frozen=True)
class Connection:
    """Where the API is, and how it is asked."""

    base_url: str | None = None  # None: $ELECTRONHUB_BASE_URL, else the service
    sandbox: bool = False  # the in-process sandbox, its account beside the manifest
    sandbox_reset: bool = False
    sandbox_seed: str | None = None
    parallelism: int = 8
    max_attempts: int = 6
    timeout: float = TIMEOUT


@dataclass(frozen=True)
class Workspace:
    """The manifests of a run, the state that remembers them, and the account they describe."""

    manifests: tuple[str, ...]
    connection: Connection = Connection()
    state: str | None = None  # --state; None: the manifest's own (`statepaths.default_state`)
    targets: tuple[str, ...] = ()  # only these keys (an id or a name each); () every key
    accounts: tuple[str, ...] = ()  # only these of the manifest's accounts (--account); () every one
    # Where the other manifest roots' states are, which a pruning plan never deletes the keys of:
    # None, this checkout's (`engine.owners`); the GitOps jobs give the state branch's.
    others: OtherStates | None = field(default=None, compare=False, repr=False)
    # The states no verified apply stands behind (the GitOps jobs' copies from the checkout, the
    # state branch holding none): a binding of theirs the account contradicts is never taken.
    unverified: frozenset[Path] = frozenset()
    # The sinks run on a runner whose disk is thrown away when its job ends (a GitOps job on
    # GitHub Actions: `RunContext.throwaway_runner`): a `file:` sink's file outlives no job, so
    # the plan, and each delivery made to one, warns of it (`planning.deliverynotes`).
    throwaway_runner: bool = False


@dataclass(frozen=True)
class PlanSettings:
    workspace: Workspace
    out: str | None = None  # where to save the plan for a reviewed apply


@dataclass(frozen=True)
class Guards:
    """What a plan must keep within before anything is sent."""

    max_debit: Decimal | None = None
    expect_net: Decimal | None = None
    allow_mass_delete: bool = False


@dataclass(frozen=True)
class Rotate:
    """What an apply does about rotations besides the schedule (`ehkeys rotate`, the rotate job)."""

    now: bool = False  # rotate the targeted keys now, whatever their schedule (`ehkeys rotate`)
    overlap: Duration | None = None  # --overlap: instead of the manifest's (0: retire in the same run)
    only: bool = False  # apply rotations and retirements only, never another change


@dataclass(frozen=True)
class ApplySettings:
    workspace: Workspace
    guards: Guards = Guards()
    saved_plan: str | None = None  # apply exactly this saved plan
    expect_digest: str | None = None  # the reviewed digest the saved plan must have
    secrets_out: str | None = None  # where created keys' values are appended (0600)
    report_out: str | None = None  # where the Markdown apply report goes
    lock_timeout: float = 0.0  # how long to wait for another apply on the same state
    rotate: Rotate = Rotate()  # rotations asked for now, or only rotations applied


@dataclass(frozen=True)
class HealthLimits:
    """When drift warns about a key's health besides its drift."""

    expiring_within: Decimal = Decimal(14)  # days
    usage_warning: Decimal = Decimal(90)  # percent of the allocation


@dataclass(frozen=True)
class DriftSettings:
    workspace: Workspace
    limits: HealthLimits = HealthLimits()
    unused_days: int = UNUSED_DAYS  # for the usage view beside the report (the drift job's)


@dataclass(frozen=True)
class UsageSettings:
    workspace: Workspace
    unused_days: int = UNUSED_DAYS  # keys idle this many days or more are listed as unused


@dataclass(frozen=True)
class ImportSettings:
    connection: Connection
    key_envs: tuple[str, ...] = ()  # the env vars holding the keys to import
    every_key: bool = False  # every key of the account instead
    out: str | None = None  # where the manifest goes (its state beside it); None: returned only
    account: str | None = None  # --account: the manifest declares it, its keys name it


@dataclass(frozen=True)
class RevealSettings:
    workspace: Workspace
    ids: tuple[str, ...]  # the manifest keys whose values are wanted (an id or a name each)
    out: str | None = None  # append them to this file (0600); None: returned to the caller


@dataclass(frozen=True)
class DeliverSettings:
    workspace: Workspace
    ids: tuple[str, ...] = ()  # the keys whose values to deliver (an address, id or name each); () all
    lock_timeout: float = 0.0  # how long to wait for an apply on the same state


MOST_CREDITS = Decimal(10**12)  # as the manifest's amounts: more than any account holds


def credits(text: str | None, flag: str, *, signed: bool = False) -> Decimal | None:
    """An amount of credits as the user typed it (`flag` names where), or a UsageError;
    negative only when `signed` (a net change)."""
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise UsageError(f"{flag} {text!r}: expected an amount of credits, like 25 or 12.50") from None
    if not value.is_finite():
        raise UsageError(f"{flag} {text!r}: expected a finite amount")
    if value < 0 and not signed:
        raise UsageError(f"{flag} {text!r}: expected an amount of 0 or more")
    if abs(value) > MOST_CREDITS:
        raise UsageError(f"{flag} {text!r}: expected an amount up to {MOST_CREDITS:,}")
    if value != value.quantize(CENT):  # shown to the cent, "195.00 ... over --max-debit 195.00"
        raise UsageError(f"{flag} {text!r}: expected an amount to the cent (credits are counted in cents)")
    return value
