"""A run from a folder that no longer exists (removed, or moved, under a shell still in it):
a relative path names nothing there, and Python's `os.path.abspath` raised where ehkeys made
one absolute (an internal error). Refused before anything is read or sent, naming the relative
paths the command line gives (the manifests, and each option's file or folder, a default's
too: `github --dir`); a run whose paths are all absolute goes on as anywhere else."""

from __future__ import annotations

import argparse
import os

from reconciler.cli.helptext import USAGE
from reconciler.cli.optiontypes import PathOption
from reconciler.core.errors import UsageError
from reconciler.core.pathnames import shown

GONE = "the current directory no longer exists (removed, or moved?)"
DO = "cd to a directory that exists, or give absolute paths"
_NO_FILE = ":memory:"  # `sandbox --db`'s default: SQLite's name for a database in no file


def gone() -> bool:
    """Whether the process's current directory has been removed."""
    try:
        os.getcwd()
    except FileNotFoundError:
        return True
    return False


def check(args: argparse.Namespace) -> None:
    """Refuse relative paths when the current directory is gone (`UsageError`, exit 1)."""
    if not gone():
        return
    relative = [path for path in _paths(args) if not os.path.isabs(path)]
    if relative:
        named = ", ".join(shown(path) for path in relative)
        raise UsageError(f"{GONE}, so a relative path names nothing ({named}): {DO}")


def _paths(args: argparse.Namespace) -> list[str]:
    """The paths the command line names: its manifests, and each file or folder option's value."""
    paths = list(getattr(args, "manifests", None) or [])
    parser: argparse.ArgumentParser | None = getattr(args, USAGE, None)
    for action in parser._actions if parser is not None else ():
        value = getattr(args, action.dest, None)
        if isinstance(action.type, PathOption) and isinstance(value, str) and value != _NO_FILE:
            paths.append(value)
    return paths
