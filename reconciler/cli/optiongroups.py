"""How each (sub)command's parser is made, and the options several commands share: the API's,
the state's, drift's health limits, the apply lock, the comment author (each command's own
options are in `options`, the jobs' in `githubopts`)."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from reconciler.api.breaker import SILENT_IN_A_ROW
from reconciler.cli import optiontypes as types
from reconciler.cli.exitcodes import exit_codes
from reconciler.cli.helptext import Help, remember
from reconciler.core.exitcodes import ExitCode
from reconciler.core.usage import UNUSED_DAYS
from reconciler.engine.settings import TIMEOUT
from reconciler.gitops.trust import PLAN_AUTHOR

DEBUG = (
    "ehkeys' debug lines and one per HTTP request on stderr, keys redacted; with EHKEYS_DEBUG_HTTP=1, "
    "every library's too (httpcore's connection trace) (default: off)"
)
MANIFESTS = (
    "manifest files or folders, each run on its own (a folder holding ehkeys.yaml, or a file of "
    "one: that whole directory manifest; another folder: one manifest of its files, read recursively)"
)
MANIFEST = "a manifest file or folder (a file of a directory manifest: the whole of it)"
ROOT = (
    "the manifest root, a file or folder from the repository's top: one a call, as the action "
    "gives it (several paths given: one root, loaded as one manifest)"
)
VALIDATED = (
    "manifest files or folders, each manifest checked on its own (a file of a directory "
    "manifest, a folder holding ehkeys.yaml: the whole of it)"
)
MAX_DEBIT = "refuse if the plan debits more (default: no limit)"
STATE_HELP = (
    "state file (default .ehkeys/<manifest name>/state.json beside the manifest, or "
    ".ehkeys/<manifest name>/<account>/state.json for each account it declares, so pass --account "
    "with it; in sandbox/ below with --sandbox)"
)

STATE_OF_ADDRESSES = (
    "state file (default .ehkeys/<manifest name>/state.json beside the manifest, or "
    ".ehkeys/<manifest name>/<account>/state.json for each account it declares, so name keys "
    "of that one account with it; in sandbox/ below with --sandbox)"
)

FAULT_FLAGS = {  # the seed's `faults:` a flag of `ehkeys sandbox` can set, and what each does
    "latency_ms": "milliseconds added before every answer",
    "jitter_ms": "up to this many milliseconds more, at random",
    "error_rate": "share of requests answered 500",
    "rate_limited_rate": "share of requests answered 429",
    "drop_rate": "share of connections dropped after the update is done",
    "html_rate": "share of requests answered with an edge challenge page",
}

Sub = Any  # argparse's subparsers action (its class is private)
Handler = Callable[[argparse.Namespace], ExitCode]


def command(
    sub: Sub, name: str, help: str, handler: Handler | None, full: str | None = None
) -> argparse.ArgumentParser:
    """A (sub)command's parser and its handler (`commands`; `github` has its jobs'): --debug after
    its name, its exit codes in its --help, a mistyped option reported with its own usage;
    `full`: its name with its parent's (`github plan`)."""
    p: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help,
        description=help,
        parents=[common()],
        epilog=exit_codes(full or name),
        formatter_class=Help,
    )
    if handler is not None:
        p.set_defaults(handler=handler)
    return remember(p)


@functools.cache
def common() -> argparse.ArgumentParser:
    """What every command takes after its name: --debug (the top-level value stays unless given).
    One for every command: a parent's options are shared, never changed, and making it again for
    each took a third of the parser's time."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG)
    return parent


def api_options(
    p: argparse.ArgumentParser, formats: tuple[str, ...] | None, manifests: str | None = MANIFESTS
) -> None:
    """`manifests`: the help of the MANIFEST_OR_DIR... it takes (None: takes none here)."""
    if manifests is not None:
        workspace_options(p, manifests)
    if formats:
        format_option(p, formats)
    connection_options(p)


def format_option(p: argparse.ArgumentParser, formats: tuple[str, ...]) -> None:
    """--format: a value not UTF-8 is refused as every option's is, never shown as `\\udcNN`."""
    p.add_argument("--format", type=types.text, choices=formats, default="text", help="how to print")


def workspace_options(p: argparse.ArgumentParser, manifests: str = MANIFESTS) -> None:
    p.add_argument("manifests", nargs="+", metavar="MANIFEST_OR_DIR", help=manifests)
    p.add_argument(
        "--target",
        action="append",
        default=[],
        type=types.name,
        metavar="ID",
        help="only this key: its address (prod/backend where the manifest declares accounts), id "
        "or name; repeatable (default: every key)",
    )
    p.add_argument(
        "--account",
        action="append",
        default=[],
        type=types.name,
        metavar="NAME",
        help="only this account, a name under the manifest's `accounts:`; repeatable (default: "
        "every account)",
    )
    state_option(p)


def state_option(p: argparse.ArgumentParser, text: str = STATE_HELP) -> None:
    p.add_argument("--state", **types.file("PATH", dash=types.STATE), help=text)


def connection_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--parallelism",
        type=types.parallelism,
        default=8,
        metavar="N",
        help=f"requests at once, at most {types.MAX_PARALLELISM} (default 8)",
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
        "--base-url",
        type=types.text,
        metavar="URL",
        help="API base URL (default $ELECTRONHUB_BASE_URL or the service)",
    )
    p.add_argument("--sandbox", action="store_true", help="use the in-process sandbox")
    p.add_argument("--sandbox-reset", action="store_true", help="with --sandbox: refill it from its seed")
    p.add_argument(
        "--sandbox-seed",
        **types.file(),
        help="with --sandbox: seed for a new (or reset) sandbox (default: the demo)",
    )


def health_options(p: argparse.ArgumentParser) -> None:
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


def unused_days_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--unused-days",
        type=types.whole_days,
        default=UNUSED_DAYS,
        metavar="N",
        help=f"list the keys nothing used for N days or more (default {UNUSED_DAYS}; by last_used, "
        "else the day a key never used was created)",
    )


def lock_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--lock-timeout",
        type=types.duration,
        default=0.0,
        metavar="DURATION",
        help="wait this long (30s, 2m) for another apply on the same state to finish "
        "(default 0: refuse at once)",
    )


def plan_author_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--plan-author",
        default=PLAN_AUTHOR,
        type=types.text,
        metavar="LOGIN",
        help=f"the account the jobs write comments with: only its comments are trusted or edited "
        f"(default {PLAN_AUTHOR})",
    )
