"""The four writes a plan can need, as values: what each sends and what it does to a key.

Every operation knows its body, whether a retry is safe (`idempotent`), and what it does to
a key's visible state (`effect`): the applier folds the effects of a change's operations
over the live values it was planned against, and one list of the account after the wave
tells whether the key became that. Sending them is the applier's (`apply.send`). Bodies
never hold the proxy key itself: it is added at send time, so plans, journals and saved
plans stay secret-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from reconciler.core.jsonvalue import values_json
from reconciler.core.keys import WRITE_ONLY

Visible = dict[str, Any]  # a key's visible values (as `snapshot` makes them); None: no key


class Operation:
    kind: ClassVar[str]
    idempotent: ClassVar[bool] = True

    def data(self) -> dict[str, Any]:
        return {"kind": self.kind}

    def effect(self, before: Visible | None) -> Visible | None:
        raise NotImplementedError


@dataclass(frozen=True)
class Create(Operation):
    """`POST /auth/proxy/create`: not idempotent, so never retried once it may have left."""

    body: dict[str, Any]  # name, expires_at, allocated_ammount, model_whitelist, ip_whitelist
    kind: ClassVar[str] = "create"
    idempotent: ClassVar[bool] = False

    def data(self) -> dict[str, Any]:
        return {"kind": self.kind, "body": dict(self.body)}

    def effect(self, before: Visible | None) -> Visible | None:
        return {**_visible(self.body), "is_active": True}


@dataclass(frozen=True)
class Update(Operation):
    """`POST /auth/proxy/update` with a complete, absolute body: safe to repeat."""

    body: dict[str, Any]  # every updatable field, limit_type explicitly
    kind: ClassVar[str] = "update"

    def data(self) -> dict[str, Any]:
        return {"kind": self.kind, "body": dict(self.body)}

    def effect(self, before: Visible | None) -> Visible | None:
        return {**(before or {}), **_visible(self.body)}


@dataclass(frozen=True)
class Toggle(Operation):
    """`POST /auth/proxy/toggle` *flips* the key: sent only while it still differs."""

    to: bool
    kind: ClassVar[str] = "toggle"
    idempotent: ClassVar[bool] = False

    def data(self) -> dict[str, Any]:
        return {"kind": self.kind, "is_active": self.to}

    def effect(self, before: Visible | None) -> Visible | None:
        return {**(before or {}), "is_active": self.to}


@dataclass(frozen=True)
class Remove(Operation):
    """`POST /auth/proxy/remove`; a 404 means the key is gone already (the list confirms)."""

    kind: ClassVar[str] = "remove"

    def effect(self, before: Visible | None) -> Visible | None:
        return None


def from_data(data: dict[str, Any]) -> Operation:
    """An operation as its `data()` described it; money in a body as the exact Decimal."""
    kind = data["kind"]
    if kind == Toggle.kind:
        return Toggle(bool(data["is_active"]))
    if kind == Remove.kind:
        return Remove()
    body = {k: Decimal(str(v)) if k == "allocated_ammount" else v for k, v in data["body"].items()}
    if kind == Create.kind:
        return Create(body)
    if kind == Update.kind:
        return Update(body)
    raise ValueError(f"unknown operation {kind!r}")


def _visible(body: dict[str, Any]) -> Visible:
    """The part of a body that the account's list reports back (write-only fields aside)."""
    return values_json({k: v for k, v in body.items() if k not in WRITE_ONLY})
