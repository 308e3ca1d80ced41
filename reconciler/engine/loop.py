"""The engine's one way into asyncio: `asyncio.run`, less the cost of its result's repr, and
the one way a stop signal reaches a running command.

When the main coroutine ends, asyncio's Runner looks up its own Ctrl-C handler with
`signal.getsignal`, which tries to turn that handler (a partial holding the main task) into
`signal.Handlers`, fails, and formats `repr(handler)` for the error it then drops: the task's
repr, with its result's repr in full (reprlib cuts it short only after computing it). A
command's result is its whole plan or report: ~12 ms of a 500-key apply, growing with the keys.
So the task returns nothing, and the result is handed over beside it.

A stop (SIGTERM, SIGHUP, a CI job's cancel) cancels the running main task, as asyncio's own
Ctrl-C handler does: each task then stops at its next wait and unwinds through its `finally`.
A KeyboardInterrupt raised where a task stood (between an answer and its being recorded) left
that write unnamed and the other tasks pending.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class _Running:
    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None  # the main task of the command's loop, while it runs
        self.stopped = False  # a stop cancelled it


_RUNNING = _Running()


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)`'s result; KeyboardInterrupt when a stop (`interrupt`) cancelled it."""
    kept: list[T] = []

    async def keeping() -> None:
        _RUNNING.task = asyncio.current_task()
        try:
            kept.append(await main)
        finally:
            _RUNNING.task = None

    _RUNNING.stopped = False
    try:
        asyncio.run(keeping())
    except asyncio.CancelledError:
        if _RUNNING.stopped:
            raise KeyboardInterrupt from None
        raise
    if _RUNNING.stopped:  # the cancel was taken in and the command ended anyway: still a stop
        raise KeyboardInterrupt
    return kept[0]


def interrupt() -> None:
    """A stop signal's action (run by its handler, in the main thread): the running command's
    main task cancelled, the loop woken to see it; with no loop running, KeyboardInterrupt."""
    task = _RUNNING.task
    if task is None or task.done():
        raise KeyboardInterrupt
    _RUNNING.stopped = True
    task.cancel()
    task.get_loop().call_soon_threadsafe(lambda: None)  # a loop asleep in select() wakes to it
