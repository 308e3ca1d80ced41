"""The planner: (desired state, the account's inventory, what the state recorded) -> Plan. No I/O of
its own: what it may need read (the other manifest roots' states) is a callable it is given.

Each manifest key is bound to a live key (`binding.bind`), then becomes one Change: a
create when nothing is bound, a delete when it asks to be absent, else the field updates
and enable/disable it needs. Live keys that no manifest key holds are unmanaged: reported,
or with `prune: true` deleted, but those another manifest root's state binds (`pruning`: the
caller's `Recorded.others`, asked only when there are unmanaged keys), listed as that root's.
Checks that concern the whole plan (the key cap, pruning an empty manifest, the balance)
become the Plan's problems and notes.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from reconciler.api.inventory import Inventory
from reconciler.core.changes import Action, Change, held_by_none, unmanaged_address
from reconciler.core.durations import Duration
from reconciler.core.heap import gc_paused
from reconciler.core.keys import DesiredKey, LiveKey, Location
from reconciler.core.money import ZERO, money
from reconciler.core.plan import Plan, Unmanaged
from reconciler.core.policy import NO_BUDGET, NO_POLICY, Budget, Group, KeyRules, Policy, Violation, Waiver
from reconciler.core.rotation import Rotating
from reconciler.planning import alone, keyplan, notes, policy, pruning
from reconciler.planning.binding import BY_NAME, Binding, Bindings, Bound
from reconciler.planning.pruning import Others
from reconciler.planning.rotation import Rotations


@dataclass(frozen=True)
class Desired:
    """What the manifest asks for: its keys and its account-wide settings."""

    keys: Sequence[DesiredKey]
    prune: bool = False
    ignore: Sequence[str] = ()
    key_cap: int | None = None
    targets: frozenset[str] = frozenset()  # --target: only these addresses; unmanaged keys left out
    moved_out: Mapping[str, str] = field(default_factory=dict)  # address -> the account it moved to
    moved_in: Mapping[str, str] = field(default_factory=dict)  # address -> the account it moved from
    prune_at: Location | None = None  # where prune was turned on: the pruned keys' reason says so
    policy: Policy = NO_POLICY  # the account's rules
    budget: Budget = NO_BUDGET  # what the plan may do to its credits
    violations: Sequence[Violation] = ()  # what the planned keys break (the manifest says)
    waivers: Sequence[Waiver] = ()  # their exceptions in force
    rules: Mapping[str, KeyRules] = field(default_factory=dict)  # address -> what its key is judged by
    groups: Sequence[Group] = ()  # the manifest's groups (its keys name theirs)
    elsewhere: Mapping[str, str] = field(default_factory=dict)  # address -> another account holding it
    live_elsewhere: frozenset[str] = frozenset()  # of `elsewhere`, not absent there: never pruned here
    rotate_now: frozenset[str] = frozenset()  # `ehkeys rotate`: rotate these now, whatever the schedule
    overlap: Duration | None = None  # `ehkeys rotate --overlap`: theirs instead of the manifest's
    rotation_only: bool = (
        False  # rotations alone (`ehkeys rotate`, the rotate job): successors copy the live key
    )

    @property
    def planned(self) -> list[DesiredKey]:
        """The keys to plan; every key is still bound, so none is mistaken for another."""
        return [k for k in self.keys if not self.targets or k.address in self.targets]


@dataclass(frozen=True)
class Recorded:
    """What earlier applies recorded: address -> fingerprint, fingerprint -> write-only values."""

    bindings: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    pending_creates: frozenset[str] = frozenset()  # sent by an apply that never saw them land
    protected: Mapping[str, str] = field(default_factory=dict)  # fingerprint -> address, last applied so
    rotations: Mapping[str, Rotating] = field(default_factory=dict)  # address -> its rotation under way
    forgotten: frozenset[str] = frozenset()  # fingerprints whose values an update outside ehkeys unset
    unverified: bool = False  # the bindings are of a state no verified apply stands behind (`doubts`)
    # the other manifest roots' states (`pruning`): asked for only when a key is unmanaged
    others: Callable[[], Others] = pruning.nobody


def make_plan(desired: Desired, inventory: Inventory, recorded: Recorded, now: int) -> Plan:
    with gc_paused():
        rotations = Rotations(desired, inventory, recorded, now)
        bindings = rotations.bind_keys()
        changes = [
            change
            for i, key in enumerate(desired.planned)
            for change in rotations.planned(
                _plan_one(
                    i, key, bindings.by_address[key.address], inventory, recorded, now, _arrival(desired, key)
                ),
                key,
                bindings.by_address[key.address],
            )
        ]
        adopted = _by_name(bindings.by_address)
        changes = pruning.contested(changes, adopted, recorded.others)
        changes = pruning.guarded(changes, recorded, bindings.by_address, desired.keys)
        unmanaged = (
            [] if desired.targets or not inventory.complete else _unmanaged(desired, bindings.unmanaged)
        )
    if desired.rotation_only:  # before the account's checks: an edit left for an apply counts in none
        changes, unmanaged = alone.only(changes, rotations.statuses, desired.rotate_now), []
    plan = Plan(changes, balance_before=inventory.balance, account_keys=inventory.count)
    plan.rotations = rotations.statuses
    _handle_unmanaged(plan, desired, unmanaged, recorded, inventory.listed_twice)
    _check_account(plan, desired, inventory)
    left_out = _left_out(desired, bindings, changes)
    plan.counter = functools.partial(_count, desired, inventory, left_out, rotations.clock)
    plan.recount()
    return plan


def _count(
    desired: Desired, inventory: Inventory, left_out: dict[str, Decimal], clock: int, plan: Plan
) -> None:
    plan.policy = policy.check(plan, desired, inventory, left_out, clock)
    plan.groups = policy.rolled_up(plan, desired)


def _left_out(desired: Desired, bindings: Bindings, changes: Sequence[Change]) -> dict[str, Decimal]:
    """Each key the plan leaves out (--target, or a rotation alone), bound to a live key: its
    allocation, as it stays (a group's total counts it)."""
    if not desired.targets and not desired.rotation_only:
        return {}
    planned = {c.address for c in changes}
    found = {}
    for key in desired.keys:
        binding = bindings.by_address[key.address]
        if key.address not in planned and isinstance(binding, Bound):
            found[key.address] = binding.live.allocated_ammount
    return found


def _plan_one(
    index: int,
    key: DesiredKey,
    binding: Binding,
    inventory: Inventory,
    recorded: Recorded,
    now: int,
    arrived: str = "",
) -> Change:
    """`arrived`: why a key is created here (it moved from another account), or ''."""
    failure = inventory.failures.get(key.address)
    if failure is not None:
        return Change(key.address, Action.ERROR, key.name, index, target=key.proxy_key, error=failure)
    if isinstance(binding, Bound) and binding.live.fingerprint in inventory.listed_twice:
        error = notes.listed_twice(binding.live)
        return Change(key.address, Action.ERROR, key.name, index, target=binding.live.proxy_key, error=error)
    if isinstance(binding, Bound):
        values = recorded.values.get(binding.live.fingerprint)
        fingerprint = binding.live.fingerprint
        was_protected, forgotten = fingerprint in recorded.protected, fingerprint in recorded.forgotten
        return keyplan.existing(index, key, binding, values, now, was_protected, forgotten)
    if binding.problem:
        return Change(key.address, Action.ERROR, key.name, index, target=key.proxy_key, error=binding.problem)
    if not inventory.complete:
        return Change(key.address, Action.ERROR, key.name, index, error=_UNSEEN)
    if key.address in recorded.pending_creates and any(k.name == key.name for k in inventory.keys):
        return Change(key.address, Action.ERROR, key.name, index, error=_MAYBE_CREATED)
    return keyplan.missing(index, key, binding.note or arrived, now)


def _by_name(bindings: Mapping[str, Binding]) -> dict[str, LiveKey]:
    return {a: b.live for a, b in bindings.items() if isinstance(b, Bound) and b.route == BY_NAME}


def _arrival(desired: Desired, key: DesiredKey) -> str:
    source = desired.moved_in.get(key.address)
    return f"moved from account {source}: created here, deleted there" if source else ""


def _unmanaged(desired: Desired, keys: Sequence[LiveKey]) -> list[LiveKey]:
    return [k for k in keys if not any(fnmatch.fnmatchcase(k.name, p) for p in desired.ignore)]


def _handle_unmanaged(
    plan: Plan, desired: Desired, keys: list[LiveKey], recorded: Recorded, twice: frozenset[str]
) -> None:
    was = {r.predecessor: address for address, r in recorded.rotations.items()}  # rotated away
    was |= {fp: address for address, fp in recorded.bindings.items()}
    namesakes = _namesakes(plan)  # of the manifest's keys, before any delete of a moved one
    keys = _moved_away(plan, desired, keys, recorded, was)
    kept = _kept_namesakes(namesakes, keys, was)
    start = len(plan.changes)
    prunable = [k for k in keys if k.fingerprint not in kept]
    others = recorded.others() if prunable else pruning.NOBODY  # asked only when a key is unmanaged
    prunable = [k for k in prunable if others.owner(k) is None]
    unbound = pruning.unbound(recorded.bindings, recorded.unverified)
    blocked = pruning.why_not_prune(plan, prunable, unbound, others, desired.prune)
    for offset, live in enumerate(keys):
        namesake, owner, address = kept.get(live.fingerprint), others.owner(live), was.get(live.fingerprint)
        protected = recorded.protected.get(live.fingerprint)
        removed = notes.removed(address, desired.elsewhere.get(address or ""), protected is not None)
        if live.fingerprint in twice:
            _listed_twice_unmanaged(plan, desired, start + offset, live)
        elif namesake is not None:
            plan.unmanaged.append(Unmanaged(live, notes.namesake(namesake, desired.prune)))
        elif owner is not None:  # another manifest root's state binds it, or may
            plan.unmanaged.append(pruning.owned(live, owner, desired.prune))
        elif desired.prune and (blocked or address in desired.live_elsewhere):  # that key's value
            plan.unmanaged.append(Unmanaged(live, f"not pruned: {blocked or removed}"))  # may be its sinks'
        elif desired.prune:
            plan.changes.append(keyplan.pruned(start + offset, live, address, protected, desired.prune_at))
        else:
            plan.unmanaged.append(Unmanaged(live, removed))


def _kept_namesakes(
    namesakes: Mapping[str, Change], keys: Sequence[LiveKey], was: Mapping[str, str]
) -> dict[str, Change]:
    """Fingerprint -> the bound change whose name it shares, of the keys the state never knew."""
    found = {k.fingerprint: namesakes.get(k.name) for k in keys if k.fingerprint not in was}
    return {fp: change for fp, change in found.items() if change is not None}


def _namesakes(plan: Plan) -> dict[str, Change]:
    """Live and manifest names of the keys the plan binds -> the change of their address (a
    predecessor being retired counts for the address it passed on, not its `retiring:` one)."""
    bound = [c for c in plan.changes if c.target is not None]
    held = {c.address: c for c in bound if not held_by_none(c.address)}
    names: dict[str, Change] = {}
    for change in bound:
        holder = held.get(change.after or change.address, change)
        names[change.name] = holder
        if change.seen is not None:
            names[change.seen.name] = holder
    return names


def _moved_away(
    plan: Plan, desired: Desired, keys: list[LiveKey], recorded: Recorded, was: Mapping[str, str]
) -> list[LiveKey]:
    """The keys the manifest moved to another account, deleted here (prune or not); the rest."""
    rest = []
    for live in keys:
        address = was.get(live.fingerprint)
        if address is None or address not in desired.moved_out:
            rest.append(live)
            continue
        protected = live.fingerprint in recorded.protected
        to, index = desired.moved_out[address], len(plan.changes)
        plan.changes.append(keyplan.moved_away(index, address, live, to, protected))
    return rest


def _listed_twice_unmanaged(plan: Plan, desired: Desired, index: int, live: LiveKey) -> None:
    """Reported, never pruned: with prune on, an error (the plan cannot do what it was asked)."""
    if not desired.prune:
        plan.unmanaged.append(Unmanaged(live, notes.listed_twice(live)))
        return
    address = unmanaged_address(live.fingerprint)
    error = notes.listed_twice(live)
    plan.changes.append(Change(address, Action.ERROR, live.name, index, target=live.proxy_key, error=error))


def _check_account(plan: Plan, desired: Desired, inventory: Inventory) -> None:
    if desired.prune and not desired.keys and inventory.count:
        plan.problems.append(notes.empty_prune(plan.changes, desired.elsewhere))
    counts = plan.counts  # counted once: each count is a pass over every key
    creates = counts[Action.CREATE] + counts[Action.ROTATE]  # a successor is a new key
    deletes = sum(1 for c in plan.changes if c.action is Action.DELETE and not c.after)  # not first
    if desired.key_cap is not None and inventory.complete and creates:
        after = inventory.count - deletes + creates
        if after > desired.key_cap:
            plan.problems.append(
                f"the plan's {creates} create(s) would take the account to {after} keys (deletes "
                f"counted first), over key_cap {desired.key_cap}"
            )
    if plan.uncovered:
        plan.notes.append(
            f"the debits ({money(plan.account_debit)}) exceed the account balance "
            f"({money(plan.balance_before or ZERO)}) plus the refunds ({money(plan.account_refund)}): "
            "the writes would fail with 402 (Insufficient Balance)"
        )
    if not inventory.complete:
        plan.notes.append(inventory.fallback_note)


_MAYBE_CREATED = (
    "an earlier apply sent the create of this key and never saw it land, and a key of this name "
    "exists but cannot be bound by name: give this key its proxy_key (or delete the extra key), "
    "so that it is never created twice"
)
_UNSEEN = (
    "cannot be found: the account's key list is unavailable, so a key without proxy_key cannot be "
    "bound (and is never created blind)"
)
