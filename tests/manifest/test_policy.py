"""Policies in the manifest: each rule with a manifest that keeps it and one that breaks it
(fixtures named after the failure), said by `validate` as an error at the value's FILE:LINE
naming the rule, the value and the limit; exceptions; an account's own rules over the top's."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.policy import KEY_RULES, Waiver
from reconciler.manifest import load as manifest

from ..conftest import MANIFESTS
from ..helpers import by_id, run_cli

NOW = 1_800_000_000  # 2027-01-15: max_lifetime counts from this day in load(); validate from today

# fixture -> (line, col, path, rule, fragment of the message: the value and the limit)
BROKEN = [
    (
        "bad-policy-max-allocation.yaml",
        10,
        24,
        "keys[1].allocated_ammount",
        "max_allocation",
        "150.00 is over 100.00",
    ),
    (
        "bad-policy-max-allocation-from-defaults.yaml",
        8,
        5,
        "keys[0]",
        "max_allocation",
        "allocated_ammount 150.00 is over 100.00 (from defaults)",
    ),
    ("bad-policy-require-expires-at.yaml", 10, 17, "keys[1].expires_at", "require", "expires_at is never"),
    (
        "bad-policy-require-ip-whitelist.yaml",
        10,
        19,
        "keys[1].ip_whitelist",
        "require",
        "ip_whitelist is [] (all IPs): the policy requires it set and non-empty",
    ),
    (
        "bad-policy-require-model-whitelist-unset.yaml",
        9,
        5,
        "keys[1]",
        "require",
        "model_whitelist is not set (on the key or in defaults)",
    ),
    (
        "bad-policy-max-lifetime.yaml",
        8,
        17,
        "keys[0].expires_at",
        "max_lifetime",
        "expires_at 2099-12-31T00:00:00Z is over 90 days ahead of today (at most 2027-04-15)",
    ),
    (
        "bad-policy-max-lifetime-never.yaml",
        8,
        17,
        "keys[0].expires_at",
        "max_lifetime",
        "expires_at is never: at most 84 days ahead of today (until 2027-04-09)",
    ),
    (
        "bad-policy-limit-types.yaml",
        8,
        17,
        "keys[1].limit_type",
        "limit_types",
        "monthly is not one of daily, weekly",
    ),
    (
        "bad-policy-name-pattern.yaml",
        8,
        11,
        "keys[1].name",
        "name_pattern",
        "'Team Rich' does not match team-[a-z]+",
    ),
    (
        "bad-policy-allowed-models.yaml",
        10,
        22,
        "keys[1].model_whitelist",
        "allowed_models",
        "entry o1 matches none of gpt-4o*, claude-*",
    ),
    (
        "bad-policy-allowed-models-all.yaml",
        8,
        22,
        "keys[0].model_whitelist",
        "allowed_models",
        "model_whitelist is [] (all models), not only gpt-4o*",
    ),
    (
        "bad-policy-account-max-allocation.yaml",
        10,
        60,
        "keys[1].allocated_ammount",
        "max_allocation",
        "300.00 is over 100.00",
    ),
    (
        "bad-policy-group-max-allocation.yaml",
        10,
        40,
        "keys[1].allocated_ammount",
        "max_allocation",
        "300.00 is over 100.00",
    ),
]


# The key each fixture's broken rule is on (its id, else its name), as plan names it.
BROKEN_KEY = {
    "bad-policy-max-allocation.yaml": "team-rich",
    "bad-policy-max-allocation-from-defaults.yaml": "team-default",
    "bad-policy-require-expires-at.yaml": "team-forever",
    "bad-policy-require-ip-whitelist.yaml": "team-open",
    "bad-policy-require-model-whitelist-unset.yaml": "team-unset",
    "bad-policy-max-lifetime.yaml": "team-far",
    "bad-policy-max-lifetime-never.yaml": "team-forever",
    "bad-policy-limit-types.yaml": "team-monthly",
    "bad-policy-name-pattern.yaml": "Team Rich",
    "bad-policy-allowed-models.yaml": "team-o1",
    "bad-policy-allowed-models-all.yaml": "team-all",
    "bad-policy-account-max-allocation.yaml": "big",
    "bad-policy-group-max-allocation.yaml": "pay-api",
}


@pytest.mark.parametrize(("fixture", "line", "col", "path", "rule", "fragment"), BROKEN)
def test_each_broken_rule_is_named_at_its_value(
    fixture: str, line: int, col: int, path: str, rule: str, fragment: str, capsys: Any
) -> None:
    file = str(MANIFESTS / fixture)
    result = manifest.load([file], env={}, now=NOW)
    assert result.errors == [], "a broken rule is no load error: plan still shows it"
    assert result.manifest is not None
    (violation,) = result.violations
    assert violation.rule == rule and fragment in violation.message
    assert violation.where is not None and (violation.where.file, violation.where.line) == (file, line)
    assert violation.path == path and result.manifest.violations == (violation,)
    assert violation.address == BROKEN_KEY[fixture]
    code, out, _ = run_cli(capsys, "validate", file)  # as validate says it: an error, exit 1
    assert code == 1
    assert f"{file}:{line}:{col}: {by_id(path, BROKEN_KEY[fixture])}: policy {rule}: " in out  # named by id


@pytest.mark.parametrize("rule", KEY_RULES)
def test_a_manifest_keeping_every_rule_is_valid(rule: str, capsys: Any) -> None:
    file = str(MANIFESTS / "ok-policy.yaml")
    result = manifest.load([file], env={}, now=NOW)
    assert result.errors == [] and result.violations == []
    assert result.manifest is not None and rule in result.manifest.accounts[0].policy.stated
    code, out, err = run_cli(capsys, "validate", file)
    assert code == 0 and "2 key(s) valid" in err and "policy" not in out


def test_the_policy_and_budget_are_read_with_where_each_rule_is() -> None:
    file = str(MANIFESTS / "ok-policy.yaml")
    loaded = manifest.load([file], env={}, now=NOW).manifest
    assert loaded is not None
    (account,) = loaded.accounts
    policy, budget = account.policy, account.budget
    assert policy.max_allocation == Decimal(100) and policy.max_total_allocation == Decimal(1000)
    assert (
        policy.require == ("expires_at", "model_whitelist", "ip_whitelist") and policy.max_lifetime == 36500
    )
    assert policy.limit_types == ("daily", "weekly") and policy.allowed_models == ("gpt-4o*", "claude-*")
    assert (budget.max_net_debit, budget.warn_net_debit, budget.max_allocated) == (200, 100, 1000)
    where = policy.where("max_lifetime")
    assert where is not None and (where.file, where.line) == (file, 6)


def test_an_exception_waives_its_rule_and_is_in_force_with_its_reason() -> None:
    file = str(MANIFESTS / "ok-policy.yaml")
    loaded = manifest.load([file], env={}, now=NOW).manifest
    assert loaded is not None
    (waiver,) = loaded.waivers
    assert (waiver.address, waiver.rule, waiver.reason) == (
        "team-partner",
        "ip_whitelist",
        "partner calls from changing IPs",
    )
    assert isinstance(waiver, Waiver) and waiver.where is not None and waiver.where.line == 28


def test_an_account_rule_replaces_the_top_level_one_of_its_name() -> None:
    loaded = manifest.load([str(MANIFESTS / "bad-policy-account-max-allocation.yaml")], env={}, now=NOW)
    assert loaded.manifest is not None
    prod, staging = loaded.manifest.account("prod"), loaded.manifest.account("staging")
    assert prod.policy.max_allocation == 100 and staging.policy.max_allocation == 500
    assert [(v.account, v.address) for v in loaded.violations] == [("prod", "big")]


# fixture -> (line, col, path, message): a policy that cannot be read is a manifest error
UNREADABLE = [
    (
        "bad-policy-name-pattern-regex.yaml",
        3,
        17,
        "policy.name_pattern",
        "RE2 refuses it: missing ]: [ (name_pattern uses RE2 syntax: ",
    ),
    (  # RE2 has no back-reference: matching one needs backtracking
        "bad-policy-name-pattern-back-reference.yaml",
        3,
        17,
        "policy.name_pattern",
        "RE2 refuses it: invalid escape sequence: \\1 (name_pattern uses RE2 syntax: no back-references,",
    ),
    (
        "bad-policy-max-lifetime-format.yaml",
        3,
        17,
        "policy.max_lifetime",
        "must be a number of days or weeks, like 90d or 12w (got '3 months')",
    ),
    (
        "bad-group-unknown.yaml",
        7,
        28,
        "keys[1].group",
        "unknown group 'payments': the manifest's groups are ml",
    ),
    (
        "bad-group-name.yaml",
        3,
        3,
        "groups.Machine Learning",
        "group name 'Machine Learning' must be lower-case letters",
    ),
    (
        "bad-policy-exception-unknown-rule.yaml",
        9,
        7,
        "keys[0].policy_exceptions.max_total_allocation",
        "max_total_allocation holds over keys together (an account's or a group's): no one key is excepted",
    ),
]


_CENTS = "has more than 2 decimal places: credits are counted in cents"


# What a hostile (or hurried) author writes: each an error at its place, never a traceback.
HOSTILE = [
    ("bad-policy-max-allocation-nan.yaml", 3, 19, "policy.max_allocation", "must be a number (.nan is"),
    ("bad-budget-max-net-debit-nan.yaml", 3, 18, "budget.max_net_debit", "must be a number (.NaN is"),
    ("bad-account-max-debit-nan.yaml", 3, 52, "accounts.prod.max_debit", "must be a number (.nan is"),
    ("bad-policy-max-allocation-negative.yaml", 3, 19, "policy.max_allocation", "must be >= 0 (got -5)"),
    (
        "bad-policy-max-lifetime-is-never.yaml",
        3,
        17,
        "policy.max_lifetime",
        "never is refused (the rule bounds how far ahead each key's expiry may be; to let keys never "
        "expire, leave max_lifetime out)",
    ),
    (  # six digits is a number of days, only too many: it said 'must be a number of days'
        "bad-policy-max-lifetime-too-long.yaml",
        3,
        17,
        "policy.max_lifetime",
        "at most 99999 of them (got '999999d'); to allow any expiry, leave max_lifetime out",
    ),
    ("bad-policy-unknown-rule.yaml", 4, 3, "policy.max_keys", "unknown field 'max_keys'; expected one of"),
    (
        "bad-policy-exception-for-require.yaml",
        9,
        7,
        "keys[0].policy_exceptions.require",
        "an exception to require names the field it waives (expires_at, model_whitelist or ip_whitelist)",
    ),
    (
        "bad-policy-exception-for-a-budget.yaml",
        9,
        7,
        "keys[0].policy_exceptions.max_net_debit",
        "max_net_debit holds over keys together (an account's or a group's): no one key is excepted from it; "
        "an exception names a rule on each key or a field require asks for: max_allocation, max_lifetime",
    ),
    ("bad-policy-allowed-models-not-a-string.yaml", 3, 29, "policy.allowed_models[1]", "must be a string"),
    ("bad-group-in-a-group.yaml", 4, 5, "groups.ml.group", "unknown field 'group'"),
    ("bad-group-budget-negative.yaml", 4, 29, "groups.ml.budget.max_net_debit", "must be >= 0 (got -1)"),
    ("bad-groups-empty.yaml", 2, 9, "groups", "must not be empty: name at least one, or leave it out"),
    ("bad-policy-exceptions-empty.yaml", 9, 24, "keys[0].policy_exceptions", "must not be empty"),
    # a limit finer than a cent is shown rounded: a plan over it read "120.00 ... over 120.00"
    ("bad-group-budget-max-allocated-under-a-cent.yaml", 3, 32, "groups.ml.budget.max_allocated", _CENTS),
    ("bad-account-max-debit-under-a-cent.yaml", 3, 52, "accounts.prod.max_debit", _CENTS),
    ("bad-policy-max-allocation-under-a-cent.yaml", 3, 19, "policy.max_allocation", _CENTS),
]
UNREADABLE += HOSTILE


@pytest.mark.parametrize(("fixture", "line", "col", "path", "fragment"), HOSTILE)
def test_validate_and_plan_say_a_hostile_value_at_its_place_never_a_traceback(
    fixture: str, line: int, col: int, path: str, fragment: str, capsys: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    """As a user sees it: validate exits 1 naming FILE:LINE:COL and the path; plan (on the
    sandbox) refuses the manifest the same way, before anything is read or sent."""
    file, path = str(MANIFESTS / fixture), by_id(path, "team-a")  # the one key of each that has keys
    code, out, err = run_cli(capsys, "validate", file)
    assert code == 1 and f"{file}:{line}:{col}: {path}: " in out and fragment in out, out + err
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EH_PROD_API_KEY", "unused-with-sandbox")
    shutil.copy(file, "keys.yaml")
    code, out, err = run_cli(capsys, "plan", "keys.yaml", "--sandbox")
    assert code == 1 and f"keys.yaml:{line}:{col}: {path}: " in out + err, out + err
    assert "internal error" not in err and "Traceback" not in err
    assert "the manifest has 1 error: the account was neither read nor changed" in err
    assert "nothing was sent" not in err  # plan sends nothing, ever: it said so once


@pytest.mark.parametrize(
    ("fixture", "line", "fragment"),
    [
        (
            "warn-group-budget-without-keys.yaml",
            3,
            "groups.ml: group ml has no keys: no key or file says group: ml, so what it states (its budget) "
            "holds for nothing",
        ),
        (
            "warn-budget-warn-not-below-max.yaml",
            5,
            "warn_net_debit: warn_net_debit 80.00 is not below max_net_debit 50.00 ({file}:3): a plan "
            "debiting more is refused anyway, so this never warns first",
        ),
    ],
)
def test_a_budget_that_can_never_hold_or_warn_is_a_warning(
    fixture: str, line: int, fragment: str, capsys: Any
) -> None:
    """A group no key joins (its budget holds over nothing), and a warn_net_debit at or over the
    max_net_debit in force with it (an account's over the top level's): valid, but said."""
    file = str(MANIFESTS / fixture)
    code, out, _ = run_cli(capsys, "validate", file)
    assert code == 0
    assert f"{file}:{line}:" in out and fragment.format(file=file) in out, out


@pytest.mark.parametrize(("fixture", "line", "col", "path", "fragment"), UNREADABLE)
def test_a_policy_that_cannot_be_read_is_an_error(
    fixture: str, line: int, col: int, path: str, fragment: str
) -> None:
    result = manifest.load([str(MANIFESTS / fixture)], env={}, now=NOW)
    assert result.manifest is None
    (error,) = result.errors
    assert (error.line, error.col, error.path) == (line, col, path) and fragment in error.message


@pytest.mark.timeout(60)  # Python's re ran this fixture's pattern on its first name for hours
def test_validate_judges_names_by_a_nested_repetition_at_once(capsys: Any) -> None:
    """^((a+)+)+$ on 24 a's and a `!` backtracked exponentially in Python's re; RE2 runs it in
    time linear in the name: the name that does not match is said, the one that does is not."""
    file = str(MANIFESTS / "bad-policy-name-pattern-nested-repetition-unmatched.yaml")
    code, out, err = run_cli(capsys, "validate", file)
    assert code == 1, out + err
    said = "name 'aaaaaaaaaaaaaaaaaaaaaaaa!' does not match ^((a+)+)+$"
    assert f"{file}:7:11: keys['aaaaaaaaaaaaaaaaaaaaaaaa!'].name: policy name_pattern: {said}" in out, out
    assert out.count("policy name_pattern") == 1 and "1 error(s)" in out + err, out + err


def test_validate_says_a_pattern_re2_refuses_at_its_line_and_nothing_more(capfd: Any) -> None:
    """Python's re ran the back-reference (by backtracking); RE2 refuses it, in its own words."""
    file = str(MANIFESTS / "bad-policy-name-pattern-back-reference.yaml")
    code, out, err = run_cli(capfd, "validate", file)
    said = "RE2 refuses it: invalid escape sequence: \\1 (name_pattern uses RE2 syntax: no back-references, "
    said += "lookarounds, atomic groups or possessive repeats)"
    assert (code, out, err) == (
        1,
        f"{file}:3:17: policy.name_pattern: {said}\n",
        "1 error(s), 0 warning(s)\n",
    )


def test_an_exception_to_a_rule_the_policy_does_not_set_is_a_warning(capsys: Any) -> None:
    file = str(MANIFESTS / "warn-policy-exception-waives-nothing.yaml")
    result = manifest.load([file], env={}, now=NOW)
    assert result.manifest is not None and result.manifest.waivers == ()
    (warning,) = result.diagnostics
    assert warning.severity == "warning" and "sets no ip_whitelist rule" in warning.message
    assert run_cli(capsys, "validate", file)[0] == 0


def test_a_policy_changes_the_manifest_digest_and_none_keeps_it() -> None:
    """A saved plan reviewed under one policy (or without an exception) is stale under another."""
    ok = manifest.load([str(MANIFESTS / "ok-policy.yaml")], env={}, now=NOW).manifest
    assert ok is not None
    no_rules = manifest.Manifest(ok.keys, ok.files)
    assert no_rules.digest != ok.digest
    assert manifest.Manifest(ok.keys, ok.files, ok.accounts).digest != ok.digest  # the waiver counts


def test_a_group_gives_its_keys_defaults_and_its_rules_replace_the_accounts() -> None:
    """ml-train takes 300.00 and a weekly window from its group, whose max_allocation is 500."""
    loaded = manifest.load([str(MANIFESTS / "bad-policy-group-max-allocation.yaml")], env={}, now=NOW)
    assert loaded.manifest is not None
    train, pay = loaded.manifest.keys
    assert (train.group, train.allocated_ammount, train.limit_type) == ("ml", Decimal(300), "weekly")
    assert (pay.group, pay.limit_type) == (None, "daily")
    assert [v.address for v in loaded.violations] == ["pay-api"]
    (ml,) = loaded.manifest.groups
    assert ml.name == "ml" and ml.policy.max_allocation == 500


def test_a_misspelt_exception_leaves_the_others_in_force(capsys: Any) -> None:
    """`policy_exceptions: {ip_whitelist: "...", max_alocation: typo}`: the typo is one error,
    with its hint; the right exception still waives `require: [ip_whitelist]` (once the whole
    map was dropped, adding a false "ip_whitelist is not set")."""
    file = str(MANIFESTS / "bad-policy-exception-misspelt-beside-a-right-one.yaml")
    code, out, err = run_cli(capsys, "validate", file)
    assert code == 1 and "1 error(s)" in err, out + err
    assert (
        "policy_exceptions.max_alocation: unknown field 'max_alocation'; did you mean 'max_allocation'?"
        in out
    )
    assert "ip_whitelist is not set" not in out and "policy require" not in out
    loaded = manifest.load([file], env={}, now=NOW)
    assert [e.path for e in loaded.errors] == ["keys[0].policy_exceptions.max_alocation"]


def test_a_misspelt_rule_leaves_the_others_in_force(capsys: Any) -> None:
    """`policy: {max_allocation: 50, name_patern: ...}`: the typo is one error with its hint,
    and max_allocation still holds (once the whole policy was dropped with the typo, hiding
    every real violation until it was fixed)."""
    file = str(MANIFESTS / "bad-policy-rule-misspelt-beside-a-right-one.yaml")
    code, out, err = run_cli(capsys, "validate", file)
    assert code == 1 and "2 error(s)" in err, out + err
    assert "policy.name_patern: unknown field 'name_patern'; did you mean 'name_pattern'?" in out
    assert "policy max_allocation" in out and "80" in out and "50" in out, out
