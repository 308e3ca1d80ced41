"""Pacing from the X-RateLimit-* headers, so that the client never fires into a 429.

The real service answers an overrun with a 180-second cooldown: holding requests until the
window resets is much cheaper than meeting it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import httpx

PROBE = 2  # requests in flight before any budget is known (limits are tens per minute)


class Pacer:
    """Spends the budget the X-RateLimit headers announce, and waits for the reset after."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.remaining: int | None = None
        self.reset_at = 0.0
        self.inflight = 0
        self.probing = True
        self._cond = asyncio.Condition()

    async def acquire(self) -> None:
        async with self._cond:
            while True:
                now = self.clock()
                if self.remaining is not None and now >= self.reset_at and self.inflight == 0:
                    self.remaining = max(self.remaining, 1)  # the window moved: probe with one
                if self.probing:  # learn the budget from the first answers before spending it
                    ready = self.inflight < PROBE
                else:
                    ready = self.remaining is None or self.remaining - self.inflight > 0
                if ready:
                    self.inflight += 1
                    return
                timeout = self.reset_at - now if now < self.reset_at else None
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._cond.wait(), timeout)

    async def release(self, headers: httpx.Headers | None) -> None:
        async with self._cond:
            self.inflight -= 1
            self.probing = False
            self._learn(headers)
            self._cond.notify_all()

    def _learn(self, headers: httpx.Headers | None) -> None:
        try:
            remaining = int(headers["x-ratelimit-remaining"]) if headers else None
            reset = float(headers["x-ratelimit-reset"]) if headers else 0.0
        except (KeyError, ValueError):
            return
        if remaining is None:
            return
        if self.remaining is None or reset > self.reset_at:
            self.remaining, self.reset_at = remaining, reset
        else:
            self.remaining = min(self.remaining, remaining)
