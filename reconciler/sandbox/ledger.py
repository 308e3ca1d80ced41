"""Every write to the sandbox's keys, and the credits it moves between a key and its account.

Each function runs inside one IMMEDIATE transaction that the Store opens around it, so
concurrent writers (requests of one server, or several processes sharing a file) are
serialised: a check (the balance, the key cap, the key still there) and the write it guards
see the same state, and balance + allocations is conserved exactly. Money is Decimal, stored
as text.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from decimal import Decimal
from typing import Any

KEY_COLUMNS = (
    "key, user_id, name, expires_at, allocated_ammount, used_ammount, limit_type, "
    "model_whitelist, ip_whitelist, is_active, enabled_thinking, created_at, last_used"
)


class InsufficientBalance(Exception):
    def __init__(self, needed: Decimal, balance: Decimal) -> None:
        super().__init__(f"Insufficient Balance: needs {needed}, account has {balance}")


class KeyCapReached(Exception):
    def __init__(self, cap: int) -> None:
        super().__init__("Exceeded proxy key limit for your tier")  # proxy-create.mdx, 403
        self.cap = cap


class KeyGone(Exception):
    """The key does not exist (any more): removed by a request that went first."""

    def __init__(self) -> None:
        super().__init__("Proxy key not found")


def credit_change(old: Decimal, new: Decimal, used: Decimal) -> Decimal:
    """The account's balance change when an allocation goes from `old` to `new`."""
    if new >= old:
        return -(new - old)
    return min(old - new, max(old - used, Decimal(0)))


def unused(allocated: Decimal, used: Decimal) -> Decimal:
    """What deleting a key returns to its account: the unused part of its allocation."""
    return max(allocated - used, Decimal(0))


def new_key_value() -> str:
    return "ek-proxy-" + secrets.token_hex(16)  # 128 random bits: unguessable


def insert(db: sqlite3.Connection, key: dict[str, Any]) -> None:
    row = (
        key["key"],
        key["user_id"],
        key["name"],
        key["expires_at"],
        str(key["allocated_ammount"]),
        str(key["used_ammount"]),
        key["limit_type"],
        json.dumps(key["model_whitelist"]),
        json.dumps(key["ip_whitelist"]),
        int(key["is_active"]),
        int(key["enabled_thinking"]),
        key["created_at"],
        key["last_used"],
    )
    db.execute(f"INSERT INTO keys ({KEY_COLUMNS}) VALUES ({','.join('?' * 13)})", row)


def update(db: sqlite3.Connection, key: str, fields: dict[str, Any]) -> Decimal:
    """Replace a key's mutable fields; raising the allocation debits the difference, lowering
    it refunds the unused part only. Returns the balance change."""
    allocated, used, user_id = _money_of(db, key)
    change = credit_change(allocated, fields["allocated_ammount"], used)
    _credit(db, user_id, change)
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
    return change


def create(db: sqlite3.Connection, user_id: str, fields: dict[str, Any], now: int) -> str:
    """A new key debited from the account (KeyCapReached, InsufficientBalance: nothing made)."""
    count, cap = db.execute(
        "SELECT (SELECT COUNT(*) FROM keys WHERE user_id = ?), key_cap FROM accounts WHERE user_id = ?",
        (user_id, user_id),
    ).fetchone()
    if count >= cap:
        raise KeyCapReached(cap)
    _credit(db, user_id, -fields["allocated_ammount"])
    value = new_key_value()
    defaults = {"used_ammount": Decimal(0), "is_active": True, "enabled_thinking": False}
    new = {**defaults, **fields, "key": value, "user_id": user_id, "created_at": now, "last_used": None}
    insert(db, {**new, "limit_type": "daily"})  # create takes no limit_type
    return value


def toggle(db: sqlite3.Connection, key: str) -> bool:
    """Flip is_active; the allocation stays with the key. Returns the new status."""
    if db.execute("UPDATE keys SET is_active = 1 - is_active WHERE key = ?", (key,)).rowcount == 0:
        raise KeyGone  # (no RETURNING: SQLite before 3.35 is still about)
    (status,) = db.execute("SELECT is_active FROM keys WHERE key = ?", (key,)).fetchone()
    return bool(status)


def remove(db: sqlite3.Connection, key: str) -> Decimal:
    """Delete a key and refund its unused allocation. Returns the refund."""
    allocated, used, user_id = _money_of(db, key)
    db.execute("DELETE FROM keys WHERE key = ?", (key,))
    refund = unused(allocated, used)
    _credit(db, user_id, refund)
    return refund


def remove_all(db: sqlite3.Connection, user_id: str) -> Decimal:
    """Delete every key of an account and refund each one's unused part. Returns the total."""
    rows = db.execute("SELECT allocated_ammount, used_ammount FROM keys WHERE user_id = ?", (user_id,))
    refund = sum((unused(Decimal(a), Decimal(u)) for a, u in rows.fetchall()), Decimal(0))
    db.execute("DELETE FROM keys WHERE user_id = ?", (user_id,))
    _credit(db, user_id, refund)
    return refund


def _money_of(db: sqlite3.Connection, key: str) -> tuple[Decimal, Decimal, str]:
    row = db.execute("SELECT allocated_ammount, used_ammount, user_id FROM keys WHERE key = ?", (key,))
    found = row.fetchone()
    if found is None:
        raise KeyGone
    return Decimal(found[0]), Decimal(found[1]), str(found[2])


def _credit(db: sqlite3.Connection, user_id: str, change: Decimal) -> None:
    """Add `change` (negative: a debit) to the balance; InsufficientBalance if it would go below 0."""
    (text,) = db.execute("SELECT balance FROM accounts WHERE user_id = ?", (user_id,)).fetchone()
    balance = Decimal(text)
    if balance + change < 0:
        raise InsufficientBalance(-change, balance)
    db.execute("UPDATE accounts SET balance = ? WHERE user_id = ?", (str(balance + change), user_id))
