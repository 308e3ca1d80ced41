"""A manifest key's fields: each from the key itself, else its group's defaults, else the
manifest's (`Frame.defaults`), normalised by `rules.read`; each problem reported in the file
whose text holds the field."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from reconciler.core.keys import UPDATABLE
from reconciler.manifest import rules
from reconciler.manifest.diagnostics import NOTICE
from reconciler.manifest.keycontext import Frame, Given, GroupFrame, Path, Source

FIELDS = ("proxy_key", *UPDATABLE, "is_active", "rotate")
Defaults = tuple[tuple[Given, ...], dict[str, Given]]


class KeyFields:
    """Reads the fields of one file's keys. Where a field a key leaves out comes from is the
    same for every key of a group: found once a group, kept while the file's keys are built
    (it was looked up field by field in every key)."""

    def __init__(self, frame: Frame, env: Mapping[str, str], now: int | None, offline: bool) -> None:
        self.frame = frame
        self.env = env
        self.now = now
        self.offline = offline  # validate: an unset ${VAR} is a notice
        self.found: dict[str | None, Defaults] = {}  # by group name (None: no group)

    def defaults(self, group: GroupFrame | None) -> Defaults:
        """Where a field the key leaves out comes from, in order: its group's defaults, then the
        manifest's; and each field's first of them that gives it."""
        name = None if group is None else group.group.name
        if name not in self.found:
            mine: Given = (self.frame.owner, ("defaults",), self.frame.defaults)
            sources = (
                (mine,)
                if group is None
                else ((group.owner, ("groups", name, "defaults"), group.defaults), mine)
            )
            first = {field: given for given in reversed(sources) for field in FIELDS if field in given[2]}
            self.found[name] = (sources, first)
        return self.found[name]

    def read(
        self, owner: Source, at: Path, raw: Mapping[str, Any], first: dict[str, Given], cap: Decimal | None
    ) -> tuple[dict[str, Any], bool]:
        """The key's fields (its own in `owner` at `at`, else `first`'s), normalised; False when
        any is wrong (said)."""
        values: dict[str, Any] = {}
        ok = True
        for name in FIELDS:
            if name in raw:
                ok = self.field(owner, at, name, raw[name], values, cap) and ok
            elif name in first:
                source, where, given = first[name]
                ok = self.field(source, where, name, given[name], values, cap) and ok
        return values, ok

    def field(
        self, owner: Source, at: Path, name: str, value: Any, values: dict[str, Any], cap: Decimal | None
    ) -> bool:
        """The field `name` of the mapping at `at` normalised into `values`; False when it is
        wrong (and reported, in `owner`, the file whose text holds it)."""
        path = (*at, name)
        if path in owner.bad_paths:
            return False
        try:
            values[name], warnings = rules.read(name, value, self.env, cap, self.now)
        except rules.Unresolved as exc:
            if not self.offline:
                owner.report(path, str(exc))
                return False
            owner.report(path, f"{exc}: plan and apply need it", severity=NOTICE)
            return True
        except rules.FieldError as exc:
            for item, message in exc.problems:
                owner.report(path if item is None else (*path, item), message)
            return False
        for warning in warnings:
            owner.report(path, warning, warn=True)
        return True
