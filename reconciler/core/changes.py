"""What a plan is made of: one Change per key, with a typed Action and the Operations it needs.

An Action's value is its own symbol (as OpenTofu's are). A Change is an address, the live
values it was planned against, the field changes, the operations that make them, and what
they cost the account; `reason` is for display only. `sorted(changes)` is the apply order
(octoDNS's habit): money coming back first, then changes that move no credit, then debits,
so ordering lives here and nowhere else.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from reconciler.core import operations
from reconciler.core.jsonvalue import from_json_value, key_json, to_json_value
from reconciler.core.keys import VISIBLE, LiveKey
from reconciler.core.money import CENT, ZERO, money_number
from reconciler.core.operations import Operation
from reconciler.core.secrets import ProxyKey, RedactedKey

NEW_KEY = "(new)"  # a change's `key` before its key exists
UNMANAGED = "unmanaged:"  # the address prefix of a key no manifest key holds
RETIRING = "retiring:"  # the address prefix of a rotated key's predecessor, deleted once retired
REFUNDS, NO_CREDIT, DEBITS = 0, 1, 2  # the apply waves, in order
PLANNED_AGAINST = (*VISIBLE, "is_active", "used_ammount")
"""The live values a change depends on (used_ammount decides a refund): what it records."""


class Action(str, enum.Enum):
    CREATE = "+"
    UPDATE = "~"
    ENABLE = "↑"
    DISABLE = "↓"
    ROTATE = "⟳"
    DELETE = "-"
    NO_OP = "="
    ERROR = "!"

    @property
    def label(self) -> str:
        """The name in JSON and in counts: `create`, `no-op`, ..."""
        return self._name_.lower().replace("_", "-")  # `_name_`: `name` is a slower descriptor

    @property
    def changes_something(self) -> bool:
        return self not in (Action.NO_OP, Action.ERROR)

    @property
    def done(self) -> str:
        """What a change of this action did once it landed, in a user's words (`deleted`,
        `created`): the screen's, never the journal's or JSON's. '' for one that sends nothing."""
        return DONE.get(self, "")


OCCASIONAL = (Action.ROTATE,)
"""Actions a summary counts only when the plan has some: plans without them read as before."""


def action_counts(counts: Mapping[Action, int]) -> dict[str, int]:
    """A summary's count of each action (`no_op`, ...); an occasional one only when present."""
    return {
        action.label.replace("-", "_"): counts.get(action, 0)
        for action in Action
        if action not in OCCASIONAL or counts.get(action, 0)
    }


LEGEND = {
    Action.CREATE: "create",
    Action.UPDATE: "update in place",
    Action.ENABLE: "enable",
    Action.DISABLE: "disable",
    Action.ROTATE: "rotate: a successor created with the same settings, this key deleted after the overlap",
    Action.DELETE: "delete",
    Action.ERROR: "cannot be planned",
}


DONE = {
    Action.CREATE: "created",
    Action.UPDATE: "updated",
    Action.ENABLE: "enabled",
    Action.DISABLE: "disabled",
    Action.ROTATE: "rotated",
    Action.DELETE: "deleted",
}


def unmanaged_address(fingerprint: str) -> str:
    """The address of a live key that no manifest key holds: its fingerprint, never its key."""
    return UNMANAGED + fingerprint


def is_unmanaged(address: str) -> bool:
    return address.startswith(UNMANAGED)


def retiring_address(fingerprint: str) -> str:
    """The address of a rotated key's predecessor: its address passed on to its successor."""
    return RETIRING + fingerprint


def held_by_none(address: str) -> bool:
    """No manifest address holds the key: an unmanaged key, or a rotated key's predecessor."""
    return address.startswith(UNMANAGED) or address.startswith(RETIRING)


@dataclass(frozen=True)
class FieldChange:
    """One field, before and after: typed values in a plan (sets, Decimal), JSON values in
    drift's `FieldDrift` (lists, money text); `added` and `removed` read either."""

    field: str
    before: Any
    after: Any

    def data(self) -> dict[str, Any]:
        return {"before": to_json_value(self.before), "after": to_json_value(self.after)}

    @classmethod
    def from_data(cls, name: str, data: dict[str, Any]) -> FieldChange:
        return cls(name, from_json_value(name, data["before"]), from_json_value(name, data["after"]))

    @property
    def added(self) -> list[str]:
        """Whitelist members the change adds (sorted as displayed); [] for other fields."""
        return _members(self.after, self.before)

    @property
    def removed(self) -> list[str]:
        return _members(self.before, self.after)


def _members(these: Any, less: Any) -> list[str]:
    if isinstance(these, list):  # a whitelist as JSON (a snapshot's): its order kept
        gone = set(less) if isinstance(less, list) else set()
        return [str(m) for m in these if m not in gone]
    if not isinstance(these, frozenset):
        return []
    listed: list[str] = to_json_value(these - (less if isinstance(less, frozenset) else frozenset()))
    return listed


@dataclass(frozen=True)
class Credit:
    """What a change does to the account's balance: a debit, or an estimated refund."""

    allocation_delta: Decimal = ZERO
    account_debit: Decimal = ZERO
    account_refund: Decimal = ZERO

    def __post_init__(self) -> None:
        """To the cent, as shown: the rows add up to the totals, and --expect-net matches them."""
        object.__setattr__(self, "allocation_delta", self.allocation_delta.quantize(CENT))
        object.__setattr__(self, "account_debit", self.account_debit.quantize(CENT))
        object.__setattr__(self, "account_refund", self.account_refund.quantize(CENT))

    @classmethod
    def between(cls, old: Decimal, new: Decimal, used: Decimal) -> Credit:
        """Raising debits the difference; lowering refunds the unused part only (an estimate)."""
        delta = new - old
        if delta >= 0:
            return cls(delta, delta, ZERO)
        return cls(delta, ZERO, min(-delta, max(old - used, ZERO)))

    @classmethod
    def created(cls, allocation: Decimal) -> Credit:
        return cls(allocation, allocation, ZERO)

    @classmethod
    def deleted(cls, allocation: Decimal, used: Decimal) -> Credit:
        return cls(-allocation, ZERO, max(allocation - used, ZERO))

    @property
    def net(self) -> Decimal:
        """The account's side: refund minus debit (negative: the account pays)."""
        return self.account_refund - self.account_debit

    @property
    def order(self) -> int:
        """0 money comes back, 1 none moves, 2 money goes out: the apply order."""
        if self.account_debit:
            return DEBITS
        return REFUNDS if self.account_refund else NO_CREDIT

    def data(self) -> dict[str, Any]:
        return {
            "allocation_delta": money_number(self.allocation_delta),  # to_json_value's, for Decimal
            "account_debit": money_number(self.account_debit),
            "account_refund": money_number(self.account_refund),
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Credit:
        return cls(
            **{k: Decimal(str(data[k])) for k in ("allocation_delta", "account_debit", "account_refund")}
        )


ZERO_CREDIT = Credit()
"""A change that moves no credit: one value, frozen, shared (made once, not once per Change)."""


@dataclass(frozen=True, order=False)
class Change:
    """One manifest key (or one unmanaged key being pruned) and what the plan does to it."""

    address: str
    action: Action
    name: str
    index: int = 0  # manifest order; unmanaged keys come after every manifest key
    target: ProxyKey | None = field(default=None, compare=False, repr=False)  # the key to act on
    shown: RedactedKey | None = field(default=None, compare=False, repr=False)  # read back: no target
    fields: tuple[FieldChange, ...] = ()
    operations: tuple[Operation, ...] = ()
    credit: Credit = ZERO_CREDIT
    seen: LiveKey | None = field(default=None, repr=False)  # the live key it was planned against
    reason: str = ""  # display only: why (absent: true at FILE:LINE, prune, adopted by name)
    warnings: tuple[str, ...] = ()
    error: str | None = None
    unchanged: int = 0
    after: str = ""  # sent only once this address's rotation created and delivered its successor
    deliver: tuple[str, ...] = ()  # where a created key's value will go: each sink described

    def __post_init__(self) -> None:
        """A change that cannot be planned says why and sends nothing; only such a change
        carries an error; a create has no key yet."""
        if self.action is Action.ERROR:  # each test once: a plan makes a change per key
            if not self.error:
                raise ValueError(f"{self.address}: cannot be planned, but no error says why")
            if self.operations:
                raise ValueError(f"{self.address}: cannot be planned, yet has operations to send")
        elif self.error is not None:
            raise ValueError(f"{self.address}: a change to {self.action.label} with an error")
        elif self.action is Action.CREATE and not self.new:
            raise ValueError(f"{self.address}: a create with a key ({self.key})")
        if self.target is not None and self.shown is not None:
            raise ValueError(f"{self.address}: a key to act on is not one known only as shown")

    @property
    def key(self) -> str:
        """The redacted key, `ek-proxy-…abcd`, or `(new)` for a key still to create."""
        if self.target is not None:
            return self.target.display
        return self.shown.display if self.shown is not None else NEW_KEY

    @property
    def live(self) -> dict[str, Any] | None:
        """Every live value the plan depends on, as plain JSON; made when asked (a saved plan,
        an apply), not for each of the keys a plan only shows."""
        return None if self.seen is None else snapshot(self.seen)

    @property
    def new(self) -> bool:
        """No key yet: a create (or an error on a key that is not in the account)."""
        return self.target is None and self.shown is None

    @property
    def sort_key(self) -> tuple[int, int]:
        return (self.credit.order, self.index)

    def __lt__(self, other: Change) -> bool:
        return self.sort_key < other.sort_key

    def data(self) -> dict[str, Any]:
        """The documented JSON shape of one key (schemas/plan.schema.json)."""
        return {
            "address": self.address,
            "name": self.name,
            "key": self.key,
            "action": self.action.label,
            "reason": self.reason or None,
            "changes": {c.field: c.data() for c in self.fields},
            "operations": [op.data() for op in self.operations],
            "credit": self.credit.data(),
            "warnings": list(self.warnings),
            "error": self.error,
            **({"after": self.after} if self.after else {}),
            **({"deliver": list(self.deliver)} if self.deliver else {}),
        }

    @classmethod
    def from_data(cls, data: dict[str, Any], index: int = 0) -> Change:
        """A change as `data()` described it (a saved plan shown again). The key is known only
        redacted: a RedactedKey (`shown`), enough to show it, never to act on (no `target`)."""
        key = data["key"]
        return cls(
            address=str(data["address"]),
            action=Action[str(data["action"]).upper().replace("-", "_")],
            name=str(data["name"]),
            index=index,
            shown=None if key == NEW_KEY else RedactedKey(str(key)),
            fields=tuple(FieldChange.from_data(name, c) for name, c in data["changes"].items()),
            operations=tuple(operations.from_data(op) for op in data["operations"]),
            credit=Credit.from_data(data["credit"]),
            reason=str(data["reason"] or ""),
            warnings=tuple(str(w) for w in data["warnings"]),
            error=data["error"],
            after=str(data.get("after") or ""),
            deliver=tuple(str(d) for d in data.get("deliver", ())),
        )

    def saved(self) -> dict[str, Any]:
        """What `apply --plan` compares: the operations and every live value they depend on."""
        key = self.target.fingerprint if self.target else None  # the key, not only its values
        return {
            "action": self.action.label,
            "key": key,
            "operations": self.data()["operations"],
            "live": self.live,
            **({"after": self.after} if self.after else {}),
        }


def snapshot(have: LiveKey) -> dict[str, Any]:
    """Every live value a plan depends on, as plain JSON (what a saved plan compares later)."""
    return key_json(have, PLANNED_AGAINST, money_number)
