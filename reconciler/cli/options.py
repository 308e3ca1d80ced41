"""The command line's options: one parser (the exit codes each command documents are in
`exitcodes`, the checked types of its number options in `optiontypes`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from reconciler import __version__
from reconciler.api.breaker import SILENT_IN_A_ROW
from reconciler.cli import commands
from reconciler.cli import optiontypes as types
from reconciler.cli.exitcodes import EXIT_CODES as EXIT_CODES
from reconciler.cli.exitcodes import exit_codes
from reconciler.cli.helptext import USAGE, Help, remember
from reconciler.cli.helptext import parse as parse_known
from reconciler.core.exitcodes import ExitCode
from reconciler.engine.settings import TIMEOUT as TIMEOUT
from reconciler.gitops.trust import PLAN_AUTHOR, PLAN_WORKFLOW

Handler = Callable[[argparse.Namespace], ExitCode]

FAULT_FLAGS = {  # the seed's `faults:` a flag of `ehkeys sandbox` can set, and what each does
    "latency_ms": "milliseconds added before every answer",
    "jitter_ms": "up to this many milliseconds more, at random",
    "error_rate": "share of requests answered 500",
    "rate_limited_rate": "share of requests answered 429",
    "drop_rate": "share of connections dropped after the update is done",
    "html_rate": "share of requests answered with an edge challenge page",
}

STATE_HELP = (
    "state file (default .ehkeys/<manifest name>/state.json beside the manifest; its sandbox/ with --sandbox)"
)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line, or argparse's usage error (SystemExit) naming the command's usage."""
    args = parse_known(parser(), argv)
    for flag, given in (("--sandbox-reset", "sandbox_reset"), ("--sandbox-seed", "sandbox_seed")):
        if getattr(args, given, None) and not args.sandbox:  # else: ignored, and "no API key" instead
            getattr(args, USAGE).error(f"{flag} acts on the in-process sandbox: add --sandbox")
    return args


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ehkeys",
        description="ElectronHub proxy keys as code: validate, plan, apply.",
        epilog="exit codes: each command's --help lists its own; a usage error is 1, Ctrl-C 130"
        " (sandbox: 0).",
    )
    parser.add_argument("--version", action="version", version=f"ehkeys {__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG)
    common = _common()
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add = sub.add_parser

    def add_parser(name: str, **kw: Any) -> argparse.ArgumentParser:
        kw.setdefault("description", kw.get("help"))
        p = add(name, parents=[common], epilog=exit_codes(name), formatter_class=Help, **kw)
        return remember(p)

    sub.add_parser = add_parser  # type: ignore[method-assign]

    p = sub.add_parser("validate", help="check manifests offline (no API key needed)")
    p.add_argument("manifests", nargs="+", metavar="MANIFEST_OR_DIR", help=MANIFESTS)
    p.add_argument("--format", choices=("text", "json", "github"), default="text", help="how to print")
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")
    p.set_defaults(handler=commands.validate)

    p = sub.add_parser("sandbox", help="serve the local ElectronHub API stand-in")
    p.add_argument(
        "--host", metavar="ADDRESS", default="127.0.0.1", help="where to listen (0.0.0.0: every interface)"
    )
    p.add_argument("--port", type=types.port, default=8787, help="0 takes a free port")
    p.add_argument(
        "--db",
        metavar="FILE",
        default=":memory:",
        help="SQLite file, kept across restarts (default: in memory, gone at exit)",
    )
    p.add_argument("--seed", metavar="FILE", help="seed YAML for a new db (default: the bundled demo)")
    p.add_argument(
        "--rate-limit", metavar="N[/SECONDS]", help="requests per sliding window (default: the seed's)"
    )
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
    p.set_defaults(handler=commands.sandbox)

    p = sub.add_parser("plan", help="show what apply would change, and what it costs")
    _api_options(p, formats=("text", "json", "markdown"))
    p.add_argument(
        "--out", metavar="FILE", help="save the plan for `ehkeys apply --plan FILE` (default: not saved)"
    )
    p.add_argument("--detailed-exitcode", action="store_true", help="exit 0 no changes, 2 changes, 1 errors")
    p.set_defaults(handler=commands.plan)

    p = sub.add_parser("show", help="print a saved plan as plan showed it (offline)")
    p.add_argument("plan_file", metavar="PLAN_FILE", help="a plan saved with `ehkeys plan --out`")
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text", help="how to print")
    p.set_defaults(handler=commands.show)

    p = sub.add_parser("drift", help="read-only check: 0 in sync, 2 drift, 1 error")
    _api_options(p, formats=("text", "json", "markdown"))
    _health_options(p)
    p.set_defaults(handler=commands.drift)

    p = sub.add_parser("apply", help="make the changes the plan shows: create, update, toggle, delete")
    _api_options(p, formats=None)
    p.add_argument("--plan", metavar="FILE", help="apply exactly this saved plan (default: plan now)")
    p.add_argument(
        "--expect-digest",
        metavar="sha256:HEX",
        help="with --plan: refuse unless the file's digest is this (the reviewed plan's; default: any)",
    )
    p.add_argument("--auto-approve", action="store_true", help="do not ask for confirmation")
    p.add_argument("--max-debit", metavar="AMOUNT", help=MAX_DEBIT)
    p.add_argument(
        "--expect-net", metavar="AMOUNT", help="refuse unless the net is exactly this (default: any)"
    )
    p.add_argument(
        "--allow-mass-delete",
        action="store_true",
        help="allow deleting over 30%% of the keys in an account of more than 5 keys",
    )
    p.add_argument(
        "--secrets-out",
        metavar="FILE",
        help="append NAME=value for created keys (0600; default: none, `ehkeys reveal` prints them)",
    )
    p.add_argument(
        "--report-out",
        metavar="FILE",
        help="write the Markdown apply report here, not when refused (default: none)",
    )
    _lock_option(p)
    p.set_defaults(handler=commands.apply)

    p = sub.add_parser(
        "import", help="print a manifest of existing keys, or --out: write it and their bindings"
    )
    _api_options(p, formats=None, manifests=False)
    p.add_argument(
        "--key-env",
        action="append",
        default=[],
        metavar="VAR",
        help="a key's env var (repeatable; default: none, then --all)",
    )
    p.add_argument("--all", action="store_true", help="every key of the account")
    p.add_argument(
        "--out",
        metavar="FILE",
        help="write the manifest here, and each key's binding to its state (default: print it)",
    )
    p.set_defaults(handler=commands.import_keys)

    p = sub.add_parser("reveal", help="print managed keys' values (to a terminal or --out FILE)")
    p.add_argument("manifests", nargs=1, metavar="MANIFEST_OR_DIR", help=MANIFESTS)
    p.add_argument(
        "--state",
        metavar="PATH",
        help=STATE_HELP,
    )
    _api_options(p, formats=None, manifests=False)
    p.add_argument("ids", nargs="+", metavar="ID", help="a manifest key's id (or name)")
    p.add_argument(
        "--out", metavar="FILE", help="append NAME=value lines to FILE (0600; default: the terminal)"
    )
    p.set_defaults(handler=commands.reveal)

    _github_parsers(sub.add_parser("github", help="the GitOps jobs the composite action runs (in Actions)"))
    return parser


def _lock_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--lock-timeout",
        type=types.duration,
        default=0.0,
        metavar="DURATION",
        help="wait this long (30s, 2m) for another apply on the same state to finish "
        "(default 0: refuse at once)",
    )


def _common() -> argparse.ArgumentParser:
    """What every command takes after its name: --debug (the top-level value stays unless given)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG)
    return common


def _health_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--expiring-within",
        type=types.days,
        default=Decimal(14),
        metavar="DAYS",
        help="warn about keys that expire within DAYS (default 14; expired ones too)",
    )
    p.add_argument(
        "--usage-warning",
        type=types.percent,
        default=Decimal(90),
        metavar="PERCENT",
        help="warn about keys that used more than PERCENT of their allocation (default 90)",
    )


def _github_parsers(p: argparse.ArgumentParser) -> None:
    gh = p.add_subparsers(dest="job", required=True, metavar="JOB")

    def job(name: str, help: str, handler: Handler, api: bool = True) -> argparse.ArgumentParser:
        j = gh.add_parser(
            name,
            help=help,
            description=help,
            parents=[_common()],
            epilog=exit_codes(f"github {name}"),
            formatter_class=Help,
        )
        remember(j)
        if api:
            _api_options(j, formats=None)
            j.add_argument(
                "--state-branch", default="ehkeys-state", metavar="BRANCH", help="where the state is kept"
            )
        j.add_argument(
            "--dir", default="ehkeys-out", metavar="DIR", help="where plan.json, plan.md and apply.md go"
        )
        j.set_defaults(handler=handler)
        return j

    job(
        "plan",
        "pull request: plan, and save plan.json and plan.md for the artifact and comment",
        commands.github_plan,
    )
    c = job(
        "comment",
        "pull request: post or update the plan comment, with the plan's digest",
        commands.github_comment,
        api=False,
    )
    c.add_argument("--pr", type=types.positive, help="the pull request (default: the event's)")
    _plan_author_option(c)
    c.add_argument(
        "--artifact-url", metavar="URL", help="where the full plan is, linked when it is cut (default: none)"
    )
    a = job("apply", "merged: apply the reviewed plan, comment the result on the PR", commands.github_apply)
    a.add_argument("--max-debit", metavar="AMOUNT", help=MAX_DEBIT)
    a.add_argument(
        "--allow-mass-delete",
        action="store_true",
        help="allow deleting over 30%% of the keys (accounts of over 5)",
    )
    a.add_argument(
        "--fresh", action="store_true", help="apply a fresh plan (run by hand), not a reviewed one"
    )
    _lock_option(a)
    _plan_author_option(a)
    a.add_argument(
        "--plan-workflow",
        default=PLAN_WORKFLOW,
        metavar="PATH",
        help=f"trust only artifacts of this workflow's pull-request runs (default {PLAN_WORKFLOW})",
    )
    _health_options(
        job("drift", "schedule: report drift; open, edit or close the drift issue", commands.github_drift)
    )


def _plan_author_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--plan-author",
        default=PLAN_AUTHOR,
        metavar="LOGIN",
        help=f"the account the jobs write comments with: only its comments are trusted or edited "
        f"(default {PLAN_AUTHOR})",
    )


def _api_options(p: argparse.ArgumentParser, formats: tuple[str, ...] | None, manifests: bool = True) -> None:
    if manifests:
        p.add_argument("manifests", nargs="+", metavar="MANIFEST_OR_DIR", help=MANIFESTS)
        p.add_argument(
            "--target",
            action="append",
            default=[],
            metavar="ID",
            help="only this key (id or name; repeatable; default: every key)",
        )
        p.add_argument(
            "--state",
            metavar="PATH",
            help=STATE_HELP,
        )
    if formats:
        p.add_argument("--format", choices=formats, default="text", help="how to print")
    p.add_argument(
        "--parallelism", type=types.positive, default=8, metavar="N", help="requests at once (default 8)"
    )
    p.add_argument(
        "--max-attempts", type=types.positive, default=6, metavar="N", help="tries per request (default 6)"
    )
    p.add_argument(
        "--timeout",
        type=types.seconds,
        default=TIMEOUT,
        metavar="SECONDS",
        help=f"per attempt (default {TIMEOUT:g}); {SILENT_IN_A_ROW} unanswered in a row stop the run",
    )
    p.add_argument(
        "--base-url", metavar="URL", help="API base URL (default $ELECTRONHUB_BASE_URL or the service)"
    )
    p.add_argument("--sandbox", action="store_true", help="use the in-process sandbox")
    p.add_argument("--sandbox-reset", action="store_true", help="with --sandbox: refill it from its seed")
    p.add_argument(
        "--sandbox-seed",
        metavar="FILE",
        help="with --sandbox: seed for a new (or reset) sandbox (default: the demo)",
    )


DEBUG = "verbose logs on stderr, keys redacted (default: off)"
MANIFESTS = "a manifest file, or a folder of them (read recursively)"
MAX_DEBIT = "refuse if the plan debits more (default: no limit)"
