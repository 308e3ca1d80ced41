"""The engine's one way into asyncio: `asyncio.run`, less the cost of its result's repr.

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

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)`'s result."""
    kept: list[T] = []

    async def keeping() -> None:
        kept.append(await main)

    asyncio.run(keeping())
    return kept[0]
