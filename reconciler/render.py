"""Plans as text (Terraform-like), JSON (the documented shape) and Markdown (PR comments).

Each renderer takes `(plan, stream)`; all of them read the same KeyPlan rows and the same
value formatting (`show`), so the three formats cannot disagree.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from typing import Any, TextIO

from reconciler.model import gc_paused, iso, to_json_value
from reconciler.plan import ERROR, NO_OP, UPDATE, KeyPlan, Plan

MARKER = "<!-- ehkeys-plan -->"
_COLOURS = {"~": "33", "!": "31", "+": "32", "-": "31", "warn": "33", "bold": "1"}


class Style:
    """ANSI colour only on a terminal, and never with NO_COLOR set."""

    def __init__(self, stream: TextIO, force: bool | None = None) -> None:
        tty = hasattr(stream, "isatty") and stream.isatty()
        self.on = force if force is not None else tty and not os.environ.get("NO_COLOR")

    def __call__(self, kind: str, text: str) -> str:
        return f"\033[{_COLOURS[kind]}m{text}\033[0m" if self.on else text


def money(value: Decimal, sign: bool = False) -> str:
    return f"{value:+,.2f}" if sign else f"{value:,.2f}"


def show(field: str, value: Any) -> str:
    """One field value for people: money to the cent, dates in UTC, sets as lists."""
    if field == "allocated_ammount":
        return money(Decimal(value))
    if field == "expires_at":
        if value == -1:
            return "never"
        return iso(value)
    if isinstance(value, frozenset):
        listed: list[str] = to_json_value(value)
        return ", ".join(listed) if listed else "[] (all)"
    if value is None:
        return "(unknown)"
    return json.dumps(value) if isinstance(value, str) else str(value)


def headline(plan: Plan) -> str:
    return (
        f"Plan: {plan.count(UPDATE)} to update, {plan.count(NO_OP)} unchanged, "
        f"{plan.count(ERROR)} error{'s' if plan.count(ERROR) != 1 else ''}."
    )


def credit_summary(plan: Plan) -> str:
    text = (
        f"Credits: {money(plan.account_debit)} debited, {money(plan.account_refund)} refunded "
        f"(est.), net {money(plan.net, sign=True)}"
    )
    if plan.balance_before is not None and plan.balance_after is not None:
        text += f"; balance {money(plan.balance_before)} -> {money(plan.balance_after)}"
    return text


def credit_line(key: KeyPlan) -> str:
    c = key.credit
    if c.account_debit:
        return f"credit: {money(c.allocation_delta, True)} allocation, {money(c.account_debit)} debited"
    if c.account_refund or c.allocation_delta:
        refund = money(c.account_refund)
        return f"credit: {money(c.allocation_delta, True)} allocation, {refund} refunded (est.)"
    return "credit: no change"


# --- text -------------------------------------------------------------------------------------


@gc_paused()
def text(plan: Plan, stream: TextIO, style: Style | None = None) -> None:
    style = style or Style(stream)
    w = stream.write
    if plan.has_changes or plan.has_errors:
        w("ehkeys compared the manifest with the live keys. Symbols:\n")
        w(f"  {style('~', '~')} update in place\n  {style('!', '!')} lookup failed\n\n")
    for key in plan.keys:
        if key.action == UPDATE:
            _text_update(key, w, style)
        elif key.action == ERROR and key.error:
            w(f"  {style('!', '!')} {key.name} ({key.key}): {key.error.message}\n\n")
    unchanged = [k for k in plan.keys if k.action == NO_OP]
    if unchanged:
        w(f"  = {len(unchanged)} unchanged: {_some_names(unchanged)}\n")
        for key in unchanged:
            for warning in key.warnings:
                w(f"      {style('warn', 'note')}: {key.name}: {warning}\n")
        w("\n")
    for note in plan.notes:
        w(f"{style('warn', 'warning')}: {note}\n")
    if not plan.has_changes and not plan.has_errors:
        w("No changes. The live keys match the manifest.\n")
    w(style("bold", headline(plan)) + "\n")
    w(credit_summary(plan) + "\n")


UNCHANGED_NAMES = 10  # named in the text and Markdown plans; JSON lists every key
UNCHANGED_WARNINGS = 50  # in the Markdown plan; the text plan shows every warning


def _some_names(keys: list[KeyPlan]) -> str:
    names = ", ".join(k.name for k in keys[:UNCHANGED_NAMES])
    more = len(keys) - UNCHANGED_NAMES
    return names + (f" and {more} more" if more > 0 else "")


def _text_update(key: KeyPlan, w: Any, style: Style) -> None:
    w(f"  {style('~', '~')} {key.name} ({key.key})\n")
    for change in key.changes:
        if isinstance(change.after, frozenset):
            w(f"      {change.field}:\n")
            for member in change.added:
                w(f"        {style('+', '+')} {member}\n")
            for member in change.removed:
                w(f"        {style('-', '-')} {member}\n")
        else:
            before, after = show(change.field, change.before), show(change.field, change.after)
            w(f"      {change.field}: {before} -> {after}\n")
    if key.unchanged:
        w(f"      ({key.unchanged} unchanged field{'s' if key.unchanged != 1 else ''})\n")
    w(f"      {credit_line(key)}\n")
    for warning in key.warnings:
        w(f"      {style('warn', 'warning')}: {warning}\n")
    w("\n")


# --- json -------------------------------------------------------------------------------------


@gc_paused()
def as_json(plan: Plan, stream: TextIO) -> None:
    """The documented shape, one key per line: readable in a diff, written key by key by
    the C encoder (an indented dump goes through the pure-Python one, and a single
    document would hold every key's text in memory at once)."""
    stream.write('{\n  "format_version": 1,\n  "keys": [')
    for i, key in enumerate(plan.keys):
        stream.write(("," if i else "") + "\n    " + json.dumps(key.data(), ensure_ascii=False))
    stream.write(("\n  " if plan.keys else "") + '],\n  "summary": ' + json.dumps(plan.summary()) + "\n}\n")


# --- markdown ---------------------------------------------------------------------------------


def _md(value: str) -> str:
    """Escape for a table cell in a PR comment: no HTML, no broken table, no code spans."""
    for char, repl in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|"), ("`", "'")):
        value = value.replace(char, repl)
    return value.replace("\n", " ")


@gc_paused()
def markdown(plan: Plan, stream: TextIO, title: str = "ehkeys plan") -> None:
    """For a PR comment: a row per key that changes or failed, unchanged keys by count.

    A row per unchanged key would bury three changes under thousands of rows, and push
    the details and the credit totals past GitHub's 65,536-character limit.
    """
    w = stream.write
    w(f"{MARKER}\n### {title}: {headline(plan).removeprefix('Plan: ')}\n\n")
    listed = [k for k in plan.keys if k.action != NO_OP]
    if listed:
        w("| Key | Action | Credit delta |\n|---|---|---|\n")
        for key in listed:
            delta = money(key.credit.allocation_delta, sign=True) if key.action == UPDATE else ""
            w(f"| {_md(key.name)} (`{key.key}`) | {key.action} | {delta} |\n")
        w("\n")
    unchanged = [k for k in plan.keys if k.action == NO_OP]
    if unchanged:
        w(f"{len(unchanged)} unchanged: {_md(_some_names(unchanged))}\n\n")
    if not listed:
        w("No changes. The live keys match the manifest.\n\n")
    for key in listed:
        _md_details(key, w)
    _md_unchanged_warnings(unchanged, w)
    for note in plan.notes:
        w(f"> **Warning:** {_md(note)}\n\n")
    w(f"**{credit_summary(plan).replace('->', '→')}**\n")  # numbers only: nothing to escape


def _md_details(key: KeyPlan, w: Any) -> None:
    what = "lookup failed" if key.error else f"{len(key.changes)} change(s)"
    w(f"<details><summary>{_md(key.name)}: {what}</summary>\n\n")
    if key.error:
        w(f"{_md(key.error.message)}\n")
    if key.changes:
        w("| Field | Before | After |\n|---|---|---|\n")
        for c in key.changes:
            w(f"| {c.field} | {_md(show(c.field, c.before))} | {_md(show(c.field, c.after))} |\n")
        w(f"\n{credit_line(key)}\n")
    for warning in key.warnings:
        w(f"\n- warning: {_md(warning)}")
    w("\n\n</details>\n\n")


def _md_unchanged_warnings(unchanged: list[KeyPlan], w: Any) -> None:
    lines = [f"- {_md(k.name)}: {_md(text)}" for k in unchanged for text in k.warnings]
    if not lines:
        return
    w(f"<details><summary>Warnings on unchanged keys ({len(lines)})</summary>\n\n")
    w("\n".join(lines[:UNCHANGED_WARNINGS]))
    if len(lines) > UNCHANGED_WARNINGS:
        w(f"\n- … and {len(lines) - UNCHANGED_WARNINGS} more (the text plan has them all)")
    w("\n\n</details>\n\n")


def apply_markdown(results: list[tuple[KeyPlan, str, str]], totals: str, stream: TextIO) -> None:
    """What an apply did, for the job summary: one row per key sent, skipped or failed."""
    w = stream.write
    w("<!-- ehkeys-apply -->\n### ehkeys apply\n\n")
    w("| Key | Result | Credit delta | Note |\n|---|---|---|---|\n")
    for key, outcome, note in results:
        delta = money(key.credit.allocation_delta, sign=True) if key.action == UPDATE else ""
        w(f"| {_md(key.name)} (`{key.key}`) | {outcome} | {delta} | {_md(note)} |\n")
    w(f"\n**{_md(totals).replace('-&gt;', '→')}**\n")


RENDERERS = {"text": text, "json": as_json, "markdown": markdown}
