"""A run's plans: text, Markdown and JSON (`schemas/plan.schema.json`, format 3).

A manifest without `accounts:` has one plan, rendered as it always was (`render.plan`). With
accounts, each has its section with its own credits and balance; with several, each section's
counts are named by its account (`Account prod: 1 to create, ...`) and one total, `Plan (2
accounts): ...`, counts them all, as Terraform's one `Plan:` line; a run of one account has its
section's `Plan:` line only. Credit never nets across accounts, so no total of credits is shown
in text or Markdown.
JSON names each key's account and gives each account's summary; `summary` is the grand total.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, TextIO

from reconciler.core.changes import Action, Change
from reconciler.core.heap import gc_paused
from reconciler.core.money import ZERO, money, money_number
from reconciler.core.plan import Plan
from reconciler.core.plans import Move, Plans
from reconciler.core.rulechanges import RulesReview
from reconciler.render import plan as one
from reconciler.render.plan import MARKER, Style, escape
from reconciler.render.view import counted

JSON_VERSION = 3  # 3: each key names its account, `accounts` holds each account's summary


def headline(plans: Plans) -> str:
    """What every account's plan counts, together."""
    counts = plans.counts
    errors = counts[Action.ERROR] + sum(len(p.problems) for p in plans.each)
    warned = sum(len(p.policy.warnings) for p in plans.each)
    return counted(counts, sum(len(p.unmanaged) for p in plans.each), errors, plans.violations, warned)


@gc_paused()
def text(plans: Plans, stream: TextIO, style: Style | None = None) -> None:
    if not plans.declared:
        one.text(plans.only, stream, style)
        return
    style, several = style or Style(stream), len(plans.each) > 1
    for at, plan in enumerate(plans.each):
        stream.write(("\n" if at else "") + style("bold", f"=== Account {plan.account.name} ===") + "\n")
        one.text(plan, stream, style, f"Account {plan.account.name}" if several else "Plan")
    shown = moves(plans)
    stream.write("\n" if shown or several else "")
    stream.write("".join(f"  ↦ {line}\n" for line in shown))
    if several:  # one account's own line is the total: said once
        counts = headline(plans).removeprefix("Plan: ")
        stream.write(style("bold", f"Plan ({accounts(len(plans.each))}): {counts}") + "\n")


def accounts(n: int) -> str:
    """`2 accounts`, `1 account` (a run of one with --account)."""
    return f"{n} account" + ("" if n == 1 else "s")


@gc_paused()
def markdown(
    plans: Plans,
    stream: TextIO,
    title: str = "ehkeys plan",
    marker: str = MARKER,
    lead: str = "",
    review: RulesReview | None = None,
) -> None:
    """For a PR comment: a section per account, each with its own table and credit line; a
    pull request's changes to the rules (`review`) under the title."""
    if not plans.declared:
        one.markdown(plans.only, stream, title, marker, lead, review)
        return
    one.markdown_head(stream, title, headline(plans), marker, lead, review)
    for plan in plans.each:
        stream.write(one.budget_warnings(plan, f" (account {plan.account.name})"))
    if plans.moves:
        stream.write("**Moves between accounts** (credits do not transfer):\n\n")
        stream.write("".join(f"- {escape(line)}\n" for line in moves(plans)) + "\n")
    for plan in plans.each:
        stream.write(f"#### Account {escape(plan.account.name)}\n\n")
        one.markdown_body(plan, stream)
        stream.write("\n")


def moves(plans: Plans) -> list[str]:
    """A line per key moved between accounts: both its changes, and both credits (none for a
    move the plans leave out whole: --target named other keys)."""
    by_account = {p.account.name: p for p in plans.each}
    pairs = [(m, by_account.get(m.source), by_account.get(m.target)) for m in plans.moves]
    return [_move_line(m, source, target) for m, source, target in pairs if _shown(m, source, target)]


def _shown(move: Move, source: Plan | None, target: Plan | None) -> bool:
    """A move with something to do or to say; not one done already (the old key gone, the new
    one in place), which a state from before its delete still names."""
    gone, made = _at(source, move.address), _at(target, move.address)
    done = not gone and all(c.action is Action.NO_OP for c in made)
    return not done or _refused(source, target)


def _move_line(move: Move, source: Plan | None, target: Plan | None) -> str:
    gone, made = _at(source, move.address), _at(target, move.address)
    head = f"{move.address}: moves from account {move.source} to {move.target}"
    if not made or Action.ERROR in {c.action for c in (*gone, *made)} or _refused(source, target):
        there = move.created_earlier and (not made or not made[0].new)  # a key there: live, or as shown
        now = f"created in {move.target} by an earlier run, not deleted in {move.source} now" if there else ""
        return f"{head}: {now or 'not now, neither deleted nor created'} ({_why_not(move, source, target)})"
    deletes = [c for c in gone if c.action is Action.DELETE]
    refund = money(sum((c.credit.account_refund for c in deletes), ZERO))
    deleted = f"deleted in {move.source} ({refund} refunded, est.)" if deletes else f"gone from {move.source}"
    return f"{head}: {deleted}, {_arrived(move, made[0])}"


def _arrived(move: Move, made: Change) -> str:
    if made.action is Action.CREATE:
        return f"created in {move.target} ({money(made.credit.account_debit)} debited)"
    return f"already in {move.target}"


def _why_not(move: Move, source: Plan | None, target: Plan | None) -> str:
    """Where to read why a move is held: each account's section, or the account the run left out."""
    left_out = [name for name, plan in ((move.source, source), (move.target, target)) if plan is None]
    if left_out:
        return f"account {left_out[0]} is left out of this run: run it too"
    return "each account's section says why"


def _refused(*plans: Plan | None) -> bool:
    return any(plan is None or plan.problems for plan in plans)


def _at(plan: Plan | None, address: str) -> list[Change]:
    return plan.changes_of(address) if plan else []


@gc_paused()
def as_json(plans: Plans, stream: TextIO) -> None:
    """The documented shape, one key per line: readable in a diff, written key by key by
    the C encoder (an indented dump goes through the pure-Python one, and a single
    document would hold every key's text in memory at once)."""
    stream.write(f'{{\n  "format_version": {JSON_VERSION},\n  "keys": [')
    first = True
    for plan in plans.each:
        account = plan.account.name
        for change in plan.changes:  # the keys as Plan.data() lists them, without the rest it makes
            stream.write(("" if first else ",") + "\n    " + _dumps({"account": account, **change.data()}))
            first = False
    stream.write(("" if first else "\n  ") + "]")
    for name, value in _rest(plans).items():
        stream.write(f',\n  "{name}": {_dumps(value)}')
    stream.write("\n}\n")


def _rest(plans: Plans) -> dict[str, Any]:
    """Everything after the keys: each account's unmanaged keys, notes and problems named by
    account where the manifest declares accounts, each account's summary, the grand total."""
    named = plans.declared
    return {
        "unmanaged": [{"account": p.account.name, **u.data()} for p in plans.each for u in p.unmanaged],
        "notes": [_said(p, n, named) for p in plans.each for n in p.notes],
        "problems": [_said(p, n, named) for p in plans.each for n in p.problems],
        "moves": [{"address": m.address, "from": m.source, "to": m.target} for m in plans.moves],
        "accounts": {p.account.name: p.summary() for p in plans.each},
        **_policy(plans),
        "summary": plans.summary(),
    }


def _policy(plans: Plans) -> dict[str, Any]:
    """Each account's Policy section, where the manifest states a policy, budget or exception."""
    found = {p.account.name: p.policy.data() for p in plans.each if p.policy}
    groups = {p.account.name: {g.name: g.data() for g in p.groups} for p in plans.each if p.groups}
    return {**({"groups": groups} if groups else {}), **({"policy": found} if found else {})}


def _said(plan: Plan, text: str, named: bool) -> str:
    return f"{plan.account.name}: {text}" if named else text


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return money_number(value)  # display only: saved plans compare exact text (planfile)
    raise TypeError(f"cannot show {type(value).__name__}")


# One encoder for every key (json.dumps makes one per call); a plan's values hold no cycle,
# so the check for them, which tracks every container, is left out: the same text, sooner.
_dumps = json.JSONEncoder(ensure_ascii=False, default=_plain, check_circular=False).encode


RENDERERS = {"text": text, "json": as_json, "markdown": markdown}
