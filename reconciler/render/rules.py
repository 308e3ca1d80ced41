"""A pull request's changes to the rules, in words: a line per difference (`core.rulechanges`),
shown at the top of the plan comment and the job summary, counted in the headline."""

from __future__ import annotations

import json
from collections.abc import Callable

from reconciler.core.money import money
from reconciler.core.rulechanges import (
    NEW,
    NOT_SET,
    REMOVED,
    CapChange,
    Change,
    ExceptionChange,
    RuleChange,
    RulesReview,
)
from reconciler.manifest.rulediff import GONE_ACCOUNT, NEW_ACCOUNT
from reconciler.render.view import escape

TITLE = "Rules changed by this pull request"


def line(change: Change, esc: Callable[[str], str] = str) -> str:
    """`max_allocation (account prod): 100.00 -> 500.00, looser`; `exception added: prod/partner
    ip_whitelist ("partner calls from changing IPs")`; `max_allocation (key k0: group strict ->
    loose): ...`. `esc`: each value as Markdown shows it (the words around them, `->` included,
    need none)."""
    if isinstance(change, ExceptionChange):
        return _exception(change, esc)
    before, after = _sides(change)
    whose = f" ({' -> '.join(esc(part) for part in change.whose.split(' -> '))})" if change.whose else ""
    return f"{esc(change.rule)}{whose}: {esc(before)} -> {esc(after)}, {change.way}"


def _sides(change: RuleChange | CapChange) -> tuple[str, str]:
    if isinstance(change, RuleChange):
        return change.before, change.after
    return _cap(change, before=True), _cap(change, before=False)


def _cap(change: CapChange, before: bool) -> str:
    """One side of an account's ceiling: `500.00`, `50` (keys), `(not set)`, `(not set: the
    default 10,000.00)`, or the account's absence on that side."""
    value = change.before if before else change.after
    if value is not None:
        return str(value) if change.rule == "key_cap" else money(value)
    if change.way in (NEW, REMOVED):
        return NEW_ACCOUNT if before else GONE_ACCOUNT
    return NOT_SET if change.unset is None else f"(not set: the default {money(change.unset)})"


def _exception(change: ExceptionChange, esc: Callable[[str], str]) -> str:
    waived, before, after = esc(f"{change.address} {change.rule}"), change.before, change.after
    if before is None:
        return f"exception added: {waived} ({esc(_quoted(after))})"
    if after is None:
        return f"exception removed: {waived} ({esc(_quoted(before))}), tighter"
    return f"exception reason changed: {waived}: {esc(_quoted(before))} -> {esc(_quoted(after))}"


def _quoted(reason: str | None) -> str:
    return json.dumps(reason, ensure_ascii=False)


def counted(review: RulesReview | None) -> str:
    """The headline's word for them (`2 rules changed`), or ''."""
    n = len(review.changes) if review else 0
    return f"{n} rule{'s' if n != 1 else ''} changed" if n else ""


def said(review: RulesReview | None) -> list[str]:
    """What the review says, a line each: the changes, or why there are none to show; then
    rules-apart's verdict."""
    if review is None:
        return []
    head = _head(review)
    found = ([head] if head else []) + [f"  {line(change)}" for change in review.changes]
    return found + ([f"{review.apart}{_fails(review)}"] if review.apart else [])


def _head(review: RulesReview, esc: Callable[[str], str] = str) -> str:
    base = f"its base `{review.base[:12]}`" if review.base else "its base"
    if review.absent:
        return f"Rules: the manifest root is new in this pull request (not on {base}): nothing to compare."
    if review.problem:
        return f"Rules not compared with {base}: {esc(review.problem)}."
    return f"{TITLE} (against {base}):" if review.changes else ""


def _fails(review: RulesReview) -> str:
    return ". The plan check fails." if review.fails else "."


def markdown(review: RulesReview | None) -> str:
    """The block under the comment's title ('' when there is nothing to say)."""
    out: list[str] = []
    head = _head(review, escape) if review else ""
    if review and review.changes:
        out.append(f"> :warning: **{TITLE}** (against its base `{escape(review.base[:12])}`):\n>")
        out += [f"> - {line(change, escape)}" for change in review.changes]
    elif review and head:
        out.append(f"> {':warning:' if review.problem else ':information_source:'} {head}")
    if review and review.apart:
        mark = ":x:" if review.fails else ":white_check_mark:"
        out.append((">\n" if out else "") + f"> {mark} **{escape(review.apart)}**{_fails(review)}")
    return "\n".join(out) + "\n\n" if out else ""
