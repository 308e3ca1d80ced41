"""Scenario 9: one plan over 10 accounts of 100 keys each, every account at the Free tier's 5
requests a minute, against the same plan of one of them. Each account is read with its own two
requests, by its own client, in parallel: the ten take about as long as one (target <= 1.5x),
and no account's rate limit is touched by another's."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import yaml

ACCOUNTS, KEYS = 10, 100
FREE_TIER = {"requests": 5, "window_s": 60}

Sandbox = Callable[..., AbstractContextManager[str]]
RunCli = Callable[..., tuple[float, float, int]]


def names(n: int) -> list[str]:
    return [f"team{i}" for i in range(n)]


def seed(accounts: int, keys: int) -> dict[str, Any]:
    """`accounts` accounts of `keys` keys each, each held to the Free tier's rate limit."""
    found: list[dict[str, Any]] = []
    listed: list[dict[str, Any]] = []
    for a, name in enumerate(names(accounts)):
        found.append(
            {"user_id": f"u{a}", "name": name, "api_key": f"ek-bench-{name}", "balance": 1000.0,
             "tier": "enterprise", "rate_limit": FREE_TIER}
        )  # fmt: skip
        listed += [
            {"key": f"ek-proxy-bench-{a:02d}-{i:04d}-0123456789abcdef", "user_id": f"u{a}", "name": f"k{i}",
             "allocated_ammount": 10.0, "used_ammount": 1.0}
            for i in range(keys)
        ]  # fmt: skip
    return {"accounts": found, "keys": listed, "rate_limit": {"requests": 100_000, "window_s": 60}}


def manifest(accounts: int, keys: int) -> str:
    declared = {name: {"api_key": f"${{EH_{name.upper()}_API_KEY}}"} for name in names(accounts)}
    rows = [
        {"id": f"k{i}", "account": name, "name": f"k{i}", "allocated_ammount": 10}
        for name in names(accounts)
        for i in range(keys)
    ]
    doc = {"version": 1, "accounts": declared, "defaults": {"limit_type": "daily"}, "keys": rows}
    return yaml.safe_dump(doc, sort_keys=False)


def scenario(
    tmp: Path, runs: int, sandbox: Sandbox, run_cli: RunCli, stats: Callable[[str], dict[str, int]]
) -> dict[str, Any]:
    walls: dict[int, list[float]] = {1: [], ACCOUNTS: []}
    requests = 0
    for accounts in (1, ACCOUNTS):
        (tmp / f"m{accounts}.yaml").write_text(manifest(accounts, KEYS))
    with _keys(ACCOUNTS):
        for _ in range(runs):  # a fresh sandbox each time: 5 requests a minute allow one plan
            for accounts in (1, ACCOUNTS):
                with sandbox(tmp, seed(ACCOUNTS, KEYS)) as base:
                    walls[accounts].append(run_cli(base, "plan", f"m{accounts}.yaml", cwd=tmp)[0])
                    got = sum(v for k, v in stats(base).items() if k != "rejected_by_rate_limit")
                requests = got if accounts == ACCOUNTS else requests
    one, ten = statistics.median(walls[1]), statistics.median(walls[ACCOUNTS])
    return {
        "accounts": ACCOUNTS,
        "keys_each": KEYS,
        "wall_1_account_s": one,
        "wall_10_accounts_s": ten,
        "ratio_10_to_1": ten / one,
        "requests_per_account": requests / ACCOUNTS,
        "target": "<= 1.5x one account, 2 requests per account",
    }


class _keys:
    """Each account's key in its variable while the scenario runs."""

    def __init__(self, accounts: int) -> None:
        self.values = {f"EH_{name.upper()}_API_KEY": f"ek-bench-{name}" for name in names(accounts)}

    def __enter__(self) -> None:
        os.environ.update(self.values)

    def __exit__(self, *exc: object) -> None:
        for name in self.values:
            os.environ.pop(name, None)
