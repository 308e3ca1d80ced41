"""The drift groups as a pure function: (plan, live keys, what earlier runs left, options) -> report.

Plans are made by the real planner from typed keys; snapshots as an apply records them.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest

from reconciler.api.inventory import Inventory
from reconciler.core.keys import DesiredKey, LiveKey, Location, parse_network
from reconciler.core.secrets import ProxyKey
from reconciler.drift.report import DriftReport, Options, Past, report
from reconciler.engine.drift import managed
from reconciler.planning.planner import Desired, Recorded, make_plan
from reconciler.render import drift_words as words
from reconciler.state import snapshots

NOW = 1_800_000_000
DAY = 86400
A = ProxyKey("ek-proxy-drift-aaaa")
B = ProxyKey("ek-proxy-drift-bbbb")


def want(**fields: Any) -> DesiredKey:
    base: dict[str, Any] = {
        "address": "app",
        "name": "app",
        "location": Location("keys.yaml", 3, 5),
        "limit_type": "daily",
        "allocated_ammount": Decimal(10),
        "model_whitelist": frozenset({"gpt-4o"}),
    }
    return DesiredKey(**{**base, **fields})


def live(key: ProxyKey = A, **fields: Any) -> LiveKey:
    base: dict[str, Any] = {
        "proxy_key": key,
        "name": "app",
        "expires_at": -1,
        "allocated_ammount": Decimal(10),
        "used_ammount": Decimal(2),
        "is_active": True,
        "model_whitelist": frozenset({"gpt-4o"}),
        "ip_whitelist": frozenset({parse_network("10.0.0.0/8")}),
        "created_at": 1_700_000_000,
    }
    if "ip_whitelist" in fields:
        fields["ip_whitelist"] = frozenset(parse_network(n) for n in fields["ip_whitelist"])
    return LiveKey(**{**base, **fields})


def drift(
    wanted: list[DesiredKey],
    now_live: list[LiveKey],
    snapped: Sequence[LiveKey] = (),
    seen: dict[str, str] | None = None,
    balance: Decimal = Decimal(1000),
    now: int = NOW,
    **options: Any,
) -> DriftReport:
    """Apply verified `snapped` (bound to the manifest's keys in order), then the account moved."""
    bindings = {k.address: s.fingerprint for k, s in zip(wanted, snapped, strict=False)}
    recorded = Recorded(bindings, {s.fingerprint: {"limit_type": "daily"} for s in snapped})
    plan = make_plan(Desired(wanted), Inventory(tuple(now_live), balance), recorded, now)
    past = Past(bindings, {s.fingerprint: snapshots.taken(s) for s in snapped}, seen or {})
    return report(plan, now_live, past, managed(wanted), Options(now, **options))


def moved(found: DriftReport) -> list[tuple[str, str, str]]:
    return [(f.field, words.moved(f), words.next_apply(f)) for c in found.changed_outside for f in c.fields]


REVERTS, UNMANAGED_FIELD = "reverts it", "nothing: the manifest leaves it unmanaged"

CHANGED_OUTSIDE = {
    "renamed in the dashboard": (
        {},
        {"name": "renamed"},
        [("name", 'name: "app" -> "renamed"', REVERTS)],
    ),
    "allocation raised": (
        {},
        {"allocated_ammount": Decimal(25)},
        [("allocated_ammount", "allocated_ammount: 10.00 -> 25.00", REVERTS)],
    ),
    "disabled, the manifest says active": (
        {"is_active": True},
        {"is_active": False},
        [("is_active", "is_active: true -> false", REVERTS)],
    ),
    "disabled, is_active unmanaged": (
        {},
        {"is_active": False},
        [("is_active", "is_active: true -> false", UNMANAGED_FIELD)],
    ),
    "an unmanaged whitelist edited": (
        {},
        {"ip_whitelist": ["10.0.0.0/8", "192.168.0.0/16"]},
        [("ip_whitelist", "ip_whitelist: +192.168.0.0/16", UNMANAGED_FIELD)],
    ),
    "a managed whitelist swapped": (
        {},
        {"model_whitelist": frozenset({"o1"})},
        [("model_whitelist", "model_whitelist: +o1, -gpt-4o", REVERTS)],
    ),
    "set by hand to what the manifest now asks": (
        {"allocated_ammount": Decimal(20)},
        {"allocated_ammount": Decimal(20)},
        [("allocated_ammount", "allocated_ammount: 10.00 -> 20.00", "nothing: it now matches the manifest")],
    ),
    "changed by hand, and the manifest asks for a third value": (
        {"allocated_ammount": Decimal(30)},
        {"allocated_ammount": Decimal(20)},
        [("allocated_ammount", "allocated_ammount: 10.00 -> 20.00", "sets 30.00")],
    ),
}


@pytest.mark.parametrize("case", CHANGED_OUTSIDE)
def test_changed_outside_ehkeys_field_by_field_with_what_the_next_apply_does(case: str) -> None:
    manifest_fields, live_fields, expected = CHANGED_OUTSIDE[case]
    found = drift([want(**manifest_fields)], [live(**live_fields)], [live()])
    assert moved(found) == expected
    assert found.drifted and not found.not_applied and not found.never_applied


def test_usage_and_last_use_are_never_a_change() -> None:
    found = drift([want()], [live(used_ammount=Decimal(9), last_used=NOW)], [live()])
    assert not found.drifted and words.headline(found) == "In sync: the account's keys match the manifest."


def test_a_key_deleted_outside_ehkeys_is_group_one_and_would_be_created_again() -> None:
    found = drift([want()], [], [live()])
    (gone,) = found.changed_outside
    assert gone.deleted.startswith("creates it again") and gone.fields == ()
    assert not found.not_applied  # the create is that key's, not a manifest change


def test_the_manifest_moving_too_shows_what_else_the_apply_sets() -> None:
    found = drift([want(allocated_ammount=Decimal(50))], [live(name="renamed")], [live()])
    (key,) = found.changed_outside
    assert [f.field for f in key.fields] == ["name"] and [fc.field for fc in key.also] == [
        "allocated_ammount"
    ]


NOT_APPLIED = {
    "an edit, the key as last applied": (
        [want(allocated_ammount=Decimal(15))],
        [live()],
        [live()],
        [("app", "update", False)],
    ),
    "an edit, no verified apply recorded": (
        [want(allocated_ammount=Decimal(15))],
        [live()],
        [],
        [("app", "update", True)],
    ),
    "a new key": ([want(), want(address="new", name="new")], [live()], [live()], [("new", "create", False)]),
    "absent: true": ([want(absent=True)], [live()], [live()], [("app", "delete", False)]),
    "disabled in the manifest": ([want(is_active=False)], [live()], [live()], [("app", "disable", False)]),
}


@pytest.mark.parametrize("case", NOT_APPLIED)
def test_manifest_not_applied_yet(case: str) -> None:
    wanted, now_live, snapped, expected = NOT_APPLIED[case]
    found = drift(wanted, now_live, snapped)
    got = [(n.change.address, n.change.action.label, n.no_snapshot) for n in found.not_applied]
    assert got == expected and not found.changed_outside and found.drifted


def test_a_write_only_value_never_applied_is_its_own_group() -> None:
    plan_only = drift([want()], [live()])  # no snapshot, no record: limit_type unknown
    assert [c.address for c in plan_only.never_applied] == ["app"] and not plan_only.not_applied
    assert "1 key(s) with write-only values never applied (limit_type)" in words.headline(plan_only)


def test_unmanaged_keys_new_since_the_last_run_are_called_out() -> None:
    found = drift([want()], [live(), live(B, name="other")], [live()], seen={})
    assert [(u.live.name, u.new, u.first_seen) for u in found.unmanaged] == [
        ("other", True, "2027-01-15T08:00:00Z")
    ]
    seen = {B.fingerprint: "2026-01-01T00:00:00Z"}
    again = drift([want()], [live(), live(B, name="other")], [live()], seen=seen)
    assert [(u.new, u.first_seen) for u in again.unmanaged] == [(False, "2026-01-01T00:00:00Z")]
    assert again.drifted and "1 unmanaged key(s) in the account (0 new)" in words.headline(again)


HEALTH = {
    "expires in 3 days": (
        {"expires_at": NOW + 3 * DAY},
        {},
        [("expiring", "expires on 2027-01-18T08:00:00Z (in 3 days)")],
    ),
    "expires in 20 days": ({"expires_at": NOW + 20 * DAY}, {}, []),
    "expires in 20 days, warned 30 ahead": (
        {"expires_at": NOW + 20 * DAY},
        {"expiring_within": Decimal(30)},
        [("expiring", "expires on 2027-02-04T08:00:00Z (in 20 days)")],
    ),
    "already expired": ({"expires_at": NOW - DAY}, {}, [("expired", "expired on 2027-01-14T08:00:00Z")]),
    "never expires": ({"expires_at": -1}, {"expiring_within": Decimal(100000)}, []),
    "used 95%": ({"used_ammount": Decimal("9.5")}, {}, [("usage", "used 9.50 of 10.00 credits (95%)")]),
    "used exactly 90%": ({"used_ammount": Decimal(9)}, {}, []),
    "used 60%, warned from 50": (
        {"used_ammount": Decimal(6)},
        {"usage_warning": Decimal(50)},
        [("usage", "used 6.00 of 10.00 credits (60%)")],
    ),
    "no allocation": ({"allocated_ammount": Decimal(0), "used_ammount": Decimal(5)}, {}, []),
}


@pytest.mark.parametrize("case", HEALTH)
def test_health_warnings_never_make_drift(case: str) -> None:
    live_fields, options, expected = HEALTH[case]
    manifest_fields = {"allocated_ammount": live_fields.get("allocated_ammount", Decimal(10))}
    found = drift([want(**manifest_fields)], [live(**live_fields)], [live(**live_fields)], **options)
    assert [(h.kind, h.message) for h in found.health] == expected
    assert not found.drifted


def test_a_balance_below_the_pending_debits_warns() -> None:
    found = drift([want(allocated_ammount=Decimal(60))], [live()], [live()], balance=Decimal(20))
    assert [(h.kind, h.subject) for h in found.health] == [("balance", "account")]
    assert "debit 50.00 credits, but the balance is 20.00" in found.health[0].message


def test_the_digest_ignores_usage_and_times_but_not_findings() -> None:
    soon = NOW + 3 * DAY
    first = drift(
        [want()], [live(name="x", expires_at=soon, used_ammount=Decimal("9.6"))], [live(expires_at=soon)]
    )
    later = drift(
        [want()],
        [live(name="x", expires_at=soon, used_ammount=Decimal("9.9"))],
        [live(expires_at=soon)],
        now=NOW + DAY,
    )
    assert first.health != later.health and words.digest(first) == words.digest(later)
    renamed_otherwise = drift(
        [want()], [live(name="y", expires_at=soon, used_ammount=Decimal("9.6"))], [live(expires_at=soon)]
    )
    assert words.digest(renamed_otherwise) != words.digest(first)
    no_usage_warning = drift([want()], [live(name="x", expires_at=soon)], [live(expires_at=soon)])
    assert words.digest(no_usage_warning) != words.digest(first)
