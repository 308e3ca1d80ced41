"""`ehkeys` command line. `main(argv) -> int`; errors become messages and exit codes here only.

The options are in `options.py`; each command's parser names its handler (`commands`), and
each command's module is imported only when it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from reconciler.api import unsettled
from reconciler.cli import options, workdir
from reconciler.cli.optiongroups import Handler
from reconciler.cli.stops import first_stops, ignored
from reconciler.core.errors import EhkeysError
from reconciler.core.exitcodes import ExitCode
from reconciler.core.secrets import no_core_dumps, scrub
from reconciler.engine import stopping

log = logging.getLogger("ehkeys")


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


DEBUG_HTTP = "EHKEYS_DEBUG_HTTP"  # =1 with --debug: every library's debug lines too (httpcore's trace)
# What --debug shows besides every warning: ehkeys' own lines (one per API request: method,
# path, status, time) and httpx's line per request of a client (GitHub, Vault).
_DEBUGGED = {"ehkeys": logging.DEBUG, "httpx": logging.INFO}


def _log_to_stderr(debug: bool) -> None:
    root = logging.getLogger()
    if _HANDLER not in root.handlers:
        root.addHandler(_HANDLER)
    everything = debug and os.environ.get(DEBUG_HTTP, "") not in ("", "0")
    root.setLevel(logging.DEBUG if everything else logging.WARNING)
    for name, level in _DEBUGGED.items():  # set on every run: a test's runs share the loggers
        logging.getLogger(name).setLevel(level if debug and not everything else logging.NOTSET)


def _say(text: str) -> None:
    # one write, newline included: print's two would let another thread's output (asyncio's
    # child watcher warns when a sink's process outlives the loop) land between them
    sys.stderr.write(f"ehkeys: {scrub(text)}\n")


def _say_unknown_writes() -> None:
    """Writes a failure or an interrupt cut short in flight, or before they were recorded."""
    for line in unsettled.lines():
        _say(line)


class _ReaderMayGo:
    """sys.stdout that, once its reader has gone (`ehkeys plan ... | head -1`), writes to
    /dev/null (Python's recipe): the command goes on and exits with its documented code (2 for
    changes) instead of 1, and nothing fails again when Python flushes stdout at exit."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lost = False  # the output could not be written (a full disk): said once, exit 1

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except BrokenPipeError:
            self._gone()
        except OSError as exc:
            self._failed(exc)
        return len(text)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except BrokenPipeError:
            self._gone()
        except OSError as exc:
            self._failed(exc)

    def _failed(self, exc: OSError) -> None:
        """Output the disk or device refused (`> /dev/full`): said on stderr, the rest dropped,
        and the command goes on (an apply's writes are in its journal), ending with exit 1."""
        if not self.lost:
            self.lost = True
            _say(f"error: cannot write the output ({exc.strerror or exc}); the rest of it is lost")
        self._gone()

    def _gone(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # no descriptor (a test's stream): nothing to redirect
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stream.fileno())
            os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def main(argv: Sequence[str] | None = None, exiting: bool = False) -> int:
    """Runs one command; the one place where exceptions become messages and exit codes.
    `exiting`: the process ends with it (`entry`), so a stopped one ignores signals to the end."""
    stdout = sys.stdout
    with contextlib.ExitStack() as closing:
        # None: started with stdout closed (`>&-`), as a reader gone before the first write
        stream = stdout if stdout is not None else closing.enter_context(open(os.devnull, "w"))
        sys.stdout = guarded = _ReaderMayGo(stream)
        try:
            code = int(_main(argv, exiting))
        finally:
            guarded.flush()  # here, not at exit: a reader gone by now is then handled too
            sys.stdout = stdout
        # lost output fails a run that said all is well (or changes, drift: read from its output)
        return ExitCode.ERROR if guarded.lost and code in (ExitCode.OK, ExitCode.CHANGES) else code


def _main(argv: Sequence[str] | None, exiting: bool) -> ExitCode:
    try:
        args = options.parse(argv)
    except SystemExit as exc:  # argparse has printed its usage message, or --help/--version
        return ExitCode.OK if exc.code in (0, None) else ExitCode.ERROR  # 1 as Terraform's, never 2
    _log_to_stderr(args.debug)
    no_core_dumps()  # a crash of ehkeys, or of a sink's command, never writes keys to a core file
    try:
        code = _run(args)
    except EhkeysError as exc:
        _say(f"error: {exc}")
        _say_unknown_writes()
        return exc.exit_code
    except KeyboardInterrupt:
        # a second signal (SIGINT, then SIGTERM; two hang-ups) never cuts the last words short,
        # nor, at the process's exit, ends it as a kill or a traceback in an exit handler
        with ignored(_LAST_WORDS, restore=not exiting):
            _say("interrupted")
            _say_unknown_writes()
        return ExitCode.INTERRUPTED
    except Exception as exc:  # a bug: say so plainly, details only with --debug
        log.debug("internal error", exc_info=True)
        if workdir.gone():  # removed while it ran (checked before it began): the cause, not a bug
            _say(f"error: {workdir.GONE}: {workdir.DO}")
            _say_unknown_writes()
            return ExitCode.ERROR
        _say(f"internal error: {type(exc).__name__}: {exc}")
        _say("please report it; --debug shows the details")
        return ExitCode.ERROR
    _say_unknown_writes()  # an account cut off part-way while the others went on: its writes
    return code


def _run(args: argparse.Namespace) -> ExitCode:
    handler: Handler = args.handler  # set by each command's parser (`options`, `commands`)
    workdir.check(args)  # before anything is read: a relative path names nothing in a removed folder
    if args.command == "sandbox":  # its server stops on these signals itself
        return handler(args)
    with _stopped_as_by_ctrl_c():
        return handler(args)


def _stopped_as_by_ctrl_c() -> contextlib.AbstractContextManager[None]:
    """SIGTERM (`timeout`, a scheduler, `kill`) and SIGHUP (the terminal closed) stop a command
    as Ctrl-C does, once: the writes in flight named, a command sink's process group stopped,
    exit 130. Python's default ended the process where it stood, saying nothing. A signal
    ignored (`nohup`, or SIGTERM by whoever started us) stays ignored."""
    return first_stops(
        [each for each in _STOPS if signal.getsignal(each) is signal.SIG_DFL], stopping.interrupt
    )


_STOPS = (signal.SIGTERM, signal.SIGHUP)
_LAST_WORDS = (signal.SIGINT, *_STOPS)


def entry() -> None:
    code = main(exiting=True)
    # What the command built (a 2,000-key plan: ~100,000 objects) is garbage now. It is frozen,
    # so that the interpreter's exit frees it by reference counting instead of walking it with
    # collections (~60 ms after that plan; one collection here was still ~12 ms of a 500-key
    # apply). What must be closed is closed by then (files by `with`, the event loop by
    # asyncio.run); the in-process sandbox's database by its own finalizer, run at exit.
    gc.freeze()
    sys.exit(code)
