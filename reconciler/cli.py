"""`ehkeys` command line. `main(argv) -> int`; errors become messages and exit codes here only."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from reconciler import __version__, diagnostics, manifest
from reconciler.errors import EhkeysError
from reconciler.model import scrub

log = logging.getLogger("ehkeys")


def _validate(args: argparse.Namespace) -> int:
    result = manifest.load(args.manifests)
    found = result.diagnostics
    if args.strict:
        found = [diagnostics.Diagnostic(d.file, d.line, d.col, d.path, d.message) for d in found]
    diagnostics.render(found, args.format, sys.stdout)
    errors = sum(d.is_error for d in found)
    if args.format == "text":
        count = len(result.manifest.keys) if result.manifest else 0
        summary = (
            f"{len(found) - errors} warning(s); {count} key(s) valid"
            if not errors
            else f"{errors} error(s), {len(found) - errors} warning(s)"
        )
        print(summary, file=sys.stderr)
    return 1 if errors else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ehkeys", description="ElectronHub proxy keys as code: validate, plan, apply."
    )
    parser.add_argument("--version", action="version", version=f"ehkeys {__version__}")
    parser.add_argument("--debug", action="store_true", help="verbose logs on stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check manifests offline (no API key needed)")
    p.add_argument("manifests", nargs="+", metavar="MANIFEST_OR_DIR")
    p.add_argument("--format", choices=("text", "json", "github"), default="text")
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")
    p.set_defaults(handler=_validate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed its usage message
        return 0 if exc.code == 0 else 2
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="ehkeys: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        code: int = args.handler(args)
        return code
    except EhkeysError as exc:
        print(f"ehkeys: error: {scrub(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("ehkeys: interrupted", file=sys.stderr)
        return 130


def entry() -> None:
    sys.exit(main())
