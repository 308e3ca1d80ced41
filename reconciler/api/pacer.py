"""Pacing from the X-RateLimit-* headers, so that the client never fires into a 429.

The real service answers an overrun with a 180-second cooldown: holding requests until the
window resets is much cheaper than meeting it. Every wait is bounded by the request's
deadline. A reset time no rate window can have (not a number, more than an hour ahead, more
than a window in the past: clock skew, or milliseconds for seconds) counts as unknown, and
the pacer then holds a spent budget for one whole window.

A reset is written to some unit (rate-limits.mdx shows whole seconds, and so does the
sandbox; a proxy may write fractions) and may have been rounded down to it: the window is
taken to reset at the end of that unit, never before. A request fired up to a second early would meet the 429.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Awaitable, Callable

import anyio
import httpx

from reconciler.api.errors import OutOfTime

PROBE = 2  # requests in flight before any budget is known (limits are tens per minute)
WINDOW = 60.0  # seconds: the service's sliding window (its cooldown is 180 s)
MAX_AHEAD = 3600.0  # a reset further ahead than this is absurd
MAX_BEHIND = WINDOW  # a reset further in the past than this is a skewed clock
NOTICE_AFTER = 2.0  # seconds: shorter waits are not worth a line on the terminal
_FRACTION = re.compile(r"\s*[0-9]+(?:\.([0-9]*))?\s*")  # epoch seconds as plain digits


def sane_reset(value: float | None, now: float) -> float | None:
    """`value` (epoch seconds) if a rate window can end then, else None (unknown)."""
    if value is not None and math.isfinite(value) and now - MAX_BEHIND <= value <= now + MAX_AHEAD:
        return value
    return None


def reset_header(headers: httpx.Headers | None, now: float) -> float | None:
    """When the window has surely reset, by X-RateLimit-Reset: the end of the unit the header
    is written to (1700000000 -> 1700000001, 1700000000.250 -> 1700000000.251; any other
    spelling of a number, a second later). Repeated (joined by commas), the latest of them.
    None when absent, or any of them is absurd (`sane_reset`)."""
    ends = [_end_of_unit(text, now) for text in _values(headers, "x-ratelimit-reset")]
    known = [end for end in ends if end is not None]
    return max(known) if known and len(known) == len(ends) else None


def _end_of_unit(text: str, now: float) -> float | None:
    stated = sane_reset(_number(text), now)
    if stated is None:
        return None
    plain = _FRACTION.fullmatch(text)
    end = stated + (10.0 ** -len(plain.group(1) or "") if plain else 1.0)
    return end + math.ulp(end)  # the float read and the sum may each round down: never early


def header_number(
    headers: httpx.Headers | None, name: str, pick: Callable[[list[float]], float] = max
) -> float | None:
    """The header's number; None when absent or not a number. A field sent more than once (a
    proxy adding it again) arrives joined by commas, as HTTP allows: `pick` of its numbers."""
    numbers = [_number(text) for text in _values(headers, name)]
    return pick(numbers) if numbers and not any(map(math.isnan, numbers)) else None


def _values(headers: httpx.Headers | None, name: str) -> list[str]:
    return headers[name].split(",") if headers and name in headers else []


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


class WaitNotices:
    """Says what a wait is for and how long it is, once per wait (not once per request)."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self.emit = emit
        self._until = -math.inf

    def waiting(self, seconds: float, until: float) -> None:
        """`seconds` to wait, until `until` (epoch seconds)."""
        if seconds < NOTICE_AFTER or until <= self._until + 1.0:
            return
        self._until = until
        at = time.strftime("%H:%M:%S", time.localtime(until))
        self.emit(f"waiting {seconds:.0f} s for the API's rate limit (resets at {at})")


class Pacer:
    """Spends the budget the X-RateLimit headers announce, and waits for the reset after.

    No lock: the event loop runs one request's bookkeeping at a time, and waiters sleep on
    an Event that every answer sets, so a cancelled waiter leaves nothing half-held.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        notices: WaitNotices | None = None,
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        self.notices = notices or WaitNotices(lambda text: None)
        self.remaining: int | None = None
        self.reset_at = 0.0
        self.inflight = 0
        self.probing = True
        self._answered = asyncio.Event()

    async def acquire(self, deadline: float) -> None:
        """A slot of the budget; NotSent if the wait would pass `deadline` (time.monotonic)."""
        while True:
            now = self.clock()
            if self._ready(now):
                self.inflight += 1
                return
            await self._pause(self.reset_at - now if now < self.reset_at else None, deadline)

    def release(self, headers: httpx.Headers | None) -> None:
        self.inflight -= 1
        self.probing = False
        self._learn(headers, self.clock())
        self._answered.set()  # wakes every waiter; later ones wait on a fresh event
        self._answered = asyncio.Event()

    def _ready(self, now: float) -> bool:
        if self.remaining is not None and now >= self.reset_at and self.inflight == 0:
            self.remaining = max(self.remaining, 1)  # the window moved: probe with one
        if self.probing:  # learn the budget from the first answers before spending it
            return self.inflight < PROBE
        return self.remaining is None or self.remaining - self.inflight > 0

    async def _pause(self, wait: float | None, deadline: float) -> None:
        """Until the window resets (`wait` seconds) or, with requests in flight, an answer."""
        left = deadline - time.monotonic()
        if wait is not None and wait > left and self.inflight == 0:
            raise OutOfTime(
                f"not sent: the API's rate limit resets in {wait:.0f} s, after this request's "
                f"deadline ({max(left, 0):.0f} s from now)"
            )
        if left <= 0:
            raise OutOfTime("not sent: the request's deadline passed while it waited for the rate limit")
        if wait is not None:
            self.notices.waiting(wait, self.reset_at)
        if wait is not None and self.inflight == 0:
            await self.sleep(wait)  # nothing in flight can bring news sooner
            return
        with anyio.move_on_after(min(wait if wait is not None else left, left)):
            await self._answered.wait()

    def _learn(self, headers: httpx.Headers | None, now: float) -> None:
        remaining = header_number(headers, "x-ratelimit-remaining", min)  # repeated: the least
        if remaining is None or not math.isfinite(remaining):
            return
        reset = reset_header(headers, now)
        if reset is None:
            reset = now + WINDOW  # unknown: a spent budget is whole again after a window
        budget = max(int(remaining), 0)
        if self.remaining is None or reset > self.reset_at:
            self.remaining, self.reset_at = budget, reset
        else:
            self.remaining = min(self.remaining, budget)
