"""A job's output folder (`--dir`, `ehkeys-out`): made for the run, and removed after it when
the run made it and wrote nothing in it (a plan that failed), so that a failed job leaves no
empty folder in the checkout. A folder that was there before the run is never removed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def for_the_run(folder: Path) -> Iterator[Path]:
    """`folder`, made with its missing parents; those this run made that are still empty when
    it ends are removed, the deepest first."""
    made = [path for path in (folder, *folder.parents) if not path.exists() and not path.is_symlink()]
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield folder
    finally:
        for path in made:
            try:
                path.rmdir()  # only an empty folder: a file written in it keeps it
            except FileNotFoundError:  # removed already
                continue
            except OSError:  # written in: so are the folders above it
                break
