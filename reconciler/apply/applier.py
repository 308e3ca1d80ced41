"""Apply a plan: every operation journalled, sent, checked by one list per wave, recorded.

Changes go in waves by what they do to the balance (`Change.sort_key`): refunds first,
then changes that move no credit, then debits; each wave finishes before the next. Within
a change its operations run in order, and the first that fails stops the rest. After each
wave one `GET /auth/proxy` shows where every key ended up: an answer lost after the service
acted is confirmed there, a create whose answer was lost is found there (the one new key of
that name), and nothing is ever sent twice blind. Per-kind rules live in `operations` (the
values) and `send` (the requests). Every result is in the journal, and in the state's snapshot
when one falls due; the final snapshot is the caller's, once its apply is done (the engine
folds the journal in: one write, not two), or this run's when it is cut off.
Another run on the same account (another checkout, no shared lock) is looked for in a list
read right before the creates: a key it created since the plan is adopted, and two keys of
one name after the wave are reported (`rivals`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import groupby

from reconciler.api import inventory
from reconciler.api.client import Client
from reconciler.api.concurrency import bounded
from reconciler.api.errors import RUN_ERRORS, ApiError, NotSent
from reconciler.apply import rivals
from reconciler.apply.send import ToggleMismatch, send
from reconciler.apply.verify import Verdict, verify
from reconciler.core.changes import DEBITS, REFUNDS, Action, Change, held_by_none
from reconciler.core.errors import StateError
from reconciler.core.keys import LiveKey
from reconciler.core.operations import Create, Operation, Toggle
from reconciler.core.outcomes import Outcome, Report, Result
from reconciler.core.printable import printable
from reconciler.core.secrets import ProxyKey
from reconciler.state import snapshots
from reconciler.state.journal import SENDING, JournalResult
from reconciler.state.store import State


@dataclass
class Sending:
    """One change on its way: the key it is on, what was answered, what went wrong."""

    change: Change
    target: ProxyKey | None
    answered: list[Operation] = field(default_factory=list)
    error: str = ""
    lost: bool = False  # the last operation may have been processed: only the list can tell
    never_sent: bool = False
    skipped: int = 0  # toggles not sent: the key was already so (and an adopted key's create)
    adopted: bool = False  # its key was created since the plan by another run: not created again

    @property
    def unsent(self) -> int:
        """Operations after the one that failed: never sent."""
        tried = len(self.answered) + self.skipped + (1 if self.error else 0)
        return len(self.change.operations) - tried


class Applier:
    def __init__(
        self,
        client: Client,
        state: State,
        on_result: Callable[[Result], None],
        on_created: Callable[[Change, ProxyKey], None] = lambda change, key: None,
        parallelism: int = 8,
    ) -> None:
        self.client = client
        self.state = state
        self.on_result = on_result
        self.on_created = on_created
        self.parallelism = parallelism
        self.latest: dict[str, LiveKey] | None = None  # the last list read during this apply
        self._indexed: dict[str, LiveKey] | None = None  # the list `_by_name` indexes
        self._by_name: dict[str, list[LiveKey]] = {}

    async def run(
        self,
        changes: Sequence[Change],
        known: Sequence[LiveKey],
        balance: Decimal | None,
        missed: Sequence[Result] = (),
    ) -> Report:
        """`known`: the keys the plan was made against (a created key is one not among them).
        `missed`: refunds the plan counted on that this apply does not send (a reviewed plan's,
        skipped since it was made): its debits are skipped, as when a refund fails here."""
        report = Report(balance_before=balance)
        self.planned = frozenset(k.fingerprint for k in known)
        self.known = set(self.planned)
        waves = [list(wave) for _, wave in groupby(sorted(changes), key=lambda c: c.credit.order)]
        closing: list[Decimal | None] = []  # the balance, read beside the last wave's list
        try:
            for index, wave in enumerate(waves):
                debits = wave[0].credit.order == DEBITS
                unmade = [*missed, *refunds_missed(report.results)] if debits else []
                if unmade:
                    report.results.extend(self._skip(wave, unmade))
                else:
                    last = closing if index == len(waves) - 1 else None
                    report.results.extend(await self._wave(wave, last))
        except BaseException:
            with contextlib.suppress(StateError):  # the journal holds every result regardless
                self.state.flush()
            raise
        report.balance_after = closing[0] if closing else await self._balance()
        return report

    def _skip(self, wave: list[Change], missed: Sequence[Result]) -> list[Result]:
        """Debits counted on the refunds (and freed key slots) of changes that did not land."""
        why = (
            f"not sent: an earlier change did not land, and these debits counted on it "
            f"({_named(missed)}); plan again"
        )
        results = [Result(change, Outcome.SKIPPED, why) for change in wave]
        for result in results:
            self.on_result(result)
        return results

    async def _wave(self, wave: list[Change], closing: list[Decimal | None] | None) -> list[Result]:
        """`closing`: the last wave's, to hold the balance after it, read beside its list (the
        two requests at once: the run's last round trip is one, not two)."""
        toggles = self.latest is None and any(isinstance(op, Toggle) for c in wave for op in c.operations)
        if toggles or any(rivals.created_name(c) for c in wave):
            self.latest = await self._listing()  # a toggle flips, a create debits: read right before
        sent = await bounded(self._send, wave, self.parallelism)
        if closing is None:
            self.latest = await self._listing()
        else:
            self.latest, balance = await asyncio.gather(self._listing(), self._balance())
            closing.append(balance)
        self.known |= {s.target.fingerprint for s in sent if s.target is not None}  # ours: never adopted
        twins = rivals.duplicates(wave, self.latest, self.planned) if self.latest else {}
        ordered = sorted(sent, key=lambda s: s.target is None)
        with self.state.together():
            results = [self._finish(s, twins.get(s.change.address, "")) for s in ordered]
        for result in results:
            self.on_result(result)
        self.client.writes.settle()  # checked, recorded and printed: an interrupt now hides none
        return results

    async def _send(self, change: Change) -> Sending:
        rotated = change.action is Action.ROTATE  # its key is the predecessor: the create makes another
        sending = Sending(change, None if rotated else change.target)
        for op in change.operations:
            if isinstance(op, Toggle) and not self._still_differs(sending.target, op):
                sending.skipped += 1
                continue  # someone else made it so meanwhile: a toggle now would undo it
            if isinstance(op, Create) and self._adopt(sending):
                if sending.never_sent:
                    break
                continue
            self._journal(change, sending.target, {"operation": op.kind, "result": SENDING.value})
            try:
                sending.target = await send(op, self.client, sending.target)
            except RUN_ERRORS:
                raise  # the account key or the API itself: stop the whole apply, with one message
            except NotSent as exc:
                sending.error, sending.never_sent = exc.message, True
                break
            except (ApiError, ToggleMismatch) as exc:
                sending.error, sending.lost = _message(exc), _may_have_landed(exc)
                break
            sending.answered.append(op)
            if isinstance(op, Create) and sending.target is not None:
                self.on_created(change, sending.target)
        return sending

    def _adopt(self, sending: Sending) -> bool:
        """True when the create is not to be sent: a key of its name was created since the plan
        by another run (adopted: the change's later steps go to it), or several were (an error)."""
        name = rivals.created_name(sending.change)
        named = self._named(name) if name else []  # mostly none: a new key's name is new
        taken = self.known | set(self.state.bindings.values()) if named else self.known
        found = rivals.adoptable(str(name), named, taken)
        if len(found) > 1:
            sending.error, sending.never_sent = rivals.too_many(str(name), found), True
        elif found:
            self.known.add(found[0].fingerprint)  # by this change only
            sending.target, sending.adopted = found[0].proxy_key, True
            sending.skipped += 1
            self.on_created(sending.change, sending.target)
        return bool(found)

    def _named(self, name: str) -> list[LiveKey]:
        """The last list's keys of this name: indexed once per list, not searched per create
        (a create wave of N keys in an account of M searched N x M)."""
        if self._indexed is not self.latest:
            self._indexed, self._by_name = self.latest, rivals.by_name(self.latest)
        return self._by_name.get(name, [])

    def _still_differs(self, target: ProxyKey | None, toggle: Toggle) -> bool:
        live = self.latest.get(target.fingerprint) if self.latest and target else None
        return live is None or live.is_active != toggle.to

    async def _listing(self) -> dict[str, LiveKey] | None:
        try:
            return {k.fingerprint: k for k in await inventory.read_keys(self.client)}
        except ApiError:
            return None  # the wave's changes are then "sent, not verified"

    def _finish(self, sending: Sending, duplicate: str) -> Result:
        verdict = verify(sending, self.latest, self.known, self.state.bindings)
        if verdict.created is not None and sending.target is None:
            self.known.add(verdict.created.fingerprint)  # adopted once, by one change only
            self.on_created(sending.change, verdict.created)  # adopted after a lost answer
        shown = verdict.key.display if verdict.key else ""
        result = Result(sending.change, *_outcome(sending, verdict, duplicate), shown, verdict.unseen)
        snapshot = self._verified_snapshot(verdict)
        key = verdict.key or (sending.change.target if verdict.deleted else None)  # what to forget
        self._journal(sending.change, key, self._outcome_entry(result, verdict, snapshot))
        self._record(sending, verdict, snapshot)
        return result

    def _verified_snapshot(self, verdict: Verdict) -> dict[str, object] | None:
        """The key as the wave's list shows it, when that list verified the change."""
        if verdict.outcome is not Outcome.APPLIED or verdict.key is None or not self.latest:
            return None
        live = self.latest.get(verdict.key.fingerprint)
        return snapshots.taken(live) if live is not None else None

    def _outcome_entry(
        self, result: Result, verdict: Verdict, snapshot: dict[str, object] | None
    ) -> dict[str, object]:
        change = result.change
        fields = {c.field: c.data() for c in change.fields}
        return {
            "action": change.action.label,
            "result": JournalResult.of(result.outcome).value,  # the journal's word, not the label
            "message": result.message,
            "before": {name: data["before"] for name, data in fields.items()},
            "after": {name: data["after"] for name, data in fields.items()},
            "credit": change.credit.data(),
            **({"limit_type": verdict.limit_type} if verdict.limit_type else {}),
            **({"deleted": True} if verdict.deleted else {}),
            **({"snapshot": snapshot} if snapshot else {}),  # replayed if the apply is killed
        }

    def _record(self, sending: Sending, verdict: Verdict, snapshot: dict[str, object] | None) -> None:
        address = sending.change.address
        if verdict.deleted:
            gone = verdict.key or sending.change.target
            self.state.forget(address, gone.fingerprint if gone else "")
        elif (
            verdict.key is not None
            and not held_by_none(address)
            and _binds(sending.change, self.state, verdict.key)
        ):
            self.state.bind(address, verdict.key.fingerprint)
        if verdict.key is not None and verdict.limit_type:
            self.state.record(
                verdict.key.fingerprint, sending.change.name, {"limit_type": verdict.limit_type}
            )
        if verdict.key is not None and snapshot:
            self.state.remember(verdict.key.fingerprint, snapshot, journalled=True)

    def _journal(self, change: Change, target: ProxyKey | None, entry: dict[str, object]) -> None:
        where = {"address": change.address, "name": change.name}
        if target is not None:
            where |= {"fingerprint": target.fingerprint, "key": target.display}
        self.state.journal({**where, **entry})

    async def _balance(self) -> Decimal | None:
        try:
            return await self.client.balance()
        except ApiError:
            return None


def _binds(change: Change, state: State, key: ProxyKey) -> bool:
    """A delete that did not land never takes its address from the key bound to it (the
    predecessor a move deletes beside its successor): `Replay` reads its line the same way."""
    return (
        change.action is not Action.DELETE
        or state.bindings.get(change.address, key.fingerprint) == key.fingerprint
    )


def _outcome(sending: Sending, verdict: Verdict, duplicate: str) -> tuple[Outcome, str]:
    """The verdict, said of an adopted key; a create that made a duplicate is no success."""
    if duplicate and verdict.outcome is Outcome.APPLIED:
        return Outcome.FAILED, duplicate
    if not sending.adopted:
        return verdict.outcome, verdict.message
    adopted = rivals.ADOPTED.format(name=sending.change.name)
    return verdict.outcome, "; ".join(m for m in (adopted, verdict.message) if m)


def refunds_missed(results: Sequence[Result]) -> list[Result]:
    """The refunds (or freed key slots) that did not surely land: the debits counted on them."""
    return [r for r in results if r.change.credit.order == REFUNDS and r.outcome is not Outcome.APPLIED]


def _named(missed: Sequence[Result]) -> str:
    """The refunds the debits counted on, each with what became of it (the first three)."""
    said = ", ".join(
        f"{printable(r.change.name)} ({r.key or r.change.key}): {_became(r)}" for r in missed[:3]
    )
    more = f", and {len(missed) - 3} more" if len(missed) > 3 else ""
    return f"the refund{'s' if len(missed) > 1 else ''} of {said}{more}"


def _became(result: Result) -> str:
    """What became of a refund: a reviewed plan's, already as planned, came from another run."""
    return "made before this apply" if result.outcome is Outcome.IN_SYNC else result.outcome.value


def _message(exc: Exception) -> str:
    return exc.message if isinstance(exc, ApiError) else str(exc)


def _may_have_landed(exc: Exception) -> bool:
    """A 4xx answer is a refusal; anything else (no answer, 5xx, a page) may hide a success."""
    status = getattr(exc, "status", None)
    return not (isinstance(status, int) and 400 <= status < 500)
