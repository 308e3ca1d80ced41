"""What an apply did, for people: a line per result as it lands, the totals, what moved under
a saved plan's change, and the Markdown report (the job summary, the PR comment, `--report-out`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TextIO

from reconciler.core.accounts import Account
from reconciler.core.changes import Action
from reconciler.core.keys import MONEY
from reconciler.core.money import money
from reconciler.core.outcomes import Outcome, Report, Result
from reconciler.core.printable import printable
from reconciler.core.sinks import Delivered
from reconciler.render.plan import escape, md_key
from reconciler.render.view import account_effect, show

if TYPE_CHECKING:
    from reconciler.apply.reviewed import Review

MARKS = {
    Outcome.APPLIED: "✓",
    Outcome.UNVERIFIED: "?",
    Outcome.FAILED: "✗",
    Outcome.SKIPPED: "-",
    Outcome.IN_SYNC: "=",
    Outcome.NOT_PLANNED: "!",  # as the plan shows a key that cannot be planned
}


def line(result: Result) -> str:
    """`  ✓ name (ek-proxy-…abcd): deleted: why`, as each result lands: what a landed change did
    (`Result.said`), else how it ended (`failed`, `skipped`)."""
    change = result.change
    key = result.key or ("a new key" if change.new else change.key)
    text = f"  {MARKS[result.outcome]} {printable(change.name)} ({key}): {result.said}"
    message = note(result)
    return text + (f": {message}" if message.strip() else "")


def note(result: Result) -> str:
    """The result's message; a rotation's two steps, which share a name and landed alike, each
    say which it was: its successor created, or its old key retired."""
    if result.message.strip() or result.outcome is not Outcome.APPLIED:
        return result.message
    change = result.change
    if change.action is Action.ROTATE:
        return f"successor created, replacing {change.key}"
    if change.after:
        return f"old key retired: the successor of {printable(change.after)} replaces it"
    return ""


def totals(report: Report) -> list[str]:
    """How many ended each way (`counted`), and what the balance did: `Apply complete` only when
    every change is as planned, else `Apply incomplete` (some failed, were skipped, not planned or
    not verified: exit 3)."""
    lines = [f"Apply {'complete' if report.complete else 'incomplete'}: {counted(report)}."]
    before, after, moved = report.balance_before, report.balance_after, report.moved
    if moved is not None and before is not None and after is not None:
        lines.append(f"Credits moved: {money(moved, sign=True)} (balance {money(before)} -> {money(after)})")
    return lines + delivered(report.deliveries)


def counted(report: Report) -> str:
    """How many ended each way: those that landed by what they did (`1 created, 2 deleted`;
    `0 applied` when none did), then the others by outcome (`1 failed`, `4 not planned`)."""
    said = Counter(r.said for r in report.results)
    words = [a.done for a in Action if a.done] + [o.value for o in Outcome]
    parts = [f"{said[word]} {word}" for word in words if said[word]]
    if not report.counts[Outcome.APPLIED]:
        parts.insert(0, f"0 {Outcome.APPLIED.value}")
    return ", ".join(parts)


def delivered(deliveries: Sequence[Delivered]) -> list[str]:
    """A line per delivery made (`✓ prod/api → github_secret acme/api:EH_KEY: delivered`), and the
    failed ones said again last, with what happens next."""
    lines = [f"  {'✓' if d.ok else '✗'} {printable(d.line())}" for d in deliveries]
    failed = [d for d in deliveries if not d.ok]
    if failed:
        sinks = "; ".join(f"{d.address} → {d.sink}" for d in failed)
        lines.append(f"Delivery failed ({sinks}): the next apply, or `ehkeys deliver`, delivers it again.")
    return (["Delivered:"] if lines else []) + lines


def what_moved(before: Mapping[str, Any] | None, now: Mapping[str, Any] | None) -> str:
    """The live values that moved since the plan, as `used_ammount 2.00 -> 3.50`, or ''."""
    if before is None or now is None:
        if before is now:
            return ""
        return "the key is gone from the account" if now is None else "a key for it exists now"
    names = [n for n in {**before, **now} if before.get(n) != now.get(n)]
    return ", ".join(f"{n} {_value(n, before.get(n))} -> {_value(n, now.get(n))}" for n in names)


def _value(name: str, value: Any) -> str:
    if value is not None and name in MONEY:
        return money(Decimal(str(value)))
    return show(name, value)


HEADER = "<!-- ehkeys-apply -->\n### ehkeys apply\n\n"


def markdown(report: Report, stream: TextIO, review: Review | None = None) -> None:
    """What an apply did, for the job summary and the PR: a row per change sent, skipped or
    failed with the credits it moved, the balance before and after, and with `--plan` how the
    charged net compares with the reviewed one."""
    stream.write(HEADER)
    _md_body(report, stream, review)


Part = tuple[Account, Report, "Review | None", str]  # an account's apply; why it stopped, or ""


def overall(parts: Sequence[Part]) -> str:
    """A run over several accounts, every account's results counted together as the plan's
    `Plan (2 accounts): ...` counts its changes (`Apply (2 accounts): 1 updated, 3 created.`),
    and the accounts not applied or stopped part-way named, by what their report opens with
    (`0 applied; not applied: prod, staging.`): each account's own lines interleave, and
    when every one was left out nothing else closed the run. '' for one account: its own
    `Apply complete` is the run's."""
    if len(parts) < 2:
        return ""
    together = Report([result for _, report, _, _ in parts for result in report.results])
    left: dict[str, list[str]] = {}
    for account, _, _, stopped in parts:
        if stopped:
            left.setdefault(stopped.partition(":")[0].lower(), []).append(account.name)
    said = "".join(f"; {how}: {', '.join(names)}" for how, names in left.items())
    return f"Apply ({len(parts)} accounts): {counted(together)}{said}."


def markdown_all(
    parts: Sequence[Part], stream: TextIO, unchecked: Sequence[str] = (), closing: str = ""
) -> None:
    """Several accounts' applies: a section each (one undeclared account: as `markdown`); an
    account that stopped says why in its section, never "Nothing to apply", then what it did
    before it stopped; `closing`: the run's `overall` line, last. `unchecked`: a run stopped
    part-way, the writes it never saw through (`api.unsettled`), said last."""
    stream.write(HEADER)
    alone = len(parts) == 1 and not parts[0][0].declared
    for account, report, review, stopped in parts:
        if not alone:
            stream.write(f"#### Account {escape(account.name)}\n\n")
        _md_part(report, review, stopped, stream)
        if not alone:
            stream.write("\n")
    if closing:
        stream.write(f"**{escape(closing)}**\n")
    if unchecked:
        stream.write("\n**Writes not seen through before it stopped:**\n\n")
        stream.write("".join(f"- {escape(line)}\n" for line in unchecked))


def _md_part(report: Report, review: Review | None, stopped: str, stream: TextIO) -> None:
    """One account's part: what it did; stopped, why first, then what it did before (if any)."""
    if not stopped:
        _md_body(report, stream, review)
        return
    stream.write(f"**{escape(stopped)}**\n")
    if report.results or report.deliveries:
        stream.write("\n")
        _md_body(report, stream, review, f"Before it stopped: {counted(report)}.")


def _md_body(report: Report, stream: TextIO, review: Review | None, headline: str = "") -> None:
    w = stream.write
    if report.results:
        w("| | Key | Action | Result | Credits moved | Note |\n|---|---|---|---|---|---|\n")
    for r in report.results:
        c = r.change
        w(
            f"| {c.action.value} | {md_key(c, r.key)} | {c.action.label} | {r.said} "
            f"| {_credits_moved(r)} | {escape(note(r)).replace('-&gt;', '→')} |\n"
        )
    if not report.results:
        w("Nothing to apply.\n" if not headline else "No change landed.\n")
    if report.deliveries:
        w("\n**Deliveries:**\n\n" + "".join(f"- {escape(d.line())}\n" for d in report.deliveries))
    w(f"\n**{escape(headline or ' '.join(totals(report)[:1]))}**\n\n{_balances(report)}\n")
    if review is not None:
        _md_review(review, w)


def _credits_moved(result: Result) -> str:
    """What one change moved: its effect once applied; when not verified, what it would."""
    effect = account_effect(result.change)
    if result.outcome is Outcome.APPLIED:
        return effect
    if result.outcome is Outcome.UNVERIFIED and effect:
        return f"{effect} if it landed"
    return ""


def _balances(report: Report) -> str:
    def shown(value: Decimal | None) -> str:
        return "not read" if value is None else money(value)

    text = f"Balance {shown(report.balance_before)} → {shown(report.balance_after)}"
    return text + (
        f" (credits moved: {money(report.moved, sign=True)})." if report.moved is not None else "."
    )


def _md_review(review: Review, w: Callable[[str], Any]) -> None:
    w(f"\n#### Reviewed and charged\n\n{escape(review.headline)}\n\n")
    for difference in review.differences:
        c, why = difference.change, escape(difference.why).replace("-&gt;", "→")
        w(
            f"- {md_key(c)}: reviewed {money(difference.reviewed, sign=True)}, charged "
            f"{money(difference.charged, sign=True)}: {why}\n"
        )
    w(("\n" if review.differences else "") + f"{escape(review.balance)}\n")
