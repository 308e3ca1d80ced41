"""The usage view (`ehkeys usage`, the drift issue): where the credit goes, per account (and per
group, where keys name one) and per key, as text (a bar per key, coloured on a terminal),
Markdown (`usage_md`: a Mermaid chart of used against allocated, then a table per account) and
JSON (`schemas/usage.schema.json`). Every format shows the same cells (`usage_cells`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, TextIO

from reconciler.core.money import money, money_number
from reconciler.core.times import iso
from reconciler.core.usage import AccountUsage, KeyUsage, Rollup, UsageView
from reconciler.render import usage_md
from reconciler.render.plan import Style
from reconciler.render.usage_cells import HEADERS, cells, legend, totals, unread, unused_line, unused_title

FORMAT_VERSION = 1
BAR = 20  # cells of a key's bar
NUMBERS = (1, 2, 3)  # the columns aligned right


# --- text -------------------------------------------------------------------------------------


def bar(key: KeyUsage, style: Style) -> str:
    """`[█████░░░…]`: green, yellow from 75%, red from 90% (colour only on a terminal)."""
    pct = key.percent
    filled = 0 if pct is None else max(0, min(BAR, int((pct * BAR / 100).to_integral_value())))
    kind = "+" if pct is None or pct < 75 else "warn" if pct < 90 else "-"
    return "[" + (style(kind, "█" * filled) if filled else "") + "░" * (BAR - filled) + "]"


def text(view: UsageView, stream: TextIO, style: Style | None = None) -> None:
    style, w = style or Style(stream), stream.write
    w(f"Credit use on {iso(view.now)}.\n{legend(view)}\n")
    for account in view.accounts:
        if view.declared:
            w("\n" + style("bold", f"=== Account {account.account.name} ===") + "\n")
        _text_account(view, account, w, style)
    w("".join(f"{style('warn', 'warning')}: {unread(why)}\n" for why in view.others_unread))
    if view.has_groups:
        w("\nBy group:\n" + "".join(f"  {r.name}: {totals(r)}\n" for r in view.per_group()))
    if len(view.accounts) > 1:
        w("\n" + style("bold", f"{len(view.accounts)} accounts: {totals(view.total)}") + "\n")
    unused = view.unused_keys
    w(f"\n{unused_title(view)}{':' if unused else '.'}\n")
    w("".join(f"  {unused_line(view, k)}\n" for k in unused))


def _text_account(view: UsageView, account: AccountUsage, w: Callable[[str], Any], style: Style) -> None:
    if account.error:
        w(f"{style('!', 'error')}: {account.error}\n")
        return
    rows = [cells(view, k).row() for k in account.keys]
    widths = [max(len(c) for c in column) for column in zip(HEADERS, *rows, strict=True)]
    head = _padded(HEADERS, widths)
    w(f"  {'  '.join(head[:4])} {' ' * (BAR + 2)}  {'  '.join(head[4:])}".rstrip() + "\n")
    for key, row in zip(account.keys, rows, strict=True):
        cell = _padded(row, widths)
        w(f"  {'  '.join(cell[:4])} {bar(key, style)}  {'  '.join(cell[4:])}".rstrip() + "\n")
    balance = "" if account.balance is None else f"; balance {money(account.balance)}"
    w(f"  Total: {totals(view.rollup(account.account.name, account.keys))}{balance}.\n")
    if account.note:
        w(f"{style('warn', 'warning')}: {account.note}\n")


def _padded(row: Sequence[str], widths: Sequence[int]) -> list[str]:
    """Each cell padded to its column's width, numbers to the right."""
    pairs = enumerate(zip(row, widths, strict=True))
    return [cell.rjust(n) if i in NUMBERS else cell.ljust(n) for i, (cell, n) in pairs]


# --- JSON -------------------------------------------------------------------------------------


def data(view: UsageView) -> dict[str, Any]:
    """The documented shape (schemas/usage.schema.json)."""
    return {
        "format_version": FORMAT_VERSION,
        "as_of": iso(view.now),
        "unused_days": view.unused_days,
        "total": _rollup(view.total),
        "accounts": {a.account.name: _account(view, a) for a in view.accounts},
        "groups": {r.name: _rollup(r) for r in view.per_group()},
    }


def _account(view: UsageView, account: AccountUsage) -> dict[str, Any]:
    return {
        "total": _rollup(view.rollup(account.account.name, account.keys)),
        "balance": None if account.balance is None else money_number(account.balance),
        "note": account.note or None,
        "error": account.error or None,
        "keys": [_key(view, k) for k in account.keys],
        **({"others_unread": account.others_unread} if account.others_unread else {}),
    }


def _key(view: UsageView, key: KeyUsage) -> dict[str, Any]:
    return {
        "account": key.account,
        "address": key.address,
        "managed": key.managed,
        **({"managed_by": key.managed_by} if key.managed_by else {}),
        "group": key.group,
        "name": key.name,
        "key": key.key,
        "is_active": key.is_active,
        "allocated_ammount": money_number(key.allocated),
        "used_ammount": money_number(key.used),
        "percent_used": _number(key.percent),
        "limit_type": key.window,
        "expires_at": key.expires_at,
        "last_used": key.last_used,
        "created_at": key.created_at,
        "idle_days": key.idle_days(view.now),
        "unused": view.unused(key),
    }


def _rollup(r: Rollup) -> dict[str, Any]:
    return {
        "allocated_ammount": money_number(r.allocated),
        "used_ammount": money_number(r.used),
        "percent_used": _number(r.percent),
        "keys": r.keys,
        "unmanaged": r.unmanaged,
        "unused": r.unused,
        **({"managed_elsewhere": r.elsewhere} if r.elsewhere else {}),
    }


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def as_json(view: UsageView, stream: TextIO) -> None:
    stream.write(json.dumps(data(view), indent=2, ensure_ascii=False) + "\n")


RENDERERS: dict[str, Callable[[UsageView, TextIO], None]] = {
    "text": text,
    "markdown": usage_md.markdown,
    "json": as_json,
}
