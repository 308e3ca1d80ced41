"""A run's cancellation (the runner's SIGINT, SIGTERM or SIGHUP, turned into Ctrl-C by the
GitOps jobs) held back while the state is written: a push cut halfway leaves the branch without
what the run did (a key created, a rotation begun), and the next run acts on a lost state."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from reconciler.engine import stopping


class _Held:
    def __init__(self) -> None:
        self.depth = 0  # how many `held()` blocks are running
        self.cancelled = False  # a cancellation came while one ran


_HELD = _Held()


def cancel() -> None:
    """The run is cancelled: at once (the command's loop stopped as by Ctrl-C, `stopping.interrupt`,
    or KeyboardInterrupt outside it), or once the `held()` block running ends."""
    if _HELD.depth:
        _HELD.cancelled = True
        return
    stopping.interrupt()


@contextmanager
def held() -> Iterator[_Held]:
    """A cancellation (`cancel`) waits while the block runs; `.cancelled` says whether one came
    (the caller raises it, or not when an error of its own is on its way)."""
    if not _HELD.depth:
        _HELD.cancelled = False  # one an earlier block's caller never took: not this run's
    _HELD.depth += 1
    try:
        yield _HELD
    finally:
        _HELD.depth -= 1


def take() -> bool:
    """Whether a held cancellation came (forgotten once taken)."""
    came, _HELD.cancelled = _HELD.cancelled, False
    return came
