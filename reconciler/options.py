"""The command line's options: one parser, the exit codes each command documents, and the
checked types of its number options."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from reconciler import __version__
from reconciler.breaker import SILENT_IN_A_ROW
from reconciler.ghtrust import PLAN_AUTHOR, PLAN_WORKFLOW
from reconciler.localcmds import FAULT_FLAGS, sandbox, validate

T = TypeVar("T")
TIMEOUT = 20.0  # seconds per attempt, as RetryPolicy's: 3 silent attempts stop a run in ~60 s


def _command(name: str) -> Callable[[argparse.Namespace], int]:
    """A handler from `commands`, imported on use: `validate` (a pre-commit hook) then
    starts without the HTTP stack, a third of the start-up time."""

    def run(args: argparse.Namespace) -> int:
        from reconciler import commands

        handler = getattr(commands, name)
        code: int = handler(args)
        return code

    return run


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ehkeys",
        description="ElectronHub proxy keys as code: validate, plan, apply.",
        epilog="exit codes: each command's --help lists its own; a usage error is 1, Ctrl-C 130.",
    )
    parser.add_argument("--version", action="version", version=f"ehkeys {__version__}")
    parser.add_argument("--debug", action="store_true", help="verbose logs on stderr")
    common = argparse.ArgumentParser(add_help=False)  # --debug after the command works too
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add = sub.add_parser

    def add_parser(name: str, **kw: Any) -> argparse.ArgumentParser:
        return add(name, parents=[common], epilog=_exit_codes(name), formatter_class=_Help, **kw)

    sub.add_parser = add_parser  # type: ignore[method-assign]

    p = sub.add_parser("validate", help="check manifests offline (no API key needed)")
    p.add_argument("manifests", nargs="+", metavar="MANIFEST_OR_DIR")
    p.add_argument("--format", choices=("text", "json", "github"), default="text")
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")
    p.set_defaults(handler=validate)

    p = sub.add_parser("sandbox", help="serve the local ElectronHub API stand-in")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=_port, default=8787, help="0 takes a free port")
    p.add_argument("--db", default=":memory:", help="SQLite file (kept across restarts)")
    p.add_argument("--seed", help="seed YAML for a new db (default: the bundled demo)")
    p.add_argument("--rate-limit", metavar="N[/SECONDS]", help="requests per sliding window")
    p.add_argument("--cooldown", type=float, metavar="SECONDS", help="lockout after an overrun")
    for flag in FAULT_FLAGS:
        p.add_argument("--" + flag.replace("_", "-"), type=float, metavar="X")
    p.add_argument(
        "--list-unavailable", action="store_true", help="GET /auth/proxy answers 404 (per-key lookups only)"
    )
    p.set_defaults(handler=sandbox)

    p = sub.add_parser("plan", help="show what apply would change, and what it costs")
    _api_options(p, formats=("text", "json", "markdown"))
    p.add_argument("--out", metavar="FILE", help="save the plan for `ehkeys apply --plan FILE`")
    p.add_argument("--detailed-exitcode", action="store_true", help="exit 0 no changes, 2 changes, 1 errors")
    p.set_defaults(handler=_command("plan_command"))

    p = sub.add_parser("show", help="print a saved plan as plan showed it (offline)")
    p.add_argument("plan_file", metavar="PLAN_FILE", help="a plan saved with `ehkeys plan --out`")
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.set_defaults(handler=_command("show_command"))

    p = sub.add_parser("drift", help="read-only check: 0 in sync, 2 drift, 1 error")
    _api_options(p, formats=("text", "json", "markdown"))
    _health_options(p)
    p.set_defaults(handler=_command("drift_command"))

    p = sub.add_parser("apply", help="send the updates the plan shows")
    _api_options(p, formats=None)
    p.add_argument("--plan", metavar="FILE", help="apply exactly this saved plan")
    p.add_argument(
        "--expect-digest",
        metavar="sha256:HEX",
        help="with --plan: refuse unless the file's digest is this (the reviewed plan's)",
    )
    p.add_argument("--auto-approve", action="store_true", help="do not ask for confirmation")
    p.add_argument("--max-debit", metavar="AMOUNT", help="refuse if the plan debits more")
    p.add_argument("--expect-net", metavar="AMOUNT", help="refuse unless the net is exactly this")
    p.add_argument(
        "--allow-mass-delete",
        action="store_true",
        help="allow deleting over 30%% of the keys in an account of more than 5 keys",
    )
    p.add_argument("--secrets-out", metavar="FILE", help="append NAME=value for created keys (0600)")
    p.add_argument(
        "--report-out", metavar="FILE", help="write the Markdown apply report here (not when refused)"
    )
    _lock_option(p)
    p.set_defaults(handler=_command("apply_command"))

    p = sub.add_parser("import", help="print a manifest for existing keys (onboarding)")
    _api_options(p, formats=None, manifests=False)
    p.add_argument("--key-env", action="append", default=[], metavar="VAR", help="a key's env var")
    p.add_argument("--all", action="store_true", help="every key of the account")
    p.add_argument(
        "--out", metavar="FILE", help="write the manifest here, and each key's binding to its state"
    )
    p.set_defaults(handler=_command("import_command"))

    p = sub.add_parser("reveal", help="print managed keys' values (to a terminal or --out FILE)")
    p.add_argument("manifests", nargs=1, metavar="MANIFEST_OR_DIR")
    p.add_argument(
        "--state",
        metavar="PATH",
        help="state file (default .ehkeys/state.json beside the manifest; .ehkeys/sandbox/ if --sandbox)",
    )
    _api_options(p, formats=None, manifests=False)
    p.add_argument("ids", nargs="+", metavar="ID", help="a manifest key's id (or name)")
    p.add_argument("--out", metavar="FILE", help="append NAME=value lines to FILE (0600) instead")
    p.set_defaults(handler=_command("reveal_command"))

    _github_parsers(sub.add_parser("github", help="the GitOps jobs the composite action runs (in Actions)"))
    return parser


def _lock_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--lock-timeout",
        type=_duration,
        default=0.0,
        metavar="DURATION",
        help="wait this long (30s, 2m) for another apply on the same state to finish "
        "(default 0: refuse at once)",
    )


def _health_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--expiring-within",
        type=_days,
        default=Decimal(14),
        metavar="DAYS",
        help="warn about keys that expire within DAYS (default 14; expired ones too)",
    )
    p.add_argument(
        "--usage-warning",
        type=_percent,
        default=Decimal(90),
        metavar="PERCENT",
        help="warn about keys that used more than PERCENT of their allocation (default 90)",
    )


def _github_parsers(p: argparse.ArgumentParser) -> None:
    gh = p.add_subparsers(dest="job", required=True, metavar="JOB")

    def job(name: str, help: str, handler: str, api: bool = True) -> argparse.ArgumentParser:
        j = gh.add_parser(name, help=help, epilog=_exit_codes(f"github {name}"), formatter_class=_Help)
        if api:
            _api_options(j, formats=None)
            j.add_argument(
                "--state-branch", default="ehkeys-state", metavar="BRANCH", help="where the state is kept"
            )
        j.add_argument("--dir", default="ehkeys-out", help="where plan.json, plan.md and apply.md go")
        j.set_defaults(handler=_command(handler))
        return j

    job(
        "plan",
        "pull request: plan, and save plan.json and plan.md for the artifact and comment",
        "github_plan",
    )
    c = job(
        "comment",
        "pull request: post or update the plan comment, with the plan's digest",
        "github_comment",
        api=False,
    )
    c.add_argument("--pr", type=_positive, help="the pull request (default: the event's)")
    c.add_argument("--artifact-url", help="where the full plan is (linked when the comment is cut)")
    a = job("apply", "merged: apply the reviewed plan, comment the result on the PR", "github_apply")
    a.add_argument("--max-debit", metavar="AMOUNT", help="refuse if the plan debits more")
    a.add_argument(
        "--allow-mass-delete",
        action="store_true",
        help="allow deleting over 30%% of the keys (accounts of over 5)",
    )
    a.add_argument(
        "--fresh", action="store_true", help="apply a fresh plan (run by hand), not a reviewed one"
    )
    _lock_option(a)
    a.add_argument(
        "--plan-author",
        default=PLAN_AUTHOR,
        metavar="LOGIN",
        help=f"trust only plan comments this account wrote: the plan job's (default {PLAN_AUTHOR})",
    )
    a.add_argument(
        "--plan-workflow",
        default=PLAN_WORKFLOW,
        metavar="PATH",
        help=f"trust only artifacts of this workflow's pull-request runs (default {PLAN_WORKFLOW})",
    )
    _health_options(
        job("drift", "schedule: report drift; open, edit or close the drift issue", "github_drift")
    )


def _api_options(p: argparse.ArgumentParser, formats: tuple[str, ...] | None, manifests: bool = True) -> None:
    if manifests:
        p.add_argument("manifests", nargs="+", metavar="MANIFEST_OR_DIR")
        p.add_argument(
            "--target", action="append", default=[], metavar="ID", help="only this key (id or name)"
        )
        p.add_argument(
            "--state",
            metavar="PATH",
            help="state file (default .ehkeys/state.json beside the manifest; .ehkeys/sandbox/ if --sandbox)",
        )
    if formats:
        p.add_argument("--format", choices=formats, default="text")
    p.add_argument(
        "--parallelism", type=_positive, default=8, metavar="N", help="requests at once (default 8)"
    )
    p.add_argument("--max-attempts", type=_positive, default=6, metavar="N", help="tries per request")
    p.add_argument(
        "--timeout",
        type=_seconds,
        default=TIMEOUT,
        metavar="SECONDS",
        help=f"per attempt (default {TIMEOUT:g}); {SILENT_IN_A_ROW} unanswered in a row stop the run",
    )
    p.add_argument("--base-url", help="API base URL (default $ELECTRONHUB_BASE_URL or the service)")
    p.add_argument("--sandbox", action="store_true", help="use the in-process sandbox")
    p.add_argument("--sandbox-reset", action="store_true", help="refill the sandbox from its seed")
    p.add_argument("--sandbox-seed", metavar="FILE", help="seed for a new (or reset) sandbox")


class _Help(argparse.RawDescriptionHelpFormatter):
    """Keeps the exit-code table's lines as written."""


EXIT_CODES = {
    "validate": [("0", "valid (warnings allowed, unless --strict)"), ("1", "errors, or a usage error")],
    "plan": [
        ("0", "planned (with --detailed-exitcode: nothing to change)"),
        ("2", "with --detailed-exitcode only: there are changes to apply"),
        ("1", "an error: a key in error, the API, the manifest, or a usage error"),
        ("130", "interrupted (Ctrl-C)"),
    ],
    "drift": [
        ("0", "in sync (health warnings allowed: expiring keys, high usage, low balance)"),
        ("2", "drift: changed outside ehkeys, not applied yet, unmanaged keys, or values never applied"),
        ("1", "an error: a key in error, the API, the manifest, or a usage error"),
        ("130", "interrupted (Ctrl-C)"),
    ],
    "apply": [
        ("0", "applied, or nothing to apply"),
        (
            "3",
            "some changes failed, were skipped (changed since the saved plan), or are unverified; "
            "or another run created a key of the same name at the same time",
        ),
        (
            "1",
            "refused before sending (a money guard, a stale plan, a digest that differs, no approval, "
            "another apply holding the state), an error, or a usage error",
        ),
        ("130", "interrupted (Ctrl-C): writes in flight are named; run plan to see where they landed"),
    ],
    "show": [
        ("0", "the saved plan is shown"),
        ("1", "the file cannot be read, is not a saved plan, or would apply what it does not show"),
    ],
    "import": [("0", "the manifest is printed"), ("1", "an error, or a usage error"), ("130", "interrupted")],
    "reveal": [
        ("0", "the values are shown or written"),
        ("1", "an error, or a usage error"),
        ("130", "interrupted"),
    ],
    "sandbox": [
        ("0", "stopped with Ctrl-C"),
        ("1", "a bad setting, a port in use or not allowed, or a usage error"),
    ],
    "github": [
        ("0", "the job did its work (drift too when it finds drift: the issue says so)"),
        ("3", "apply: some changes failed, were skipped or are unverified"),
        ("1", "an error, a refusal or a usage error; `ehkeys github JOB --help` says which"),
    ],
    "github plan": [
        ("0", "planned"),
        ("1", "the plan has errors, or an error"),
        ("130", "interrupted (Ctrl-C); the state is still stored"),
    ],
    "github comment": [("0", "posted or updated"), ("1", "no plan to post (one saying so is), or an error")],
    "github apply": [
        ("0", "the reviewed plan is applied"),
        ("3", "some changes failed, were skipped (moved since the review), or are unverified"),
        ("1", "no trusted reviewed plan, or the manifest changed since (a fresh plan is posted); an error"),
        ("130", "interrupted (Ctrl-C); the state is still stored"),
    ],
    "github drift": [
        ("0", "checked; the issue is opened, edited or closed"),
        ("1", "the check failed"),
        ("130", "interrupted (Ctrl-C); the state is still stored"),
    ],
}


def _exit_codes(command: str) -> str:
    rows = EXIT_CODES[command]  # every command documents its codes: a missing row fails here
    return "exit codes:\n" + "\n".join(f"  {code:<5}{meaning}" for code, meaning in rows)


def _checked(kind: Callable[[str], T], ok: Callable[[T], bool], expected: str) -> Callable[[str], T]:
    """An argparse type: `kind` of the text, refused with `expected` unless `ok` (NaN never is)."""

    def parse(text: str) -> T:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected} (got {text!r})") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected} (got {text!r})")
        return value

    return parse


_positive = _checked(int, lambda n: n >= 1, "a whole number of at least 1, like 8")
_seconds = _checked(float, lambda s: math.isfinite(s) and s > 0, "a number of seconds above 0, like 20")
_port = _checked(int, lambda n: 0 <= n <= 65535, "a port number from 0 to 65535")


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(text) from None


DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "": 1.0}


def _seconds_of(text: str) -> float:
    """`30s`, `2m`, `500ms`, `1h`, or a bare number of seconds."""
    number = text.strip().lower().rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text.strip().lower()[len(number) :]
    if unit not in DURATION_UNITS:
        raise ValueError(text)
    return float(number) * DURATION_UNITS[unit]


_duration = _checked(
    _seconds_of, lambda s: math.isfinite(s) and s >= 0, "a duration of 0 or more, like 30s, 2m or 0"
)
_days = _checked(_decimal, lambda d: d.is_finite() and d >= 0, "a number of days of 0 or more, like 14")
_percent = _checked(_decimal, lambda d: d.is_finite() and d >= 0, "a percentage of 0 or more, like 90")
