"""A client-wide breaker: once the API has left several attempts in a row unanswered, stop.

A server that accepts connections and never answers costs every request all its attempts,
each a whole timeout. The first few silences say as much about the others: every request of
the client shares what they taught, and nothing more is sent once the breaker trips.
Only silence counts (a timeout); any answer at all, even a 500, resets the count.
"""

from __future__ import annotations

from reconciler.api.errors import Unreachable

SILENT_IN_A_ROW = 3


class Breaker:
    def __init__(self, where: str, limit: int = SILENT_IN_A_ROW) -> None:
        self.where = where
        self.limit = limit
        self.silent = 0
        self.reason: str | None = None  # set once tripped

    def answered(self) -> None:
        if self.reason is None:
            self.silent = 0

    def unanswered(self, waited: float) -> None:
        """An attempt timed out after `waited` seconds."""
        self.silent += 1
        if self.silent >= self.limit and self.reason is None:
            self.reason = (
                f"stopped: the API at {self.where} has not answered {self.silent} attempts in a row "
                f"(each timed out after {waited:g} s); nothing more is sent (--timeout sets the wait)"
            )

    def check(self) -> None:
        """Unreachable once tripped: the request is not sent."""
        if self.reason is not None:
            raise Unreachable(self.reason)
