"""The planner is a pure function: tables of (desired, live, recorded) -> expected plan."""

from __future__ import annotations

from decimal import Decimal
from ipaddress import ip_network
from typing import Any

import pytest

from reconciler.model import DesiredKey, LiveKey, Location, ProxyKey
from reconciler.plan import Failure, Plan
from reconciler.planner import make_plan, plan_key

NOW = 1_800_000_000
D = Decimal


def desired(**fields: Any) -> DesiredKey:
    base: dict[str, Any] = {
        "proxy_key": ProxyKey("ek-proxy-abcdefgh1234"),
        "name": "prod",
        "limit_type": "daily",
        "location": Location("m.yaml", 3, 5),
    }
    return DesiredKey(**{**base, **fields})


def live(**fields: Any) -> LiveKey:
    base: dict[str, Any] = {
        "name": "prod",
        "expires_at": -1,
        "allocated_ammount": D(100),
        "used_ammount": D(25),
        "is_active": True,
        "model_whitelist": frozenset({"gpt-4o"}),
        "ip_whitelist": frozenset({ip_network("10.0.0.0/8")}),
    }
    return LiveKey(**{**base, **fields})


RECORDED = {"limit_type": "daily"}
NETS = frozenset

CASES = [
    # (id, desired fields, live fields, recorded, action, changed fields, (delta, debit, refund))
    ("in sync", {}, {}, RECORDED, "no-op", [], (0, 0, 0)),
    (
        "raise allocation",
        {"allocated_ammount": D(150)},
        {},
        RECORDED,
        "update",
        ["allocated_ammount"],
        (50, 50, 0),
    ),
    (
        "lower, all unused",
        {"allocated_ammount": D(80)},
        {},
        RECORDED,
        "update",
        ["allocated_ammount"],
        (-20, 0, 20),
    ),
    (
        "lower, partly used",
        {"allocated_ammount": D(10)},
        {},
        RECORDED,
        "update",
        ["allocated_ammount"],
        (-90, 0, 75),
    ),
    (
        "lower, over-used",
        {"allocated_ammount": D(10)},
        {"used_ammount": D(120)},
        RECORDED,
        "update",
        ["allocated_ammount"],
        (-90, 0, 0),
    ),
    ("same money, other text", {"allocated_ammount": D("100.00")}, {}, RECORDED, "no-op", [], (0, 0, 0)),
    (
        "whitelist order ignored",
        {"model_whitelist": frozenset({"b", "a"})},
        {"model_whitelist": frozenset({"a", "b"})},
        RECORDED,
        "no-op",
        [],
        (0, 0, 0),
    ),
    (
        "bare ip is /32",
        {"ip_whitelist": NETS({ip_network("1.2.3.4")})},
        {"ip_whitelist": NETS({ip_network("1.2.3.4/32")})},
        RECORDED,
        "no-op",
        [],
        (0, 0, 0),
    ),
    ("rename", {"name": "new"}, {}, RECORDED, "update", ["name"], (0, 0, 0)),
    ("expiry", {"expires_at": 1900000000}, {}, RECORDED, "update", ["expires_at"], (0, 0, 0)),
    (
        "limit_type recorded differs",
        {"limit_type": "weekly"},
        {},
        RECORDED,
        "update",
        ["limit_type"],
        (0, 0, 0),
    ),
    ("limit_type never recorded", {"limit_type": "weekly"}, {}, None, "no-op", [], (0, 0, 0)),
    (
        "apply cut off after sending",
        {},
        {},
        {"limit_type": "daily", "pending": True},
        "update",
        ["limit_type"],
        (0, 0, 0),
    ),
    (
        "unmanaged fields ignored",
        {},
        {"model_whitelist": frozenset(), "expires_at": 5},
        RECORDED,
        "no-op",
        [],
        (0, 0, 0),
    ),
    (
        "whitelist emptied",
        {"model_whitelist": frozenset()},
        {},
        RECORDED,
        "update",
        ["model_whitelist"],
        (0, 0, 0),
    ),
]


@pytest.mark.parametrize(
    ("case", "want", "have", "recorded", "action", "changed", "credit"), CASES, ids=[c[0] for c in CASES]
)
def test_plan_key_table(
    case: str,
    want: dict[str, Any],
    have: dict[str, Any],
    recorded: Any,
    action: str,
    changed: list[str],
    credit: tuple[int, int, int],
) -> None:
    result = plan_key(0, desired(**want), live(**have), recorded, NOW)
    assert result.action == action
    assert result.changed_fields == changed
    c = result.credit
    assert (c.allocation_delta, c.account_debit, c.account_refund) == tuple(D(x) for x in credit)


def test_unmanaged_fields_keep_live_values_in_the_body() -> None:
    result = plan_key(0, desired(name="renamed"), live(expires_at=1900000000), RECORDED, NOW)
    assert result.body == {
        "name": "renamed",
        "expires_at": 1900000000,
        "allocated_ammount": D(100),
        "limit_type": "daily",
        "model_whitelist": ["gpt-4o"],
        "ip_whitelist": ["10.0.0.0/8"],
    }


WARNINGS = [
    ({"allocated_ammount": D(10)}, {}, "below what the key has already used"),
    ({"name": "x"}, {"expires_at": NOW - 10}, "the key is expired"),
    ({"name": "x"}, {"expires_at": NOW + 3600}, "expires within 7 days"),
    ({"name": "x"}, {"is_active": False}, "inactive; an update cannot re-activate it"),
    ({"ip_whitelist": NETS()}, {}, "ip_whitelist becomes empty"),
    ({"ip_whitelist": NETS({ip_network("0.0.0.0/0")})}, {}, "gains 0.0.0.0/0"),
    ({"model_whitelist": frozenset()}, {}, "every model will be allowed"),
    ({"limit_type": "monthly", "name": "x"}, {}, "limit_type is unverified"),
]


@pytest.mark.parametrize(("want", "have", "fragment"), WARNINGS)
def test_warnings_table(want: dict[str, Any], have: dict[str, Any], fragment: str) -> None:
    recorded = None if "limit_type" in want else RECORDED
    result = plan_key(0, desired(**want), live(**have), recorded, NOW)
    assert any(fragment in w for w in result.warnings), result.warnings


def test_errors_stay_per_key_and_totals_add_up() -> None:
    keys = [
        desired(proxy_key=ProxyKey("ek-proxy-aaaa0001"), name="a", allocated_ammount=D(150)),
        desired(proxy_key=ProxyKey("ek-proxy-aaaa0002"), name="b"),
        desired(proxy_key=ProxyKey("ek-proxy-aaaa0003"), name="c", allocated_ammount=D(60)),
    ]
    lives: list[LiveKey | Failure] = [live(name="a"), Failure(404, "Proxy key not found"), live(name="c")]
    plan: Plan = make_plan(keys, lives, {}, NOW, balance=D(1000))
    assert [k.action for k in plan.keys] == ["update", "error", "update"]
    assert plan.account_debit == D(50) and plan.account_refund == D(40) and plan.net == D(-10)
    assert plan.balance_after == D(990)
    assert [k.name for k in plan.updates] == ["c", "a"]  # refunds first


def test_debits_over_the_balance_are_flagged() -> None:
    plan = make_plan([desired(allocated_ammount=D(600))], [live()], {}, NOW, balance=D(100))
    assert plan.uncovered and "402" in plan.notes[0]


def test_a_plan_of_many_keys_prints_as_its_counts() -> None:
    """asyncio formats the task that returns a plan: its repr must not walk every key."""
    keys = [desired(proxy_key=ProxyKey(f"ek-proxy-many{i:04d}"), name=f"k{i}") for i in range(500)]
    lives: list[LiveKey | Failure] = [live(name=f"k{i}") for i in range(499)] + [Failure(500, "boom")]
    text = repr(make_plan(keys, lives, {}, NOW, balance=D(1000)))
    assert text == "<Plan of 500 keys: 0 update, 499 no-op, 1 error>"
