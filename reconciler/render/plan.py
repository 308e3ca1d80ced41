"""Plans as text (Terraform-like), JSON (the documented shape) and Markdown (PR comments).

Each renderer takes `(plan, stream)`: one account's plan. Text and Markdown render the same
rows (`view.build`), so the two cannot disagree. A run's plans (a section per account) and
the JSON shape are `render.plans`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TextIO

from reconciler.core.changes import Action, Change
from reconciler.core.heap import gc_paused
from reconciler.core.plan import Plan
from reconciler.core.printable import printable
from reconciler.core.rulechanges import RulesReview
from reconciler.render import policy, rules
from reconciler.render.view import (
    PlanView,
    Row,
    account_effect,
    build,
    named,
    nothing_to_do,
    shown_pair,
    unmanaged_line,
)
from reconciler.render.view import escape as escape  # where every Markdown cell is escaped

MARKER = "<!-- ehkeys-plan -->"
DRIFT_MARKER = "<!-- ehkeys-drift -->"
UNCHANGED_WARNINGS = 50  # in the Markdown plan; the text plan shows every warning
_COLOURS = {"+": "32", "~": "33", "↑": "32", "↓": "33", "-": "31", "!": "31", "warn": "33", "bold": "1"}


class Style:
    """ANSI colour only on a terminal, and never with NO_COLOR set."""

    def __init__(self, stream: TextIO, force: bool | None = None) -> None:
        tty = hasattr(stream, "isatty") and stream.isatty()
        self.on = force if force is not None else tty and not os.environ.get("NO_COLOR")

    def __call__(self, kind: str, text: str) -> str:
        return f"\033[{_COLOURS[kind]}m{text}\033[0m" if self.on and kind in _COLOURS else text


# --- text -------------------------------------------------------------------------------------


@gc_paused()
def text(plan: Plan, stream: TextIO, style: Style | None = None, label: str = "Plan") -> None:
    """`label` begins the counts' line: `Plan`, or `Account prod` for one section of several
    (whose total, the one `Plan` line, follows them: `render.plans`)."""
    style = style or Style(stream)
    view, w = build(plan), stream.write
    if view.legend:
        w("ehkeys compared the manifest with the account's keys. Symbols:\n")
        w("".join(f"  {style(symbol, symbol)} {meaning}\n" for symbol, meaning in view.legend) + "\n")
    for row in view.rows:
        _text_row(row, w, style)
    _text_rest(view, w, style)
    _text_policy(plan, w, style)
    if nothing_to_do(plan):
        w(nothing_to_do(plan) + "\n")
    counts = label + view.headline.removeprefix("Plan")
    w(style("bold", counts) + "\n" + view.credits + "\n")
    w("".join(f"{style('warn', 'Budget warning')}: {printable(line)}\n" for line in plan.policy.warnings))
    if view.footer:
        w(f"Read with {view.footer}.\n")


def _text_row(row: Row, w: Callable[[str], Any], style: Style) -> None:
    w(f"  {style(row.symbol, row.symbol)} {row.title}\n")
    for line in row.lines:
        if line.kind in ("added", "removed"):
            mark = "+" if line.kind == "added" else "-"
            w(f"        {style(mark, mark)} {line.text}\n")
        else:
            w(f"      {line.text}\n")
    if row.credit:
        w(f"      {row.credit}\n")
    for warning in row.warnings:
        w(f"      {style('warn', 'warning')}: {named(warning)}\n")
    w("\n")


def _text_rest(view: PlanView, w: Callable[[str], Any], style: Style) -> None:
    if view.unchanged:
        w(f"  = {len(view.unchanged)} unchanged: {view.unchanged_names}\n")
        for change in view.unchanged:
            for note in ([change.reason] if change.reason else []) + list(change.warnings):
                w(f"      {style('warn', 'note')}: {named(change.name)}: {named(note)}\n")
        w("\n")
    if view.unmanaged:
        w(f"  ? {len(view.unmanaged)} unmanaged (in the account, not in the manifest; left alone):\n")
        w("".join(f"      {unmanaged_line(u)}\n" for u in view.unmanaged) + "\n")
    for note in view.notes:
        w(f"{style('warn', 'warning')}: {named(note)}\n")
    for problem in view.problems:
        w(f"{style('!', 'error')}: {named(problem)}\n")


def _text_policy(plan: Plan, w: Callable[[str], Any], style: Style) -> None:
    if plan.groups:
        w(
            style("bold", "Groups:")
            + "\n"
            + "".join(f"  {policy.group_line(g)}\n" for g in plan.groups)
            + "\n"
        )
    if not plan.policy:
        return
    marks = {
        policy.VIOLATION: style("!", "✗"),
        policy.WARNING: style("warn", "warning:"),
        policy.EXCEPTION: "exception:",
    }
    w(style("bold", policy.heading(plan.policy)) + "\n")
    w("".join(f"  {marks[kind]} {line}\n" for kind, line in policy.lines(plan.policy)) + "\n")


# --- markdown ---------------------------------------------------------------------------------


def md_key(change: Change, key: str = "") -> str:
    """A change's key in a Markdown cell: its name and key, or that it is a new one."""
    if key or not change.new:
        return f"{escape(change.name)} (`{printable(str(key or change.key))}`)"
    return f"{escape(change.name)} (new key)"


@gc_paused()
def markdown(
    plan: Plan,
    stream: TextIO,
    title: str = "ehkeys plan",
    marker: str = MARKER,
    lead: str = "",
    review: RulesReview | None = None,
) -> None:
    """For a PR comment: a row per key that changes or failed, unchanged keys by count.

    A row per unchanged key would bury three changes under thousands of rows, and push
    the details and the credit totals past GitHub's 65,536-character limit.
    """
    view = build(plan)
    markdown_head(stream, title, view.headline, marker, lead, review)
    stream.write(budget_warnings(plan))
    markdown_body(plan, stream, view)


def budget_warnings(plan: Plan, whose: str = "") -> str:
    """A PR comment's budget warnings (`warn_net_debit`), under its title, where a reviewer
    looks first; they never fail the plan (the Policy section lists them too)."""
    return "".join(
        f"> :warning: **Budget warning{escape(whose)}:** {escape(w)}\n\n" for w in plan.policy.warnings
    )


def markdown_head(
    stream: TextIO,
    title: str,
    headline: str,
    marker: str = MARKER,
    lead: str = "",
    review: RulesReview | None = None,
) -> None:
    """The title and its headline; the pull request's changes to the rules under it (counted)."""
    also = rules.counted(review)
    headline = f"{headline.removesuffix('.')}, {also}." if also else headline
    stream.write(f"{marker}\n### {title}: {headline.removeprefix('Plan: ')}\n\n")
    if lead:
        stream.write(f"**{escape(lead)}**\n\n")
    stream.write(rules.markdown(review))


def markdown_body(plan: Plan, stream: TextIO, view: PlanView | None = None) -> None:
    """The plan's table, details, lists and credit line (one account's section)."""
    view, w = view or build(plan), stream.write
    if view.rows:
        w("| | Key | Action | Account credits |\n|---|---|---|---|\n")
        for row in view.rows:
            change = row.change
            action = change.action.label + _why(change.reason)
            credits = account_effect(change)
            w(f"| {row.symbol} | {md_key(change)} | {action} | {credits} |\n")
        w("\n")
    if view.unchanged:
        w(f"{len(view.unchanged)} unchanged: {escape(view.unchanged_names)}\n\n")
    if nothing_to_do(plan):
        w(nothing_to_do(plan) + "\n\n")
    for row in view.rows:
        _md_details(row, w)
    _md_lists(view, w)
    if plan.groups:
        w(policy.groups_markdown(plan.groups))
    if plan.policy:
        w(policy.markdown(plan.policy))
    w(f"**{view.credits.replace('->', '→')}**\n")  # numbers only: nothing to escape
    if view.footer:
        w(f"\n_Read with {view.footer}._\n")


def _why(reason: str) -> str:
    """A row's reason after its action: in parentheses, unless it holds some of its own (`adopted
    by name (the next apply records it)`), which would then sit inside another: after a colon."""
    if not reason:
        return ""
    return f": {escape(reason)}" if "(" in reason or ")" in reason else f" ({escape(reason)})"


def _md_details(row: Row, w: Callable[[str], Any]) -> None:
    change = row.change
    what = change.action.label + (f", {len(change.fields)} field(s)" if change.fields else "")
    w(f"<details><summary>{escape(change.name)}: {what}</summary>\n\n")
    if change.error:
        w(f"{escape(change.error)}\n")
    if change.fields:
        w("| Field | Before | After |\n|---|---|---|\n")
        for c in change.fields:
            before, after = shown_pair(c.field, c.before, c.after)
            before = "" if change.action is Action.CREATE else escape(before)
            w(f"| {c.field} | {before} | {escape(after)} |\n")
    if change.deliver:
        w("\nThe new value goes to: " + ", ".join(f"→ {escape(sink)}" for sink in change.deliver) + "\n")
    if row.credit:
        w(f"\n{row.credit}\n")
    for warning in row.warnings:
        w(f"\n- warning: {escape(warning)}")
    w("\n\n</details>\n\n")


def _md_lists(view: PlanView, w: Callable[[str], Any]) -> None:
    if view.unmanaged:
        w(f"<details><summary>Unmanaged keys ({len(view.unmanaged)}): in the account, not in the manifest")
        w(
            "</summary>\n\n"
            + "\n".join(f"- {escape(unmanaged_line(u))}" for u in view.unmanaged)
            + "\n\n</details>\n\n"
        )
    lines = [f"- {escape(c.name)}: {escape(t)}" for c in view.unchanged for t in c.warnings]
    if lines:
        w(f"<details><summary>Warnings on unchanged keys ({len(lines)})</summary>\n\n")
        w("\n".join(lines[:UNCHANGED_WARNINGS]))
        if len(lines) > UNCHANGED_WARNINGS:
            w(f"\n- … and {len(lines) - UNCHANGED_WARNINGS} more (the text plan has them all)")
        w("\n\n</details>\n\n")
    for note in view.notes:
        w(f"> **Warning:** {escape(note)}\n\n")
    for problem in view.problems:
        w(f"> **Error:** {escape(problem)}\n\n")
