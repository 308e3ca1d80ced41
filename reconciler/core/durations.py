"""Durations as the manifest and the command line write them: `90d`, `12h`, `2w`, or `0`.

A bare `0` is accepted as YAML reads it (the integer 0) and as text. A Duration is a whole
number of seconds; it reads back in days where it is whole days (`2w` and `336h` are `14d`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

HOUR, DAY, WEEK = 3600, 86400, 7 * 86400
UNITS = {"h": HOUR, "d": DAY, "w": WEEK}
EXPECTED = "a duration: a whole number of hours, days or weeks (12h, 90d, 2w), or 0"
_TEXT = re.compile(r"([0-9]{1,6})([hdw])")
PATTERN = r"^(0|[1-9][0-9]{0,5}[hdw])$"  # the schemas' spelling of the same rule


@dataclass(frozen=True, order=True)
class Duration:
    seconds: int

    def __str__(self) -> str:
        if not self.seconds:
            return "0"
        for unit in ("d", "h"):  # days rather than weeks: 7d reads back as 7d
            if self.seconds % UNITS[unit] == 0:
                return f"{self.seconds // UNITS[unit]}{unit}"
        return f"{self.seconds}s"

    @property
    def days(self) -> int:
        """Whole days (a policy's max_lifetime counts in days)."""
        return self.seconds // DAY

    @classmethod
    def parse(cls, value: Any) -> Duration:
        """`90d`, `12h`, `2w`, `0` or the integer 0; ValueError saying what was expected."""
        if not isinstance(value, bool) and (value == 0 or (isinstance(value, str) and value.strip() == "0")):
            return cls(0)
        match = _TEXT.fullmatch(value.strip()) if isinstance(value, str) else None
        if match is None:
            raise ValueError(f"expected {EXPECTED} (got {_shown(value)})")
        return cls(int(match.group(1)) * UNITS[match.group(2)])


ZERO = Duration(0)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
