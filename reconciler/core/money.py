"""Money: Decimal credits, to the cent; one way to write an amount for people, one for files."""

from __future__ import annotations

from decimal import Decimal

ZERO = Decimal(0)
CENT = Decimal("0.01")


def money(value: Decimal, sign: bool = False) -> str:
    """An amount for people: to the cent, thousands separated (`1,234.50`, `+5.00`)."""
    return f"{value:+,.2f}" if sign else f"{value:,.2f}"


def money_text(value: Decimal) -> str:
    """An amount for a file: exact, and the same text for the same amount however the API
    spelled it (10, 10.0 -> `10.00`); never a float."""
    cents = value.quantize(CENT)
    return str(cents) if cents == value else format(value.normalize(), "f")


def money_number(value: Decimal) -> float:
    """An amount in the plan's JSON: a number (a 2-place Decimal round-trips exactly)."""
    return float(value)
