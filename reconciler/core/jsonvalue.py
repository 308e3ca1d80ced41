"""Key values as plain JSON, and back: the one encoder behind every file and comparison.

Whitelists become sorted lists (IP entries as networks), money goes through an explicit
formatter: a number in a plan's JSON and in what a saved plan compares (`money_number`),
exact text in the state's snapshots (`money_text`). Which one is the caller's to say.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from reconciler.core.keys import MONEY, LiveKey, parse_network, sorted_networks
from reconciler.core.money import money_number

MoneyFormat = Callable[[Decimal], Any]


def parse_json(text: str | bytes) -> Any:
    """`json.loads`; a document nested deeper than its parser recurses is a ValueError, as any
    other text that is no JSON (a RecursionError is none, and escaped every caller's check)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply to read") from None


def to_json_value(value: Any, money: MoneyFormat = money_number) -> Any:
    """A normalised field value as plain JSON (sorted lists, money as `money` writes it)."""
    if isinstance(value, Decimal):
        return money(value)
    if isinstance(value, frozenset):
        return list(_sorted_members(value))  # a list of its own: the caller may change it
    return value


@functools.lru_cache(maxsize=4096)
def _sorted_members(value: frozenset[Any]) -> tuple[Any, ...]:
    """A whitelist's members in order (keys share a few whitelists; a plan writes each
    key's several times): names sorted, networks as `sorted_networks` orders them."""
    items = list(value)
    if items and not isinstance(items[0], str):
        return tuple(sorted_networks(value))
    return tuple(sorted(items))


def values_json(values: Mapping[str, Any], money: MoneyFormat = money_number) -> dict[str, Any]:
    """Field values as plain JSON, in their order."""
    return {name: to_json_value(value, money) for name, value in values.items()}


def key_json(live: LiveKey, names: Iterable[str], money: MoneyFormat) -> dict[str, Any]:
    """A live key as JSON: the named fields, in that order."""
    return {name: to_json_value(getattr(live, name), money) for name in names}


def from_json_value(name: str, value: Any) -> Any:
    """`to_json_value` undone for one field, known by its name (a saved plan read back):
    money as the exact Decimal of its text, whitelists as sets (IP entries as networks)."""
    if value is None:
        return None
    if name in MONEY:
        return Decimal(str(value))
    if name == "model_whitelist":
        return frozenset(str(v) for v in value)
    if name == "ip_whitelist":
        return frozenset(parse_network(str(v)) for v in value)
    return value
