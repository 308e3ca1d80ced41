"""How a stop signal reaches a running command, with nothing of asyncio imported (`validate`
starts without it): `loop.run` registers the command's main task here.

A stop (Ctrl-C, SIGTERM, SIGHUP, a CI job's cancel) cancels the running main task, as asyncio's
own Ctrl-C handler does: each task then stops at its next wait and unwinds through its `finally`.
A KeyboardInterrupt raised where a task stood (between an answer and its being recorded) left
that write unnamed and the other tasks pending. Three places take a stop otherwise:
- a wait of the command's own that blocks the loop (`waiting`: the apply's question, another
  run's lock) ends at once, by KeyboardInterrupt: a cancel would be seen only once it is over;
- while the loop starts or closes (no main task yet, or no more), the stop is kept, and raised
  once `asyncio.run` has returned: never inside asyncio's own start or shutdown;
- a second stop while the first unwinds changes nothing (two Ctrl-C force it, as asyncio's).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio


class Running:
    def __init__(self) -> None:
        self.inside = False  # a command's asyncio.run is under way
        self.task: asyncio.Task[None] | None = None  # its main task, while it runs
        self.stopped = False  # a stop came while it was under way
        self.waits = 0  # how many `waiting()` blocks are running


RUNNING = Running()  # the command's, while `loop.run` runs it


def interrupt() -> None:
    """A stop signal's action (run by its handler, in the main thread): the running command's
    main task cancelled, the loop woken to see it; outside a loop, or in a `waiting()` block,
    KeyboardInterrupt."""
    if not RUNNING.inside or RUNNING.waits:
        raise KeyboardInterrupt
    if RUNNING.stopped:
        return  # the first one is unwinding the command: never cut short
    RUNNING.stopped = True
    task = RUNNING.task
    if task is not None and not task.done():
        task.cancel()
        task.get_loop().call_soon_threadsafe(lambda: None)  # a loop asleep in select() wakes to it


@contextlib.contextmanager
def waiting() -> Iterator[None]:
    """A wait of the command's own, in its loop, that blocks it (the apply's question, another
    run's lock): nothing is in flight, so a stop ends it at once (KeyboardInterrupt), and one that
    came before it began keeps it from beginning."""
    if RUNNING.inside and RUNNING.stopped:
        raise KeyboardInterrupt
    RUNNING.waits += 1
    try:
        yield
    finally:
        RUNNING.waits -= 1


@contextlib.contextmanager
def ctrl_c() -> Iterator[None]:
    """Ctrl-C while the loop runs, as asyncio's own handler takes it (the first stops the command,
    a second one forces it at once), but through `interrupt`, as the other stops. Where Ctrl-C is
    handled already (a GitOps job) or ignored (`cmd &`), or off the main thread: as it is."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    pressed = 0

    def on_ctrl_c(number: int, frame: FrameType | None) -> None:
        nonlocal pressed
        pressed += 1
        if pressed > 1:
            raise KeyboardInterrupt
        interrupt()

    signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
