"""The engine's one way into asyncio: `asyncio.run`, less the cost of its result's repr, with
the command's main task registered for a stop signal to cancel (`stopping`).

When the main coroutine ends, asyncio's Runner looks up its own Ctrl-C handler with
`signal.getsignal`, which tries to turn that handler (a partial holding the main task) into
`signal.Handlers`, fails, and formats `repr(handler)` for the error it then drops: the task's
repr, with its result's repr in full (reprlib cuts it short only after computing it). A
command's result is its whole plan or report: ~12 ms of a 500-key apply, growing with the keys.
So the task returns nothing, and the result is handed over beside it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from reconciler.engine.stopping import RUNNING, ctrl_c

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)`'s result; KeyboardInterrupt when a stop (`interrupt`) came."""
    kept: list[T] = []

    async def keeping() -> None:
        RUNNING.task = asyncio.current_task()
        try:
            if RUNNING.stopped:  # while the loop started: the command never begins
                main.close()
                return
            kept.append(await main)
        finally:
            RUNNING.task = None

    RUNNING.stopped, RUNNING.inside = False, True
    try:
        with ctrl_c():
            asyncio.run(keeping())
    except asyncio.CancelledError:
        if RUNNING.stopped:
            raise KeyboardInterrupt from None
        raise
    finally:
        RUNNING.inside = False
    if RUNNING.stopped:  # taken in while the loop closed, or the command ended anyway: still a stop
        raise KeyboardInterrupt
    return kept[0]
