"""`ehkeys apply`: the engine's apply, shown as it goes, asking before it sends anything
unless told not to (--auto-approve, or a reviewed plan: --plan FILE)."""

from __future__ import annotations

import argparse
import shlex
import sys

from reconciler.cli import settings
from reconciler.core.errors import Refused
from reconciler.core.exitcodes import ExitCode
from reconciler.core.hosts import redacted_url
from reconciler.engine import apply as engine_apply
from reconciler.engine import stopping
from reconciler.render.console import Log


class Terminal(Log):
    """The apply's log, with the question before anything is sent; without a terminal to ask
    on, the refusal comes before the plan is printed (`approvable`), saying how to go on."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args.manifests, args.secrets_out, _where(args))
        self.ask = not (args.auto_approve or args.plan)
        self.unasked = _unasked(args)

    def approvable(self) -> None:
        if self.ask and not (sys.stdin is not None and sys.stdin.isatty()):  # None: stdin closed
            raise Refused(self.unasked)

    def approve(self) -> None:
        if not self.ask:
            return
        self.approvable()
        print("\nApply these changes? Only 'yes' will be accepted: ", end="", flush=True)
        with stopping.waiting():  # a stop ends the question at once: nothing is sent before its answer
            answer = sys.stdin.readline()
        if answer.strip() != "yes":
            raise Refused("apply cancelled; nothing was sent")


def _unasked(args: argparse.Namespace) -> str:
    """Why a run without a terminal, nor --auto-approve, sends nothing, and how to go on."""
    said = "stdin is not a terminal, so nobody can approve"
    if args.command == "rotate":
        return f"{said} the rotation: nothing was sent. Run it on a terminal, or pass --auto-approve"
    manifests = [f"./{m}" if m.startswith("-") else m for m in args.manifests]
    scope = [p for t in args.target for p in _option("--target", t)]
    scope += [p for a in args.account for p in _option("--account", a)]
    plan = shlex.join(["ehkeys", "plan", *manifests, *_where(args), *scope])
    return (
        f"{said} the plan: nothing was sent. See it with `{plan}`, then run this apply again with "
        "--auto-approve; or add `--out plan.json` to that plan and apply the file with "
        "`--plan plan.json` (a saved plan is its own approval)"
    )


def _where(args: argparse.Namespace) -> list[str]:
    """The options naming the run's account and state, for a command the run suggests (a
    password in --base-url as `…`: the command is printed)."""
    given = [("--sandbox", args.sandbox), ("--sandbox-seed", args.sandbox_seed)]
    given += [("--base-url", args.base_url and redacted_url(args.base_url)), ("--state", args.state)]
    return [part for flag, value in given if value for part in _option(flag, value)]


def _option(flag: str, value: str | bool) -> tuple[str, ...]:
    """A value that starts with '-' joined to its flag: apart, argparse takes it for an option."""
    if value is True:
        return (flag,)
    return (f"{flag}={value}",) if str(value).startswith("-") else (flag, str(value))


def run(args: argparse.Namespace) -> ExitCode:
    return engine_apply.run(settings.apply(args), Terminal(args)).exit_code
