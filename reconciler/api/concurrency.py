"""Bounded concurrency for many keys, and a progress line for long runs on a terminal."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def bounded(work: Callable[[T], Awaitable[R]], items: Sequence[T], limit: int) -> list[R]:
    """`work` over `items`, at most `limit` at once, results in order.

    A fixed set of workers rather than one task per item: 10,000 waiting tasks cost
    tens of megabytes for nothing.
    """
    results: list[R | None] = [None] * len(items)
    queue = iter(enumerate(items))

    async def worker() -> None:
        for index, item in queue:
            results[index] = await work(item)

    await all_or_none(*(worker() for _ in range(max(min(limit, len(items)), 1))))
    return results  # type: ignore[return-value]  # every slot is filled by now


async def all_or_none(*work: Awaitable[Any]) -> list[Any]:
    """asyncio.gather, but the first failure cancels the others and waits for them to end:
    no task outlives the call, to fail later unheard or be destroyed pending at exit."""
    tasks = [asyncio.ensure_future(w) for w in work]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


class Progress:
    """A one-line counter on stderr, only on a terminal and only for long runs."""

    def __init__(self, total: int, what: str) -> None:
        self.total = total
        self.what = what
        self.count = 0
        self.on = total >= 50 and sys.stderr.isatty()

    def step(self) -> None:
        self.count += 1
        if self.on and (self.count % 10 == 0 or self.count == self.total):
            sys.stderr.write(f"\r{self.what}: {self.count}/{self.total}")
            sys.stderr.flush()

    def done(self) -> None:
        if self.on:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
