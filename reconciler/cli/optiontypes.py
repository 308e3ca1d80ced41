"""The checked types of the number options: a bad value is argparse's usage error, naming
what was expected (NaN and infinity never pass); of the options that name a file or folder
(`path`, `PathOption`: `-` is stdout only where the option prints by default); and of those
that name a key or an account of the manifest (`name`)."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from reconciler.core.durations import Duration
from reconciler.core.pathnames import quoted, refusal, shown, undecodable

T = TypeVar("T")


def checked(kind: Callable[[str], T], ok: Callable[[T], bool], expected: str) -> Callable[[str], T]:
    """An argparse type: `kind` of the text, refused with `expected` unless `ok` (NaN never is)."""

    def parse(text: str) -> T:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected} (got {quoted(text)})") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected} (got {quoted(text)})")
        return value

    return parse


def path(text: str) -> str:
    """A file or folder an option names (`--out`, `--state`, `--plan`...): one whose name is not
    UTF-8 is refused (`core.pathnames`), as the manifest's own files are. An empty one (a script's
    unset variable) names none: `--out ""` printed the schema, `--state ""` used the usual state."""
    if not text:
        raise argparse.ArgumentTypeError("the path is empty (an unset variable?): name a file or folder")
    if undecodable(text):
        raise argparse.ArgumentTypeError(f"{shown(text)}: {refusal(do='rename it, or give a path that is')}")
    return text


def text(value: str) -> str:
    """Any other option's text (`--base-url`, `--max-debit`, `--state-branch`...): every one is
    UTF-8 where it goes (a URL, an amount, a branch), so one that is not is refused here, shown
    as the shell writes it, rather than later as Python's `\\udcNN`."""
    return _utf8(value, "not UTF-8")


def name(text: str) -> str:
    """A key's address, id or name, or an account's name (`--target`, `--account`, `rotate`'s
    keys...): the manifest is YAML, which is UTF-8, so one that is not names nothing there."""
    return _utf8(text, "not UTF-8, so it names no key or account")


def _utf8(value: str, why: str) -> str:
    if undecodable(value):
        raise argparse.ArgumentTypeError(f"{quoted(value)}: {why}")
    return value


STDIO = "-"  # stdout (or stdin), as most tools take it: where an option takes it, `printed`

# Why an option never takes `-`, and what to give instead (`file`'s `dash`).
READ = "ehkeys reads no input from stdin: name the file"
SAVED_PLAN = (
    "a saved plan is a file that `apply --plan` reads back, and stdout shows the plan already: "
    "name a file, like plan.json"
)
SECRETS = (
    "a key's value never goes to stdout: name a file (written 0600), or print it on a terminal "
    "with `ehkeys reveal`"
)
REPORT = "stdout shows the apply as it goes, which the report would be mixed into: name a file, like apply.md"
REVEALED = "values go only to a terminal or a 0600 file: on a terminal leave --out out, else name a file"
STATE = "a state is a file ehkeys reads and writes back: name one, like state.json"
DATABASE = "the sandbox's database is a SQLite file: name one, or leave --db out (in memory)"
FOLDER = "name a folder, like ehkeys-out"


@dataclass(frozen=True)
class PathOption:
    """The type of an option that names a file or folder (`path`'s checks): `-` is `None`, the
    option's default (stdout: printed), where `stdout` says so, else refused, saying why and what
    to give instead (`dash`): `--out -` wrote a file named `-`; a file's name that ends with `/`
    names a folder, refused too: `--out plans/` wrote a file named `plans`."""

    dash: str = READ
    stdout: bool = False
    folder: bool = False

    def __call__(self, text: str) -> str | None:
        text = path(text)
        if text == STDIO:
            if self.stdout:
                return None
            what = "folder" if self.folder else "file"
            raise argparse.ArgumentTypeError(f"-: {self.dash}; a {what} named - is ./-")
        if text.endswith("/") and not self.folder:
            raise argparse.ArgumentTypeError(f"{shown(text)}: ends with /, so it names a folder: name a file")
        return text


def file(metavar: str = "FILE", dash: str = READ) -> dict[str, Any]:
    """An option's settings that name a file or folder (DIR): `add_argument("--out",
    **file(dash=SAVED_PLAN), ...)`; `dash`: why it never takes `-`, and what to give instead."""
    return {"type": PathOption(dash, folder=metavar == "DIR"), "metavar": metavar}


def printed(metavar: str = "FILE") -> dict[str, Any]:
    """An output file's option whose default is stdout: `-` names stdout, as `schema --out -`."""
    return {"type": PathOption(stdout=True), "metavar": metavar}


positive = checked(int, lambda n: n >= 1, "a whole number of at least 1, like 8")
MAX_PARALLELISM = 256  # each request at once holds a slot and a pooled connection: more only eats memory
parallelism = checked(
    int, lambda n: 1 <= n <= MAX_PARALLELISM, f"a whole number from 1 to {MAX_PARALLELISM}, like 8"
)
seconds = checked(float, lambda s: math.isfinite(s) and s > 0, "a number of seconds above 0, like 20")
whole_days = checked(int, lambda n: n >= 0, "a whole number of days of 0 or more, like 30")
port = checked(int, lambda n: 0 <= n <= 65535, "a port number from 0 to 65535")


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(text) from None


def negative_durations(argv: Sequence[str]) -> list[str]:
    """`--overlap -1d` as `--overlap=-1d`: argparse takes `-1d` for an option ("expected one
    argument"); so joined, the duration's own message says what is expected."""
    joined: list[str] = []
    for arg in argv:
        if joined and joined[-1] == "--overlap" and re.fullmatch(r"-[0-9].*", arg):
            joined[-1] = f"--overlap={arg}"
        else:
            joined.append(arg)
    return joined


DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "": 1.0}


def _seconds_of(text: str) -> float:
    """`30s`, `2m`, `500ms`, `1h`, or a bare number of seconds."""
    number = text.strip().lower().rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text.strip().lower()[len(number) :]
    if unit not in DURATION_UNITS:
        raise ValueError(text)
    return float(number) * DURATION_UNITS[unit]


duration = checked(
    _seconds_of, lambda s: math.isfinite(s) and s >= 0, "a duration of 0 or more, like 30s, 2m or 0"
)
overlap = checked(Duration.parse, lambda _: True, "a duration: hours, days or weeks (12h, 7d, 2w), or 0")
days = checked(_decimal, lambda d: d.is_finite() and d >= 0, "a number of days of 0 or more, like 14")
percent = checked(_decimal, lambda d: d.is_finite() and d >= 0, "a percentage of 0 or more, like 90")


_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _account_export(text: str) -> tuple[str, str]:
    """`prod=EH_PROD_API_KEY`, or `prod` (its variable then `EH_PROD_API_KEY`): (name, variable)."""
    name, given, var = text.partition("=")
    if undecodable(name):
        raise ValueError(text)
    var = var.strip() if given else "EH_" + re.sub(r"[^A-Za-z0-9]", "_", name.strip()).upper() + "_API_KEY"
    if not name.strip() or not _VAR.fullmatch(var):
        raise ValueError(text)
    return name.strip(), var


account_export = checked(
    _account_export, lambda _: True, "an account name, and its key's variable: prod or prod=EH_PROD_API_KEY"
)
account_name = checked(
    str,
    lambda name: re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name) is not None,
    "an account name of lower-case letters, digits, - and _, like prod",
)


class Once(argparse.Action):
    """An option given at most once: where other commands repeat it (`--account`), a second one
    would silently replace the first."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, value: object, *_: object
    ) -> None:
        if getattr(namespace, self.dest, None) is not None:
            raise argparse.ArgumentError(
                self, "given twice: this command takes one (run it once per account)"
            )
        setattr(namespace, self.dest, value)
