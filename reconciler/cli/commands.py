"""The handler of each command, as its parser records it (`set_defaults(handler=...)`).

Each imports its command's module when that command runs, and only then, so that at start-up
a command pays only for what it uses: `validate`, a pre-commit hook, loads no HTTP stack
(tests/test_manifest.py::test_validate_starts_without_the_http_stack), `plan` neither deepdiff
(drift's, ~0.1 s) nor the GitOps jobs. These, and `options` importing the jobs' options when
`github` is the command, are the only imports inside functions in cli/; none stands in for a
cycle (cli imports downwards only, and nothing imports cli).
"""

from __future__ import annotations

import argparse

from reconciler.cli import each
from reconciler.cli import validate as validating
from reconciler.core.exitcodes import ExitCode


def validate(args: argparse.Namespace) -> ExitCode:
    return validating.run(args)


def schema(args: argparse.Namespace) -> ExitCode:
    from reconciler.cli.schema import run

    return run(args)


def sandbox(args: argparse.Namespace) -> ExitCode:
    from reconciler.cli.sandbox import run

    return run(args)


def plan(args: argparse.Namespace) -> ExitCode:
    from reconciler.cli.plan import run

    return each.run(args, run)


def show(args: argparse.Namespace) -> ExitCode:
    from reconciler.cli.plan import show

    return show(args)


def drift(args: argparse.Namespace) -> ExitCode:
    from reconciler.cli.drift import run

    return each.run(args, run)


def usage(args: argparse.Namespace) -> ExitCode:
    from reconciler.cli.usage import run

    return each.run(args, run)


def apply(args: argparse.Namespace) -> ExitCode:
    from reconciler.cli.apply import run

    return each.run(args, run, deletes=True)


def rotate(args: argparse.Namespace) -> ExitCode:
    from reconciler.cli.rotate import run

    return run(args)


def deliver(args: argparse.Namespace) -> ExitCode:
    from reconciler.cli.deliver import run

    return run(each.only(args, "deliver"))


def import_keys(args: argparse.Namespace) -> ExitCode:
    from reconciler.cli.imports import run

    return run(args)


def reveal(args: argparse.Namespace) -> ExitCode:
    from reconciler.cli.imports import reveal

    return reveal(each.only(args, "reveal"))


def github_plan(args: argparse.Namespace) -> ExitCode:
    from reconciler.cli.github import plan

    return plan(args)


def github_comment(args: argparse.Namespace) -> ExitCode:
    from reconciler.cli.github import comment

    return comment(args)


def github_apply(args: argparse.Namespace) -> ExitCode:
    from reconciler.cli.github import apply

    return apply(args)


def github_drift(args: argparse.Namespace) -> ExitCode:
    from reconciler.cli.github import drift

    return drift(args)


def github_deliver(args: argparse.Namespace) -> ExitCode:
    from reconciler.cli.github import deliver

    return deliver(args)


def github_rotate(args: argparse.Namespace) -> ExitCode:
    from reconciler.cli.github import rotate

    return rotate(args)
