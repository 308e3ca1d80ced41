"""The bindings of a state no verified apply stands behind (a GitOps job's copy from the
checkout, the state branch holding none) that the account contradicts: a live key of the bound
key's name, no older, that the state does not know may be the one (a rotation's successor)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from reconciler.api.inventory import Inventory
from reconciler.core.changes import Action
from reconciler.core.secrets import ProxyKey
from reconciler.planning.doubts import doubted, refusal
from reconciler.planning.planner import Desired, Recorded, make_plan

from .test_planner import desired, live, plan_of

OLD, NEW, OTHER = (ProxyKey(f"ek-proxy-doubts{n}-0000000000000000{n}") for n in "123")


def on(key: ProxyKey, **fields: Any) -> Any:
    return live(proxy_key=key, **fields)


@pytest.mark.parametrize(
    ("lives", "known", "pinned", "doubts"),
    [
        ([on(OLD, created_at=1), on(NEW, created_at=2)], {OLD.fingerprint}, False, 1),  # a successor
        ([on(OLD, created_at=1), on(NEW)], {OLD.fingerprint}, False, 1),  # of unknown age
        ([on(OLD, created_at=2), on(NEW, created_at=1)], {OLD.fingerprint}, False, 0),  # older: no successor
        ([on(OLD), on(NEW)], {OLD.fingerprint, NEW.fingerprint}, False, 0),  # the state knows both
        ([on(OLD), on(NEW, name="other")], {OLD.fingerprint}, False, 0),  # another name
        ([on(OLD), on(NEW, name="Prod v2")], {OLD.fingerprint}, False, 1),  # the manifest key's name
        ([on(OLD), on(NEW)], {OLD.fingerprint}, True, 0),  # its proxy_key binds it: the state is not asked
        ([on(NEW)], {OLD.fingerprint}, False, 0),  # the bound key is gone: bound again by name
    ],
)
def test_a_binding_is_doubted_only_when_an_unknown_no_older_namesake_may_be_the_key(
    lives: list[Any], known: set[str], pinned: bool, doubts: int
) -> None:
    key = desired(name="Prod v2", address="prod", proxy_key=NEW if pinned else None)
    assert len(doubted([key], lives, {"prod": OLD.fingerprint}, known)) == doubts


def test_a_key_another_manifest_key_pins_is_no_rival() -> None:
    keys = [desired(address="prod", proxy_key=None), desired(address="twin", name="twin", proxy_key=NEW)]
    assert doubted(keys, [on(OLD), on(NEW)], {"prod": OLD.fingerprint}, {OLD.fingerprint}) == []


def test_the_refusal_names_both_keys_redacted_and_what_to_do() -> None:
    found = doubted(
        [desired(proxy_key=None)], [on(OLD), on(NEW)], {"prod": OLD.fingerprint}, {OLD.fingerprint}
    )
    said = refusal("keys/.ehkeys/keys/state.json", found)
    assert said.startswith("keys/.ehkeys/keys/state.json: this state is no verified apply's")
    assert f"it binds prod to {OLD.display}, but {NEW.display}, of that key's name" in said
    assert "give prod the proxy_key of the key it is" in said
    assert OLD.reveal() not in said and NEW.reveal() not in said


def test_prune_beside_a_create_is_refused_when_the_bindings_are_unverified() -> None:
    """A committed state binds no key made after it: a key renamed outside ehkeys since would be
    deleted and created anew, as with no binding at all."""
    keys = [desired(proxy_key=None), desired(name="analytics", proxy_key=None, allocated_ammount=Decimal(5))]
    lives = [on(OLD), on(OTHER, name="Analytics (old)")]
    bound = {"prod": OLD.fingerprint}
    verified = plan_of(keys, lives, bindings=bound, prune=True)
    assert Action.DELETE in [c.action for c in verified.changes]  # a verified state: pruned, as before
    refused = make_plan(
        Desired(keys, prune=True), Inventory(tuple(lives), None), Recorded(bound, unverified=True), 0
    )
    assert "prune: true, but the state's bindings are no verified apply's" in refused.problems[0]
    assert Action.DELETE not in [c.action for c in refused.changes]
