"""Handing over a key's secret: `apply --secrets-out FILE` and `ehkeys reveal`.

A created key's value exists only in the create answer and the account's list. ehkeys never
writes it to a plan, the journal, the state, logs, Markdown or the job summary: only to a
file opened 0600 that git would not track, or to a terminal. The lines are `NAME=value`,
the EHKEYS_PROXY_KEYS format, NAME derived from the key's manifest address (`engine.reveal`
reads them back from the account).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

from reconciler.core.accounts import IMPLICIT, Account
from reconciler.core.changes import Change
from reconciler.core.errors import UsageError
from reconciler.core.secrets import ProxyKey
from reconciler.core.sinks import NOT_AN_ENV_FILE, not_an_env_file
from reconciler.delivery import tracking
from reconciler.manifest.addresses import variable


class SecretsFile:
    """Appends `NAME=value` lines to a 0600 file; checked before any request is sent."""

    def __init__(self, path: str, flag: str = "--secrets-out") -> None:
        self.path = Path(path)
        self.flag = flag  # the option that named the file, as messages name it
        refuse_not_a_file(self.path, flag)
        refuse_tracked(self.path, flag)
        self._open().close()  # created (0600) and writable, before anything is sent

    def _open(self) -> TextIO:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except FileNotFoundError as exc:
            raise UsageError(f"{self.flag} {self.path}: no such directory {self.path.parent}") from exc
        except OSError as exc:
            raise UsageError(f"{self.flag} {self.path}: cannot write ({exc.strerror})") from exc
        os.fchmod(fd, 0o600)
        return os.fdopen(fd, "a", encoding="utf-8")

    def add(self, change: Change, key: ProxyKey, account: Account = IMPLICIT) -> None:
        """`account`: the key's, whose name is part of its address where the manifest declares accounts."""
        self.add_line(f"{variable(account.address(change.address))}={key.reveal()}")

    def add_line(self, line: str) -> None:
        with self._open() as handle:
            handle.write(line + "\n")


def refuse_not_a_file(path: Path, flag: str) -> None:
    """Only a regular file: /dev/stdout or a pipe would put the secret in a log; and no manifest,
    state or plan (the line would break it, and it is committed); nor a path that leads nowhere
    (a loop of links)."""
    stuck = tracking.unfollowed(path)
    if stuck:
        raise UsageError(f"{flag} {path}: {stuck}")
    if tracking.not_a_file(path):
        raise UsageError(f"{flag} {path}: {tracking.NOT_A_FILE}")
    if not_an_env_file(path.resolve()):
        raise UsageError(f"{flag} {path}: {NOT_AN_ENV_FILE}")


def refuse_tracked(path: Path, flag: str) -> None:
    """A secret must not land in a file that `git add` would pick up, nor where git cannot say."""
    refused = tracking.why(path)
    if refused:
        raise UsageError(f"{flag} {path}: {refused}")
