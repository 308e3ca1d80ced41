"""Applying a saved plan (`apply --plan FILE`): the file checked whole before any request, and
which of its changes still hold now; a change whose live state moved since is skipped, keys
outside the saved plan are left alone."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from reconciler.core.changes import REFUNDS, Action, Change, unmanaged_address
from reconciler.core.errors import Refused, UsageError
from reconciler.core.outcomes import Outcome, Result
from reconciler.core.plan import Plan
from reconciler.core.printable import printable
from reconciler.manifest.load import Manifest
from reconciler.render.apply import what_moved
from reconciler.render.view import row
from reconciler.state import saved_plan as planfile

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def reviewed_plan(path: str | None, expect_digest: str | None) -> planfile.SavedPlans | None:
    """The saved plan at `path`, checked whole and against `expect_digest` before any request."""
    expected = _digest_option(expect_digest)
    if path is None:
        if expected is not None:
            raise UsageError("--expect-digest checks a saved plan: pass it with --plan FILE")
        return None
    saved = planfile.load(path)
    if expected is not None and saved.digest != expected:
        raise Refused(
            f"{path} has digest {saved.digest}, not the reviewed {expected}: it is not the plan "
            "that was reviewed; nothing was sent"
        )
    return saved


def check_parts(saved: planfile.SavedPlans, loaded: Manifest) -> None:
    """Each part of the saved plan is of an account of the manifest, and creates or changes only
    that account's keys: a file edited by hand (a part renamed, added, or another account's) is
    refused before any request, never applied in part or shown as 'already as planned'."""
    accounts = {a.name: a for a in loaded.accounts}
    declared = ", ".join(a.name for a in loaded.accounts if a.declared) or "no accounts"
    for name, part in saved.sections.items():
        account = accounts.get(name)
        if account is None or account.declared != part.plan.account.declared:
            which = f"account {name!r}" if part.plan.account.declared else "a manifest without accounts"
            raise Refused(
                f"{saved.path} holds a plan for {which}, but the manifest declares {declared} "
                "(edited by hand, or made from another manifest?): plan again; nothing was sent"
            )
        keys = {k.address for k in loaded.keys_of(name)}
        whose = f"account {name}" if account.declared else "the account"
        for change in part.plan.changes:
            if change.action in _KEYED and change.address not in keys:
                raise Refused(
                    f"{saved.path}: its part for {whose} would "
                    f"{change.action.label} {printable(change.address)!r}, which is not a key of that "
                    "account in the manifest (edited by hand?): plan again; nothing was sent"
                )


_KEYED = (Action.CREATE, Action.UPDATE, Action.ENABLE, Action.DISABLE, Action.ROTATE)  # of a manifest key


def _digest_option(text: str | None) -> str | None:
    if text is None:
        return None
    if not DIGEST.fullmatch(text.strip().lower()):
        raise UsageError(
            f"--expect-digest {text!r}: expected sha256: and 64 hex digits, as plan --out prints"
        )
    return text.strip().lower()


def still_planned(plan: Plan, saved: planfile.SavedPlan) -> tuple[list[Change], list[Result]]:
    """The saved plan's changes that did not move; the rest are skipped, with why."""
    chosen: list[Change] = []
    skipped: list[Result] = []
    current = {c.address: c for c in plan.changes}
    for change in plan.to_apply:
        if not saved.holds(change):
            continue  # not part of the saved plan
        if saved.unmoved(change):
            saved.check_shown(change)  # Refused: never send what the plan does not show
            check_lines(saved, change)
            chosen.append(change)
        else:
            skipped.append(_skip(change, saved, "its live state moved"))
    skipped.extend(_left_over(plan, saved, current))
    return chosen, skipped


def _left_over(plan: Plan, saved: planfile.SavedPlan, current: Mapping[str, Change]) -> list[Result]:
    """The reviewed changes the plan has nothing to send for now, each with why: a prune of a
    key it keeps now (another root's, say), a change of a key it binds to nothing now or under
    another address (never 'already as planned' while the key is live), else nothing left to do."""
    kept = {unmanaged_address(live.fingerprint): note for live, note in plan.unmanaged_listed}
    unbound = {live.fingerprint: note for live, note in plan.unmanaged_listed}
    bound = {c.target.fingerprint: c for c in plan.changes if c.target is not None}
    found = []
    for address in sorted(saved.changes.keys() - {c.address for c in plan.to_apply}):
        key, reviewed = saved.changes[address].get("key"), saved.reviewed(address)
        if address in kept:
            found.append(Result(reviewed, Outcome.SKIPPED, _kept_now(kept[address])))
        elif address not in current and key in unbound:  # a moved key's old one, its state lost
            found.append(Result(reviewed, Outcome.SKIPPED, _unbound(address, unbound[key])))
        elif address not in current and key in bound:  # a retiring key whose successor is gone
            found.append(Result(reviewed, Outcome.SKIPPED, _held_now(bound[key])))
        else:
            found.append(_no_longer(current.get(address), saved, address))
    return found


def _unbound(address: str, note: str) -> str:
    """Why nothing is sent to a reviewed change's key that is live and unmanaged now."""
    said = (
        f"changed since plan; nothing is sent to it now: this plan no longer binds it to "
        f"{printable(address)!r} (its state lost, or an older one restored?), so it is left alone, "
        "unmanaged; to delete it, put it back in this account with absent: true"
    )
    return f"{said}: {note}" if note else said


def _held_now(now: Change) -> str:
    """Why nothing is sent to a reviewed change's key that the plan holds now under another
    address (a retirement reviewed, then its successor deleted by hand: the address is its again)."""
    does = "leaves it as it is" if now.action is Action.NO_OP else f"would {now.action.label} it"
    why = f" ({now.reason})" if now.reason else ""
    where = f"it is the key of {printable(now.address)!r} now"
    return f"changed since plan; nothing is sent to it now: {where}, and the plan {does}{why}"


def _kept_now(note: str) -> str:
    """Why the plan keeps now a key the reviewed plan pruned: its note, said as of now."""
    why = note.replace("not pruned:", "not pruned now:", 1) if note else "it is not pruned now"
    return f"changed since plan; {why}"


def unsent_refunds(
    saved: planfile.SavedPlan, plan: Plan, chosen: Sequence[Change], skipped: Sequence[Result]
) -> list[Result]:
    """The reviewed plan's refunds that this apply does not send, each as what became of it
    (skipped as moved, already made, held in error now): the debits the reviewed plan showed
    counted on them, so they are not sent either (`Applier.run`'s `missed`). A retirement's
    refund is none of them: it comes after its successor's debit, as planned."""
    sent = {c.address for c in chosen}
    held = (c for c in plan.changes if c.action is Action.ERROR)  # a move's side held now, say
    why = {c.address: Result(c, Outcome.NOT_PLANNED, c.error or "") for c in held}
    why |= {r.change.address: r for r in skipped}
    return [
        why.get(c.address) or Result(c, Outcome.SKIPPED)
        for c in saved.plan.changes
        if c.credit.order == REFUNDS and not c.after and c.address not in sent
    ]


def _no_longer(now: Change | None, saved: planfile.SavedPlan, address: str) -> Result:
    """A reviewed change with nothing left to do: the key is as planned (an earlier run, a
    re-run of this one, or a hand made it so), or it cannot be planned now."""
    reviewed = saved.reviewed(address)
    if now is not None and now.action is Action.ERROR:
        return Result(reviewed, Outcome.SKIPPED, f"changed since plan; it cannot be planned now: {now.error}")
    moved = what_moved(saved.live(address), now.live if now else None)
    return Result(
        reviewed, Outcome.IN_SYNC, "nothing left to do" + (f"; since the plan: {moved}" if moved else "")
    )


def _skip(change: Change, saved: planfile.SavedPlan, why: str) -> Result:
    moved = what_moved(saved.live(change.address), change.live)
    if not moved and change.action.changes_something:
        moved = "its operations differ, as the state's record of it changed"
    detail = f"{why}: {moved}" if moved else why
    return Result(change, Outcome.SKIPPED, f"changed since plan; {detail}")


def check_lines(saved: planfile.SavedPlan, change: Change) -> None:
    """Refuse a change whose field lines are not what the plan showed (what a reviewer read:
    `allocated_ammount: 10.00 -> 14.00`): the file was edited by hand, or saved by an ehkeys that
    showed a change otherwise (a command sink as `command sh`, before its words were shown)."""
    now, shown = _lines(change), _lines(saved.reviewed(change.address))
    if now != shown:
        raise Refused(
            f"{saved.path}: {printable(change.address)} would be applied as {now}, but the "
            f"plan shows {shown} (edited by hand, or saved by another version of ehkeys?): plan again; "
            "nothing was sent"
        )


def _lines(change: Change) -> str:
    """The change's field lines as the plan shows them, on one line."""
    return "; ".join(line.text for line in row(change).lines if line.kind != "note") or "no field change"
