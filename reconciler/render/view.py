"""A plan as rows for people, built once: the text plan and the Markdown comment render these.

Each Row is one change: its symbol, its title, why (a reason shown on its own line), a line
per field, the credit line, warnings. The headline counts every kind; the legend lists only
the symbols present; the footer says what was read and at what cost.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from reconciler.core.changes import LEGEND, Action, Change, FieldChange
from reconciler.core.jsonvalue import to_json_value
from reconciler.core.keys import UNKNOWN_WINDOW
from reconciler.core.money import money, money_text
from reconciler.core.plan import Plan, Unmanaged
from reconciler.core.printable import printable
from reconciler.core.secrets import scrub
from reconciler.core.times import when
from reconciler.render.inert import inert

UNCHANGED_NAMES = 10  # named in the text and Markdown plans; JSON lists every key
_JSON = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(value, ensure_ascii=False), made once
HEADLINE_ORDER = (Action.CREATE, Action.UPDATE, Action.ENABLE, Action.DISABLE, Action.ROTATE, Action.DELETE)
ALWAYS_COUNTED = (Action.CREATE, Action.UPDATE, Action.DELETE)


# Markdown's own marks are written as character references: a key named "**URGENT**
# [approve](https://…)" reads as written, neither bold nor a link, in a table cell and in the
# HTML of a <summary> alike (a backslash escape would show there). `|` is the table's. An `_`
# between letters or digits (`prod_backend`) emphasises nothing and stays as written; brackets
# too (`[prod]`), but a `]` that would close a link or define one (`](`, `][`, `]:`) and a leading
# checkbox (`[x] `) are references.
_MARKS = {"*": "&#42;", "~": "&#126;", "`": "&#96;", "\\": "&#92;"}
_CELL = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "\\|", "\n": " ", **_MARKS})
_CELL_CHARS = re.compile(r"[&<>|`\n@*_~\[\]\\]")
_UNDERSCORES = re.compile(r"_+")
_LINKS = re.compile(r"\](?=[(\[:])|^\[(?=[ xX]\])")
# A value may start a line (an unmanaged key's list item, an API's error under its <summary>):
# a leading space before another or a mark (code at four), `#` (a heading), a list's or a rule's
# mark before a space, a rule (`---`, nothing else on the line), a number's `.`/`)` (a lone `-`,
# "none" in a cell, and `--target …` of an error, which starts no block, stay).
_STARTS = frozenset(" #+-=0123456789")
_NUMBERED = r"[0-9]{1,9}[.)](?= |$)"
_BLOCK = re.compile(rf"^(?: (?= |[#+=-]|{_NUMBERED})|#|[-+=](?= |[-+=][-+= ]*$)|{_NUMBERED})")


def escape(value: str, ours: bool = False) -> str:
    """Escape for a table cell in a PR comment: no HTML, no broken table, no emphasis, links or
    code spans, no @mentions, references or emoji (`inert`), and no heading, list or code block
    where it starts a line, and no key in it whole (`scrub`). `ours`: a message of ehkeys' own,
    whose `PR #12` stays a reference."""
    value = scrub(value)
    if _CELL_CHARS.search(value):  # most cells have none: translating is the slower test
        value = value.translate(_CELL)  # one pass: no replacement holds a character replaced
    value = inert(value, ours)  # translated: a `&#42;` is the escape's, a value's `&#35;` is `&amp;#35;`
    if "_" in value:
        value = _UNDERSCORES.sub(_underscores, value)
    if "[" in value or "]" in value:
        value = _LINKS.sub(lambda bracket: f"&#{ord(bracket[0])};", value)
    if value[:1] in _STARTS and _BLOCK.match(value):
        value = _BLOCK.sub(lambda mark: f"{mark[0][:-1]}&#{ord(mark[0][-1])};", value, count=1)
    return printable(value)


def _underscores(run: re.Match[str]) -> str:
    """A run of `_` as written between letters or digits, where it emphasises nothing; else as
    character references."""
    text, start, end = run.string, run.start(), run.end()
    if start > 0 and end < len(text) and text[start - 1].isalnum() and text[end].isalnum():
        return run[0]
    return "&#95;" * len(run[0])


def show(name: str, value: Any) -> str:
    """One field value for people: money to the cent, dates in UTC, sets as lists."""
    if value is None:
        return "(unknown)"
    if name == "limit_type" and value == UNKNOWN_WINDOW:
        return "? choose daily, weekly or monthly"
    if name == "allocated_ammount":
        return money(Decimal(value))
    if name == "expires_at":
        return when(value)
    if isinstance(value, (frozenset, list)):
        listed: list[str] = to_json_value(value) if isinstance(value, frozenset) else value
        return printable(scrub(", ".join(listed))) if listed else "[] (all)"
    return printable(scrub(_JSON(value)))


def named(text: str) -> str:
    """A key's name (or any text a plan file or the account can set), safe to show: no key in
    it whole (`ek-proxy-…` and its last 4), no control, format or direction character."""
    return printable(scrub(text))


def shown_pair(name: str, before: Any, after: Any) -> tuple[str, str]:
    """A changed field's two values for people, exact where rounding would show them equal: a
    live allocation of 10.004 against the manifest's 10 reads `10.004 -> 10.00`, not
    `10.00 -> 10.00`."""
    pair = show(name, before), show(name, after)
    if pair[0] != pair[1] or before == after or name != "allocated_ammount":
        return pair  # only money rounds; any other value is shown as it is (a key in it never whole)
    return money_text(Decimal(before)), money_text(Decimal(after))  # neither None: shown apart


class Line(NamedTuple):  # a tuple: a plan of 10,000 keys makes ~40,000 of them
    kind: str  # "field" | "added" | "removed" | "note"
    text: str


class Row(NamedTuple):  # a tuple: made for each key that changes, by text and by Markdown
    change: Change
    credit: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def lines(self) -> tuple[Line, ...]:
        """Why, a line per field, the unchanged count: made when read (the text plan reads
        them once; the Markdown plan has a table of its own and never does)."""
        return change_lines(self.change)

    @property
    def symbol(self) -> str:
        return self.change.action._value_  # `_value_`: `value` is a slower descriptor

    @property
    def title(self) -> str:
        change, name = self.change, named(self.change.name)
        return f"{name} (a new key)" if change.new else f"{name} ({printable(str(change.key))})"


@dataclass
class PlanView:
    rows: list[Row]
    unchanged: list[Change]
    unmanaged: list[Unmanaged]
    legend: list[tuple[str, str]]
    headline: str
    credits: str
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    footer: str = ""

    @property
    def unchanged_names(self) -> str:
        names = ", ".join(named(c.name) for c in self.unchanged[:UNCHANGED_NAMES])
        more = len(self.unchanged) - UNCHANGED_NAMES
        return names + (f" and {more} more" if more > 0 else "")


def build(plan: Plan) -> PlanView:
    listed = [c for c in plan.changes if c.action is not Action.NO_OP]
    return PlanView(
        rows=[row(c) for c in listed],
        unchanged=[c for c in plan.changes if c.action is Action.NO_OP],
        unmanaged=plan.unmanaged,
        legend=legend(plan),
        headline=headline(plan),
        credits=credit_summary(plan),
        notes=list(plan.notes),
        problems=list(plan.problems),
        footer=f"{plan.requests} request{'s' if plan.requests != 1 else ''} to the API"
        if plan.requests
        else "",
    )


def legend(plan: Plan) -> list[tuple[str, str]]:
    """Only the symbols this plan shows."""
    counts = plan.counts  # counted once, not once per symbol
    shown = [(a.value, LEGEND[a]) for a in LEGEND if counts[a]]
    if plan.has_changes and counts[Action.NO_OP]:
        shown.append((Action.NO_OP.value, "unchanged"))
    if plan.unmanaged:
        shown.append(("?", "unmanaged: in the account, in no manifest key; left alone"))
    return shown


def nothing_to_do(plan: Plan) -> str:
    """The sentence for a plan without changes, or '' when it has some (or errors)."""
    if plan.has_changes or plan.has_errors:
        return ""
    if plan.unmanaged:
        return "No changes to make. The manifest's keys match; unmanaged keys are left alone."
    return "No changes. The account's keys match the manifest."


def headline(plan: Plan) -> str:
    counts = plan.counts
    errors = counts[Action.ERROR] + len(plan.problems)
    return counted(
        counts, len(plan.unmanaged), errors, len(plan.policy.violations), len(plan.policy.warnings)
    )


def counted(
    counts: Counter[Action], unmanaged: int, errors: int, violations: int = 0, warned: int = 0
) -> str:
    """`Plan: 1 to create, 0 to update, ...`: every kind the plan has, the errors, and the
    policy violations and budget warnings (`warn_net_debit`) when there are any."""
    parts = [f"{counts[a]} to {a.label}" for a in HEADLINE_ORDER if counts[a] or a in ALWAYS_COUNTED]
    parts.append(f"{counts[Action.NO_OP]} unchanged")
    if unmanaged:
        parts.append(f"{unmanaged} unmanaged")
    parts.append(f"{errors} error{'s' if errors != 1 else ''}")
    if violations:
        parts.append(f"{violations} policy violation{'s' if violations != 1 else ''}")
    if warned:
        parts.append(f"{warned} budget warning{'s' if warned != 1 else ''}")
    return "Plan: " + ", ".join(parts) + "."


def credit_summary(plan: Plan) -> str:
    debit, refund = plan.account_debit, plan.account_refund  # each a pass over every key: once
    net = refund - debit
    text = f"Credits: {money(debit)} debited, {money(refund)} refunded (est.), net {money(net, sign=True)}"
    if plan.balance_before is not None:
        after = plan.balance_before + net
        text += f"; balance {money(plan.balance_before)} -> {money(after)}"
        if debit > plan.balance_before + refund:
            text += f" (the balance does not cover the debits: {money(-after)} short)"
    return text


def row(change: Change) -> Row:
    credit = credit_line(change) if change.action.changes_something else ""
    return Row(change, credit, change.warnings)


def change_lines(change: Change) -> tuple[Line, ...]:
    """A change's lines: why (a reason, an error), a line per field, the unchanged count."""
    created = change.action is Action.CREATE
    found = [Line("note", f"# {named(change.reason)}")] if change.reason else []
    if change.error:
        found.append(Line("note", named(change.error)))
    for fc in change.fields:
        found += _field_lines(fc, created)
    if change.deliver:
        found += [Line("field", f"→ {printable(sink)}") for sink in change.deliver]
    if change.unchanged and not created:
        n = change.unchanged
        found.append(Line("note", f"({n} unchanged field{'s' if n != 1 else ''})"))
    return tuple(found)


def _field_lines(fc: FieldChange, created: bool) -> list[Line]:
    if created:
        return [Line("field", f"{fc.field}: {show(fc.field, fc.after)}")]
    if isinstance(fc.after, frozenset) and isinstance(fc.before, frozenset):
        added, removed = [named(m) for m in fc.added], [named(m) for m in fc.removed]
        members = [Line("added", m) for m in added] + [Line("removed", m) for m in removed]
        return [Line("field", f"{fc.field}:"), *members]
    return [Line("field", f"{fc.field}: {' -> '.join(shown_pair(fc.field, fc.before, fc.after))}")]


def credit_line(change: Change) -> str:
    """The account's side of one change: what it pays (debit) or gets back (refund)."""
    c = change.credit
    if c.account_debit:
        return f"credit: {money(c.allocation_delta, True)} allocation, {money(c.account_debit)} debited"
    if c.account_refund or c.allocation_delta:
        return (
            f"credit: {money(c.allocation_delta, True)} allocation, {money(c.account_refund)} refunded (est.)"
        )
    return "credit: no change"


def account_effect(change: Change) -> str:
    """The per-key figure whose sum is the plan's net: +refund, -debit, '' when none."""
    net = change.credit.net
    return money(net, sign=True) if net else ""


def unmanaged_line(item: Unmanaged) -> str:
    k = item.live
    state = "active" if k.is_active else "inactive"
    text = f"{named(k.name)} ({k.proxy_key.display}): {money(k.allocated_ammount)} allocated, {state}"
    return text + (f"; {item.note}" if item.note else "")
