"""Where the API is: a real account (its key and base URL from the environment) or the
in-process sandbox whose account lives beside the manifest."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from reconciler.api.client import DEFAULT_BASE_URL, Client, RetryPolicy
from reconciler.core.accounts import DEFAULT_KEY_VAR, IMPLICIT, Account
from reconciler.engine.settings import Connection
from reconciler.state import paths as statepaths

SANDBOX_DB = statepaths.SANDBOX_DB  # beside the manifest, as its state is (an absolute path is kept)


@dataclass(frozen=True)
class Target:
    """Where the API is and how it is asked: a base URL and key, for the sandbox an in-process
    transport, and the connection's parallelism and retries."""

    api_key: str | None
    base_url: str
    transport: httpx.AsyncBaseTransport | None = None
    connection: Connection = field(default_factory=Connection)

    key_var: str = DEFAULT_KEY_VAR  # where the key came from: named when it is missing or refused

    @classmethod
    def of(cls, connection: Connection, manifests: Sequence[str] = (), account: Account = IMPLICIT) -> Target:
        """`manifests`: whose run it is; the in-process sandbox's account is beside them.
        `account`: which of the manifest's accounts (its key variable, its base URL)."""
        if connection.sandbox:
            return _sandbox(connection, manifests, account)
        url = (
            account.base_url
            or connection.base_url
            or os.environ.get("ELECTRONHUB_BASE_URL")
            or DEFAULT_BASE_URL
        )
        return cls(os.environ.get(account.key_var), url, connection=connection, key_var=account.key_var)

    @property
    def is_sandbox(self) -> bool:
        return self.transport is not None

    def client(self) -> Client:
        retry = RetryPolicy(attempts=self.connection.max_attempts, timeout=self.connection.timeout)
        return Client(
            self.api_key or "",
            self.base_url,
            transport=self.transport,
            parallelism=self.connection.parallelism,
            retry=retry,
            key_var=self.key_var,
        )


def _sandbox(connection: Connection, manifests: Sequence[str], account: Account) -> Target:
    # Imported here on purpose, not to dodge a cycle: the sandbox brings starlette, which only a
    # --sandbox run should pay for at start-up (`ehkeys plan` against the service must not).
    from reconciler.sandbox import BASE_URL, Sandbox, seeds

    db = statepaths.base(manifests) / SANDBOX_DB
    box = Sandbox.open(db, seeds.load(connection.sandbox_seed), reset=connection.sandbox_reset)
    return Target(box.api_key, BASE_URL, box.transport(), connection)
