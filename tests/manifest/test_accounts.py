"""Accounts in the manifest: `accounts:`, `account:` on a key or a file, and what is unique per
account. Fixtures are named after the failure they provoke."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from reconciler.core.accounts import DEFAULT
from reconciler.core.keys import Location
from reconciler.manifest import load as manifest

from ..conftest import MANIFESTS
from ..helpers import only_error_at, run_cli

NOW = 1_800_000_000

# fixture -> (line, col, path, a fragment of the message)
ERRORS = [
    (
        "bad-account-literal-key.yaml",
        3,
        19,
        "accounts.prod.api_key",
        "must be a reference to the environment variable that holds the account key, as ${VAR}",
    ),
    (
        "bad-key-without-account.yaml",
        7,
        5,
        "keys[1]",
        "no account: the manifest declares prod, staging (accounts: at "
        f"{MANIFESTS / 'bad-key-without-account.yaml'}:2): set account: on the key, or at the top of its file",
    ),
    (
        "bad-unknown-account.yaml",
        6,
        28,
        "keys[0].account",
        "unknown account 'prd': the manifest declares prod, staging (accounts: at",
    ),
    (
        "bad-unknown-account.yaml",
        6,
        28,
        "keys[0].account",
        "bad-unknown-account.yaml:2); did you mean 'prod'?",
    ),
    (
        "bad-unknown-file-account.yaml",
        2,
        10,
        "account",
        "unknown account 'stagign': the manifest declares prod",
    ),
    (
        "bad-account-without-accounts.yaml",
        3,
        28,
        "keys[0].account",
        "unknown account 'prod': the manifest declares no accounts (its one account's key is "
        "$ELECTRONHUB_API_KEY); declare it under accounts:",
    ),
    ("bad-account-name.yaml", 3, 3, "accounts.Prod", "account name 'Prod' must be lower-case letters"),
    ("bad-account-without-api-key.yaml", 3, 9, "accounts.prod", "missing required field 'api_key'"),
    ("bad-account-base-url.yaml", 3, 51, "accounts.prod.base_url", "must be an http:// or https:// URL"),
    (
        "bad-account-base-url-plain-http-to-another-host.yaml",
        3,
        51,
        "accounts.prod.base_url",
        "base URL 'http://api.electronhub.ai/v1': use https:// (plain http:// is allowed only to a loopback host)",
    ),
    (
        "bad-account-base-url-port-out-of-range.yaml",
        3,
        51,
        "accounts.prod.base_url",
        "base URL 'http://127.0.0.1:99999/v1': not a URL (Port out of range 0-65535)",
    ),
    (
        "bad-duplicate-id-in-one-account.yaml",
        8,
        5,
        "",
        "duplicate id 'backend' in account prod: already the id (or name) of the key at "
        f"{MANIFESTS / 'bad-duplicate-id-in-one-account.yaml'}:6:5",
    ),
    (
        "bad-proxy-key-in-two-accounts.yaml",
        7,
        5,
        "",
        "duplicate proxy_key: 'staging/backend' has the same proxy_key as 'prod/backend' at",
    ),
    (
        "bad-over-account-cap.yaml",
        8,
        90,
        "keys[1].allocated_ammount",
        "150 exceeds the per-key cap of 100 (per_key_cap)",
    ),
    (
        "bad-accounts-share-a-key-variable.yaml",
        4,
        22,
        "accounts.staging.api_key",
        "${EH_PROD_API_KEY} is already the key of account prod: two accounts on one account key are "
        "one account",
    ),
    (  # the URL that staging writes is the one prod's default is: one API
        "bad-accounts-share-a-key-variable-one-writes-the-default-url.yaml",
        4,
        22,
        "accounts.staging.api_key",
        "${EH_PROD_API_KEY} is already the key of account prod: two accounts on one account key are "
        "one account",
    ),
    ("bad-accounts-declare-none.yaml", 2, 11, "accounts", "must name an account"),
    (
        "bad-account-ids-share-a-variable.yaml",
        7,
        5,
        "",
        "id 'prod-x/y' and id 'prod/x-y' at",
    ),
]


@pytest.mark.parametrize(("fixture", "line", "col", "path", "fragment"), ERRORS)
def test_each_bad_account_names_file_line_and_problem(
    fixture: str, line: int, col: int, path: str, fragment: str, capsys: Any
) -> None:
    only_error_at(capsys, MANIFESTS / fixture, line, col, path, fragment)


def test_a_literal_account_key_is_never_echoed(capsys: Any) -> None:
    for fmt in ("text", "json", "github"):
        code, out, err = run_cli(
            capsys, "validate", "--format", fmt, str(MANIFESTS / "bad-account-literal-key.yaml")
        )
        assert code == 1
        assert "literalaccountkey5555" not in out + err
        assert "accounts.prod.api_key" in out


def test_the_same_id_in_two_accounts_is_two_keys_with_their_own_settings() -> None:
    result = manifest.load([str(MANIFESTS / "ok-two-accounts.yaml")], env={}, now=NOW)
    assert result.errors == [], result.errors
    loaded = result.manifest
    assert loaded is not None
    assert [(k.account, k.address, loaded.address(k)) for k in loaded.keys] == [
        ("prod", "backend", "prod/backend"),
        ("staging", "backend", "staging/backend"),
    ]
    prod, staging = loaded.account("prod"), loaded.account("staging")
    assert (prod.key_var, prod.declared, prod.key_cap, prod.max_debit) == (
        "EH_PROD_API_KEY",
        True,
        50,
        Decimal("250.50"),
    )
    assert (prod.prune, prod.prune_at, prod.ignore) == (False, None, ("legacy-*",))  # its own prune: false
    file = str(MANIFESTS / "ok-two-accounts.yaml")
    assert (staging.prune, staging.prune_at) == (True, Location(file, 2, 8))  # the top-level prune: true
    assert staging.ignore == ("legacy-*", "scratch-*")  # the top-level patterns, and its own
    assert staging.base_url == "http://127.0.0.1:8787/v1" and prod.base_url is None
    assert [k.address for k in loaded.keys_of("staging")] == ["backend"]


def test_an_account_prune_names_where_it_was_turned_on(tmp_path: Any) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\naccounts:\n  prod: {api_key: '${A}'}\n  staging:\n    api_key: '${B}'\n    prune: true\n"
        "keys: []\n"
    )
    result = manifest.load([str(path)], env={})
    assert result.manifest is not None, result.diagnostics
    assert result.manifest.account("staging").prune_at == Location(str(path), 6, 12)
    assert result.manifest.account("prod").prune is False


def test_with_one_account_a_key_may_leave_it_out() -> None:
    result = manifest.load([str(MANIFESTS / "ok-one-account-needs-no-account.yaml")], env={}, now=NOW)
    assert result.manifest is not None, result.diagnostics
    (key,) = result.manifest.keys
    assert key.account == "partner" and result.manifest.address(key) == "partner/backend"


def test_a_manifest_without_accounts_keeps_one_undeclared_account_and_its_digest() -> None:
    result = manifest.load([str(MANIFESTS / "warn-expired.yaml")], env={}, now=NOW)
    assert result.manifest is not None
    (account,) = result.manifest.accounts
    assert (account.name, account.key_var, account.declared) == (DEFAULT, "ELECTRONHUB_API_KEY", False)
    assert all(result.manifest.address(k) == k.address for k in result.manifest.keys)


def test_validate_json_names_the_manifest_of_each_problem(capsys: Any) -> None:
    fixture = str(MANIFESTS / "bad-unknown-account.yaml")
    code, out, _ = run_cli(capsys, "validate", "--format", "json", fixture)
    payload = json.loads(out)
    assert code == 1 and payload["errors"] == 1
    assert payload["diagnostics"][0]["manifest"] == fixture
    assert payload["manifests"] == [
        {
            "manifest": fixture,
            "settings": None,
            "valid": False,
            "errors": 1,
            "warnings": 0,
            "notices": 0,
            "keys": 0,
        }
    ]
