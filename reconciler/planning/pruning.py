"""Whether the live keys no manifest key holds may be pruned now, and which of them another
manifest root holds.

With `prune: true` a manifest deletes the live keys of its account that none of its keys binds.
Another manifest root on the same account (`keys/search/` beside `keys/payments/`, a matrix job
each) binds its own keys in its own state: those are never pruned here, as Argo CD prunes only
what its application tracks and Terraform deletes only what its state holds. They show as
unmanaged, saying whose they are (`Unmanaged.managed_by`), pruning or not, and drift counts
them as that root's, not as its own drift, when that root's drift watches them; a claim it does
not (`Owner.unwatched`: a root gone from the checkout, a copy of a state no run reads, an id its
manifest dropped) spares a key from the prune and leaves it this root's drift, saying why.
A claim is watched only in the account its state is for (`Others.of`): a state for account
staging binding a key listed in prod still spares it from prod's prune (two names may be one
account, and a delete cannot be undone), but prod's drift keeps it, as the claiming root's drift
watches staging only; so does a state of a manifest without `accounts:` against a declared
account (no name tells they are one), and the other way round.
The other roots' states (`OtherStates`: the checkout's on the command line, the state branch's
in the GitOps jobs) are read only when the account has unmanaged keys, once a run; one that
cannot be read prunes nothing (closed, never open), leaves every unmanaged key this manifest's
drift, and says why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from reconciler.core.changes import Action, Change
from reconciler.core.keys import DesiredKey, LiveKey
from reconciler.core.plan import Plan, Unmanaged
from reconciler.planning.binding import Binding, Bound


@dataclass(frozen=True)
class Owner:
    """The other manifest root a live key is, or may be, of: `root` as a reviewer knows it
    (`keys/search`), `why` (`its state binds it: …`); `maybe`: by the key's name alone (a key
    it may have made, or adopts by name); `unwatched`: why that root's drift does not watch the
    key by this claim ('' when it does), so that it stays this root's drift (never pruned here
    all the same: closed both ways)."""

    root: str
    why: str
    maybe: bool = False
    unwatched: str = ""
    account: str | None = None  # the account its state is for (None: a manifest without accounts:)

    def __str__(self) -> str:
        return f"{self.root}'s ({self.why})" if self.maybe else f"{self.root} ({self.why})"

    @property
    def said(self) -> str:
        """`managed by keys/search (its state binds it: …)`, `held by keys/old (…)` (its drift does
        not watch it), or `maybe keys/search's (…)`."""
        if self.maybe:
            return f"maybe {self}"
        return f"held by {self}" if self.unwatched else f"managed by {self}"


@dataclass(frozen=True)
class Others:
    """What the other manifest roots' states hold: fingerprint -> whose it is; `by_name`: the
    name of a key one may have made and not bound yet (a create never seen land, a rotation's
    successor) or may adopt by name (its manifest names a key its state binds to nothing) ->
    whose; `unknown`: which state could not be read, and why ('' when all were); `caveat`:
    where they were not looked for."""

    owners: Mapping[str, Owner] = field(default_factory=dict)
    unknown: str = ""
    by_name: Mapping[str, Owner] = field(default_factory=dict)
    caveat: str = ""  # where they were not looked for, said in a plan that prunes ('' when nowhere)
    claims: tuple[tuple[str, Owner], ...] = ()  # every state's claims, each account's (`of` picks)
    # fingerprint -> the root whose state remembers the key protected, and the id it protected it as
    protected: Mapping[str, tuple[Owner, str]] = field(default_factory=dict)

    def owner(self, live: LiveKey) -> Owner | None:
        """The other root `live` is of, or may be (None: neither)."""
        return self.owners.get(live.fingerprint) or self.by_name.get(live.name)

    def managed_by(self, live: LiveKey) -> str:
        """The other root that manages `live` and whose drift watches it, as a plan's `managed_by`
        names it (`owned`); '' for none, a claim no drift watches, or a name alone."""
        owner = self.owner(live)
        return owner.root if owner is not None and not owner.unwatched else ""

    def of(self, account: str | None) -> Others:
        """The claims as a plan of `account` (None: a manifest without `accounts:`) reads them: a
        claim of a state for another account (or where either side declares none) still spares
        the key from prune, as two names may be one account and a delete cannot be undone, but
        leaves it drift here: the claiming root's drift watches its own account only."""
        owners: dict[str, Owner] = {}
        for fingerprint, owner in self.claims:
            if owner.account != account:
                owner = replace(owner, unwatched=owner.unwatched or untold(owner, account))
            claim(owners, fingerprint, owner)
        return replace(self, owners=owners, claims=())


def claim(owners: dict[str, Owner], fingerprint: str, owner: Owner) -> None:
    """The first claim on a key, unless a later one is watched where it is not."""
    first = owners.get(fingerprint)
    if first is None or (first.unwatched and not owner.unwatched):
        owners[fingerprint] = owner


def _account(account: str | None) -> str:
    return f"account {account}" if account else "the account of a manifest without accounts:"


def untold(owner: Owner, account: str | None) -> str:
    return (
        f"its state is for {_account(owner.account)}, this plan for {_account(account)}: {owner.root}'s "
        "drift watches its own account only, so it may never see this key (if the two are one account, "
        "name it alike in both)"
    )


NOBODY = Others()


class OtherStates(Protocol):
    """Where the other manifest roots' states are; read once, when a plan first asks."""

    def read(self) -> Others: ...


@dataclass
class ForAccount:
    """The run's other roots' states (read once, whichever account asks first) as the plan of
    one account reads them (`Others.of`)."""

    states: OtherStates
    account: str | None
    found: Others | None = None

    def read(self) -> Others:
        if self.found is None:
            self.found = self.states.read().of(self.account)
        return self.found


def nobody() -> Others:
    """No other root holds anything (a plan that was not given where their states are)."""
    return NOBODY


def contested(
    changes: list[Change], adopted: Mapping[str, LiveKey], others: Callable[[], Others]
) -> list[Change]:
    """`changes`, each key adopted by name (`adopted`: address -> its live key) that another root's
    drift watches made an error: two manifests would each manage it. The other roots' states are
    asked for only when a key is adopted so."""
    if not adopted:
        return changes
    found = others()
    return [_contested(c, adopted.get(c.address), found) for c in changes]


def _contested(change: Change, live: LiveKey | None, others: Others) -> Change:
    owner = others.owners.get(live.fingerprint) if live and change.target == live.proxy_key else None
    if live is None or owner is None or owner.unwatched:
        return change
    why = (
        f"a live key of this name, {live.proxy_key.display}, is {owner.said}: two manifests would each "
        "manage it, each apply reverting the other's values. Rename this key; or, to move it here, "
        f"remove it from {owner.root}'s manifest first"
    )
    return Change(change.address, Action.ERROR, change.name, change.index, target=live.proxy_key, error=why)


class Remembered(Protocol):
    """What a state remembers that `guarded` asks (`planner.Recorded`)."""

    @property
    def bindings(self) -> Mapping[str, str]: ...
    @property
    def protected(self) -> Mapping[str, str]: ...
    @property
    def others(self) -> Callable[[], Others]: ...


def guarded(
    changes: list[Change],
    recorded: Remembered,
    bound: Mapping[str, Binding],
    keys: Sequence[DesiredKey],
) -> list[Change]:
    """`changes` held to what another root's state remembers protected (in any account: a delete
    cannot be undone), for the keys this state neither binds nor protects (`kept`: those it does
    govern, as it remembers them): one deleted is an error, and one bound here now (`adopted`: by
    its name or its proxy_key) whose key does not say `protect: true` (`protects`) warns "protect
    removed", as a key of this root whose protect is removed does; once applied so, this state
    binds it, and a later apply here may delete it. A key that root dropped stays protected there,
    and may be adopted here. The other roots' states are asked for only when the plan deletes or
    adopts such a key."""
    kept = {*recorded.bindings.values(), *recorded.protected}  # the keys this state governs
    adopted = {a: b.live for a, b in bound.items() if isinstance(b, Bound) and b.live.fingerprint not in kept}
    protects = {k.address for k in keys if k.protect} if adopted else set()
    deletes = {id(c) for c in changes if _deletes(c) and c.target and c.target.fingerprint not in kept}
    adopts = {id(c) for c in changes if _adopts(c, adopted) and c.address not in protects}
    protected = recorded.others().protected if deletes or adopts else {}
    if not protected:
        return changes
    return [_guarded(c, protected, id(c) in deletes, id(c) in adopts) for c in changes]


def _deletes(change: Change) -> bool:
    """A delete of a key that goes (a rotation's retirement leaves its address a successor)."""
    return change.action is Action.DELETE and not change.after


def _adopts(change: Change, adopted: Mapping[str, LiveKey]) -> bool:
    live = adopted.get(change.address)
    return live is not None and change.target == live.proxy_key


def _guarded(
    change: Change, protected: Mapping[str, tuple[Owner, str]], deletes: bool, adopts: bool
) -> Change:
    found = protected.get(change.target.fingerprint) if change.target and (deletes or adopts) else None
    if found is None:
        return change
    owner, address = found
    if not deletes:
        lifted = f"protect removed: {owner.root}'s state remembers it protected (as {address!r}); {UNLIFTED}"
        return Change(**{**vars(change), "warnings": (lifted, *change.warnings)})
    why = (
        f"protected by {owner}, but the plan would delete it: a protected key is deleted only after an "
        f"apply that lists it with its protect removed, here (without absent: true; the plan warns "
        f'"protect removed") or in {owner.root} (as {address!r})'
    )
    return Change(change.address, Action.ERROR, change.name, change.index, target=change.target, error=why)


UNLIFTED = "once this is applied, a later apply here may delete this key (absent: true, or prune)"


def owned(live: LiveKey, owner: Owner, prune: bool) -> Unmanaged:
    """Another root's key (or maybe so), as the plan lists it: unmanaged here, saying whose; one
    whose drift does not watch it stays this root's drift, saying why (`managed_by` '')."""
    said = f"not pruned: {owner.said}" if prune else owner.said
    if owner.unwatched:
        return Unmanaged(live, f"{said}; drift here: {owner.unwatched}")
    return Unmanaged(live, said, owner.root)  # as Others.managed_by names it


NO_BINDING = "the state records no binding (a first apply, or a lost .ehkeys/)"
UNVERIFIED = (
    "the state's bindings are no verified apply's (read from the checkout: the state branch holds "
    "none), so a key created since is bound by none of them"
)


def unbound(bindings: Mapping[str, str], unverified: bool) -> str:
    """Why the state cannot tell a key to prune from a manifest key renamed outside ehkeys: it
    binds none, or its bindings are a committed copy's ('' when it can)."""
    if not bindings:
        return NO_BINDING
    return UNVERIFIED if unverified else ""


def why_not_prune(
    plan: Plan, keys: Sequence[LiveKey], unbound: str, others: Others, prune: bool = True
) -> str:
    """Why these keys must not be pruned now ('' when they may be, or nothing prunes); `unbound`:
    why the state cannot tell them from a renamed manifest key ('' when it can). A lost state is
    a problem; another root's state unread, a note on the whole plan (and `plan.others_unread`:
    its unmanaged keys may be that root's)."""
    if keys and others.unknown:
        plan.others_unread = others.unknown
        if not prune:
            plan.notes.append(unsure(others.unknown))
    if not prune:
        return ""
    creates = [c.name for c in plan.changes if c.action is Action.CREATE]
    if keys and creates and unbound:
        plan.problems.append(prune_without_state(creates, keys, unbound))
        return f"{unbound.split(' (', 1)[0]} (see the error)"
    if plan.has_errors:
        return "the plan has errors (a key may be one of these)"
    if keys and others.unknown:
        plan.notes.append(unread(others.unknown))
        return "another manifest root's state cannot be read (the plan's warning says which, and why)"
    if keys and others.caveat:
        plan.notes.append(others.caveat)
    return ""


def unread(why: str) -> str:
    return (
        f"nothing is pruned: another manifest root's state cannot be read ({why}), and it may bind "
        "any of the keys this plan would prune. Repair it for that root; if it is moved aside "
        "instead, apply that root before this one: until its state binds its keys again, a prune "
        "here deletes them"
    )


def unsure(why: str) -> str:
    return (
        f"another manifest root's state cannot be read ({why}): whether it manages any of the "
        "unmanaged keys cannot be told, so each is listed (and drift counts it) as unmanaged here"
    )


def prune_without_state(creates: Sequence[str], keys: Sequence[LiveKey], unbound: str) -> str:
    made = ", ".join(repr(name) for name in creates[:5]) + (" …" if len(creates) > 5 else "")
    gone = ", ".join(f"{k.name!r} ({k.proxy_key.display})" for k in keys[:5]) + (
        " …" if len(keys) > 5 else ""
    )
    return (
        f"prune: true, but {unbound}, and the "
        f"plan would create {made} while deleting {gone}: a manifest key renamed outside ehkeys "
        "would be deleted and created anew. Refused. If one of those is a manifest key, give that "
        "key its proxy_key or its live name; else apply once with prune: false (it records which "
        "live key each manifest key is), then set prune: true again"
    )
