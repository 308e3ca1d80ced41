"""The engine's one way into asyncio: `asyncio.run`, less the cost of its result's repr, and
the one way a stop signal reaches a running command.

When the main coroutine ends, asyncio's Runner looks up its own Ctrl-C handler with
`signal.getsignal`, which tries to turn that handler (a partial holding the main task) into
`signal.Handlers`, fails, and formats `repr(handler)` for the error it then drops: the task's
repr, with its result's repr in full (reprlib cuts it short only after computing it). A
command's result is its whole plan or report: ~12 ms of a 500-key apply, growing with the keys.
So the task returns nothing, and the result is handed over beside it.

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

import asyncio
import contextlib
import signal
import threading
from collections.abc import Coroutine, Iterator
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")


class _Running:
    def __init__(self) -> None:
        self.inside = False  # a command's asyncio.run is under way
        self.task: asyncio.Task[None] | None = None  # its main task, while it runs
        self.stopped = False  # a stop came while it was under way
        self.waits = 0  # how many `waiting()` blocks are running


_RUNNING = _Running()


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)`'s result; KeyboardInterrupt when a stop (`interrupt`) came."""
    kept: list[T] = []

    async def keeping() -> None:
        _RUNNING.task = asyncio.current_task()
        try:
            if _RUNNING.stopped:  # while the loop started: the command never begins
                main.close()
                return
            kept.append(await main)
        finally:
            _RUNNING.task = None

    _RUNNING.stopped, _RUNNING.inside = False, True
    try:
        with _ctrl_c():
            asyncio.run(keeping())
    except asyncio.CancelledError:
        if _RUNNING.stopped:
            raise KeyboardInterrupt from None
        raise
    finally:
        _RUNNING.inside = False
    if _RUNNING.stopped:  # taken in while the loop closed, or the command ended anyway: still a stop
        raise KeyboardInterrupt
    return kept[0]


def interrupt() -> None:
    """A stop signal's action (run by its handler, in the main thread): the running command's
    main task cancelled, the loop woken to see it; outside a loop, or in a `waiting()` block,
    KeyboardInterrupt."""
    if not _RUNNING.inside or _RUNNING.waits:
        raise KeyboardInterrupt
    if _RUNNING.stopped:
        return  # the first one is unwinding the command: never cut short
    _RUNNING.stopped = True
    task = _RUNNING.task
    if task is not None and not task.done():
        task.cancel()
        task.get_loop().call_soon_threadsafe(lambda: None)  # a loop asleep in select() wakes to it


@contextlib.contextmanager
def waiting() -> Iterator[None]:
    """A wait of the command's own, in its loop, that blocks it (the apply's question, another
    run's lock): nothing is in flight, so a stop ends it at once (KeyboardInterrupt), and one that
    came before it began keeps it from beginning."""
    if _RUNNING.inside and _RUNNING.stopped:
        raise KeyboardInterrupt
    _RUNNING.waits += 1
    try:
        yield
    finally:
        _RUNNING.waits -= 1


@contextlib.contextmanager
def _ctrl_c() -> Iterator[None]:
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
