"""Writes a run stopped before seeing through, named once it has stopped (by cli.main).

Two kinds, process-wide: writes cut short in flight (whether they reached the API is
unknown) and writes the API answered that the run had not checked and recorded yet (they
landed: an interrupt while the list that checks them was on its way used to hide them).
A client notes its writes as they end; the applier settles them once the list has checked
them and the state recorded them; what a client still holds when it closes on an error or
an interrupt is handed over here. Light on purpose: cli imports it without the HTTP stack.
"""

from __future__ import annotations

_CUT_SHORT: list[str] = []  # cancelled in flight
_LANDED: list[str] = []  # answered, not checked or recorded


class Writes:
    """One client's writes that ended since the last `settle()`."""

    def __init__(self) -> None:
        self.answered: list[str] = []
        self.unknown: list[str] = []  # ended without an answer that says what happened

    def settle(self) -> None:
        """The run has checked and recorded every write so far (they are on the report)."""
        self.answered.clear()
        self.unknown.clear()

    def abandon(self) -> None:
        """The run stops (an error, an interrupt): what is not settled is named at the end."""
        _LANDED.extend(self.answered)
        _CUT_SHORT.extend(self.unknown)
        self.settle()


def cut_short(label: str) -> None:
    _CUT_SHORT.append(label)


def take() -> tuple[list[str], list[str]]:
    """(cut short in flight, answered but not recorded), each once, sorted; then forgotten."""
    taken = sorted(_CUT_SHORT), sorted(_LANDED)
    _CUT_SHORT.clear()
    _LANDED.clear()
    return taken


def lines() -> list[str]:
    """What to say about the writes `take()` returns: nothing when there are none."""
    return _said(*take())


def pending(account: str = "") -> list[str]:
    """What `lines()` will say, said now too (a stopped run's report), and not forgotten; given
    an account's name, of its client's writes only (`[prod] POST /auth/proxy/update (…)`)."""
    cut, landed = (
        [w for w in kind if not account or w.startswith(f"[{account}] ")] for kind in (_CUT_SHORT, _LANDED)
    )
    return _said(sorted(cut), sorted(landed))


def _said(cut: list[str], landed: list[str]) -> list[str]:
    said = []
    if cut:
        said.append(f"these writes may or may not have reached the API: {', '.join(cut)}; run plan to see")
    if landed:
        said.append(
            f"these writes reached the API but were not checked and recorded yet: {', '.join(landed)}; "
            "run plan to see"
        )
    return said
