"""`ehkeys validate`: check manifests offline. It runs as a pre-commit hook, so it starts without
the HTTP stack: `cli.main` runs it before it imports the other commands."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from reconciler.core.exitcodes import ExitCode
from reconciler.manifest import diagnostics
from reconciler.manifest import load as manifest


def run(args: argparse.Namespace) -> ExitCode:
    result = manifest.load(args.manifests, offline=True)
    found = [d for d in result.diagnostics if args.strict or d.severity != diagnostics.NOTICE]
    if args.strict:  # warnings fail; notices (a variable only CI sets) are shown, never fail
        found = [
            replace(d, severity=diagnostics.ERROR) if d.severity == diagnostics.WARNING else d for d in found
        ]
    diagnostics.render(found, args.format, sys.stdout)
    errors = sum(d.is_error for d in found)
    if args.format == "text":
        count = len(result.manifest.keys) if result.manifest else 0
        warnings = sum(d.severity == diagnostics.WARNING for d in found)
        summary = (
            f"{warnings} warning(s); {count} key(s) valid"
            if not errors
            else f"{errors} error(s), {warnings} warning(s)"
        )
        print(summary, file=sys.stderr)
    return ExitCode.ERROR if errors else ExitCode.OK
