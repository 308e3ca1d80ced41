"""What a file's keys take from the manifest as a whole (`KeyContext`: its accounts, caps,
defaults, policies and groups, as `settings.resolve` found them) and what every key of one file
shares (`Frame`). `Source` is a file as these see it: its data, and where a path of it is."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from reconciler.core.keys import DesiredKey, Location
from reconciler.core.policy import NO_POLICY, Group, Policy

Path = tuple[Any, ...]


class Source(Protocol):
    """A file of the manifest (a `fileload.FileLoader`)."""

    bad_paths: set[Path]
    file: str

    @property
    def data(self) -> dict[str, Any]: ...

    def location(self, path: Path, *, key: bool = False) -> Location: ...

    def report(
        self, path: Path, message: str, *, key: bool = False, warn: bool = False, severity: str = ""
    ) -> None: ...


Given = tuple[Source, Path, Mapping[str, Any]]  # a file, a path in it, the fields given there


@dataclass(frozen=True)
class KeyContext:
    """What a file's keys take from the manifest as a whole."""

    accounts: Mapping[str, Decimal | None] | None = None  # declared names -> own per_key_cap; None: none
    where: str = ""  # where the accounts are declared, for messages
    cap: Decimal | None = None  # per_key_cap for a file that sets none (a directory manifest's)
    defaults: Source | None = None  # the file whose `defaults` apply (None: each file's own)
    unchecked: bool = False  # `accounts:` is not a mapping (said): keys' accounts go unchecked
    policies: Mapping[str, Policy] | None = None  # each account's policy, by name
    groups: Mapping[str, GroupFrame] | None = None  # the declared groups, by name; None: none
    deliveries: Mapping[str, Given] | None = None  # accounts.NAME.deliver, by account

    def policy_of(self, key: DesiredKey) -> Policy:
        """The rules a key keeps: its account's, its group's in place of the same-named ones."""
        rules = (self.policies or {}).get(key.account, NO_POLICY)
        group = (self.groups or {}).get(key.group or "")
        return rules.under(group.group.policy) if group is not None else rules


@dataclass(frozen=True)
class GroupFrame:
    """What a group gives its keys: its rules, and defaults before the manifest's."""

    group: Group
    owner: Source  # the file whose text holds groups.NAME
    defaults: Mapping[str, Any]


@dataclass(frozen=True)
class Frame:
    """What every key of one file shares."""

    context: KeyContext
    owner: Source  # whose defaults
    defaults: dict[str, Any]
    cap: Decimal | None  # for a key whose account sets no per_key_cap
