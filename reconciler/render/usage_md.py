"""The usage view in Markdown (`ehkeys usage --format markdown`, the drift issue and the drift
job's summary): a Mermaid chart of used against allocated, then a table per account, the
groups' roll-up where keys name groups, and the keys unused for `--unused-days`.

The chart (an `xychart-beta`, which GitHub renders in issues, comments and job summaries)
has a bar per group where keys name groups, else per account where there are several, else
per key (the largest allocations; the rest summed in one bar). Each bar is the allocation,
with what was used drawn over it. Labels are quoted, with the characters Mermaid would read
as a quote, a comment or markup replaced, so a key's name cannot break the chart.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TextIO

from reconciler.core.money import CENT, ZERO, money
from reconciler.core.printable import printable
from reconciler.core.secrets import scrub
from reconciler.core.times import iso
from reconciler.core.usage import AccountUsage, KeyUsage, UsageView
from reconciler.render.plan import escape as md
from reconciler.render.usage_cells import (
    HEADERS,
    cells,
    legend,
    mark,
    share,
    totals,
    unread,
    unused_line,
    unused_title,
)

MARKER = "<!-- ehkeys-usage -->"
TABLE_ROWS = 100  # per table: an issue body stops at 65,536 characters
CHART_BARS = 20  # bars of a per-key chart; the rest are summed in one
_UNSAFE = re.compile(r'["%`<>;#]')  # a quote, a comment, markup, a statement's end, an entity

Write = Callable[[str], Any]
Bar = tuple[str, Decimal, Decimal]  # label, allocated, used


def markdown(view: UsageView, stream: TextIO) -> None:
    w = stream.write
    w(f"{MARKER}\n### ehkeys usage: {md(totals(view.total))}\n\n")
    w(f"As of {iso(view.now)}. {md(legend(view))}\n\n")
    chart(view, w)
    for account in view.accounts:
        _account(view, account, w)
    w("".join(f"> **Warning:** {md(unread(why))}\n\n" for why in view.others_unread))
    if view.has_groups:
        w("#### By group\n\n| Group | Keys | Allocated | Used | Used % |\n|---|--:|--:|--:|--:|\n")
        for r in view.per_group():
            w(f"| {md(r.name)} | {r.keys} | {money(r.allocated)} | {money(r.used)} | {share(r.percent)} |\n")
        w("\n")
    unused = view.unused_keys
    w(f"**{unused_title(view)}{':' if unused else '.'}**\n")
    w("".join(f"- {md(unused_line(view, k))}\n" for k in unused[:TABLE_ROWS]))
    if len(unused) > TABLE_ROWS:
        w(f"- … and {len(unused) - TABLE_ROWS} more (`ehkeys usage --format json` lists every one)\n")


def _account(view: UsageView, account: AccountUsage, w: Write) -> None:
    if view.declared:
        rollup = view.rollup(account.account.name, account.keys)
        w(f"#### Account {md(account.account.name)}: {md(totals(rollup))}\n\n")
    if account.error:
        w(f"> **Error:** {md(account.error)}\n\n")
        return
    if account.keys:
        w("| " + " | ".join(HEADERS) + " |\n|---|--:|--:|--:|---|---|---|---|\n")
        for key in account.keys[:TABLE_ROWS]:
            w("| " + " | ".join(md(c) for c in cells(view, key).row()) + " |\n")
        if len(account.keys) > TABLE_ROWS:
            w(f"\n… and {len(account.keys) - TABLE_ROWS} more keys (`ehkeys usage --format json` has all).\n")
        w("\n")
    if account.balance is not None:
        w(f"Balance: {money(account.balance)} credits (not allocated to any key).\n\n")
    if account.note:
        w(f"> **Warning:** {md(account.note)}\n\n")


# --- the chart --------------------------------------------------------------------------------


def chart(view: UsageView, w: Write) -> None:
    """The Mermaid block; none when there is no key."""
    per, bars = chart_bars(view)
    if not bars:
        return
    top = max(max(a, u) for _, a, u in bars)
    w("```mermaid\nxychart-beta\n")
    w(f'    title "Credits used against allocated, per {per}"\n')
    w("    x-axis [" + ", ".join(f'"{label}"' for label, _, _ in bars) + "]\n")
    w(f'    y-axis "Credits" 0 --> {max(math.ceil(top), 1)}\n')
    w("    bar [" + ", ".join(_number(a) for _, a, _ in bars) + "]\n")
    w("    bar [" + ", ".join(_number(u) for _, _, u in bars) + "]\n```\n\n")
    a = "an" if per == "account" else "a"
    w(f"_Each bar is {a} {per}'s allocation, with what it used drawn over it._\n\n")


def chart_bars(view: UsageView) -> tuple[str, list[Bar]]:
    """What the chart shows a bar of (`group`, `account` or `key`), and the bars."""
    if view.has_groups:
        return "group", [(label(r.name), r.allocated, r.used) for r in view.per_group()]
    if len(view.accounts) > 1:
        return "account", [(label(r.name), r.allocated, r.used) for r in view.per_account()]
    keys = sorted(view.keys, key=lambda k: -k.allocated)  # stable: manifest order among equals
    named = Counter(k.name for k in keys)
    bars = [(_key_label(k, named[k.name] > 1), k.allocated, k.used) for k in keys[:CHART_BARS]]
    rest = keys[CHART_BARS:]
    if rest:
        allocated, used = sum((k.allocated for k in rest), ZERO), sum((k.used for k in rest), ZERO)
        bars.append((f"{len(rest)} more keys", allocated, used))
    return "key", bars


def _key_label(key: KeyUsage, shared: bool) -> str:
    """Its name (its mark first: `?` unmanaged, `=` another root's); the end of its key too when
    another has that name."""
    text = mark(key) + key.name + (f" {key.key[-5:]}" if shared else "")
    return label(text)


def label(text: str) -> str:
    """A quoted Mermaid label's text: no character that would end it or be read otherwise."""
    return _UNSAFE.sub("'", printable(scrub(text)))


def _number(value: Decimal) -> str:
    """As Mermaid reads numbers: digits and a point, never an exponent."""
    return format(value.quantize(CENT), "f")
