"""How `--help` shows the options, which usage a mistyped option prints, and how a command's
words are read (options anywhere among its positionals)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

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


class Intermixed(argparse.ArgumentParser):
    """A command's parser: its options may come before, between or after its positionals
    (`deliver keys.yaml --sandbox api`, `plan a.yaml --sandbox b.yaml`). argparse's own parsing
    ends the positionals at the first option, so that the words after it were refused unless a
    positional still wanted some (`rotate`'s ADDRESS... did; `deliver`'s optional ADDRESS... had
    taken none). Here, as argparse's intermixed parsing does, the options are read first with the
    positionals set aside, then the words left over as the positionals; unlike it (3.10-3.12),
    every word after `--` stays a positional (`plan -- -keys.yaml`). A parser of subcommands
    (`github`) parses as usual; its jobs' parsers are of this class too."""

    _within = False  # set while the two passes run: each calls argparse's parsing again

    def parse_known_args(
        self, args: Iterable[str] | None = None, namespace: Any = None
    ) -> tuple[Any, list[str]]:
        positionals = self._get_positional_actions()
        if self._within or any(a.nargs == argparse.PARSER for a in positionals):
            return super().parse_known_args(args, namespace)
        words = list(sys.argv[1:] if args is None else args)
        cut = words.index("--") if "--" in words else len(words)
        usage, self._within = self.usage, True
        try:
            self.usage = self.format_usage()[len("usage: ") :]  # errors show the whole usage
            namespace, rest = self._options_first(positionals, words[:cut], namespace)
            return self._positionals_then(rest + words[cut:], namespace)
        finally:
            self.usage, self._within = usage, False

    def _options_first(
        self, positionals: list[argparse.Action], words: list[str], namespace: Any
    ) -> tuple[Any, list[str]]:
        """The options, every positional set aside: the words left over, unknown options too."""
        kept = [(a, a.nargs, a.default) for a in positionals]
        try:
            for action in positionals:
                action.nargs = action.default = argparse.SUPPRESS
            return super().parse_known_args(words, namespace)
        finally:
            for action, nargs, default in kept:
                action.nargs, action.default = nargs, default

    def _positionals_then(self, words: list[str], namespace: Any) -> tuple[Any, list[str]]:
        """The positionals, from the words the options left; an option required was read first."""
        optionals = self._get_optional_actions()
        kept = [(a, a.required) for a in optionals]
        try:
            for action in optionals:
                action.required = False
            return super().parse_known_args(words, namespace)
        finally:
            for action, required in kept:
                action.required = required


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
