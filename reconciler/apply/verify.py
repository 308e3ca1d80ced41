"""Where a change ended, read from the account's list after its wave: the verdict of a change.

The expected state is the plan's live values with each operation's effect folded over them;
the list is the truth. A create whose answer was lost is found as the one key of that name
that did not exist before and that no address holds; two such keys are reported, never
guessed between.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import reduce
from typing import TYPE_CHECKING, Any

from reconciler.core.changes import snapshot
from reconciler.core.keys import CREATE_DEFAULTS, LiveKey
from reconciler.core.operations import Create, Update
from reconciler.core.outcomes import Outcome
from reconciler.core.secrets import ProxyKey

if TYPE_CHECKING:
    from reconciler.apply.applier import Sending

NOT_COMPARED = ("used_ammount",)  # moves by itself while keys are in use


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    message: str = ""
    key: ProxyKey | None = None  # the key the change ended on
    created: ProxyKey | None = None  # a created key found in the list after a lost answer
    limit_type: str | None = None  # the write-only value now known to be set
    deleted: bool = False
    unseen: bool = False  # a failed write no list could check: it may have landed all the same


def verify(
    sending: Sending, listing: Mapping[str, LiveKey] | None, known: set[str], bindings: Mapping[str, str]
) -> Verdict:
    if sending.never_sent and not sending.answered:
        return Verdict(Outcome.FAILED, f"{sending.error} (nothing was sent)", key=sending.target)
    if listing is None:
        return _unchecked(sending)
    target, adopted, problem = _target(sending, listing, known, bindings)
    if problem:
        return Verdict(Outcome.FAILED, problem)
    expected = reduce(lambda state, op: op.effect(state), sending.change.operations, sending.change.live)
    actual = listing.get(target.fingerprint) if target else None
    if expected is None:
        return _deleted(sending, actual, target)
    if actual is None:
        return Verdict(Outcome.FAILED, sending.error or "the key is not in the account after the writes")
    shown = snapshot(actual)
    wrong = [f for f, v in expected.items() if f not in NOT_COMPARED and shown.get(f) != v]
    if wrong:
        why = sending.error or f"after the writes, the account reports other {', '.join(sorted(wrong))}"
        return Verdict(Outcome.FAILED, why, key=target, created=adopted)
    if sending.unsent:
        why = f"{sending.error}; the key is in the account, but {sending.unsent} later step(s) were not sent"
        return Verdict(Outcome.FAILED, why + ": plan again", key=target, created=adopted)
    window = _limit_type(sending, confirmed=True)
    if sending.error and not sending.lost and _window_wanted(sending) not in (None, window):
        why = f"{sending.error}; its limit_type was not set (the list cannot show it): plan again"
        return Verdict(Outcome.FAILED, why, key=target, created=adopted)
    return Verdict(Outcome.APPLIED, _note(sending, adopted), target, adopted, window)


def _window_wanted(sending: Sending) -> Any:
    """The limit_type the change sets (None: it changes none). Write-only: a refused write that
    carried it left the visible fields as they were, and the list cannot say it was not set."""
    return next((f.after for f in sending.change.fields if f.field == "limit_type"), None)


def _note(sending: Sending, adopted: ProxyKey | None) -> str:
    """What an applied change's line adds: why it ended as planned though a write went wrong."""
    if not sending.error:
        return ""
    if sending.lost:
        return "(an answer was lost; the account's list confirms it)"
    name = sending.change.name
    what = f"adopted {name}, created since the plan by another run" if adopted else "the account matches"
    return f"{what}; this run's write was refused ({sending.error})"


def _unchecked(sending: Sending) -> Verdict:
    if sending.error:
        why = f"{sending.error} (and the list to check it failed)"
        return Verdict(Outcome.FAILED, why, key=sending.target, unseen=True)
    note = "every write was answered, but the list that checks them failed: plan again to see"
    return Verdict(
        Outcome.UNVERIFIED, note, key=sending.target, limit_type=_limit_type(sending, confirmed=False)
    )


def _deleted(sending: Sending, actual: LiveKey | None, target: ProxyKey | None) -> Verdict:
    if actual is not None:
        return Verdict(Outcome.FAILED, sending.error or "the key is still in the account", key=target)
    note = "(an answer was lost; the account's list confirms it)" if sending.error else ""
    return Verdict(Outcome.APPLIED, note, key=target, deleted=True)


def _target(
    sending: Sending, listing: Mapping[str, LiveKey], known: set[str], bindings: Mapping[str, str]
) -> tuple[ProxyKey | None, ProxyKey | None, str]:
    """The key to check, a key adopted after a lost create answer, or why there is none."""
    creates = [op for op in sending.change.operations if isinstance(op, Create)]
    if sending.target is not None or not creates:
        return sending.target, None, ""
    name = creates[0].body["name"]
    held = set(bindings.values())
    new = [k for k in listing.values() if k.name == name and k.fingerprint not in known | held]
    if len(new) > 1:
        return None, None, f"{len(new)} new keys named {name!r} appeared; adopt one by hand (proxy_key)"
    if not new:
        why = sending.error or "no answer"
        said = f"{why}; no new key of that name is in the account: it was not created"
        return None, None, said + (_CAPPED.format(n=len(listing)) if KEY_LIMIT in why else "")
    return new[0].proxy_key, new[0].proxy_key, ""


KEY_LIMIT = "Exceeded proxy key limit"  # the API's 403 to a create over the tier's key cap (its docs)
_CAPPED = (
    " (the account holds {n} keys, its tier's cap: set `key_cap: {n}` in the manifest, and plans "
    "refuse creates beyond it before any request)"
)


def _limit_type(sending: Sending, confirmed: bool) -> str | None:
    """The write-only value known to be set: by an answered update, by create's default, or by
    an update whose answer was lost but whose visible changes the list shows."""
    operations = sending.change.operations
    answered = [op for op in sending.answered if isinstance(op, Update)]
    if answered:
        return _body_value(answered[-1].body, "limit_type")
    updates = [op for op in operations if isinstance(op, Update)]
    if not updates and confirmed and any(isinstance(op, Create) for op in operations):
        return CREATE_DEFAULTS["limit_type"]
    lost = (
        operations[len(sending.answered)]
        if sending.lost and len(operations) > len(sending.answered)
        else None
    )
    if confirmed and isinstance(lost, Update) and _shows(lost, sending):
        return _body_value(lost.body, "limit_type")
    return None


def _shows(update: Update, sending: Sending) -> bool:
    """Whether the update changes a visible field, so that the list can show it landed."""
    before = reduce(lambda state, op: op.effect(state), sending.answered, sending.change.live)
    after = update.effect(before)
    return before is not None and after is not None and any(before.get(f) != v for f, v in after.items())


def _body_value(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    return str(value) if value is not None else None
