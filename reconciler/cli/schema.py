"""`ehkeys schema`: print the manifest's JSON Schema, or write it to --out (offline)."""

from __future__ import annotations

import argparse
import sys

from reconciler.core.exitcodes import ExitCode
from reconciler.engine import schema


def run(args: argparse.Namespace) -> ExitCode:
    if args.out:
        print(schema.write(args.out), file=sys.stderr)
    else:
        sys.stdout.write(schema.text())
    return ExitCode.OK
