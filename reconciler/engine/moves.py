"""Keys the manifest moved between accounts: an id that the state of one account binds, that
this account's keys no longer hold, and that exactly one other account's keys now hold (and its
state does not bind yet, unless the old account's state records the move under way). It is
planned as a delete there and a create here (`planner`).

A move is recorded in the old account's state before its create is sent (`begin`), so that a
run cut off after the create and before the delete (a kill, a refused delete) is finished by
the next one: the key the new account holds already is kept, the old one deleted. Without that
record, an id bound in both accounts is two keys, and the one dropped is left alone.

A move goes ahead whole or not at all (`hold`): when one side cannot (its account is refused or
cannot be read, or its own change is an error: a protected key, a create over the key cap),
the other side waits too. Else a key moved into a full account would be deleted and never
created (lost), or a protected key created anew while the old one stays (two allocations).
When both sides are sent, the delete waits for the create (`Gates`, make before break): a
create that fails at apply time (a 402, a timeout, Ctrl-C) leaves the old key where it was, and
so does a create the new account needs that the apply does not send (a reviewed plan without it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reconciler.core.changes import DEBITS, Action, Change
from reconciler.core.errors import EhkeysError
from reconciler.core.keys import DesiredKey
from reconciler.core.outcomes import Result
from reconciler.core.plan import Plan
from reconciler.core.plans import Move
from reconciler.engine.settings import Workspace
from reconciler.engine.workspace import JOURNAL, Opened, state_path
from reconciler.manifest.load import Manifest
from reconciler.planning import keyplan
from reconciler.state import reading as statereading
from reconciler.state.deliveries import DROPPED, unreached
from reconciler.state.format import Contents
from reconciler.state.store import State


@dataclass(frozen=True)
class Side:
    """An account as moves are found: the addresses its manifest keys hold, those its state binds."""

    name: str
    keys: frozenset[str]  # every address its manifest keys hold, `absent: true` ones too
    bindings: Mapping[str, str]
    moving: Mapping[str, frozenset[str]]  # address -> the accounts its bound key was sent to (`State.moving`)
    absent: frozenset[str]  # addresses its manifest asks to be absent: they take no move

    @classmethod
    def of(cls, name: str, keys: Sequence[DesiredKey], state: Contents | State) -> Side:
        """An account's side; a move its state records counts while it names the key still bound."""
        bindings, moves = state.bindings, state.moves
        moving = {a: frozenset(m["to"]) for a, m in moves.items() if bindings.get(a) == m["key"]}
        absent = frozenset(k.address for k in keys if k.absent)
        return cls(name, frozenset(k.address for k in keys), bindings, moving, absent)


def find(opened: Sequence[Opened], workspace: Workspace | None = None) -> tuple[Move, ...]:
    """Every move among the manifest's accounts: those of the run and, from their states (with
    `workspace`), those it leaves out (--account, --target), whose side `cut` holds back."""
    sides = [Side.of(o.account.name, o.keys, o.state) for o in opened]
    if opened and workspace is not None and not workspace.state:
        sides += _outside(opened[0].manifest, {o.account.name for o in opened}, workspace)
    return among(sides)


def among(sides: Sequence[Side]) -> tuple[Move, ...]:
    """The moves among these accounts: each address one binds and its manifest no longer holds,
    that exactly one other takes (`_takes`)."""
    found: list[Move] = []
    for source in sides:
        for address in sorted(source.bindings.keys() - source.keys):
            targets = [s for s in sides if s is not source and _takes(s, source, address)]
            if len(targets) == 1:
                found.append(Move(address, source.name, targets[0].name, address in targets[0].bindings))
    return tuple(found)


def _takes(side: Side, source: Side, address: str) -> bool:
    """`side` is where `source`'s key of this address moves: its manifest holds the address (not
    absent: a key dropped here and absent there is left alone, as any key dropped), and its
    state binds none yet, or the move is under way (created there, not yet deleted here)."""
    held = address in side.keys and address not in side.absent
    return held and (address not in side.bindings or side.name in source.moving.get(address, ()))


def _outside(loaded: Manifest, run: set[str], workspace: Workspace) -> list[Side]:
    sides = []
    for account in (a for a in loaded.accounts if a.name not in run):
        path = state_path(workspace, account)
        try:
            contents = statereading.contents(path, path.parent / JOURNAL)
        except EhkeysError:
            contents = Contents()  # a state that cannot be read is said so when its account runs
        sides.append(Side.of(account.name, loaded.keys_of(account.name), contents))
    return sides


def cut(opened: Sequence[Opened], found: Sequence[Move], workspace: Workspace) -> dict[str, str]:
    """Why a move's side in an account is not planned by this run: the account is left out, or
    --target plans no delete of a key the manifest no longer holds. Its other side waits."""
    run = {o.account.name for o in opened}
    why: dict[str, str] = {}
    for move in found:
        for name in (move.source, move.target):
            if name not in run:
                why[name] = f"this run leaves account {name} out (--account, --target): run it too"
            elif workspace.targets:
                why.setdefault(name, "--target plans one side of a move only: apply it without --target")
    return why


def hold(
    plans: Sequence[Plan],
    found: Sequence[Move],
    refused: Mapping[str, str] | None = None,
    cut: Mapping[str, str] | None = None,
) -> set[str]:
    """Each move whose one side cannot go ahead has its other side made an error (in place).
    `refused`: why an account is left out of an apply as a whole (an account of the run with no
    plan is one); `cut`: why an account's side of a move is not planned (`cut`). Returns the
    names of the accounts whose plan changed."""
    by_name = {p.account.name: p for p in plans}
    refused, cut = refused or {}, cut or {}
    changed: set[str] = set()
    for move in found:
        source, target = by_name.get(move.source), by_name.get(move.target)
        gone, made = changes_at(source, move.address), changes_at(target, move.address)
        not_gone = _blocked(source, gone, refused.get(move.source) or cut.get(move.source, ""))
        not_made = (
            ""
            if _there(made)
            else _blocked(target, made, refused.get(move.target) or cut.get(move.target, ""))
        )
        why_kept = _kept(move, not_gone, not_made)  # the old side: whole, or not at all
        if why_kept and _waits(source, gone, Action.DELETE, refused.get(move.source, "")):
            _replace(source, gone, Action.DELETE, why_kept)
            changed.add(move.source)
        if not_gone and _waits(target, made, Action.CREATE, refused.get(move.target, "")):
            why = (
                f"moves from account {move.source}, where it cannot be deleted now ({not_gone}): it "
                f"is not created here until it can be deleted there, so it never holds two allocations"
            )
            _replace(target, made, Action.CREATE, why)
            changed.add(move.target)
    return changed


def _kept(move: Move, not_gone: str, not_made: str) -> str:
    """Why the old account's deletes of a move wait ('' when they may go): one of them cannot
    go (a key mid-rotation has two: they go together), or the new account cannot take it."""
    if not_gone:
        return f"moves to account {move.target} with its other key here, not deleted now ({not_gone})"
    return _not_gone(move, not_made) if not_made else ""


def _not_gone(move: Move, why: str) -> str:
    """Why the old key of a move is not deleted now: its new one is not there, or not seen."""
    if move.created_earlier:
        return (
            f"moves to account {move.target}, where an earlier run created it, but this run cannot "
            f"see it there ({why}): it is not deleted here until it is seen there, so the key is never lost"
        )
    return (
        f"moves to account {move.target}, where it cannot be created now ({why}): it is "
        f"not deleted here until it can be created there, so the key is never lost"
    )


def changes_at(plan: Plan | None, address: str) -> list[Change]:
    return plan.changes_of(address) if plan else []


def _there(made: Sequence[Change]) -> bool:
    """The new account holds the key already, and plans it (an earlier run created it and was
    cut off before the delete here): whatever else that account's plan says, the old key may go.
    Not a key in error there (a proxy_key that account does not have): it is not known to be it."""
    return any(c.action not in (Action.CREATE, Action.ERROR) and c.target is not None for c in made)


def _blocked(plan: Plan | None, changes: Sequence[Change], refused: str) -> str:
    """Why this side of a move cannot go ahead, or ''."""
    if refused:
        return refused
    if plan is None:
        return "its account was not read"
    if plan.problems:
        return plan.problems[0]
    errors = [c for c in changes if c.action is Action.ERROR]
    return (errors[0].error or "it cannot be planned") if errors else ""


def _waits(plan: Plan | None, changes: Sequence[Change], action: Action, refused: str) -> bool:
    """This side is planned to go ahead (an account that sends nothing is left as it shows)."""
    ready = plan is not None and not refused and not plan.problems
    return ready and any(c.action is action for c in changes)


def _replace(plan: Plan | None, changes: Sequence[Change], action: Action, why: str) -> None:
    """The side's changes of `action` held as errors that send nothing and move no credit."""
    assert plan is not None
    held = {id(c) for c in changes if c.action is action}
    plan.changes = [keyplan.held(c, why) if id(c) in held else c for c in plan.changes]
    plan.recount()  # the held side moves no credit: its group's and the budget's sums drop it


class Gates:
    """Make before break: the delete of a moved key is sent once its create in the new account
    landed and its value reached the key's sinks, and not when it did not, nor when this apply
    does not send that create (a reviewed plan without it). Made for the changes an apply sends,
    per account; `plans`: each account's plan as read now; `undelivered`: each account's keys
    whose value a sink has not got (`undelivered`)."""

    def __init__(
        self,
        found: Sequence[Move],
        chosen: Mapping[str, Sequence[Change]],
        plans: Mapping[str, Plan],
        undelivered: Mapping[str, Mapping[str, bool]],
    ) -> None:
        loop = asyncio.get_running_loop()
        self.created: dict[tuple[str, str], asyncio.Future[str]] = {}  # (target, address)
        self.delivering: dict[tuple[str, str], asyncio.Future[str]] = {}  # (target, address)
        self.gates: dict[tuple[str, str], asyncio.Future[str]] = {}  # (source, address): its delete waits
        self.deleted: dict[tuple[str, str], Move] = {}  # (source, address): its delete is sent
        for move in found:
            if move.address not in _sent(chosen, move.source, Action.DELETE):
                continue
            self.deleted[(move.source, move.address)] = move
            gate: asyncio.Future[str] = loop.create_future()
            if move.address in _sent(chosen, move.target, Action.CREATE):  # one create, any moves into it
                gate = self.created.setdefault((move.target, move.address), gate)
            elif not _there(changes_at(plans.get(move.target), move.address)):
                gate.set_result(
                    f"its create in account {move.target} is not sent by this apply (not in its plan)"
                )
            elif move.address in undelivered.get(move.target, {}):  # its sinks would keep a deleted value
                if move.target not in chosen:  # refused by its guards: nothing delivers it now
                    gate.set_result(
                        f"its value has not reached every sink in account {move.target}, not applied now"
                    )
                elif undelivered[move.target][move.address]:  # owed: this apply delivers it again first
                    gate = self.delivering.setdefault((move.target, move.address), gate)
                else:
                    gate.set_result(_undelivered(move.target, again=False))
            else:
                continue  # the new account holds the key already: the delete goes as any other
            self.gates[(move.source, move.address)] = gate

    def begin(
        self,
        states: Mapping[str, State],
        chosen: Mapping[str, Sequence[Change]],
        keys: Mapping[str, Sequence[DesiredKey]],
    ) -> None:
        """Each move whose old key this apply deletes recorded in its old account's state
        (`State.moving`) before anything is sent: a run cut off between its two sides (or whose
        delete is refused) is finished by the next. The key recorded is the one the address is
        bound to (not a predecessor it retires). The sinks its new key shares with it (a name
        pinned, `name: BACKEND`) get the new key's value from now on: the old account's record
        that they hold its key's is dropped (`_taken`), so that, moved back while half done, the
        key there is said never to have reached them."""
        for account, changes in chosen.items():
            state = states[account]
            for change in (
                c for c in changes if c.action is Action.DELETE and (account, c.address) in self.deleted
            ):
                move, key = self.deleted[(account, change.address)], change.target
                if key and state.bindings.get(change.address) == key.fingerprint:
                    state.moving(change.address, move.target, key.fingerprint)
                    _taken(state, change.address, keys.get(move.target, ()))

    def later(self, account: str, changes: Sequence[Change]) -> list[Change]:
        """The account's deletes that wait on another account: its create there, its delivery."""
        return [c for c in changes if c.action is Action.DELETE and (account, c.address) in self.gates]

    def counting_on(self, account: str, changes: Sequence[Change], later: Sequence[Change]) -> list[Change]:
        """The account's debits that count on its moved-away refunds (`later`): sent after them.
        Not a move's own create (others wait on it) nor a rotation's (its retirement follows it)."""
        if not later:
            return []
        return [
            c
            for c in changes
            if c.credit.order == DEBITS
            and c.action is not Action.ROTATE
            and (account, c.address) not in self.created
        ]

    def landed(
        self, account: str, results: Sequence[Result], owed: Mapping[str, object] | None = None
    ) -> None:
        """The account's creates are done and their values delivered (or never will be: no
        results): each gate opens, or stays shut with why. `owed`: the account's deliveries
        still owed, by address (`State.deliveries`): a sink without the new value keeps the old."""
        outcomes = {r.change.address: r for r in results}
        for (target, address), gate in [*self.created.items(), *self.delivering.items()]:
            if target == account and not gate.done():
                owes = _undelivered(target) if owed is None or owed.get(address) else ""
                made = (
                    _not_created(target, outcomes.get(address)) if (target, address) in self.created else ""
                )
                gate.set_result(made or owes)

    async def wait(self, account: str, change: Change) -> str:
        """'' once the moved key's create landed; else why it did not, or is not sent."""
        return await self.gates[(account, change.address)]


def _taken(state: State, address: str, keys: Sequence[DesiredKey]) -> None:
    """The sinks of `address` whose value the key moving in (`keys`: its new account's) takes."""
    taken = {s.ident for k in keys if k.address == address for s in k.deliver}
    for sink in (s for s in state.reached.get(address, []) if s in taken):
        state.delivery(address, sink, DROPPED, "its key moves: the new key's value goes there")


def _sent(chosen: Mapping[str, Sequence[Change]], account: str, action: Action) -> set[str]:
    return {c.address for c in chosen.get(account, ()) if c.action is action}


def _undelivered(target: str, again: bool = True) -> str:
    """`again`: the next apply delivers it (a delivery owed); else only `ehkeys deliver` does."""
    sends = "the next apply, or `ehkeys deliver`, sends it" if again else "`ehkeys deliver` sends it"
    return f"its value has not reached every sink in account {target} ({sends})"


def undelivered(state: State, keys: Sequence[DesiredKey]) -> dict[str, bool]:
    """The addresses of an account whose key has a sink its value has not reached: True when an
    apply delivers it again (owed: a delivery failed), False when only `ehkeys deliver` does (a
    key adopted by name, a sink added since)."""
    found: dict[str, bool] = {}
    for key in (k for k in keys if k.deliver):
        owed = set(state.deliveries.get(key.address, {}))
        never = set(unreached(state.reached, key.address, [s.ident for s in key.deliver])) - owed
        if owed or never:
            found[key.address] = not never
    return found


def _not_created(target: str, result: Result | None) -> str:
    if result is None:
        return f"its create in account {target} was not sent"
    if result.outcome.done:
        return ""
    why = f": {result.message}" if result.message else ""
    return f"its create in account {target} {result.outcome.value}{why}"
