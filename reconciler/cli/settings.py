"""The parsed command line turned into the engine's settings: once, here (the GitOps jobs'
in `jobsettings`); past these two modules nothing reads an `argparse.Namespace`."""

from __future__ import annotations

import argparse

from reconciler.engine.settings import (
    ApplySettings,
    Connection,
    DeliverSettings,
    DriftSettings,
    Guards,
    HealthLimits,
    ImportSettings,
    PlanSettings,
    RevealSettings,
    UsageSettings,
    Workspace,
    credits,
)


def connection(args: argparse.Namespace) -> Connection:
    return Connection(
        base_url=args.base_url,
        sandbox=args.sandbox,
        sandbox_reset=args.sandbox_reset,
        sandbox_seed=args.sandbox_seed,
        parallelism=args.parallelism,
        max_attempts=args.max_attempts,
        timeout=args.timeout,
    )


def workspace(args: argparse.Namespace) -> Workspace:
    return Workspace(
        tuple(args.manifests), connection(args), args.state, tuple(args.target), tuple(args.account)
    )


def plan(args: argparse.Namespace) -> PlanSettings:
    return PlanSettings(workspace(args), args.out)


def apply(args: argparse.Namespace) -> ApplySettings:
    """A mistyped amount fails here, before anything is read or sent."""
    guards = Guards(
        credits(args.max_debit, "--max-debit"),
        credits(args.expect_net, "--expect-net", signed=True),
        args.allow_mass_delete,
    )
    return ApplySettings(
        workspace(args),
        guards,
        saved_plan=args.plan,
        expect_digest=args.expect_digest,
        secrets_out=args.secrets_out,
        report_out=args.report_out,
        lock_timeout=args.lock_timeout,
    )


def rotate(args: argparse.Namespace) -> ApplySettings:
    """`ehkeys rotate`'s apply (`engine.rotate` makes it a rotation of its addresses)."""
    every = Workspace(tuple(args.manifests), connection(args), args.state)
    guards = Guards(credits(args.max_debit, "--max-debit"))
    return ApplySettings(
        every,
        guards,
        secrets_out=args.secrets_out,
        report_out=args.report_out,
        lock_timeout=args.lock_timeout,
    )


def limits(args: argparse.Namespace) -> HealthLimits:
    return HealthLimits(args.expiring_within, args.usage_warning)


def drift(args: argparse.Namespace) -> DriftSettings:
    return DriftSettings(workspace(args), limits(args))


def usage(args: argparse.Namespace) -> UsageSettings:
    return UsageSettings(workspace(args), args.unused_days)


def imports(args: argparse.Namespace) -> ImportSettings:
    return ImportSettings(connection(args), tuple(args.key_env), args.all, args.out, args.account)


def reveal(args: argparse.Namespace) -> RevealSettings:
    every = Workspace(tuple(args.manifests), connection(args), args.state, (), tuple(args.account))
    return RevealSettings(every, tuple(args.ids), args.out)


def deliver(args: argparse.Namespace) -> DeliverSettings:
    every = Workspace(tuple(args.manifests), connection(args), args.state, (), tuple(args.account))
    return DeliverSettings(every, tuple(args.ids), args.lock_timeout)
