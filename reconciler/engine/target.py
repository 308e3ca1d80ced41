"""Where the API is: a real account (its key and base URL from the environment) or the
in-process sandbox whose accounts live beside the manifest."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from reconciler.api.client import Client, RetryPolicy
from reconciler.core.accounts import DEFAULT_KEY_VAR, Account, Endpoint
from reconciler.core.errors import ConfigError
from reconciler.core.hosts import run_url, same_api
from reconciler.core.secrets import fingerprint
from reconciler.engine.settings import Connection
from reconciler.state import paths as statepaths

if TYPE_CHECKING:
    from reconciler.sandbox.seed import Seed

SANDBOX_DB = statepaths.SANDBOX_DB  # beside the manifest, as its state is (an absolute path is kept)


@dataclass(frozen=True)
class Target:
    """Where the API is and how it is asked: a base URL and key, for the sandbox an in-process
    transport, and the connection's parallelism and retries."""

    api_key: str | None = field(repr=False)  # a secret: never in a repr
    base_url: str
    transport: httpx.AsyncBaseTransport | None = None
    connection: Connection = field(default_factory=Connection)
    account: Account = field(default_factory=Account)  # whose key it is (its variable names it)
    unusable: str = ""  # why it is not used: another account's key, or an unset one said better
    sandbox: str = ""  # the sandbox serving the account, as messages name it ('' for the API)

    @classmethod
    def of(
        cls, connection: Connection, manifests: Sequence[str] = (), account: Account | None = None
    ) -> Target:
        """Where `account` (default: the one of a manifest without `accounts:`) is: its key from
        its variable, its base URL from the account, --base-url, $ELECTRONHUB_BASE_URL or the
        service's; with --sandbox, the sandbox account serving its name, beside `manifests`."""
        return cls.of_each(connection, manifests, (account or Account(),))[0]

    @classmethod
    def of_each(
        cls,
        connection: Connection,
        manifests: Sequence[str],
        accounts: Sequence[Account],
        others: Sequence[Account] = (),
    ) -> tuple[Target, ...]:
        """`of` for each account, in order. With --sandbox one sandbox serves them all, opened (and
        with --sandbox-reset refilled) once: call this once per run rather than `of` per account.
        An account whose key is another's (of the run, or of `others`: the manifest's accounts
        the run leaves out) for the same API is not used (`unusable`)."""
        if connection.sandbox:
            return _sandbox(connection, manifests, accounts)
        url = run_url(connection.base_url, os.environ)
        found, every = (
            [
                cls(os.environ.get(a.key_var), a.base_url or url, connection=connection, account=a)
                for a in group
            ]
            for group in (accounts, [*accounts, *(o for o in others if o not in accounts)])
        )
        return tuple(replace(t, unusable=_shared(t, every) or _unset(t)) for t in found)

    @property
    def endpoint(self) -> Endpoint:
        """The API and account key, as a saved plan records them (the key's fingerprint only)."""
        key = (self.api_key or "").strip()  # as the client sends it
        return Endpoint(same_api(self.base_url), fingerprint(key) if key else "")

    @property
    def is_sandbox(self) -> bool:
        return self.transport is not None

    def client(self) -> Client:
        if self.unusable:
            raise ConfigError(self.unusable)
        retry = RetryPolicy(attempts=self.connection.max_attempts, timeout=self.connection.timeout)
        return Client(
            self.api_key or "",
            self.base_url,
            transport=self.transport,
            parallelism=self.connection.parallelism,
            retry=retry,
            key_var=self.account.key_var,
            account=self.account.name if self.account.declared else "",
            sandbox=self.sandbox,
        )


def _unset(target: Target) -> str:
    """An account's variable unset while ELECTRONHUB_API_KEY is set (a manifest that gained
    `accounts:`, or the action's `api-key` input): that key is not this account's, said so."""
    var = target.account.key_var
    if target.api_key or var == DEFAULT_KEY_VAR or not os.environ.get(DEFAULT_KEY_VAR):
        return ""
    return (
        f"{var} is not set: the manifest declares accounts, and account {target.account.name}'s key is "
        f"read from {var} (its api_key), not from {DEFAULT_KEY_VAR}, which is set; set {var} "
        "(in a workflow: the step's env:, one secret each)"
    )


def _shared(target: Target, targets: Sequence[Target]) -> str:
    """Why `target` must not be used: another account's variable holds the same key for the same
    API (one of them holds another account's key; which one, ehkeys cannot tell), or ''."""
    if not target.api_key:
        return ""
    others = [
        t.account
        for t in targets
        if t.account != target.account and t.api_key == target.api_key and _url(t) == _url(target)
    ]
    if not others:
        return ""
    var = target.account.key_var
    readers = [a.name for a in others if a.key_var == var]
    if readers:  # one variable, two accounts (base URLs the manifest writes apart, one API at run time)
        return (
            f"account {', '.join(readers)} reads {var} too, for the same API: two accounts on one "
            "account key are one account, whose keys would be created, or pruned, in the other; give "
            "each account its own variable"
        )
    return (
        f"{var} holds the same account key as {', '.join(a.key_var or '' for a in others)}: one of them "
        "holds another account's key, whose keys would be created, or pruned, in the wrong account; "
        "each account needs its own key"
    )


def _url(target: Target) -> str:
    return target.base_url.rstrip("/")


def sandbox_variables(connection: Connection) -> dict[str, str]:
    """What a manifest's ${VAR} reads in a --sandbox run where the environment sets none: the
    seed's keys' `variable:` (keys.example.yaml's ${EH_SUPPORT_KEY} is the demo's support key,
    not written in the manifest); none without --sandbox."""
    return _seed(connection.sandbox_seed).variables if connection.sandbox else {}


_READ: dict[tuple[str | None, str], Seed] = {}  # the last seed read, by its text: read once a run


def _seed(path: str | None) -> Seed:
    """The seed of a --sandbox run, read once for its variables and its sandbox (a seed of 2,000
    keys takes most of a second to read); read again once its text changed."""
    from reconciler.sandbox import seeds  # only a --sandbox run pays for the sandbox (`_sandbox`)

    try:
        text = Path(path).read_bytes() if path is not None and Path(path).is_file() else None
    except OSError:
        text = None
    if path is not None and text is None:
        return seeds.load(path)  # not a file: it says why
    stamp = (path and os.path.abspath(path), hashlib.sha256(text or b"").hexdigest())
    if stamp not in _READ:
        _READ.clear()
        _READ[stamp] = seeds.load(path)
    return _READ[stamp]


def _sandbox(
    connection: Connection, manifests: Sequence[str], accounts: Sequence[Account]
) -> tuple[Target, ...]:
    # Imported here on purpose, not to dodge a cycle: the sandbox brings starlette, which only a
    # --sandbox run should pay for at start-up (`ehkeys plan` against the service must not).
    from reconciler.sandbox import BASE_URL, Sandbox

    db = statepaths.base(manifests) / SANDBOX_DB
    box = Sandbox.open(db, _seed(connection.sandbox_seed), reset=connection.sandbox_reset)
    return tuple(
        Target(
            box.api_key_for(a.name),
            BASE_URL,
            box.transport(),
            connection,
            a,
            sandbox=_said(db, connection, a, box.filled),
        )
        for a in accounts
    )


def _said(db: Path, connection: Connection, account: Account, filled: bool) -> str:
    """The sandbox account serving `account`, as a message names it: its database, and the seed
    that filled it, when this run did (`filled`); a database already there was filled by a seed
    an earlier run named, which this run's --sandbox-seed may not be."""
    whose = f"serving account {account.name}" if account.declared else "serving the manifest"
    if not filled:
        return f"the sandbox account {whose}, in {db}, which an earlier run filled"
    seed = f"the seed {connection.sandbox_seed}" if connection.sandbox_seed else "the bundled seed"
    return f"the sandbox account {whose}, in {db} from {seed}"
