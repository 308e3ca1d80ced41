"""A rotation alone (`ehkeys rotate`, the rotate job) against the policy's key rules: its successor
copies the live key, never the manifest's values, so the rules judge what it is created with (the
key's own rules in force, its exceptions honoured). A successor that breaks one is a violation
naming the rule, the key, the value and the limit, and the rotation is refused as any violation
refuses an apply; in an apply, the successor is made of the manifest's values, whose violations
the manifest already says (never twice)."""

from __future__ import annotations

import io
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.api.inventory import Inventory
from reconciler.cli import options, settings
from reconciler.cli.apply import Terminal
from reconciler.core.errors import Refused
from reconciler.core.keys import DesiredKey, LiveKey, Location
from reconciler.core.policy import KeyRules, Policy
from reconciler.core.secrets import ProxyKey
from reconciler.engine import apply
from reconciler.engine.settings import Rotate
from reconciler.planning.planner import Desired, Recorded, make_plan
from reconciler.render import plan as render

from .common import DAY, OLD, SANDBOX, T0, balance, box, cli, keys, manifest

COPIED = "(a rotation alone copies the live key, so the manifest's value is not applied by it: run ehkeys apply first)"
SOON = int(time.time()) + 10 * DAY  # an expiry the manifest may state under any max_lifetime here


def ruled(top: dict[str, Any], rotate: str | None = None, **fields: Any) -> None:
    """The manifest's key (Backend, 50.00, weekly; `fields` over them; `rotate` its schedule, in
    YAML) under `top` (its policy, its groups) at the top of the manifest."""
    manifest(rotate=rotate, **fields)
    data = yaml.safe_load(Path("keys.yaml").read_text())
    Path("keys.yaml").write_text(yaml.safe_dump({"version": 1, **top, "keys": data["keys"]}, sort_keys=False))


def live(**fields: Any) -> None:
    """The seeded live key with `fields` over its own (before the first run)."""
    data = yaml.safe_load(Path("seed.yaml").read_text())
    data["keys"][0].update(fields)
    Path("seed.yaml").write_text(yaml.safe_dump(data))


def applied(capsys: Any) -> None:
    """The key applied once as it is live (bound, its window recorded): the rules come after."""
    manifest(rotate=None)
    code, out, _ = cli(capsys, "apply")
    assert code == 0, out


def refused(capsys: Any, *message: str) -> None:
    """`ehkeys rotate backend` refused for the policy, each of `message` said, nothing sent."""
    code, out, err = cli(capsys, "rotate", "backend", "--overlap", "0")
    assert code == 1, out
    for part in message:
        assert part in err, err
    assert "the plan breaks the policy" in err and "nothing was sent" in err
    assert [k["key"] for k in keys()] == [OLD] and balance() == Decimal(1000)


RULES = [
    "max_allocation",
    "max_lifetime",
    "name_pattern",
    "limit_types",
    "allowed_models",
    "require",
    "group",
]


@pytest.mark.parametrize(
    ("top", "fields", "seeded", "said"),
    [
        (
            {"policy": {"max_allocation": 40}},
            {"allocated_ammount": 40},
            {},
            "max_allocation on backend: the successor's allocated_ammount 50.00 is over 40.00",
        ),
        (  # today is the API's: 2027-01-15 (T0), whatever the local clock says
            {"policy": {"max_lifetime": "30d"}},
            {"expires_at": SOON},
            {},
            "max_lifetime on backend: the successor's expires_at is never: at most 30 days ahead of "
            "today (until 2027-02-14)",
        ),
        (  # the copy takes the live name
            {"policy": {"name_pattern": "[a-z-]+"}},
            {"name": "backend"},
            {},
            "name_pattern on backend: the successor's name 'Backend' does not match [a-z-]+",
        ),
        (  # the window as last applied (weekly), not the manifest's
            {"policy": {"limit_types": ["daily"]}},
            {"limit_type": "daily"},
            {},
            "limit_types on backend: the successor's limit_type weekly is not one of daily",
        ),
        (
            {"policy": {"allowed_models": ["claude-*"]}},
            {"model_whitelist": ["claude-3-5-haiku"]},
            {},
            "allowed_models on backend: the successor's model_whitelist entry gpt-4o matches none of claude-*",
        ),
        (
            {"policy": {"require": ["ip_whitelist"]}},
            {"ip_whitelist": ["10.0.0.0/8"]},
            {"ip_whitelist": []},
            "require on backend: the successor's ip_whitelist is [] (all IPs)",
        ),
        (  # the key's own rules: its group's max_allocation in place of the account's
            {"policy": {"max_allocation": 100}, "groups": {"api": {"policy": {"max_allocation": 40}}}},
            {"allocated_ammount": 40, "group": "api"},
            {},
            "max_allocation on backend: the successor's allocated_ammount 50.00 is over 40.00",
        ),
    ],
    ids=RULES,
)
def test_a_rotation_alone_whose_successor_copies_a_value_the_policy_forbids_is_refused(
    workdir: Path, capsys: Any, top: dict[str, Any], fields: dict[str, Any], seeded: dict[str, Any], said: str
) -> None:
    """The manifest keeps the rule; the live key, which the successor copies, does not."""
    live(**seeded)
    applied(capsys)
    ruled(top, **fields)
    refused(capsys, said, COPIED)


def test_an_exception_to_the_rule_lets_the_rotation_go_and_is_listed(workdir: Path, capsys: Any) -> None:
    applied(capsys)
    ruled({"policy": {"max_allocation": 40}}, allocated_ammount=40)
    refused(capsys, "the successor's allocated_ammount 50.00 is over 40.00")
    waived = {"max_allocation": "a batch key, sized by hand"}
    ruled({"policy": {"max_allocation": 40}}, allocated_ammount=40, policy_exceptions=waived)
    code, out, _ = cli(capsys, "rotate", "backend", "--overlap", "0")
    assert code == 0, out
    assert "Policy: every rule holds, 1 exception in force (rules: max_allocation)" in out
    assert "max_allocation waived on backend: a batch key, sized by hand" in out
    (successor,) = keys()
    assert successor["key"] != OLD and successor["allocated_ammount"] == 50


def test_max_lifetime_counts_from_the_apis_clock(workdir: Path, capsys: Any) -> None:
    """The API's clock 200 days ahead of the local one: the live expiry, 60 days ahead on it, is
    within 90 days there (and 260 days ahead locally); over 30 days on it either way."""
    clock = int(time.time()) + 200 * DAY
    data = yaml.safe_load(Path("seed.yaml").read_text())
    data["clock"] = {"start": clock}
    Path("seed.yaml").write_text(yaml.safe_dump(data))
    live(expires_at=clock + 60 * DAY)
    applied(capsys)
    ruled({"policy": {"max_lifetime": "30d"}}, expires_at=SOON)
    refused(capsys, "max_lifetime on backend: the successor's expires_at ", " is over 30 days ahead of today")
    ruled({"policy": {"max_lifetime": "90d"}}, expires_at=SOON)
    code, out, _ = cli(capsys, "rotate", "backend", "--overlap", "0")
    assert code == 0 and "Policy: every rule holds (rules: max_lifetime)" in out, out


def test_a_value_the_manifest_breaks_too_is_said_once(workdir: Path, capsys: Any) -> None:
    """The manifest's allocation is the live one (50, over 40): its violation, not the
    successor's too; the live name, which only the successor has, is the successor's."""
    applied(capsys)
    ruled({"policy": {"max_allocation": 40, "name_pattern": "[a-z-]+"}}, name="backend")
    refused(
        capsys,
        "max_allocation on backend: allocated_ammount 50.00 is over 40.00 (and 1 more violation: plan lists them)",
    )


def rotate_job(capsys: Any) -> None:
    """The scheduled rotate job's apply (rotations alone, no target)."""
    args = options.parse(["rotate", "keys.yaml", "backend", *SANDBOX, "--auto-approve"])
    apply.run(replace(settings.rotate(args), rotate=Rotate(only=True)), Terminal(args))


def test_the_rotate_job_judges_its_successors_and_an_apply_the_manifest_each_once(
    workdir: Path, capsys: Any
) -> None:
    """Backend is due (120 days old, every 90d). The job's successor copies the live 50.00: refused;
    an apply makes it of the manifest's 40.00: every rule holds. A manifest that breaks the rule
    itself is one violation, in a plan and in the job."""
    applied(capsys)
    rotate = "{every: 90d, overlap: 0}"
    ruled({"policy": {"max_allocation": 40}}, allocated_ammount=40, rotate=rotate)
    with pytest.raises(Refused, match=r"the successor's allocated_ammount 50\.00 is over 40\.00") as job:
        rotate_job(capsys)
    assert "more violation" not in str(job.value) and keys()[0]["key"] == OLD
    ruled({"policy": {"max_allocation": 40}}, allocated_ammount=50, rotate=rotate)
    code, out, _ = cli(capsys, "plan")
    assert code == 4 and "0 errors, 1 policy violation." in out and "successor's" not in out, out
    with pytest.raises(Refused, match=r"allocated_ammount 50\.00 is over 40\.00; nothing was sent") as job:
        rotate_job(capsys)
    assert "successor's" not in str(job.value)
    ruled({"policy": {"max_allocation": 40}}, allocated_ammount=40, rotate=rotate)
    code, out, _ = cli(capsys, "apply")
    assert code == 0 and "Policy: every rule holds (rules: max_allocation)" in out, out
    (successor,) = keys()
    assert successor["key"] != OLD and successor["allocated_ammount"] == 40


def test_the_plans_policy_section_names_the_successors_violation_at_its_key() -> None:
    where = Location("keys.yaml", 4, 5)
    key = DesiredKey("svc", "Svc", where, limit_type="daily", allocated_ammount=Decimal(40))
    rules = Policy(max_allocation=Decimal(40), at=(("max_allocation", Location("keys.yaml", 2, 11)),))
    old = LiveKey(ProxyKey(OLD), "Svc", -1, Decimal(50), Decimal(0), True, frozenset(), frozenset(), T0 - DAY)
    wanted = Desired([key], policy=rules, rules={"svc": KeyRules(rules)}, rotation_only=True)
    wanted = replace(wanted, rotate_now=frozenset({"svc"}))
    recorded = Recorded({"svc": old.fingerprint}, {old.fingerprint: {"limit_type": "daily"}})
    plan = make_plan(wanted, Inventory((old,), Decimal(100), clock=T0), recorded, T0)
    shown = io.StringIO()
    render.text(plan, shown)
    text = shown.getvalue()
    assert "Policy: 1 violation (rules: max_allocation)" in text
    said = f"the successor's allocated_ammount 50.00 is over 40.00 {COPIED} (keys.yaml:4)"
    assert f"✗ max_allocation on svc: {said}" in text, text


@pytest.mark.timeout(60)  # Python's re ran this pattern on this name for hours
def test_a_long_live_name_is_judged_by_a_nested_repetition_at_once(workdir: Path, capsys: Any) -> None:
    """The API's answer bounds no name: a live key renamed to 5,000 characters, which a rotation
    alone copies. RE2 runs the pattern in time linear in the name: its verdict is said."""
    applied(capsys)
    store = box().store
    live_key = store.key(OLD)
    assert live_key is not None
    long_name = "a" * 4999 + "!"
    store.update(
        OLD, {**live_key, "allocated_ammount": Decimal(str(live_key["allocated_ammount"])), "name": long_name}
    )
    ruled({"policy": {"name_pattern": "^(([a-z]+)+)+$"}}, name="backend")  # its own name matches
    refused(
        capsys, f"name_pattern on backend: the successor's name '{long_name}' does not match ^(([a-z]+)+)+$"
    )
