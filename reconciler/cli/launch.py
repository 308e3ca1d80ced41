"""The `ehkeys` command's entry point, which imports nothing of ehkeys but this: Ctrl-C while
Python imports the rest (the first ~0.15 s of every run, before `main` sets any handler) ends
the run as an interrupt does later (`ehkeys: interrupted`, exit 130), never a traceback."""

from __future__ import annotations

import sys

INTERRUPTED = 130  # as `core.exitcodes.ExitCode.INTERRUPTED`, which this module does not import


def entry() -> None:
    try:
        from reconciler.cli.main import entry as run
    except KeyboardInterrupt:
        sys.stderr.write("ehkeys: interrupted\n")
        sys.exit(INTERRUPTED)
    run()
