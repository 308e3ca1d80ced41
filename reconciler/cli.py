"""`ehkeys` command line. `main(argv) -> int`; errors become messages and exit codes here only.

The options are in `options.py`; validate and sandbox, which need no API, in `localcmds.py`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from reconciler import options, unsettled
from reconciler.errors import EhkeysError
from reconciler.model import scrub

log = logging.getLogger("ehkeys")

USAGE_ERROR = 1  # as Terraform's; 2 means "changes" or "drift" to plan and drift
INTERRUPTED = 130


class _Scrubbed(logging.Filter):
    """Every record, from any library, is written with keys and bearer tokens redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a library's bad format string: keep what there is
            message = str(record.msg)
        record.msg, record.args = scrub(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


class _ToStderr(logging.Handler):
    """Writes to whatever sys.stderr is when a record comes (tests swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


_HANDLER = _ToStderr()
_HANDLER.addFilter(_Scrubbed())
_HANDLER.setFormatter(logging.Formatter("ehkeys: %(levelname)s: %(message)s"))


def _log_to_stderr(debug: bool) -> None:
    root = logging.getLogger()
    if _HANDLER not in root.handlers:
        root.addHandler(_HANDLER)
    root.setLevel(logging.DEBUG if debug else logging.WARNING)


def _say(text: str) -> None:
    print(f"ehkeys: {scrub(text)}", file=sys.stderr)


def _say_unknown_writes() -> None:
    """Writes a failure or an interrupt cut short in flight, or before they were recorded."""
    for line in unsettled.lines():
        _say(line)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one command; the one place where exceptions become messages and exit codes."""
    try:
        args = options.parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed its usage message, or --help/--version
        return 0 if exc.code in (0, None) else USAGE_ERROR
    _log_to_stderr(args.debug)
    try:
        code: int = args.handler(args)
        return code
    except EhkeysError as exc:
        _say(f"error: {exc}")
        _say_unknown_writes()
        return exc.exit_code
    except KeyboardInterrupt:
        _say("interrupted")
        _say_unknown_writes()
        return INTERRUPTED
    except BrokenPipeError:  # e.g. `ehkeys plan ... | head`
        sys.stderr.close()
        return 1
    except Exception as exc:  # a bug: say so plainly, details only with --debug
        log.debug("internal error", exc_info=True)
        _say(f"internal error: {type(exc).__name__}: {exc}")
        _say("please report it; --debug shows the details")
        return 1


def entry() -> None:
    sys.exit(main())
