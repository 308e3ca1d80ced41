"""The sandbox's state in SQLite: accounts and keys, money as exact decimal text.

Every write is one IMMEDIATE transaction (the SQL is in `ledger`), so concurrent writes
(from one server or several processes sharing a file) are serialised and credits are
conserved exactly.

A file database is in WAL mode with `synchronous=NORMAL`: a commit is on disk for every other
process at once and survives the sandbox being killed; only an operating-system crash may lose
the last ones. With SQLite's default (FULL) every write waited for an fsync inside the server's
one event loop, so every other request waited too: a 500-key apply spent half its time there.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from reconciler.sandbox import ledger
from reconciler.sandbox.ledger import KEY_COLUMNS as _KEY_COLUMNS
from reconciler.sandbox.ledger import InsufficientBalance, KeyCapReached, KeyGone, credit_change
from reconciler.sandbox.seed import DEFAULT_TIER, TIERS, Seed

__all__ = ["InsufficientBalance", "KeyCapReached", "KeyGone", "Store", "credit_change"]

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS accounts (
    user_id TEXT PRIMARY KEY,
    api_key TEXT UNIQUE NOT NULL,
    balance TEXT NOT NULL,
    per_key_cap TEXT NOT NULL,
    tier TEXT NOT NULL DEFAULT '{DEFAULT_TIER}',
    key_cap INTEGER NOT NULL DEFAULT {TIERS[DEFAULT_TIER]},
    created_for TEXT
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
CREATE INDEX IF NOT EXISTS keys_by_user ON keys (user_id);
"""
# Columns added since the first release: a sandbox.db made before them gains them on open.
_ADDED_COLUMNS = {
    "tier": f"TEXT NOT NULL DEFAULT '{DEFAULT_TIER}'",
    "key_cap": f"INTEGER NOT NULL DEFAULT {TIERS[DEFAULT_TIER]}",
    "created_for": "TEXT",  # the manifest's account name it was made for on first use (else NULL)
}


def _private(path: str) -> None:
    """A new database made readable by its owner alone: it holds every sandbox key (SQLite gives
    its -wal and -shm files the database's mode). One already there keeps its mode; a path that
    cannot be opened is left for SQLite to refuse in its own words. A link is followed, as SQLite
    follows it: a link to no file yet is made its target, 0600 too (O_EXCL refuses the link itself,
    and SQLite then made the target with the umask's mode, 0644)."""
    with contextlib.suppress(OSError):
        os.close(os.open(os.path.realpath(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


class Store:
    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        if path != ":memory:":
            _private(path)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        # closed when the store goes, or at the latest at exit (its WAL checkpointed and removed),
        # never left to a collection that a command's exit skips (`cli.main.entry`)
        weakref.finalize(self, self.db.close)
        self.db.row_factory = sqlite3.Row
        self._writing = threading.Lock()  # one transaction at a time on this connection
        if path != ":memory:":
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")  # see the module's docstring
        self.db.executescript(SCHEMA)
        self._add_new_columns()
        self.db.execute("CREATE UNIQUE INDEX IF NOT EXISTS accounts_by_name ON accounts (created_for)")

    def _add_new_columns(self) -> None:
        with self.transaction() as db:
            have = {row["name"] for row in db.execute("PRAGMA table_info(accounts)")}
            for name, declaration in _ADDED_COLUMNS.items():
                if name not in have:
                    db.execute(f"ALTER TABLE accounts ADD COLUMN {name} {declaration}")

    @property
    def is_empty(self) -> bool:
        count: int = self.db.execute("SELECT COUNT(*) FROM accounts").fetchone()[0]
        return count == 0

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._writing:
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
                _insert_account(db, a)
            for k in seed.keys:
                ledger.insert(db, k)

    def add_missing(self, account: dict[str, Any], keys: list[dict[str, Any]]) -> None:
        """A seed's account and its keys, unless the store has it (a database made before its
        seed named it). sqlite3.IntegrityError: one of its keys is another account's."""
        with self.transaction() as db:
            found = db.execute("SELECT 1 FROM accounts WHERE user_id = ?", (account["user_id"],))
            if found.fetchone() is None:
                _insert_account(db, account)
                for k in keys:
                    ledger.insert(db, k)

    def account_for(self, name: str, template: dict[str, Any]) -> str:
        """The API key of the account made for the name `name`, made now (from `template`: its
        balance, per_key_cap, tier, key_cap) if it is the name's first use: in one transaction,
        so that processes sharing the file make one."""
        with self.transaction() as db:
            row = db.execute("SELECT api_key FROM accounts WHERE created_for = ?", (name,)).fetchone()
            if row is not None:
                return str(row[0])
            new = {**template, "user_id": "user_" + secrets.token_hex(8)}
            new["api_key"] = "ek-sandbox-" + secrets.token_hex(16)  # unguessable, as a real key
            _insert_account(db, new, created_for=name)
            return str(new["api_key"])

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
        return _select_key(self.db, key)

    def count_of(self, user_id: str) -> int:
        """How many keys the account holds (without reading them)."""
        row = self.db.execute("SELECT COUNT(*) FROM keys WHERE user_id = ?", (user_id,)).fetchone()
        return int(row[0])

    def keys_of(self, user_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute(
            f"SELECT {_KEY_COLUMNS} FROM keys WHERE user_id = ? ORDER BY created_at, key",
            (user_id,),
        )
        return [_key(r) for r in rows]

    # --- writes: one transaction each (see ledger) -------------------------------------------

    def update(self, key: str, fields: dict[str, Any]) -> Decimal:
        """Replace a key's mutable fields and move credits; returns the balance change.

        Raising an allocation debits the difference (InsufficientBalance if the balance
        cannot cover it, and nothing changes); lowering it refunds the unused part only:
        min(old - new, max(old - used, 0)).
        """
        with self.transaction() as db:
            return ledger.update(db, key, fields)

    def create(self, user_id: str, fields: dict[str, Any], now: int) -> dict[str, Any]:
        """A new key, its allocation debited (KeyCapReached, InsufficientBalance: none made)."""
        with self.transaction() as db:
            found = _select_key(db, ledger.create(db, user_id, fields, now))
        assert found is not None
        return found

    def toggle(self, key: str) -> bool:
        with self.transaction() as db:
            return ledger.toggle(db, key)

    def remove(self, key: str) -> Decimal:
        with self.transaction() as db:
            return ledger.remove(db, key)

    def remove_all(self, user_id: str) -> Decimal:
        with self.transaction() as db:
            return ledger.remove_all(db, user_id)


def _insert_account(db: sqlite3.Connection, a: dict[str, Any], created_for: str | None = None) -> None:
    db.execute(
        "INSERT INTO accounts (user_id, api_key, balance, per_key_cap, tier, key_cap, created_for) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            a["user_id"],
            a["api_key"],
            str(a["balance"]),
            str(a["per_key_cap"]),
            a["tier"],
            a["key_cap"],
            created_for,
        ),
    )


def _select_key(db: sqlite3.Connection, key: str) -> dict[str, Any] | None:
    row = db.execute(f"SELECT {_KEY_COLUMNS} FROM keys WHERE key = ?", (key,)).fetchone()
    return _key(row) if row else None


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
