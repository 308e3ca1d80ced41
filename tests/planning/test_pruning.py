"""Pruning spares what another manifest root's state binds: the planner asks for the other
roots' states (`Recorded.others`) only when a key is unmanaged, keeps theirs as unmanaged
saying whose they are (pruning or not: drift counts them as that root's), and prunes nothing
when one of them could not be read."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from reconciler.api.inventory import Inventory
from reconciler.core.changes import Action
from reconciler.core.plan import Plan
from reconciler.core.secrets import ProxyKey
from reconciler.planning.planner import Desired, Recorded, make_plan
from reconciler.planning.pruning import Others, Owner

from .test_planner import NOW, RECORDED, SECRET, THOUSAND, desired, live

THEIRS = ProxyKey("ek-proxy-search-team-0001")
STRAY = ProxyKey("ek-proxy-nobodys-key-0002")
SEARCH = "keys/search (its state binds it: ehkeys-state:keys/search/.ehkeys/search/state.json)"
OWNER = Owner("keys/search", "its state binds it: ehkeys-state:keys/search/.ehkeys/search/state.json")
LIVE = [live(), live(proxy_key=THEIRS, name="search-a"), live(proxy_key=STRAY, name="stray")]


class Asked:
    """The other roots' states, counting how often the planner asks."""

    def __init__(self, others: Others) -> None:
        self.others, self.times = others, 0

    def __call__(self) -> Others:
        self.times += 1
        return self.others


def plan(asked: Asked, keys: list = (), bindings: dict | None = None, **settings: object) -> Plan:
    bound = {"prod": SECRET.fingerprint} if bindings is None else bindings
    recorded = Recorded(bound, RECORDED, others=asked)
    wanted = Desired(list(keys) or [desired()], **settings)  # type: ignore[arg-type]
    return make_plan(wanted, Inventory(tuple(LIVE), THOUSAND), recorded, NOW)


def test_a_key_another_roots_state_binds_is_kept_and_the_rest_pruned() -> None:
    asked = Asked(Others({THEIRS.fingerprint: OWNER}))
    made = plan(asked, prune=True)
    assert [c.name for c in made.changes if c.action is Action.DELETE] == ["stray"]
    assert [(u.live.name, u.note) for u in made.unmanaged] == [
        ("search-a", f"not pruned: managed by {SEARCH}")
    ]
    assert asked.times == 1 and made.notes == [] and not made.has_errors


def test_the_other_roots_are_asked_once_a_key_is_unmanaged_pruning_or_not() -> None:
    """Without prune, another root's key is listed as that root's (drift leaves it to that
    root); a key nobody binds is unmanaged as ever. Without unmanaged keys nothing is asked."""
    asked = Asked(Others({THEIRS.fingerprint: OWNER}))
    shown = plan(asked)
    assert asked.times == 1
    assert [(u.live.name, u.note, u.managed_by) for u in shown.unmanaged] == [
        ("search-a", f"managed by {SEARCH}", "keys/search"),
        ("stray", "", ""),
    ]
    assert shown.notes == [] and shown.others_unread == ""
    broken = desired(name="broken", address="broken", proxy_key=None, allocated_ammount=None)
    errors = plan(asked, [desired(), broken], prune=True)  # nothing is pruned, whose they are still said
    assert asked.times == 2 and errors.count(Action.DELETE) == 0
    assert [u.managed_by for u in errors.unmanaged] == ["keys/search", ""]
    plan(asked, ignore=["search-*", "stray"])  # no unmanaged key: nobody else's states are read
    assert asked.times == 2


def test_another_roots_state_unread_leaves_the_unmanaged_keys_this_manifests_saying_why() -> None:
    asked = Asked(Others(unknown="ehkeys-state:keys/search/.ehkeys/search/state.json: not JSON"))
    shown = plan(asked)
    assert [(u.live.name, u.managed_by) for u in shown.unmanaged] == [("search-a", ""), ("stray", "")]
    assert shown.others_unread == "ehkeys-state:keys/search/.ehkeys/search/state.json: not JSON"
    (note,) = shown.notes
    assert note.startswith("another manifest root's state cannot be read (ehkeys-state:keys/search/")
    assert "whether it manages any of the unmanaged keys cannot be told" in note


def test_another_roots_state_that_cannot_be_read_prunes_nothing() -> None:
    asked = Asked(Others(unknown="ehkeys-state:keys/search/.ehkeys/search/state.json: not JSON"))
    made = plan(asked, prune=True)
    assert made.count(Action.DELETE) == 0 and not made.has_errors
    assert {u.live.name for u in made.unmanaged} == {"search-a", "stray"}
    assert all("another manifest root's state cannot be read" in u.note for u in made.unmanaged)
    (note,) = made.notes
    assert note.startswith("nothing is pruned: another manifest root's state cannot be read (ehkeys-state:")


def test_a_first_apply_beside_another_roots_keys_is_not_refused_for_them() -> None:
    """No binding yet, a key to create: pruning is refused only over keys that could be a
    manifest key renamed, never over keys another root's state binds."""
    asked = Asked(Others({THEIRS.fingerprint: OWNER, STRAY.fingerprint: OWNER}))
    new = desired(name="new", address="new", proxy_key=None, allocated_ammount=Decimal(5))
    made = plan(asked, [desired(), new], bindings={}, prune=True)
    assert made.problems == [] and made.count(Action.CREATE) == 1 and made.count(Action.DELETE) == 0
    assert {u.note for u in made.unmanaged} == {f"not pruned: managed by {SEARCH}"}


@pytest.mark.parametrize(
    ("claimed_in", "planned_in", "pruned", "managed_by", "drift_here"),
    [
        ("prod", "prod", ["stray"], "keys/search", ""),
        (None, None, ["stray"], "keys/search", ""),
        ("staging", "prod", ["stray"], "", "its state is for account staging, this plan for account prod"),
        (
            None,
            "prod",
            ["stray"],
            "",
            "its state is for the account of a manifest without accounts:, this plan for account prod",
        ),
        (
            "prod",
            None,
            ["stray"],
            "",
            "its state is for account prod, this plan for the account of a manifest without accounts:",
        ),
    ],
)
def test_a_claim_counts_only_in_the_account_its_state_is_for(
    claimed_in: str | None, planned_in: str | None, pruned: list[str], managed_by: str, drift_here: str
) -> None:
    """A state for another account, or where either side declares none, still spares the key from
    prune (two names may be one account; a delete cannot be undone), but the claiming root's drift
    watches its own account only, so the key stays drift here, saying why."""
    claim = (THEIRS.fingerprint, replace(OWNER, account=claimed_in))
    made = plan(Asked(Others(claims=(claim,)).of(planned_in)), prune=True)
    assert [c.name for c in made.changes if c.action is Action.DELETE] == pruned
    assert [u.managed_by for u in made.unmanaged if u.live.name == "search-a"] == (
        [] if "search-a" in pruned else [managed_by]
    )
    assert all(drift_here in u.note and ("drift here" in u.note) == bool(drift_here) for u in made.unmanaged)
