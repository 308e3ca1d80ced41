"""`ehkeys import` (a manifest for keys that exist) and `ehkeys reveal` (managed keys' values,
only to a terminal or a 0600 file)."""

from __future__ import annotations

import argparse
import sys

from reconciler.cli import settings
from reconciler.core.errors import UsageError
from reconciler.core.exitcodes import ExitCode
from reconciler.engine import imports as engine_imports
from reconciler.engine import reveal as engine_reveal
from reconciler.render.console import Log


def run(args: argparse.Namespace) -> ExitCode:
    """The manifest printed, or written to --out (the state beside it)."""
    asked = settings.imports(args)
    text = engine_imports.run(asked, Log())
    if not asked.out:
        sys.stdout.write(text)
    return ExitCode.OK


def reveal(args: argparse.Namespace) -> ExitCode:
    if not args.out and not sys.stdout.isatty():
        raise UsageError("reveal prints secrets only to a terminal; use --out FILE (written 0600)")
    asked = settings.reveal(args)
    revealed = engine_reveal.run(asked, Log(asked.workspace.manifests))
    for line in revealed.lines:
        print(line)
    if asked.out:
        count = f"{len(revealed.written)} value" + ("" if len(revealed.written) == 1 else "s")
        print(f"Appended {count} to {asked.out} (0600): {', '.join(revealed.written)}", file=sys.stderr)
    return ExitCode.OK
