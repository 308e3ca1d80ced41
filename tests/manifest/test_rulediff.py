"""The rules a pull request changes, compared with its base's (`manifest.rulediff`) and said a
line each (`render.rules.line`): a table of base rules, head rules, and the lines.

A plan judged by its own change's rules passes when the change loosens a rule and uses the
room; reviewers see these lines at the top of its comment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.manifest.load import Manifest, load
from reconciler.manifest.rulediff import changed_rules
from reconciler.render.rules import line

KEY = {"id": "partner", "name": "partner-gateway", "allocated_ammount": 10, "limit_type": "daily"}
ACCOUNTS = {"prod": {"api_key": "${EH_PROD_API_KEY}"}, "staging": {"api_key": "${EH_STAGING_API_KEY}"}}


def with_accounts(**settings: Any) -> dict[str, Any]:
    """Two accounts, a key in prod; `settings` over them (accounts' own merged in)."""
    accounts = {n: {**a, **settings.pop(n, {})} for n, a in ACCOUNTS.items()}
    return {"accounts": accounts, "keys": [{**KEY, "account": "prod"}], **settings}


def waived(reason: str | None = None, **more: Any) -> dict[str, Any]:
    key = {**KEY, "account": "prod", **more}
    if reason is not None:
        key["policy_exceptions"] = {"ip_whitelist": reason}
    return {"accounts": ACCOUNTS, "policy": {"require": ["ip_whitelist"]}, "keys": [key]}


def grouped(**group: Any) -> dict[str, Any]:
    return {"groups": {"ml": group}, "keys": [{**KEY, "group": "ml"}]} if group else {"keys": [KEY]}


def in_account(name: str, **account: Any) -> dict[str, Any]:
    """One declared account `name` (its settings `account`) holding the key."""
    return {"accounts": {name: {**ACCOUNTS["prod"], **account}}, "keys": [{**KEY, "account": name}]}


BUDGETS = {"small": {"budget": {"max_allocated": 50}}, "large": {"budget": {"max_allocated": 5000}}}
TWO_GROUPS = {"strict": {"policy": {"max_allocation": 35}}, "loose": {"policy": {"max_allocation": 900}}}


def in_group(group: str | None, **more: Any) -> dict[str, Any]:
    key = {**KEY, **more, **({"group": group} if group else {})}
    return {"groups": TWO_GROUPS, "keys": [key, {**KEY, "id": "b", "name": "b", "group": "strict"}]}


CASES: dict[str, tuple[dict[str, Any], dict[str, Any], list[str]]] = {
    "nothing changed": ({"policy": {"max_allocation": 100}}, {"policy": {"max_allocation": 100}}, []),
    "a ceiling raised": (
        {"policy": {"max_allocation": 100}},
        {"policy": {"max_allocation": 500}},
        ["max_allocation: 100.00 -> 500.00, looser"],
    ),
    "a ceiling lowered, another dropped": (
        {"budget": {"max_net_debit": 50, "warn_net_debit": 20}},
        {"budget": {"max_net_debit": 40}},
        ["max_net_debit: 50.00 -> 40.00, tighter", "warn_net_debit: 20.00 -> (not set), looser"],
    ),
    "a lifetime set": ({}, {"policy": {"max_lifetime": "90d"}}, ["max_lifetime: (not set) -> 90d, tighter"]),
    "a field no longer required": (
        {"policy": {"require": ["expires_at", "ip_whitelist"]}},
        {"policy": {"require": ["ip_whitelist"]}},
        ["require: [expires_at, ip_whitelist] -> [ip_whitelist], looser"],
    ),
    "the same list in another order": (
        {"policy": {"limit_types": ["daily", "weekly"]}},
        {"policy": {"limit_types": ["weekly", "daily"]}},
        [],
    ),
    "a window allowed": (
        {"policy": {"limit_types": ["daily"]}},
        {"policy": {"limit_types": ["daily", "monthly"]}},
        ["limit_types: [daily] -> [daily, monthly], looser"],
    ),
    "models swapped": (
        {"policy": {"allowed_models": ["gpt-4o*"]}},
        {"policy": {"allowed_models": ["claude-*"]}},
        ["allowed_models: [gpt-4o*] -> [claude-*], changed"],
    ),
    "a name pattern changed": (
        {"policy": {"name_pattern": "a"}},
        {"policy": {"name_pattern": "b"}},
        ['name_pattern: "a" -> "b", changed'],
    ),
    "an account's own rule": (
        with_accounts(policy={"max_allocation": 100}),
        with_accounts(policy={"max_allocation": 100}, prod={"policy": {"max_allocation": 500}}),
        ["max_allocation (account prod): 100.00 -> 500.00, looser"],
    ),
    "a top-level rule, in each account": (
        with_accounts(budget={"max_allocated": 1000}),
        with_accounts(budget={"max_allocated": 900}),
        [
            "max_allocated (account prod): 1,000.00 -> 900.00, tighter",
            "max_allocated (account staging): 1,000.00 -> 900.00, tighter",
        ],
    ),
    "a new account's rules": (
        {"accounts": {"prod": ACCOUNTS["prod"]}, "keys": [{**KEY, "account": "prod"}]},
        with_accounts(staging={"budget": {"max_net_debit": 50}}),
        ["max_net_debit (account staging): (new account) -> 50.00, new"],
    ),
    "a group's requirement dropped": (
        grouped(policy={"require": ["expires_at"]}),
        grouped(policy={"require": []}),
        ["require (group ml): [expires_at] -> [], looser"],
    ),
    "a group rule in place of the account's": (
        {"policy": {"max_allocation": 100}, **grouped(budget={"max_net_debit": 5})},
        {
            "policy": {"max_allocation": 100},
            **grouped(policy={"max_allocation": 500}, budget={"max_net_debit": 5}),
        },
        ["max_allocation (group ml): (the account's) -> 500.00, changed"],
    ),
    "a new group": (
        grouped(),
        grouped(budget={"max_allocated": 300}),
        ["max_allocated (group ml): (new group) -> 300.00, new"],
    ),
    "an exception added": (
        waived(ip_whitelist=["10.0.0.0/8"]),
        waived("partner calls from changing IPs", ip_whitelist=[]),
        ['exception added: prod/partner ip_whitelist ("partner calls from changing IPs")'],
    ),
    "an exception's reason changed": (
        waived("a partner", ip_whitelist=[]),
        waived("any partner", ip_whitelist=[]),
        ['exception reason changed: prod/partner ip_whitelist: "a partner" -> "any partner"'],
    ),
    "an exception removed": (
        waived("a partner", ip_whitelist=[]),
        waived(ip_whitelist=["10.0.0.0/8"]),
        ['exception removed: prod/partner ip_whitelist ("a partner"), tighter'],
    ),
    "a key new in the pull request, with an exception": (
        {**waived(), "keys": []},
        waived("partner calls from changing IPs", ip_whitelist=[]),
        ['exception added: prod/partner ip_whitelist ("partner calls from changing IPs")'],
    ),
    "an account renamed, its rules dropped": (
        in_account("prod", policy={"max_allocation": 35}),
        in_account("prod2"),
        [
            "max_allocation (account prod): 35.00 -> (account removed), removed",
            "max_allocation (key partner: account prod -> prod2): 35.00 -> (not set), looser",
        ],
    ),
    "accounts declared, the top-level rules dropped": (
        {"policy": {"max_allocation": 35}},
        in_account("main"),
        [
            "max_allocation: 35.00 -> (account removed), removed",
            "max_allocation (key partner: account default -> main): 35.00 -> (not set), looser",
        ],
    ),
    "accounts declared, the same rules": (
        {"policy": {"max_allocation": 35}},
        in_account("main", policy={"max_allocation": 35}),
        [
            "max_allocation (account main): (new account) -> 35.00, new",
            "max_allocation: 35.00 -> (account removed), removed",
        ],
    ),
    "a key moved into a looser group": (
        in_group("strict"),
        in_group("loose"),
        ["max_allocation (key partner: group strict -> loose): 35.00 -> 900.00, looser"],
    ),
    "a key moved into a looser group, its id changed (the same live key, bound by name)": (
        in_group("strict"),
        {**in_group("loose"), "keys": [{**in_group("loose")["keys"][0], "id": "partner-2"}]},
        ["max_allocation (key partner-2: group strict -> loose): 35.00 -> 900.00, looser"],
    ),
    "a key moved into a group of a larger budget": (
        {"groups": BUDGETS, "keys": [{**KEY, "group": "small"}]},
        {"groups": BUDGETS, "keys": [{**KEY, "group": "large"}]},
        ["max_allocated (key partner: group small -> large): 50.00 -> 5,000.00, looser"],
    ),
    "a key out of a strict group": (
        in_group("strict"),
        in_group(None),
        ["max_allocation (key partner: group strict -> (none)): 35.00 -> (not set), looser"],
    ),
    "a key into a stricter group": (
        in_group("loose"),
        in_group("strict"),
        ["max_allocation (key partner: group loose -> strict): 900.00 -> 35.00, tighter"],
    ),
    "a key moved, its exception kept": (
        {
            "accounts": {"prod": {**ACCOUNTS["prod"], "policy": {"max_allocation": 5}}},
            "keys": [{**KEY, "account": "prod", "policy_exceptions": {"max_allocation": "a partner"}}],
        },
        {
            "accounts": {"prod2": {**ACCOUNTS["prod"], "policy": {"max_allocation": 5}}},
            "keys": [{**KEY, "account": "prod2", "policy_exceptions": {"max_allocation": "a partner"}}],
        },
        [
            "max_allocation (account prod2): (new account) -> 5.00, new",
            "max_allocation (account prod): 5.00 -> (account removed), removed",
        ],
    ),
    "an account's max_debit raised": (
        in_account("prod", max_debit=100),
        in_account("prod", max_debit=500),
        ["max_debit (account prod): 100.00 -> 500.00, looser"],
    ),
    "an account's max_debit removed": (
        in_account("prod", max_debit=100),
        in_account("prod"),
        ["max_debit (account prod): 100.00 -> (not set), looser"],
    ),
    "an account's max_debit set, lowered": (
        with_accounts(prod={"max_debit": 100}),
        with_accounts(prod={"max_debit": 50}, staging={"max_debit": 20}),
        [
            "max_debit (account prod): 100.00 -> 50.00, tighter",
            "max_debit (account staging): (not set) -> 20.00, tighter",
        ],
    ),
    "the top-level key_cap raised: each account inheriting it": (
        with_accounts(key_cap=10, staging={"key_cap": 5}),
        with_accounts(key_cap=20, staging={"key_cap": 5}),
        ["key_cap (account prod): 10 -> 20, looser"],
    ),
    "an account's own key_cap removed: the top level's in force": (
        with_accounts(key_cap=10, prod={"key_cap": 5}),
        with_accounts(key_cap=10),
        ["key_cap (account prod): 5 -> 10, looser"],
    ),
    "an account's own key_cap the same as the top level's it replaces": (
        with_accounts(key_cap=10),
        with_accounts(key_cap=10, prod={"key_cap": 10}),
        [],
    ),
    "the key_cap dropped": ({"key_cap": 15}, {}, ["key_cap: 15 -> (not set), looser"]),
    "the per_key_cap lowered, in a manifest without accounts": (
        {"per_key_cap": 5000},
        {"per_key_cap": 100},
        ["per_key_cap: 5,000.00 -> 100.00, tighter"],
    ),
    "the top-level per_key_cap raised: each account inheriting it": (
        with_accounts(per_key_cap=100, prod={"per_key_cap": 50}),
        with_accounts(per_key_cap=500, prod={"per_key_cap": 50}),
        ["per_key_cap (account staging): 100.00 -> 500.00, looser"],
    ),
    "the per_key_cap removed: the default in force": (
        {"per_key_cap": 5000},
        {},
        ["per_key_cap: 5,000.00 -> (not set: the default 10,000.00), looser"],
    ),
    "a per_key_cap over the default removed": (
        {"per_key_cap": 20000},
        {},
        ["per_key_cap: 20,000.00 -> (not set: the default 10,000.00), tighter"],
    ),
    "the default per_key_cap written out": ({}, {"per_key_cap": 10000}, []),
    "a new account's ceilings": (
        {"accounts": {"prod": ACCOUNTS["prod"]}, "keys": [{**KEY, "account": "prod"}]},
        with_accounts(staging={"max_debit": 50, "key_cap": 3}),
        [
            "max_debit (account staging): (new account) -> 50.00, new",
            "key_cap (account staging): (new account) -> 3, new",
        ],
    ),
    "an account removed, its ceilings with it": (
        with_accounts(staging={"max_debit": 50}),
        {"accounts": {"prod": ACCOUNTS["prod"]}, "keys": [{**KEY, "account": "prod"}]},
        ["max_debit (account staging): 50.00 -> (account removed), removed"],
    ),
    "a key moved to an account of a higher per_key_cap": (
        with_accounts(prod={"per_key_cap": 100}, staging={"per_key_cap": 900}),
        {
            **with_accounts(prod={"per_key_cap": 100}, staging={"per_key_cap": 900}),
            "keys": [{**KEY, "account": "staging"}],
        },
        ["per_key_cap (key partner: account prod -> staging): 100.00 -> 900.00, looser"],
    ),
    "a group's key changed, the group not": (
        in_group("strict"),
        in_group("strict", allocated_ammount=20),
        [],
    ),
    "keys changed, rules not": (
        {"policy": {"max_allocation": 100}},
        {
            "policy": {"max_allocation": 100},
            "keys": [{**KEY, "allocated_ammount": 90}, {**KEY, "id": "b", "name": "b"}],
        },
        [],
    ),
}


def loaded(tmp: Path, name: str, settings: dict[str, Any]) -> Manifest:
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "keys": [KEY], **settings}, sort_keys=False))
    result = load([str(path)], env={}, offline=True)
    assert result.manifest is not None, [d.text() for d in result.errors]
    return result.manifest


@pytest.mark.parametrize("case", CASES)
def test_each_rule_a_pull_request_changes_is_a_line_saying_which_way(tmp_path: Path, case: str) -> None:
    base, head, lines = CASES[case]
    found = changed_rules(loaded(tmp_path, "base", base), loaded(tmp_path, "head", head))
    assert [line(change) for change in found] == lines


def test_a_directory_manifests_rules_are_its_settings_files(tmp_path: Path) -> None:
    """The rules of a directory manifest are stated once, in ehkeys.yaml; its team files' keys
    carry the exceptions."""
    for side, limit in (("base", 100), ("head", 250)):
        (tmp_path / side / "team").mkdir(parents=True)
        settings = {"version": 1, "policy": {"max_allocation": limit}}
        (tmp_path / side / "ehkeys.yaml").write_text(yaml.safe_dump(settings))
        (tmp_path / side / "team" / "keys.yaml").write_text(yaml.safe_dump({"keys": [KEY]}))
    base, head = (load([str(tmp_path / side)], env={}, offline=True).manifest for side in ("base", "head"))
    assert base is not None and head is not None
    assert [line(c) for c in changed_rules(base, head)] == ["max_allocation: 100.00 -> 250.00, looser"]


def folder(tmp: Path, side: str, caps: dict[str, int | None], moved: str = "") -> Manifest:
    """A folder without ehkeys.yaml, a file per environment, each with its own per_key_cap (or
    none) and a key `<file>-0` (`moved`: that file also holds the key `prod-1`)."""
    for name, cap in caps.items():
        keys = [{**KEY, "id": f"{name}0", "name": f"{name}-0"}]
        keys += [{**KEY, "id": "prod1", "name": "prod-1"}] if name == moved else []
        text = {"version": 1, **({"per_key_cap": cap} if cap is not None else {}), "keys": keys}
        (tmp / side).mkdir(exist_ok=True)
        (tmp / side / f"{name}.yaml").write_text(yaml.safe_dump(text, sort_keys=False))
    found = load([str(tmp / side)], env={}, offline=True).manifest
    assert found is not None
    return found


FILE_CAPS = {
    "one file's raised": (
        {"prod": 100, "staging": 20},
        {"prod": 100, "staging": 5000},
        ["per_key_cap (key staging0): 20.00 -> 5,000.00, looser"],
    ),
    "the files no longer agree": (
        {"prod": 100, "staging": 100},
        {"prod": 100, "staging": 5000},
        [
            "per_key_cap: 100.00 -> (not set: the default 10,000.00), looser",
            "per_key_cap (key staging0): 100.00 -> 5,000.00, looser",
        ],
    ),
    "none changed": ({"prod": 100, "staging": 20}, {"prod": 100, "staging": 20}, []),
}


@pytest.mark.parametrize("case", FILE_CAPS)
def test_each_file_s_own_per_key_cap_is_compared_for_its_keys(tmp_path: Path, case: str) -> None:
    """The files of a folder disagree on per_key_cap: the account has none in force to compare,
    each key has its file's (before, each side's account had None: nothing was said)."""
    before, after, lines = FILE_CAPS[case]
    found = changed_rules(folder(tmp_path, "base", before), folder(tmp_path, "head", after))
    assert [line(change) for change in found] == lines


def test_a_key_moved_to_a_file_of_a_higher_per_key_cap_is_said(tmp_path: Path) -> None:
    base = folder(tmp_path, "base", {"prod": 100, "staging": 5000}, moved="prod")
    head = folder(tmp_path, "head", {"prod": 100, "staging": 5000}, moved="staging")
    assert [line(c) for c in changed_rules(base, head)] == [
        "per_key_cap (key prod1): 100.00 -> 5,000.00, looser"
    ]


def test_an_account_s_per_key_cap_changed_is_one_line_not_one_a_key(tmp_path: Path) -> None:
    base = folder(tmp_path, "base", {"prod": 100, "staging": 100})
    head = folder(tmp_path, "head", {"prod": 500, "staging": 500})
    assert [line(c) for c in changed_rules(base, head)] == ["per_key_cap: 100.00 -> 500.00, looser"]
