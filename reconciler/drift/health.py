"""Health warnings of `ehkeys drift`: things to act on soon, never drift themselves.

Keys that expire within `--expiring-within` days (or already have), keys that used more than
`--usage-warning` percent of their allocation, and an account balance below the debits the
manifest's pending changes need; rotations due, old keys past their overlap, and deliveries
still owed (a sink that failed, or a run cut short: `owed`). Each warning has a kind and a
subject (a manifest address, `unmanaged:<fingerprint>`, or `account`): the stable part, which
the drift digest hashes; its message carries the numbers of the day.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from reconciler.core.changes import Action, unmanaged_address
from reconciler.core.keys import DesiredKey, LiveKey
from reconciler.core.money import money
from reconciler.core.plan import Plan
from reconciler.core.rotation import Status
from reconciler.core.times import iso, when

DAY = 86400
EXPIRED, EXPIRING, USAGE, BALANCE = "expired", "expiring", "usage", "balance"
ROTATION_DUE, RETIRING, DELIVERY = "rotation-due", "retiring", "delivery-pending"


@dataclass(frozen=True)
class Options:
    now: int  # epoch seconds
    expiring_within: Decimal = Decimal(14)  # days
    usage_warning: Decimal = Decimal(90)  # percent of the allocation
    clock: int | None = None  # the API's time (rotations are counted on it); None: `now`

    @property
    def now_iso(self) -> str:
        return iso(self.now)


@dataclass(frozen=True)
class Health:
    kind: str  # expired | expiring | usage | balance | rotation-due | retiring | delivery-pending
    subject: str  # the manifest address, unmanaged:<fingerprint>, or account
    name: str  # the key's name ('' for the account)
    key: str  # the redacted key ('' for the account)
    message: str


def health(
    plan: Plan,
    live: Mapping[str, LiveKey],
    options: Options,
    owed: Mapping[str, Sequence[str]] | None = None,
) -> tuple[Health, ...]:
    """`owed`: per manifest address, the sinks (described) its value is still to be delivered to."""
    found = [w for subject, key in _watched(plan, live) for w in _of_key(subject, key, options)]
    found += [w for status in plan.rotations for w in rotation_health(status, options)]
    found = _with_owed(found, plan, owed or {})
    balance = plan.balance_before
    if balance is not None and plan.account_debit > balance:
        found.append(
            Health(
                BALANCE,
                "account",
                "",
                "",
                f"the manifest's pending changes debit {money(plan.account_debit)} credits, "
                f"but the balance is {money(balance)}",
            )
        )
    return tuple(found)


def _watched(plan: Plan, live: Mapping[str, LiveKey]) -> Iterator[tuple[str, LiveKey]]:
    """Every key in the account that the plan keeps: managed ones, and unmanaged ones (but
    another manifest root's: its own drift warns of them)."""
    for change in plan.changes:
        key = live.get(change.target.fingerprint) if change.target else None
        if key is not None and change.action is not Action.DELETE:
            yield change.address, key
    for key, _ in plan.unmanaged_here:
        yield unmanaged_address(key.fingerprint), key


def _of_key(subject: str, key: LiveKey, options: Options) -> Iterator[Health]:
    def warn(kind: str, message: str) -> Health:
        return Health(kind, subject, key.name, key.proxy_key.display, message)

    left = key.expires_at - options.now
    if key.expires_at != -1 and left <= 0:
        yield warn(EXPIRED, f"expired on {when(key.expires_at)}")
    elif key.expires_at != -1 and left <= options.expiring_within * DAY:
        yield warn(EXPIRING, f"expires on {when(key.expires_at)} ({_in(left)})")
    allocated = key.allocated_ammount
    if allocated > 0 and key.used_ammount * 100 > allocated * options.usage_warning:
        share = (key.used_ammount * 100 / allocated).quantize(Decimal(1))
        yield warn(USAGE, f"used {money(key.used_ammount)} of {money(allocated)} credits ({share}%)")


def rotation_health(status: Status, options: Options) -> Iterator[Health]:
    """A rotation due within `expiring_within` days (or overdue), or whose age is unknown, an old
    key still live past its overlap, and a successor not delivered. The delivery pending here is
    a rotation's: the Delivery work's own pending deliveries are the same kind of warning."""

    def warn(kind: str, key: str, message: str) -> Health:
        return Health(kind, status.address, status.name, key, message)

    if status.undated:
        said = (
            "its age is unknown (the API gave no created_at): never rotated on its schedule; "
            "`ehkeys rotate` rotates it now"
        )
        yield warn(ROTATION_DUE, status.key, said)
    now = options.clock or options.now
    due, left = status.due_at, (status.due_at or 0) - now
    if due is not None and not status.retiring and left <= 0:
        yield warn(ROTATION_DUE, status.key, f"rotation overdue since {iso(due)}: the next apply rotates it")
    elif due is not None and not status.retiring and left <= options.expiring_within * DAY:
        yield warn(ROTATION_DUE, status.key, f"rotation due on {iso(due)} ({_in(left)})")
    if status.retiring and status.until is not None and status.until <= now:
        then = "the next apply deletes it" if status.delivered else "kept until its successor is delivered"
        yield warn(
            RETIRING,
            status.retiring,
            f"rotated, still live past its overlap (ended {iso(status.until)}): {then}",
        )
    if status.retiring and not status.delivered:
        yield warn(
            DELIVERY, status.key, f"its successor is not delivered yet: the old key {status.retiring} stays"
        )


def owed_sinks(
    keys: Sequence[DesiredKey], deliveries: Mapping[str, Mapping[str, str]]
) -> dict[str, list[str]]:
    """Per address, the sinks of its key still owed its value (`deliveries`: the state's, by
    sink ident), described as a plan names them. A sink no longer in the manifest is left out:
    the next apply drops it, it is owed nothing."""
    owed = {
        k.address: [s.describe() for s in k.deliver if s.ident in deliveries.get(k.address, {})] for k in keys
    }
    return {address: sinks for address, sinks in owed.items() if sinks}


def _with_owed(found: list[Health], plan: Plan, owed: Mapping[str, Sequence[str]]) -> list[Health]:
    """A delivery pending per address with sinks owed: a rotation's own warning names them;
    any other key gets one, never with a value."""
    said = {w.subject for w in found if w.kind == DELIVERY}
    found = [
        replace(w, message=f"{w.message} (owed to {', '.join(owed[w.subject])})")
        if w.kind == DELIVERY and w.subject in owed
        else w
        for w in found
    ]
    for change in plan.changes:
        sinks = owed.get(change.address)
        if sinks and change.address not in said and change.action is not Action.DELETE:
            found.append(Health(DELIVERY, change.address, change.name, change.key, _owed(sinks)))
    return found


def _owed(sinks: Sequence[str]) -> str:
    return (
        f"its value is still to be delivered to {', '.join(sinks)} (a delivery failed or was cut short): "
        "the next apply, or `ehkeys deliver`, delivers it"
    )


def _in(seconds: int) -> str:
    days = seconds // DAY
    if days >= 1:
        return f"in {days} day{'s' if days != 1 else ''}"
    return "within a day"
