"""How `--help` shows the options, and which usage a mistyped option prints."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from decimal import Decimal

USAGE = "usage_parser"  # the namespace entry naming the (sub)command's own parser


class Help(argparse.RawDescriptionHelpFormatter):
    """Keeps the exit-code table's lines as written, and shows each option's default when its
    help does not say it already (a flag's is off; a value without a default says so itself)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or not action.option_strings or not _shown(action.default):
            return text
        return f"{text} (default: %(default)s)".lstrip()


def _shown(default: object) -> bool:
    if default is argparse.SUPPRESS or isinstance(default, bool):
        return False
    return isinstance(default, (str, int, float, Decimal))


def remember(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """`parser` reports a mistyped option that follows its command with its own usage."""
    parser.set_defaults(**{USAGE: parser})
    return parser


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """argparse reports an unknown option with the top-level usage, which does not list it:
    here the usage of the command it follows, which does."""
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        getattr(args, USAGE, parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    return args
