"""The planner is a pure function: tables of (desired, live, recorded) -> expected plan."""

from __future__ import annotations

from decimal import Decimal
from ipaddress import ip_network
from typing import Any

import pytest

from reconciler.api.inventory import Inventory
from reconciler.core import operations as ops
from reconciler.core.changes import Action, Change
from reconciler.core.keys import DesiredKey, LiveKey, Location
from reconciler.core.plan import Plan
from reconciler.core.secrets import ProxyKey
from reconciler.planning.planner import Desired, Recorded, make_plan

NOW = 1_800_000_000
D = Decimal
SECRET = ProxyKey("ek-proxy-abcdefgh1234")
RECORDED = {SECRET.fingerprint: {"limit_type": "daily"}}
THOUSAND = D(1000)


def desired(**fields: Any) -> DesiredKey:
    base: dict[str, Any] = {
        "address": fields.get("name", "prod"),
        "proxy_key": SECRET,
        "name": "prod",
        "limit_type": "daily",
        "location": Location("m.yaml", 3, 5),
    }
    return DesiredKey(**{**base, **fields})


def live(**fields: Any) -> LiveKey:
    base: dict[str, Any] = {
        "proxy_key": SECRET,
        "name": "prod",
        "expires_at": -1,
        "allocated_ammount": D(100),
        "used_ammount": D(25),
        "is_active": True,
        "model_whitelist": frozenset({"gpt-4o"}),
        "ip_whitelist": frozenset({ip_network("10.0.0.0/8")}),
    }
    return LiveKey(**{**base, **fields})


def plan_of(
    keys: list[DesiredKey],
    lives: list[LiveKey],
    values: dict[str, Any] | None = None,
    bindings: dict[str, str] | None = None,
    balance: Decimal | None = THOUSAND,
    **settings: Any,
) -> Plan:
    recorded = Recorded(bindings or {}, RECORDED if values is None else values)
    return make_plan(Desired(keys, **settings), Inventory(tuple(lives), balance), recorded, NOW)


def one(want: dict[str, Any], have: dict[str, Any] | None, values: dict[str, Any] | None = None) -> Any:
    plan = plan_of([desired(**want)], [] if have is None else [live(**have)], values)
    return plan.changes[0]


UPDATES = [
    # (id, desired fields, live fields, action, changed fields, (delta, debit, refund))
    ("in sync", {}, {}, Action.NO_OP, [], (0, 0, 0)),
    (
        "raise allocation",
        {"allocated_ammount": D(150)},
        {},
        Action.UPDATE,
        ["allocated_ammount"],
        (50, 50, 0),
    ),
    (
        "lower, all unused",
        {"allocated_ammount": D(80)},
        {},
        Action.UPDATE,
        ["allocated_ammount"],
        (-20, 0, 20),
    ),
    (
        "lower, partly used",
        {"allocated_ammount": D(10)},
        {},
        Action.UPDATE,
        ["allocated_ammount"],
        (-90, 0, 75),
    ),
    (
        "lower, over-used",
        {"allocated_ammount": D(10)},
        {"used_ammount": D(120)},
        Action.UPDATE,
        ["allocated_ammount"],
        (-90, 0, 0),
    ),
    ("same money, other text", {"allocated_ammount": D("100.00")}, {}, Action.NO_OP, [], (0, 0, 0)),
    (
        "whitelist order ignored",
        {"model_whitelist": frozenset({"b", "a"})},
        {"model_whitelist": frozenset({"a", "b"})},
        Action.NO_OP,
        [],
        (0, 0, 0),
    ),
    (
        "bare ip is /32",
        {"ip_whitelist": frozenset({ip_network("1.2.3.4")})},
        {"ip_whitelist": frozenset({ip_network("1.2.3.4/32")})},
        Action.NO_OP,
        [],
        (0, 0, 0),
    ),
    ("rename", {"name": "new", "address": "prod"}, {}, Action.UPDATE, ["name"], (0, 0, 0)),
    ("expiry", {"expires_at": 1900000000}, {}, Action.UPDATE, ["expires_at"], (0, 0, 0)),
    ("limit_type recorded differs", {"limit_type": "weekly"}, {}, Action.UPDATE, ["limit_type"], (0, 0, 0)),
    (
        "unmanaged fields ignored",
        {},
        {"model_whitelist": frozenset(), "expires_at": 5},
        Action.NO_OP,
        [],
        (0, 0, 0),
    ),
    (
        "whitelist emptied",
        {"model_whitelist": frozenset()},
        {},
        Action.UPDATE,
        ["model_whitelist"],
        (0, 0, 0),
    ),
    ("disable", {"is_active": False}, {}, Action.DISABLE, ["is_active"], (0, 0, 0)),
    ("enable", {"is_active": True}, {"is_active": False}, Action.ENABLE, ["is_active"], (0, 0, 0)),
    ("is_active unmanaged", {}, {"is_active": False}, Action.NO_OP, [], (0, 0, 0)),
    (
        "disable and lower",
        {"is_active": False, "allocated_ammount": D(50)},
        {},
        Action.DISABLE,
        ["allocated_ammount", "is_active"],
        (-50, 0, 50),
    ),
]


@pytest.mark.parametrize(
    ("case", "want", "have", "action", "changed", "credit"), UPDATES, ids=[c[0] for c in UPDATES]
)
def test_a_live_key_table(
    case: str,
    want: dict[str, Any],
    have: dict[str, Any],
    action: Action,
    changed: list[str],
    credit: tuple[int, int, int],
) -> None:
    change = one(want, have)
    assert change.action is action
    assert [f.field for f in change.fields] == changed
    c = change.credit
    assert (c.allocation_delta, c.account_debit, c.account_refund) == tuple(D(x) for x in credit)


def test_a_never_recorded_write_only_value_is_a_change_from_unknown() -> None:
    change = one({"limit_type": "monthly"}, {}, values={})
    assert change.action is Action.UPDATE
    assert [(f.field, f.before, f.after) for f in change.fields] == [("limit_type", None, "monthly")]
    assert change.credit.account_debit == 0 and change.credit.account_refund == 0


def test_an_apply_cut_off_after_sending_sends_again() -> None:
    change = one({}, {}, values={SECRET.fingerprint: {"limit_type": "daily", "pending": True}})
    assert change.action is Action.UPDATE and any("cut off" in w for w in change.warnings)


def test_unmanaged_fields_keep_live_values_in_the_body() -> None:
    change = one({"name": "renamed", "address": "prod"}, {"expires_at": 1900000000})
    assert change.operations == (
        ops.Update(
            {
                "name": "renamed",
                "expires_at": 1900000000,
                "allocated_ammount": D(100),
                "limit_type": "daily",
                "model_whitelist": ["gpt-4o"],
                "ip_whitelist": ["10.0.0.0/8"],
            }
        ),
    )


OPERATIONS = [
    # (id, desired fields, live fields, the kinds of operation, in order)
    ("disable stops first", {"is_active": False, "name": "x", "address": "prod"}, {}, ["toggle", "update"]),
    (
        "enable starts last",
        {"is_active": True, "name": "x", "address": "prod"},
        {"is_active": False},
        ["update", "toggle"],
    ),
    ("create, daily", {"proxy_key": None}, None, ["create"]),
    (
        "create, weekly: then set the window",
        {"proxy_key": None, "limit_type": "weekly"},
        None,
        ["create", "update"],
    ),
    ("create, disabled", {"proxy_key": None, "is_active": False}, None, ["create", "toggle"]),
    ("absent", {"absent": True}, {}, ["remove"]),
    ("absent and gone", {"absent": True, "proxy_key": None}, None, []),
]


@pytest.mark.parametrize(("case", "want", "have", "kinds"), OPERATIONS, ids=[c[0] for c in OPERATIONS])
def test_operations_table(
    case: str, want: dict[str, Any], have: dict[str, Any] | None, kinds: list[str]
) -> None:
    want = {"allocated_ammount": D(40), **want}
    assert [op.kind for op in one(want, have).operations] == kinds


def test_a_create_debits_its_allocation_and_names_every_field() -> None:
    change = one({"proxy_key": None, "allocated_ammount": D("12.50"), "expires_at": NOW + 86400 * 30}, None)
    assert change.action is Action.CREATE and change.key == "(new)"
    assert change.credit.account_debit == D("12.50") and change.credit.net == D("-12.50")
    assert {f.field for f in change.fields} >= {"name", "expires_at", "allocated_ammount", "limit_type"}
    create = change.operations[0]
    assert isinstance(create, ops.Create) and "limit_type" not in create.body


CANNOT_CREATE = [
    ({"proxy_key": None}, "allocated_ammount above 0"),
    ({"proxy_key": None, "allocated_ammount": D(5), "expires_at": NOW - 1}, "expires_at is in the past"),
    ({"allocated_ammount": D(5)}, "no live key has this proxy_key"),
]


@pytest.mark.parametrize(("want", "fragment"), CANNOT_CREATE)
def test_keys_that_cannot_be_created_are_errors(want: dict[str, Any], fragment: str) -> None:
    change = one(want, None)
    assert change.action is Action.ERROR and fragment in (change.error or "")


def test_a_delete_refunds_the_unused_part_and_says_why() -> None:
    change = one({"absent": True}, {"allocated_ammount": D(30), "used_ammount": D(10)})
    assert change.action is Action.DELETE and change.credit.account_refund == D(20)
    assert change.reason == "absent: true at m.yaml:3"


@pytest.mark.parametrize(("want", "have"), [({"absent": True}, {}), ({"is_active": False}, {})])
def test_protected_keys_are_never_deleted_or_disabled(want: dict[str, Any], have: dict[str, Any]) -> None:
    change = one({**want, "protect": True}, have)
    assert change.action is Action.ERROR and "protect" in (change.error or "")


# --- binding: which live key is which manifest key -------------------------------------------

OTHER = ProxyKey("ek-proxy-other0000beef")


def test_bound_by_proxy_key_even_under_another_name() -> None:
    plan = plan_of([desired(name="new")], [live(name="old")])
    assert plan.changes[0].action is Action.UPDATE and plan.changes[0].fields[0].field == "name"


def test_bound_by_the_state_record_a_rename_under_a_stable_id_is_an_update() -> None:
    key = desired(proxy_key=None, address="api", name="renamed")
    plan = plan_of([key], [live(name="old")], bindings={"api": SECRET.fingerprint})
    change = plan.changes[0]
    assert change.action is Action.UPDATE and [(f.before, f.after) for f in change.fields] == [
        ("old", "renamed")
    ]
    assert not plan.unmanaged


def test_adopted_by_name_when_exactly_one_free_key_has_it() -> None:
    plan = plan_of([desired(proxy_key=None)], [live()])
    assert plan.changes[0].action is Action.NO_OP and "adopted by name" in plan.changes[0].reason


def test_two_live_keys_of_one_name_are_an_error_naming_both() -> None:
    plan = plan_of([desired(proxy_key=None)], [live(), live(proxy_key=OTHER)])
    change = plan.changes[0]
    assert change.action is Action.ERROR
    assert "ek-proxy-…1234" in (change.error or "") and "ek-proxy-…beef" in (change.error or "")
    assert "abcdefgh" not in (change.error or "")


def test_a_key_held_by_another_address_is_not_adopted() -> None:
    keys = [
        desired(proxy_key=None, address="a", allocated_ammount=D(1)),
        desired(proxy_key=None, address="b", name="b"),
    ]
    plan = plan_of(keys, [live()], bindings={"b": SECRET.fingerprint})
    assert [c.action for c in plan.changes] == [Action.CREATE, Action.UPDATE]


def test_the_proxy_key_outranks_the_state() -> None:
    keys = [
        desired(proxy_key=None, address="a", name="a", allocated_ammount=D(1)),
        desired(address="b", name="b"),
    ]
    plan = plan_of(keys, [live(name="b")], bindings={"a": SECRET.fingerprint})
    assert [c.action for c in plan.changes] == [Action.CREATE, Action.NO_OP]


# --- unmanaged keys, prune, ignore, key cap --------------------------------------------------


def test_unmanaged_keys_are_listed_and_ignore_leaves_some_out() -> None:
    lives = [
        live(),
        live(proxy_key=OTHER, name="legacy-1"),
        live(proxy_key=ProxyKey("ek-proxy-x-9999"), name="y"),
    ]
    plan = plan_of([desired()], lives, ignore=("legacy-*",))
    assert [u.live.name for u in plan.unmanaged] == ["y"]
    assert not plan.has_changes


def test_prune_deletes_unmanaged_keys_and_says_why() -> None:
    plan = plan_of(
        [desired()], [live(), live(proxy_key=OTHER, name="stray", used_ammount=D(100))], prune=True
    )
    delete = plan.changes[-1]
    assert delete.action is Action.DELETE and delete.reason == "not in the manifest; prune is on"
    assert delete.credit.account_refund == D(0)  # all of it was used


def test_a_key_removed_from_the_manifest_is_unmanaged_and_the_plan_says_how_to_delete_it() -> None:
    plan = plan_of([], [live()], bindings={"prod": SECRET.fingerprint})
    assert "absent: true" in plan.unmanaged[0].note and not plan.has_changes


def test_prune_over_an_empty_manifest_is_refused() -> None:
    plan = plan_of([], [live()], prune=True)
    assert plan.has_errors and "every key of the account" in plan.problems[0]


def test_the_key_cap_counts_unmanaged_keys_and_deletes_first() -> None:
    lives = [live(), live(proxy_key=OTHER, name="other")]
    new = [desired(proxy_key=None, address=n, name=n, allocated_ammount=D(1)) for n in ("n1", "n2")]
    assert plan_of([desired(), *new], lives, key_cap=3).problems  # 2 live + 2 new > 3
    assert not plan_of([desired(absent=True), *new], lives, key_cap=3).problems  # one deleted first


def test_apply_order_refunds_then_no_credit_then_debits() -> None:
    keys = [
        desired(address="up", name="up", proxy_key=ProxyKey("ek-proxy-up000001"), allocated_ammount=D(150)),
        desired(address="off", name="off", proxy_key=ProxyKey("ek-proxy-off00001"), is_active=False),
        desired(address="gone", name="gone", proxy_key=ProxyKey("ek-proxy-gone0001"), absent=True),
        desired(address="new", name="new", proxy_key=None, allocated_ammount=D(5)),
        desired(address="down", name="down", proxy_key=ProxyKey("ek-proxy-down0001"), allocated_ammount=D(5)),
    ]
    lives = [live(proxy_key=k.proxy_key, name=k.name) for k in keys if k.proxy_key]
    plan = plan_of(keys, lives, values={})
    assert [c.address for c in plan.to_apply] == ["gone", "down", "off", "up", "new"]


def test_totals_add_up_and_errors_stay_per_key() -> None:
    keys = [
        desired(address="a", name="a", proxy_key=ProxyKey("ek-proxy-aaaa0001"), allocated_ammount=D(150)),
        desired(address="b", name="b", proxy_key=ProxyKey("ek-proxy-aaaa0002")),
        desired(address="c", name="c", proxy_key=ProxyKey("ek-proxy-aaaa0003"), allocated_ammount=D(60)),
    ]
    lives = [live(proxy_key=keys[0].proxy_key, name="a"), live(proxy_key=keys[2].proxy_key, name="c")]
    plan = plan_of(
        keys, lives, values={k.proxy_key.fingerprint: {"limit_type": "daily"} for k in keys if k.proxy_key}
    )
    assert [c.action for c in plan.changes] == [Action.UPDATE, Action.ERROR, Action.UPDATE]
    assert plan.account_debit == D(50) and plan.account_refund == D(40) and plan.net == D(-10)
    assert plan.balance_after == D(990)


def test_debits_over_the_balance_are_flagged_but_a_refund_only_plan_is_not() -> None:
    assert plan_of([desired(allocated_ammount=D(600))], [live()], balance=D(100)).uncovered
    refund_only = plan_of([desired(allocated_ammount=D(50))], [live()], balance=D(-5))
    assert not refund_only.uncovered
    refund_only.check_guards(None, None)  # a negative balance does not refuse a refund


def test_more_than_30_percent_deleted_is_a_mass_delete() -> None:
    lives = [live(proxy_key=ProxyKey(f"ek-proxy-mass{i:04d}"), name=f"k{i}") for i in range(10)]
    keys = [
        desired(address=f"k{i}", name=f"k{i}", proxy_key=lives[i].proxy_key, absent=i < 4) for i in range(10)
    ]
    plan = plan_of(keys, lives)
    assert plan.mass_delete
    with pytest.raises(Exception, match="allow-mass-delete"):
        plan.check_guards(None, None)
    plan.check_guards(None, None, allow_mass_delete=True)


def test_a_plan_of_many_keys_prints_as_its_counts() -> None:
    """asyncio formats the task that returns a plan: its repr must not walk every key."""
    keys = [
        desired(address=f"k{i}", proxy_key=ProxyKey(f"ek-proxy-many{i:04d}"), name=f"k{i}")
        for i in range(500)
    ]
    lives = [live(proxy_key=k.proxy_key, name=k.name) for k in keys[:499]]
    values = {k.proxy_key.fingerprint: {"limit_type": "daily"} for k in keys if k.proxy_key}
    assert repr(plan_of(keys, lives, values)) == "<Plan of 500 keys: 499 no-op, 1 error>"


WARNINGS = [
    ({"allocated_ammount": D(10)}, {}, "below what the key has already used"),
    ({"name": "x", "address": "prod"}, {"expires_at": NOW - 10}, "the key is expired"),
    ({"name": "x", "address": "prod"}, {"expires_at": NOW + 3600}, "expires within 7 days"),
    ({"name": "x", "address": "prod"}, {"is_active": False}, "set is_active: true to enable it"),
    ({"ip_whitelist": frozenset()}, {}, "ip_whitelist becomes empty"),
    ({"ip_whitelist": frozenset({ip_network("0.0.0.0/0")})}, {}, "gains 0.0.0.0/0"),
    ({"model_whitelist": frozenset()}, {}, "every model will be allowed"),
]


@pytest.mark.parametrize(("want", "have", "fragment"), WARNINGS)
def test_warnings_table(want: dict[str, Any], have: dict[str, Any], fragment: str) -> None:
    change = one(want, have)
    assert any(fragment in w for w in change.warnings), change.warnings


# --- found by trying to break it -----------------------------------------------------------------


def test_a_key_whose_binding_failed_is_never_pruned() -> None:
    """A wrong proxy_key (or two keys of one name) must not turn the key it meant into a prune."""
    wrong = desired(address="prod", proxy_key=ProxyKey("ek-proxy-wrong-value-000"), protect=True)
    plan = plan_of([wrong], [live()], bindings={"prod": SECRET.fingerprint}, prune=True)
    assert plan.count(Action.DELETE) == 0 and plan.changes[0].action is Action.ERROR
    twins = plan_of([desired(proxy_key=None, protect=True)], [live(), live(proxy_key=OTHER)], prune=True)
    assert twins.count(Action.DELETE) == 0 and not twins.unmanaged


def test_prune_waits_while_the_plan_has_errors() -> None:
    broken = desired(address="x", name="x", proxy_key=ProxyKey("ek-proxy-not-there-0000"))
    plan = plan_of([broken], [live(name="stray")], prune=True)
    assert plan.count(Action.DELETE) == 0 and "not pruned" in plan.unmanaged[0].note


def test_target_never_adopts_a_key_another_manifest_key_holds() -> None:
    keys = [
        desired(proxy_key=None, address="prod", name="Svc Primary"),
        desired(proxy_key=None, address="canary", name="prod", allocated_ammount=D(1)),
    ]
    recorded = {"prod": SECRET.fingerprint}
    whole = plan_of(keys, [live()], bindings=recorded)
    targeted = make_plan(
        Desired(keys, targets=frozenset({"canary"})),
        Inventory((live(),), D(1000)),
        Recorded(recorded, RECORDED),
        NOW,
    )
    assert [c.action for c in whole.changes] == [Action.UPDATE, Action.CREATE]
    assert [(c.address, c.action) for c in targeted.changes] == [("canary", Action.CREATE)]


def test_credits_are_to_the_cent_so_rows_add_up_to_the_net() -> None:
    lives = [
        live(proxy_key=ProxyKey(f"ek-proxy-cent{i}000"), name=f"k{i}", used_ammount=D("2.345"))
        for i in range(2)
    ]
    keys = [
        desired(address=f"k{i}", name=f"k{i}", proxy_key=lives[i].proxy_key, absent=True) for i in range(2)
    ]
    plan = plan_of(keys, lives)
    assert [c.credit.account_refund for c in plan.changes] == [D("97.66"), D("97.66")]
    assert plan.net == D("195.32")
    plan.check_guards(None, D("195.32"))  # the figure the plan shows is the one --expect-net takes


BROKEN_CHANGES: dict[str, dict[str, Any]] = {
    "an error that says no why": {"action": Action.ERROR},
    "an error with operations to send": {
        "action": Action.ERROR,
        "error": "why",
        "operations": (ops.Remove(),),
    },
    "an update with an error": {"action": Action.UPDATE, "error": "why"},
    "a create with a key": {"action": Action.CREATE, "target": ProxyKey("ek-proxy-made-0001")},
}


@pytest.mark.parametrize("case", BROKEN_CHANGES)
def test_a_change_is_never_made_against_what_its_action_says(case: str) -> None:
    """An error carries its error and nothing to send; a create has no key yet: by construction."""
    with pytest.raises(ValueError, match=r"^k0: "):
        Change("k0", name="key-0", **BROKEN_CHANGES[case])
