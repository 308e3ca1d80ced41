"""`ehkeys rotate MANIFEST ADDRESS... [--overlap DURATION] [--auto-approve]`: those keys rotated
now, whatever their schedule: the plan shown, then applied as `apply` does (`engine.rotate`)."""

from __future__ import annotations

import argparse

from reconciler.cli import settings
from reconciler.cli.apply import Terminal
from reconciler.core.exitcodes import ExitCode
from reconciler.engine import rotate


def run(args: argparse.Namespace) -> ExitCode:
    base = settings.rotate(args)
    return rotate.run(base, args.addresses, args.overlap, Terminal(args)).exit_code
