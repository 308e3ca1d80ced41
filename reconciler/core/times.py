"""Moments: epoch seconds, written in UTC as `YYYY-MM-DDTHH:MM:SSZ` wherever they are shown or stored."""

from __future__ import annotations

import functools
import time
from datetime import datetime, timezone

NEVER = -1  # an expiry that never comes


def iso(epoch: int) -> str:
    """Epoch seconds as `YYYY-MM-DDTHH:MM:SSZ` (UTC). Never raises: a moment no calendar date
    can show (an API may report one) stays a number, and says so."""
    try:
        moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return f"{epoch} (epoch seconds, {'after 9999' if epoch > 0 else 'before year 1'})"
    return moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def now_iso() -> str:
    """This moment, to the second."""
    return _second(int(time.time()))


@functools.lru_cache(maxsize=4)
def _second(epoch: int) -> str:
    """`iso`, kept for the second it is: an apply journals many lines within one."""
    return iso(epoch)


def when(epoch: int) -> str:
    """An expiry: `never`, or its moment."""
    return "never" if epoch == NEVER else iso(epoch)
