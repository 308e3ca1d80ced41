"""The rotation tests' sandbox: its clock (`clock.start`) moved between runs to make a rotation
due and an overlap end, keys seeded with a `created_at`, and what the account and state hold."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from reconciler.sandbox import Sandbox, seeds

from ..helpers import API_KEY, run_cli, sandbox_state_dir

DAY = 86400
T0 = 1_800_000_000  # the API's clock at the first run
OLD = "ek-proxy-rotate-0001-secretpart"  # a key 120 days old at T0
SANDBOX = ["--sandbox", "--sandbox-seed", "seed.yaml"]


def seed(clock: int = T0, used: float = 20.0, **account: Any) -> None:
    data = {
        "accounts": [{"user_id": "u1", "api_key": API_KEY, "balance": 1000.0, **account}],
        "keys": [
            {
                "key": OLD,
                "user_id": "u1",
                "name": "Backend",
                "allocated_ammount": 50.0,
                "used_ammount": used,
                "expires_at": -1,
                "model_whitelist": ["gpt-4o"],
                "ip_whitelist": ["10.0.0.0/8"],
                "created_at": T0 - 120 * DAY,
            }
        ],
        "rate_limit": {"requests": 100_000, "window_s": 60},
        "clock": {"start": clock},
    }
    Path("seed.yaml").write_text(yaml.safe_dump(data))


def at(clock: int) -> None:
    """The API's clock moved to `clock` (the next run opens the sandbox with it)."""
    data = yaml.safe_load(Path("seed.yaml").read_text())
    data["clock"] = {"start": clock}
    Path("seed.yaml").write_text(yaml.safe_dump(data))


def manifest(rotate: str | None = "{every: 90d, overlap: 7d}", **fields: Any) -> None:
    key = {"id": "backend", "name": "Backend", "allocated_ammount": 50, "limit_type": "weekly", **fields}
    if rotate is not None:
        key["rotate"] = yaml.safe_load(rotate)
    Path("keys.yaml").write_text(yaml.safe_dump({"version": 1, "keys": [key]}, sort_keys=False))


def box() -> Sandbox:
    return Sandbox.open(".ehkeys/sandbox.db", seeds.load("seed.yaml"))


def made_by_hand(created_at: int) -> None:
    """Another key named Backend, made in the dashboard at `created_at` (the API's clock)."""
    fields = {"name": "Backend", "expires_at": -1, "allocated_ammount": Decimal(1)}
    box().store.create("u1", fields | {"model_whitelist": [], "ip_whitelist": []}, created_at)


def keys() -> list[dict[str, Any]]:
    return list(box().store.keys_of("u1"))


def balance() -> Decimal:
    return Decimal(str(box().store.account("u1")["balance"]))


def state() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((sandbox_state_dir() / "state.json").read_text())
    return data


def journal() -> list[dict[str, Any]]:
    path = sandbox_state_dir() / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def cli(capsys: Any, command: str, *extra: str) -> tuple[int, str, str]:
    auto = ("--auto-approve",) if command in ("apply", "rotate") else ()
    if command == "rotate":
        return run_cli(capsys, "rotate", "keys.yaml", *extra, *SANDBOX, *auto)
    return run_cli(capsys, command, "keys.yaml", *SANDBOX, *auto, *extra)


def gated_sink(folder: Path) -> list[dict[str, Any]]:
    """A command sink that works only while `folder/sink-up` exists, and writes the value it got
    to `folder/delivered.txt`: a sink that fails, then comes back."""
    script = f"test -e {folder / 'sink-up'} && cat > {folder / 'delivered.txt'}"
    return [{"command": ["sh", "-c", script]}]
