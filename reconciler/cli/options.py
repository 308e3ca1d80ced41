"""The command line's options: the top-level parser and each command's own options (the
shared ones in `optiongroups`, the GitOps jobs' in `githubopts`, the exit codes each command
documents in `exitcodes`, the checked types of its number options in `optiontypes`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Collection, Sequence

from reconciler import __version__
from reconciler.cli import commands
from reconciler.cli import optiontypes as types
from reconciler.cli.exitcodes import DETAILED_EXITCODE
from reconciler.cli.exitcodes import EXIT_CODES as EXIT_CODES
from reconciler.cli.helptext import USAGE, Intermixed
from reconciler.cli.helptext import parse as parse_known
from reconciler.cli.optiongroups import (
    DEBUG,
    FAULT_FLAGS,
    MANIFEST,
    MAX_DEBIT,
    STATE_OF_ADDRESSES,
    VALIDATED,
    Handler,
    api_options,
    command,
    format_option,
    health_options,
    lock_option,
    state_option,
    unused_days_option,
)
from reconciler.core.exitcodes import ExitCode
from reconciler.engine.settings import TIMEOUT as TIMEOUT


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line, or argparse's usage error (SystemExit) naming the command's usage."""
    argv = types.negative_durations(sys.argv[1:] if argv is None else argv)
    args = parse_known(parser(_named(argv)), argv)
    for flag, given in (("--sandbox-reset", "sandbox_reset"), ("--sandbox-seed", "sandbox_seed")):
        if getattr(args, given, None) and not args.sandbox:  # else: ignored, and "no API key" instead
            getattr(args, USAGE).error(f"{flag} acts on the in-process sandbox: add --sandbox")
    return args


def parser(built: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The whole command line. `built`: the commands whose options are added (default: every
    one); the others are there by name and description only, as the top-level help and its
    errors show them. Adding every command's ~250 options takes ~15 ms, most of what a short
    run spends parsing, and only the command given is ever parsed (`parse`)."""
    parser = argparse.ArgumentParser(
        prog="ehkeys",
        description="ElectronHub proxy keys as code: validate, plan, apply.",
        epilog=f"exit codes: each command's --help lists its own; a usage error is {ExitCode.ERROR.value}, "
        f"Ctrl-C {ExitCode.INTERRUPTED.value} (sandbox: {ExitCode.OK.value}).",
    )
    parser.add_argument("--version", action="version", version=f"ehkeys {__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Intermixed)
    for name, (what, handler, add_options) in _COMMANDS.items():
        p = command(sub, name, what, handler)
        if built is None or name in built:
            add_options(p)
    return parser


def _named(argv: Sequence[str]) -> tuple[str, ...]:
    """The command `argv` gives: its first word that is not an option (the top-level options
    take no value), or none."""
    return tuple(word for word in argv if not word.startswith("-"))[:1]


def _validate(p: argparse.ArgumentParser) -> None:
    p.add_argument("manifests", nargs="+", metavar="MANIFEST_OR_DIR", help=VALIDATED)
    format_option(p, ("text", "json", "github"))
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")


def _schema(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", **types.printed(), help="write it to FILE, for editors (default, or -: print it)")


LISTEN = "where to listen; 0.0.0.0 is every interface"
WINDOW = "requests per sliding window (default: the seed's)"
EXPECT_NET = "refuse unless the net is exactly this (default: any)"


def _sandbox(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", type=types.text, metavar="ADDRESS", default="127.0.0.1", help=LISTEN)
    p.add_argument("--port", type=types.port, default=8787, help="0 takes a free port")
    p.add_argument(
        "--db",
        **types.file(dash=types.DATABASE),
        default=":memory:",
        help="SQLite file, kept across restarts (default: in memory, gone at exit)",
    )
    p.add_argument("--seed", **types.file(), help="seed YAML for a new db (default: the bundled demo)")
    p.add_argument("--rate-limit", type=types.text, metavar="N[/SECONDS]", help=WINDOW)
    p.add_argument(
        "--cooldown", type=float, metavar="SECONDS", help="lockout after an overrun (default: the seed's)"
    )
    for flag, what in FAULT_FLAGS.items():
        p.add_argument(
            "--" + flag.replace("_", "-"), type=float, metavar="X", help=f"{what} (default: the seed's)"
        )
    p.add_argument(
        "--list-unavailable", action="store_true", help="GET /auth/proxy answers 404 (per-key lookups only)"
    )
    p.add_argument(
        "--account",
        action="append",
        default=[],
        type=types.account_export,
        metavar="NAME[=VAR]",
        help="also serve a manifest's account NAME, its key as VAR in the variables file (default: "
        "EH_NAME_API_KEY); repeatable",
    )


def _plan(p: argparse.ArgumentParser) -> None:
    api_options(p, formats=("text", "json", "markdown"))
    p.add_argument(
        "--out",
        **types.file(dash=types.SAVED_PLAN),
        help="save the plan for `ehkeys apply --plan FILE` (default: not saved)",
    )
    p.add_argument("--detailed-exitcode", action="store_true", help=DETAILED_EXITCODE)


def _show(p: argparse.ArgumentParser) -> None:
    p.add_argument("plan_file", **types.file("PLAN_FILE"), help="a plan saved with `ehkeys plan --out`")
    format_option(p, ("text", "json", "markdown"))


def _drift(p: argparse.ArgumentParser) -> None:
    api_options(p, formats=("text", "json", "markdown"))
    health_options(p)


def _usage(p: argparse.ArgumentParser) -> None:
    api_options(p, formats=("text", "markdown", "json"))
    unused_days_option(p)


def _apply(p: argparse.ArgumentParser) -> None:
    api_options(p, formats=None)
    p.add_argument("--plan", **types.file(), help="apply exactly this saved plan (default: plan now)")
    p.add_argument(
        "--expect-digest",
        type=types.text,
        metavar="sha256:HEX",
        help="with --plan: refuse unless the file's digest is this (the reviewed plan's; default: any)",
    )
    p.add_argument("--auto-approve", action="store_true", help="do not ask (needed without a terminal)")
    p.add_argument("--max-debit", type=types.text, metavar="AMOUNT", help=MAX_DEBIT)
    p.add_argument("--expect-net", type=types.text, metavar="AMOUNT", help=EXPECT_NET)
    p.add_argument(
        "--allow-mass-delete",
        action="store_true",
        help="allow deleting over 30%% of the keys in an account of more than 5 keys",
    )
    p.add_argument(
        "--secrets-out",
        **types.file(dash=types.SECRETS),
        help="append NAME=value for created keys (0600; default: none, `ehkeys reveal` prints them)",
    )
    p.add_argument(
        "--report-out",
        **types.file(dash=types.REPORT),
        help="write the Markdown apply report here, not when refused (default: none)",
    )
    lock_option(p)


def _rotate(p: argparse.ArgumentParser) -> None:
    p.add_argument("manifests", nargs=1, metavar="MANIFEST_OR_DIR", help=MANIFEST)
    p.add_argument(
        "addresses",
        nargs="+",
        type=types.name,
        metavar="ADDRESS",
        help="a key to rotate: its address (prod/backend where the manifest declares accounts), id or name",
    )
    p.add_argument(
        "--overlap",
        type=types.overlap,
        metavar="DURATION",
        help="how long the old key stays after its successor is created (7d, 12h; 0: deleted in this run "
        "once the successor is delivered; default: the key's rotate.overlap, else 0)",
    )
    p.add_argument("--auto-approve", action="store_true", help="do not ask (needed without a terminal)")
    p.add_argument("--max-debit", type=types.text, metavar="AMOUNT", help=MAX_DEBIT)
    p.add_argument(
        "--secrets-out",
        **types.file(dash=types.SECRETS),
        help="append NAME=value for the successors (0600; default: none, `ehkeys reveal` prints them)",
    )
    p.add_argument(
        "--report-out",
        **types.file(dash=types.REPORT),
        help="write the Markdown apply report here (default: none)",
    )
    p.set_defaults(plan=None)
    state_option(p, STATE_OF_ADDRESSES)
    lock_option(p)
    api_options(p, formats=None, manifests=None)


def _deliver(p: argparse.ArgumentParser) -> None:
    p.add_argument("manifests", nargs=1, metavar="MANIFEST_OR_DIR", help=MANIFEST)
    p.add_argument(
        "ids",
        nargs="*",
        type=types.name,
        metavar="ADDRESS",
        help="a key with sinks: its address (prod/backend where the manifest declares accounts), id or "
        "name (default: every key with deliver: sinks)",
    )
    p.add_argument(
        "--account",
        action="append",
        default=[],
        type=types.name,
        metavar="NAME",
        help="only this account's keys; repeatable (default: every account)",
    )
    state_option(p)
    api_options(p, formats=None, manifests=None)
    lock_option(p)


def _import(p: argparse.ArgumentParser) -> None:
    api_options(p, formats=None, manifests=None)
    p.add_argument(
        "--key-env",
        action="append",
        default=[],
        type=types.text,
        metavar="VAR",
        help="a key's env var (repeatable; default: none: give it, or --all)",
    )
    p.add_argument(
        "--all",
        action="store_true",
        help="every key of the account (default: off; it or --key-env is needed)",
    )
    p.add_argument(
        "--account",
        type=types.account_name,
        action=types.Once,
        metavar="NAME",
        help="declare this account (its key from $EH_<NAME>_API_KEY) and name it on every key "
        "(default: none: a manifest of one account, without accounts:)",
    )
    p.add_argument(
        "--out",
        **types.printed(),
        help="write the manifest here, with manifest.schema.json and its state beside it (default: print it)",
    )


def _reveal(p: argparse.ArgumentParser) -> None:
    p.add_argument("manifests", nargs=1, metavar="MANIFEST_OR_DIR", help=MANIFEST)
    state_option(p)
    api_options(p, formats=None, manifests=None)
    p.add_argument(
        "ids",
        nargs="+",
        type=types.name,
        metavar="ID",
        help="a managed key: its address (prod/backend where the manifest declares accounts), id or name",
    )
    p.add_argument(
        "--account",
        action="append",
        default=[],
        type=types.name,
        metavar="NAME",
        help="only this account's keys, a name under the manifest's `accounts:` (an ID then names "
        "a key of it); repeatable (default: every account)",
    )
    p.add_argument(
        "--out",
        **types.file(dash=types.REVEALED),
        help="append NAME=value lines to FILE (0600; default: the terminal)",
    )


def _github(p: argparse.ArgumentParser) -> None:
    """The GitOps jobs' options, imported when `github` is the command: they bring the jobs'
    settings, which no other command needs at start-up."""
    from reconciler.cli.githubopts import add

    add(p)


AddOptions = Callable[[argparse.ArgumentParser], None]

# Each command: what it does (its help and description), its handler, how its options are added.
_COMMANDS: dict[str, tuple[str, Handler | None, AddOptions]] = {
    "validate": ("check manifests offline (no API key needed)", commands.validate, _validate),
    "schema": ("print the manifest's JSON Schema (validate's), or --out: write it", commands.schema, _schema),
    "sandbox": ("serve the local ElectronHub API stand-in", commands.sandbox, _sandbox),
    "plan": ("show what apply would change, and what it costs", commands.plan, _plan),
    "show": ("print a saved plan as plan showed it (offline)", commands.show, _show),
    "drift": ("read-only: what changed outside ehkeys since the last apply", commands.drift, _drift),
    "usage": (
        "read-only: each key's allocation, use, window, expiry and last use, per account",
        commands.usage,
        _usage,
    ),
    "apply": ("make the changes the plan shows: create, update, toggle, delete", commands.apply, _apply),
    "rotate": (
        "rotate keys now, whatever their schedule: a successor created and delivered, the old key "
        "deleted after the overlap",
        commands.rotate,
        _rotate,
    ),
    "deliver": (
        "deliver keys' current values to their deliver: sinks again, read from the account",
        commands.deliver,
        _deliver,
    ),
    "import": (
        "print a manifest of existing keys, or --out: write it and their bindings",
        commands.import_keys,
        _import,
    ),
    "reveal": ("print managed keys' values (to a terminal or --out FILE)", commands.reveal, _reveal),
    "github": ("the GitOps jobs the composite action runs (in Actions)", None, _github),
}
