"""A plan's Policy section, in text and Markdown: the rules and budgets in force, each one the
plan breaks (its rule, key, value and limit, and where), warnings, and every exception in force
with its reason. Shown only where the manifest states a policy, a budget or an exception."""

from __future__ import annotations

from reconciler.core.keys import Location
from reconciler.core.money import money
from reconciler.core.policy import Checked, GroupTotal, Violation, Waiver
from reconciler.core.printable import printable
from reconciler.render.view import escape

VIOLATION, WARNING, EXCEPTION = "violation", "warning", "exception"


def heading(checked: Checked, rules: bool = True) -> str:
    """`Policy: 2 violations, 1 exception in force (rules: ...)`, or that every rule holds."""
    parts = []
    if checked.violations:
        parts.append(_count(len(checked.violations), "violation"))
    if checked.warnings:
        parts.append(_count(len(checked.warnings), "warning"))
    if checked.waivers:
        parts.append(_count(len(checked.waivers), "exception") + " in force")
    said = ", ".join(parts) if checked.violations else ", ".join(["every rule holds", *parts])
    listed = f" (rules: {', '.join(checked.rules)})" if checked.rules and rules else ""
    return f"Policy: {said}{listed}"


def lines(checked: Checked) -> list[tuple[str, str]]:
    """(kind, text) a line: violations, warnings, exceptions."""
    found = [(VIOLATION, violation_line(v)) for v in checked.violations]
    found += [(WARNING, w) for w in checked.warnings]
    return found + [(EXCEPTION, exception_line(w)) for w in checked.waivers]


def violation_line(violation: Violation) -> str:
    on = f" on {violation.address}" if violation.address else ""
    group = f" (group {violation.group})" if violation.group else ""
    return printable(f"{violation.rule}{group}{on}: {violation.message}{_at(violation.where)}")


def exception_line(waiver: Waiver) -> str:
    return printable(f"{waiver.rule} waived on {waiver.address}: {waiver.reason}{_at(waiver.where)}")


def markdown(checked: Checked) -> str:
    """The section of a PR comment (and of each account's part of it)."""
    refused = " The plan check fails, and apply refuses this plan." if checked.violations else ""
    rules = f" Rules in force: {', '.join(checked.rules)}." if checked.rules else ""
    text = f"**{escape(heading(checked, rules=False))}.**{refused}{rules}\n\n"
    marks = {VIOLATION: "- :x: ", WARNING: "- :warning: ", EXCEPTION: "- Exception: "}
    found = lines(checked)
    return text + "".join(f"{marks[kind]}{escape(line)}\n" for kind, line in found) + ("\n" if found else "")


def group_line(total: GroupTotal) -> str:
    """A group's keys in the plan: how many, how many change, their credits and allocation."""
    return printable(
        f"{total.name}: {_count(total.keys, 'key')} ({total.changes} changed), {money(total.debit)} "
        f"debited, {money(total.refund)} refunded (est.), net {money(total.net, sign=True)}; "
        f"{money(total.allocated)} allocated after"
    )


def groups_markdown(totals: list[GroupTotal]) -> str:
    head = (
        "| Group | Keys | Changed | Debited | Refunded (est.) | Net | Allocated after |\n"
        + "|---" * 7
        + "|\n"
    )
    rows = [
        f"| {escape(t.name)} | {t.keys} | {t.changes} | {money(t.debit)} | {money(t.refund)} | "
        f"{money(t.net, sign=True)} | {money(t.allocated)} |\n"
        for t in totals
    ]
    return "**Groups**\n\n" + head + "".join(rows) + "\n"


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'s' if n != 1 else ''}"


def _at(where: Location | None) -> str:
    return "" if where is None else f" ({where.file}:{where.line})"
