"""When a failed attempt is tried again, and after how long.

Idempotent requests (lookup, update, list, remove, /user/me) are retried on 429, 5xx,
dropped connections, timeouts and edge challenge pages, with exponential backoff and
jitter, honouring Retry-After, else X-RateLimit-Reset. The others (create, toggle) are
retried only when they provably did nothing: NotSent, or a 429. No wait runs past the
request's deadline.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import httpx

from reconciler.api.errors import ApiError, NotSent, RateLimited
from reconciler.api.pacer import MAX_AHEAD, header_number, reset_header


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    total: float = 300.0  # seconds, all attempts of one request together (its deadline)
    timeout: float = 20.0  # seconds, one attempt; 3 silent ones in a row stop the client


def retry_delay(
    policy: RetryPolicy, exc: ApiError, *, attempts: int, idempotent: bool, deadline: float
) -> float | None:
    """Seconds before the next attempt; None to give up (not retryable, no attempts or time left)."""
    retryable = exc.retryable and (idempotent or isinstance(exc, (NotSent, RateLimited)))
    if not retryable or attempts >= policy.attempts:
        return None
    # The exponent is bounded: 2 ** 1024 is no float (an attempt that far is at max_delay anyway).
    backoff: float = min(policy.max_delay, policy.base_delay * 2 ** min(attempts - 1, 64))
    delay = backoff * random.uniform(0.5, 1.0)
    if exc.wait is not None:
        delay = max(exc.wait, 0.05) + random.uniform(0, 0.25)
    if time.monotonic() + delay > deadline:
        return None
    return delay


def wait_hint(headers: httpx.Headers, now: float, *, use_reset: bool) -> float | None:
    """Seconds to wait: Retry-After when present, else (after a 429) X-RateLimit-Reset.
    None when neither is usable (absent, not a number, absurd: see pacer.reset_header)."""
    retry_after = header_number(headers, "retry-after")
    if retry_after is not None and -MAX_AHEAD <= retry_after <= MAX_AHEAD:
        return max(retry_after, 0.0)
    reset = reset_header(headers, now) if use_reset else None
    return None if reset is None else max(reset - now, 0.0)


def refused(exc: ApiError) -> bool:
    """A 4xx answer: the API did nothing (anything else may hide a success)."""
    return exc.status is not None and 400 <= exc.status < 500
