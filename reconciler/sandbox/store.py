"""The sandbox's state in SQLite: accounts and keys, money as exact decimal text.

Every update is one IMMEDIATE transaction, so concurrent updates (from one server or
several processes sharing a file) are serialised and credits are conserved exactly.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from reconciler.sandbox.seed import Seed

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    user_id TEXT PRIMARY KEY,
    api_key TEXT UNIQUE NOT NULL,
    balance TEXT NOT NULL,
    per_key_cap TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS keys (
    key TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES accounts(user_id),
    name TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    allocated_ammount TEXT NOT NULL,
    used_ammount TEXT NOT NULL,
    limit_type TEXT NOT NULL,
    model_whitelist TEXT NOT NULL,
    ip_whitelist TEXT NOT NULL,
    is_active INTEGER NOT NULL,
    enabled_thinking INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    last_used INTEGER
);
"""
_KEY_COLUMNS = (
    "key, user_id, name, expires_at, allocated_ammount, used_ammount, limit_type, "
    "model_whitelist, ip_whitelist, is_active, enabled_thinking, created_at, last_used"
)


class InsufficientBalance(Exception):
    def __init__(self, needed: Decimal, balance: Decimal) -> None:
        super().__init__(f"Insufficient Balance: needs {needed}, account has {balance}")


class Store:
    def __init__(self, path: str = ":memory:") -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self.db.row_factory = sqlite3.Row
        if path != ":memory:":
            self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    @property
    def is_empty(self) -> bool:
        count: int = self.db.execute("SELECT COUNT(*) FROM accounts").fetchone()[0]
        return count == 0

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def load_seed(self, seed: Seed) -> None:
        with self.transaction() as db:
            for a in seed.accounts:
                db.execute(
                    "INSERT INTO accounts VALUES (?, ?, ?, ?)",
                    (a["user_id"], a["api_key"], str(a["balance"]), str(a["per_key_cap"])),
                )
            for k in seed.keys:
                db.execute(f"INSERT INTO keys ({_KEY_COLUMNS}) VALUES ({','.join('?' * 13)})", _row(k))

    def reset(self, seed: Seed) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM keys")
            db.execute("DELETE FROM accounts")
        self.load_seed(seed)

    # --- reads ---------------------------------------------------------------------------

    def account_by_api_key(self, api_key: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM accounts WHERE api_key = ?", (api_key,)).fetchone()
        return _account(row) if row else None

    def account(self, user_id: str) -> dict[str, Any]:
        row = self.db.execute("SELECT * FROM accounts WHERE user_id = ?", (user_id,)).fetchone()
        return _account(row)

    def key(self, key: str) -> dict[str, Any] | None:
        row = self.db.execute(f"SELECT {_KEY_COLUMNS} FROM keys WHERE key = ?", (key,)).fetchone()
        return _key(row) if row else None

    def keys_of(self, user_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute(
            f"SELECT {_KEY_COLUMNS} FROM keys WHERE user_id = ? ORDER BY created_at, key",
            (user_id,),
        )
        return [_key(r) for r in rows]

    # --- the one write -------------------------------------------------------------------

    def update(self, key: str, fields: dict[str, Any]) -> Decimal:
        """Replace a key's mutable fields and move credits; returns the balance change.

        Raising an allocation debits the difference (InsufficientBalance if the balance
        cannot cover it, and nothing changes); lowering it refunds the unused part only:
        min(old - new, max(old - used, 0)).
        """
        with self.transaction() as db:
            row = db.execute(
                "SELECT k.allocated_ammount, k.used_ammount, a.balance, a.user_id "
                "FROM keys k JOIN accounts a ON a.user_id = k.user_id WHERE k.key = ?",
                (key,),
            ).fetchone()
            old, used, balance = (Decimal(row[i]) for i in range(3))
            change = credit_change(old, fields["allocated_ammount"], used)
            if balance + change < 0:
                raise InsufficientBalance(-change, balance)
            db.execute(
                "UPDATE keys SET name = ?, expires_at = ?, allocated_ammount = ?, limit_type = ?, "
                "model_whitelist = ?, ip_whitelist = ? WHERE key = ?",
                (
                    fields["name"],
                    fields["expires_at"],
                    str(fields["allocated_ammount"]),
                    fields["limit_type"],
                    json.dumps(fields["model_whitelist"]),
                    json.dumps(fields["ip_whitelist"]),
                    key,
                ),
            )
            db.execute(
                "UPDATE accounts SET balance = ? WHERE user_id = ?",
                (str(balance + change), row["user_id"]),
            )
        return change


def credit_change(old: Decimal, new: Decimal, used: Decimal) -> Decimal:
    """The account's balance change when an allocation goes from `old` to `new`."""
    if new >= old:
        return -(new - old)
    return min(old - new, max(old - used, Decimal(0)))


def _row(k: dict[str, Any]) -> tuple[Any, ...]:
    return (
        k["key"],
        k["user_id"],
        k["name"],
        k["expires_at"],
        str(k["allocated_ammount"]),
        str(k["used_ammount"]),
        k["limit_type"],
        json.dumps(k["model_whitelist"]),
        json.dumps(k["ip_whitelist"]),
        int(k["is_active"]),
        int(k["enabled_thinking"]),
        k["created_at"],
        k["last_used"],
    )


def _key(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    data["allocated_ammount"] = Decimal(data["allocated_ammount"])
    data["used_ammount"] = Decimal(data["used_ammount"])
    data["model_whitelist"] = json.loads(data["model_whitelist"])
    data["ip_whitelist"] = json.loads(data["ip_whitelist"])
    data["is_active"] = bool(data["is_active"])
    data["enabled_thinking"] = bool(data["enabled_thinking"])
    return data


def _account(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    data["balance"] = Decimal(data["balance"])
    data["per_key_cap"] = Decimal(data["per_key_cap"])
    return data
