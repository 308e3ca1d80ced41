"""Rotations in a plan: which keys are due (or asked to rotate now), which rotation under way
lost its successor's create answer, and which predecessors' overlaps have ended.

Times are the API's (`Inventory.clock`, its answers' Date), the clock a key's `created_at` is
counted on; the local clock only when the API says none. A rotation's successor takes over its
key's address once created; its predecessor is *held*: never adopted by name, never unmanaged,
never pruned, deleted only by its retirement. A successor whose create answer was lost is found
in the list as the one key of its name created since the rotation started, never the
predecessor; two such keys are an error, never a guess (`Rotations.bindings`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from reconciler.api.inventory import Inventory
from reconciler.core.changes import Action, Change
from reconciler.core.durations import ZERO, Duration
from reconciler.core.keys import DesiredKey, LiveKey
from reconciler.core.rotation import Rotating, Status
from reconciler.core.times import iso
from reconciler.planning import successor
from reconciler.planning.binding import Binding, Bindings, Bound, bind

if TYPE_CHECKING:
    from reconciler.planning.planner import Desired, Recorded

ADOPTED = (
    "the successor of a rotation cut off before its create was confirmed: the one key of its name "
    "created since the rotation started, adopted (never the predecessor)"
)
UNDER_WAY = (
    "a rotation is under way ({old} retiring until {until}): rotate it again once that key is "
    "retired, or pass --overlap 0 to retire it now"
)

FINISHED = (
    "this finishes the rotation under way (its old key deleted now); the current key {new} keeps "
    "its value: if that one leaked, run ehkeys rotate again once this is applied"
)

NOT_CREATED = "cannot be rotated: it has no key in the account yet (apply creates it)"
NOT_LISTED = (
    "cannot be rotated: the account's key list could not be read, and a rotation needs it to find "
    "its successor if an answer is lost"
)
UNKNOWN_SUCCESSOR = (
    "cannot be rotated: {shown}, of its name and created since it, is a key no state binds: the "
    "successor of a rotation whose state was lost (a run stopped before it saved it)? Never two "
    "successors: if it is that one, give the key its proxy_key and apply; if not, delete or rename it"
)
PINNED = (
    "cannot be rotated: its proxy_key in the manifest binds it to this key, and a successor has "
    "another value (each plan would make one more); remove proxy_key (the state keeps the binding) "
    "to rotate it"
)


class Rotations:
    """One account's rotations, worked out once per plan (`make_plan`)."""

    def __init__(self, desired: Desired, inventory: Inventory, recorded: Recorded, now: int) -> None:
        self.desired, self.inventory, self.recorded = desired, inventory, recorded
        self.clock = inventory.clock or now  # the API's time: created_at is counted on it
        self.now = now
        self.live = {k.fingerprint: k for k in inventory.keys}
        self.adopted: dict[str, LiveKey] = {}  # address -> its successor, found after a lost answer
        self.errors: dict[str, str] = {}  # address -> why its rotation cannot go on
        self.lost: dict[str, str] = {}  # address -> its successor, gone from the account mid-overlap
        self.statuses: list[Status] = []
        self.bindings = self._bindings()
        self.unbound: dict[str, list[LiveKey]] = {}  # name -> the live keys the plan binds to nothing

    @property
    def held(self) -> frozenset[str]:
        """The predecessors of rotations under way: no manifest key's by name, never unmanaged.
        A rotation whose key left the manifest holds its predecessor no more: it is unmanaged
        (named, pruned under prune: true), never live forever unseen."""
        addresses = {k.address for k in self.desired.keys}
        return frozenset(r.predecessor for a, r in self.recorded.rotations.items() if a in addresses)

    def bind_keys(self) -> Bindings:
        """The plan's bindings (`planning.binding.bind`) from the state's as this plan reads them,
        the predecessors held; the live keys they bind to nothing are kept by name, since a
        rotation never begins beside one of its key's name (`_unknown_successor`)."""
        found = bind(self.desired.keys, self.inventory.keys, self.bindings, self.held)
        for live in found.unmanaged:
            self.unbound.setdefault(live.name, []).append(live)
        return found

    def _bindings(self) -> Mapping[str, str]:
        """The state's bindings, each interrupted rotation's successor in place of its predecessor."""
        bindings = dict(self.recorded.bindings)
        if not self.inventory.complete:
            return bindings
        taken = set(bindings.values())
        for address, rotating in self.recorded.rotations.items():
            bound = bindings.get(address)
            if bound not in (rotating.predecessor, None):
                if bound not in self.live and rotating.predecessor in self.live:
                    bindings[address], self.lost[address] = rotating.predecessor, str(bound)
                continue  # its successor is bound already (or gone: its predecessor holds it again)
            found = [k for k in self.inventory.keys if _newer(k, rotating) and k.fingerprint not in taken]
            undated = [k for k in self.inventory.keys if _undated(k, rotating) and k.fingerprint not in taken]
            if undated:
                self.errors[address] = _cannot_tell(rotating, undated)
            elif not found and address not in bindings and rotating.predecessor in self.live:
                bindings[address] = rotating.predecessor  # a run cut off before it recorded the binding
            elif len(found) == 1:
                bindings[address], self.adopted[address] = found[0].fingerprint, found[0]
            elif found:
                shown = ", ".join(k.proxy_key.display for k in found)
                self.errors[address] = (
                    f"{len(found)} keys named {rotating.name!r} were created since its rotation started "
                    f"({shown}): never two successors; give the key the proxy_key of the one to keep "
                    "and delete the other"
                )
        return bindings

    def planned(self, change: Change, key: DesiredKey, binding: Binding) -> list[Change]:
        """The key's change, rotated if due (or asked), and its predecessor's retirement if due."""
        if key.address in self.errors:
            return [Change(key.address, Action.ERROR, key.name, change.index, error=self.errors[key.address])]
        if not isinstance(binding, Bound) or not self.inventory.complete:
            return [self._cannot_rotate_now(change, key, binding)]
        live, rotating = binding.live, self.recorded.rotations.get(key.address)
        if key.address in self.adopted:
            change = replace(change, reason=ADOPTED)
        if rotating is not None and rotating.predecessor != live.fingerprint:
            return self._under_way(change, key, live, rotating)
        why = self._why(key, live, rotating)
        if change.action is Action.ERROR or key.absent or not why:
            self._status(key, live)
            return [_undated_warning(change, key, live)]
        error = PINNED if key.proxy_key is not None else self._unknown_successor(key, live, rotating)
        if error:
            self._status(key, live)
            return [
                Change(key.address, Action.ERROR, key.name, change.index, target=live.proxy_key, error=error)
            ]
        return self._rotate(change, key, live, why)

    def _unknown_successor(self, key: DesiredKey, live: LiveKey, rotating: Rotating | None) -> str:
        """Why a rotation of `live` must not begin ('' when it may): a key of its name created
        since it (or of unknown age) that neither the state nor the plan binds, as a run
        killed after its successor's create and before its state was saved leaves it (no record
        of that rotation to find it by: rotating again would make a second successor)."""
        if rotating is not None:  # under way: its record finds its successor (`_bindings`)
            return ""
        names = dict.fromkeys((key.name, live.name))
        unknown = [k for name in names for k in self.unbound.get(name, ()) if _not_older(k, live)]
        return UNKNOWN_SUCCESSOR.format(shown=unknown[0].proxy_key.display) if unknown else ""

    def _cannot_rotate_now(self, change: Change, key: DesiredKey, binding: Binding) -> Change:
        """`ehkeys rotate` of a key it cannot rotate: an error, never a silent 'no changes'."""
        if key.address not in self.desired.rotate_now or change.action is Action.ERROR:
            return change
        why = NOT_CREATED if self.inventory.complete else NOT_LISTED
        return Change(key.address, Action.ERROR, key.name, change.index, error=why)

    def _why(self, key: DesiredKey, live: LiveKey, rotating: Rotating | None) -> str:
        """Why the key is rotated now ('' when it is not)."""
        overlap = self._overlap(key, rotating)
        if key.address in self.desired.rotate_now:
            return successor.forced(overlap)
        if rotating is not None and key.address in self.lost:
            return successor.lost(overlap)
        if rotating is not None:
            return successor.resumed(overlap)
        if key.rotate is None or live.created_at is None:
            return ""
        if self.clock < key.rotate.due_at(live.created_at):
            return ""
        return successor.scheduled(key.rotate.every, live.created_at, overlap, self.clock)

    def _overlap(self, key: DesiredKey, rotating: Rotating | None) -> Duration:
        if self.desired.overlap is not None and key.address in self.desired.rotate_now:
            return self.desired.overlap
        if rotating is not None:
            return Duration(rotating.overlap)
        return key.rotate.overlap if key.rotate is not None else ZERO

    def _rotate(self, change: Change, key: DesiredKey, live: LiveKey, why: str) -> list[Change]:
        values = self.recorded.values.get(live.fingerprint)
        copied = successor.copy(key, live, values) if self.desired.rotation_only else key
        made = successor.rotate(change.index, copied, live, values, why, self.now)
        if made.action is Action.ERROR:
            self._status(key, live)
            return [made]
        made = successor.waiting(made, key, copied, live, values)
        overlap = self._overlap(key, self.recorded.rotations.get(key.address))
        begins = Rotating(live.fingerprint, self._since(), overlap.seconds, copied.name)
        self._status(key, live, begins=begins)
        if overlap.seconds:
            return [made]
        why = successor.replaced(key.address)
        return [made, successor.retire(change.index, key.address, live, why)]

    def _since(self) -> int:
        """When a rotation begun now starts, on the API's clock (its successor is found as a key
        created since): its answers' Date; without one, no later than its newest key's
        created_at, so that a successor is newer whichever of the two clocks runs ahead."""
        if self.inventory.clock:
            return self.inventory.clock
        made = [k.created_at for k in self.inventory.keys if k.created_at is not None]
        return min(self.now, max(made)) if made else self.now

    def _under_way(self, change: Change, key: DesiredKey, new: LiveKey, rotating: Rotating) -> list[Change]:
        """The successor holds the address: its predecessor retired once its overlap ended (or
        now, with `ehkeys rotate --overlap 0`)."""
        old = self.live.get(rotating.predecessor)
        until = rotating.until(new.created_at)
        if old is None:  # deleted by a run cut off before it recorded it, or outside ehkeys
            self.statuses.append(Status(key.address, key.name, new.proxy_key.display, over=True))
            return [change]
        self._status(key, new, old, until, rotating.delivered)
        now = key.address in self.desired.rotate_now and self.desired.overlap == ZERO
        if key.address in self.desired.rotate_now and not now:
            error = UNDER_WAY.format(old=old.proxy_key.display, until=iso(until))
            shown = new.proxy_key
            return [Change(key.address, Action.ERROR, key.name, change.index, target=shown, error=error)]
        if not now and self.clock < until:
            live = "stays active" if old.is_active else "stays (inactive)"
            stays = f"its old key {old.proxy_key.display} {live} until {iso(until)} (its overlap)"
            return [replace(change, warnings=(*change.warnings, stays))]
        why = successor.retired_now(key.address, new) if now else successor.retiring(key.address, new, until)
        retired = successor.retire(change.index, key.address, old, why)
        if now:  # a leak of the current key needs a rotation of its own: say so
            retired = replace(
                retired, warnings=(*retired.warnings, FINISHED.format(new=new.proxy_key.display))
            )
        return [change, retired]

    def _status(
        self,
        key: DesiredKey,
        live: LiveKey,
        old: LiveKey | None = None,
        until: int | None = None,
        delivered: bool = True,
        begins: Rotating | None = None,
    ) -> None:
        """What drift and the apply need of the key's rotation (keys without one: nothing)."""
        if (
            key.rotate is None
            and old is None
            and begins is None
            and key.address not in self.desired.rotate_now
        ):
            return
        due = key.rotate.due_at(live.created_at) if key.rotate and live.created_at is not None else None
        retiring = old.proxy_key.display if old is not None else ""
        shown = live.proxy_key.display
        undated = key.rotate is not None and live.created_at is None and old is None and begins is None
        status = Status(
            key.address, key.name, shown, due, retiring, until, delivered, begins, undated=undated
        )
        self.statuses.append(status)


def _newer(key: LiveKey, rotating: Rotating) -> bool:
    """A key the rotation may have made: its successor's name, created since it started."""
    return (
        key.name == rotating.name
        and key.fingerprint != rotating.predecessor
        and key.created_at is not None
        and key.created_at >= rotating.started
    )


def _not_older(key: LiveKey, than: LiveKey) -> bool:
    """`key` may have been made after `than` (created since, or either's age unknown)."""
    return key.created_at is None or than.created_at is None or key.created_at >= than.created_at


def _undated(key: LiveKey, rotating: Rotating) -> bool:
    """A key of the successor's name whose age the API did not say: it may be the successor."""
    return key.name == rotating.name and key.fingerprint != rotating.predecessor and key.created_at is None


def _cannot_tell(rotating: Rotating, undated: list[LiveKey]) -> str:
    shown = ", ".join(k.proxy_key.display for k in undated)
    return (
        f"cannot tell whether {shown} (named {rotating.name!r}) is the successor of its rotation: the "
        "API gave no created_at; never two successors: give the key the proxy_key of its successor, "
        "or delete that key if it is not one"
    )


def _undated_warning(change: Change, key: DesiredKey, live: LiveKey) -> Change:
    """A key on a schedule whose age the API did not say is never rotated by it: said."""
    if key.rotate is None or live.created_at is not None or key.absent:
        return change
    said = (
        f"rotate every {key.rotate.every}: its age is unknown (the API gave no created_at), so it "
        f"is never rotated on schedule; `ehkeys rotate` rotates it now"
    )
    return replace(change, warnings=(*change.warnings, said))
