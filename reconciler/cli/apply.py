"""`ehkeys apply`: the engine's apply, shown as it goes, asking before it sends anything
unless told not to (--auto-approve, or a reviewed plan: --plan FILE)."""

from __future__ import annotations

import argparse
import sys

from reconciler.cli import settings
from reconciler.core.errors import Refused
from reconciler.core.exitcodes import ExitCode
from reconciler.engine import apply as engine_apply
from reconciler.render.console import Log


class Terminal(Log):
    """The apply's log, with the question before anything is sent."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args.manifests, args.secrets_out, _where(args))
        self.ask = not (args.auto_approve or args.plan)

    def approve(self) -> None:
        if not self.ask:
            return
        if not sys.stdin.isatty():
            raise Refused("not a terminal: pass --auto-approve to apply without a prompt; nothing was sent")
        print("\nApply these changes? Only 'yes' will be accepted: ", end="", flush=True)
        if sys.stdin.readline().strip() != "yes":
            raise Refused("apply cancelled; nothing was sent")


def _where(args: argparse.Namespace) -> list[str]:
    """The options naming the run's account and state, for a command the run suggests."""
    given = [("--sandbox", args.sandbox), ("--sandbox-seed", args.sandbox_seed)]
    given += [("--base-url", args.base_url), ("--state", args.state)]
    return [part for flag, value in given if value for part in _option(flag, value)]


def _option(flag: str, value: str | bool) -> tuple[str, ...]:
    """A value that starts with '-' joined to its flag: apart, argparse takes it for an option."""
    if value is True:
        return (flag,)
    return (f"{flag}={value}",) if str(value).startswith("-") else (flag, str(value))


def run(args: argparse.Namespace) -> ExitCode:
    return engine_apply.run(settings.apply(args), Terminal(args)).exit_code
