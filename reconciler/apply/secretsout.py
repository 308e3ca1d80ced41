"""Handing over a key's secret: `apply --secrets-out FILE` and `ehkeys reveal`.

A created key's value exists only in the create answer and the account's list. ehkeys never
writes it to a plan, the journal, the state, logs, Markdown or the job summary: only to a
file opened 0600 that git would not track, or to a terminal. The lines are `NAME=value`,
the EHKEYS_PROXY_KEYS format, NAME derived from the key's manifest address (`engine.reveal`
reads them back from the account).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

from reconciler.core.accounts import IMPLICIT, Account
from reconciler.core.changes import Change
from reconciler.core.errors import UsageError
from reconciler.core.secrets import ProxyKey
from reconciler.core.sinks import NOT_AN_ENV_FILE, not_an_env_file
from reconciler.delivery import tracking
from reconciler.manifest.addresses import variable


class NotWritten(Exception):
    """Lines the file could not take (a full disk, a quota): nothing of them is in it."""


class SecretsFile:
    """Appends `NAME=value` lines to a 0600 file; checked before any request is sent."""

    def __init__(self, path: str, flag: str = "--secrets-out") -> None:
        self.path = Path(path)
        self.flag = flag  # the option that named the file, as messages name it
        self.unwritten: list[str] = []  # the addresses of the created keys the file could not take
        refuse_not_a_file(self.path, flag)
        refuse_tracked(self.path, flag)
        os.close(self._open())  # created (0600) and writable, before anything is sent

    def _open(self) -> int:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except FileNotFoundError as exc:
            raise UsageError(f"{self.flag} {self.path}: no such directory {self.path.parent}") from exc
        except OSError as exc:
            raise UsageError(f"{self.flag} {self.path}: cannot write ({exc.strerror})") from exc
        os.fchmod(fd, 0o600)
        return fd

    def add(self, change: Change, key: ProxyKey, account: Account = IMPLICIT) -> str:
        """`account`: the key's, whose name is part of its address where the manifest declares
        accounts. Why the file could not take it ('' when it did): the key is made, so its apply
        goes on, the value in the account only (`unwritten`)."""
        shown = account.address(change.address)
        try:
            self.add_lines([f"{variable(shown)}={key.reveal()}"])
        except NotWritten as exc:
            self.unwritten.append(shown)
            return f"{exc}: {shown}'s new value is not in it"
        return ""

    def took(self, shown: Sequence[str]) -> tuple[list[str], list[str]]:
        """These created keys (their addresses as shown): those the file took, those it did not."""
        return [a for a in shown if a not in self.unwritten], [a for a in shown if a in self.unwritten]

    def add_lines(self, lines: Sequence[str]) -> None:
        """Appended whole, or not at all: a write the disk refused part-way is cut off again,
        never leaving a line with half a value (NotWritten)."""
        data = "".join(line + "\n" for line in lines).encode()
        fd = self._open()
        try:
            start = os.fstat(fd).st_size
            try:
                while data:
                    data = data[os.write(fd, data) :]
                os.fsync(fd)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)
                raise NotWritten(
                    f"{self.flag} {self.path}: cannot write ({exc.strerror}); nothing was added to it"
                ) from None
        finally:
            os.close(fd)


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
    owner = path.stat().st_uid if path.exists() else os.geteuid()
    if owner != os.geteuid():  # appended to, it stays theirs: its owner may read it, whatever its mode
        raise UsageError(
            f"{flag} {path}: owned by another user (uid {owner}), who could read the secrets appended "
            "to it; write them to a file of your own (remove this one, or name another)"
        )


def refuse_tracked(path: Path, flag: str) -> None:
    """A secret must not land in a file that `git add` would pick up, nor where git cannot say."""
    refused = tracking.why(path)
    if refused:
        raise UsageError(f"{flag} {path}: {refused}")
