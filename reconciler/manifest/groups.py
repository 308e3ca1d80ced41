"""`groups:`: teams' groups of keys, each with defaults for its keys (before the manifest's), a
policy whose rules replace the account's of the same name for its keys, and a budget for its
keys in each account. A key joins one with `group: NAME`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.core.policy import Group
from reconciler.manifest import policy
from reconciler.manifest.diagnostics import WARNING, Diagnostic
from reconciler.manifest.fileload import FileLoader, Setting
from reconciler.manifest.keycontext import GroupFrame


def read(setting: Setting | None) -> dict[str, GroupFrame]:
    """The declared groups, by name (their parts the schema found wrong left out: said)."""
    if setting is None or not isinstance(setting.value, dict):
        return {}
    owner = setting.owner
    return {str(name): _group(str(name), raw, owner) for name, raw in setting.value.items()}


def unjoined(frames: Mapping[str, GroupFrame], loaders: Sequence[FileLoader]) -> list[Diagnostic]:
    """A warning on each declared group that no key (nor file) joins: its defaults, policy and
    budget hold for nothing, which a misspelt or forgotten `group:` leaves unsaid."""
    if not frames:
        return []
    named = set()
    for loader in loaders:
        keys = loader.data.get("keys")
        for raw in (loader.data, *(keys if isinstance(keys, list) else ())):
            if isinstance(raw, dict) and isinstance(raw.get("group"), str):
                named.add(raw["group"])
    found = []
    for name in (name for name in frames if name not in named):
        frame = frames[name]
        where = frame.owner.location(("groups", name), key=True)
        parts = {"defaults": frame.defaults, "policy": frame.group.policy, "budget": frame.group.budget}
        stated = ", ".join(part for part, value in parts.items() if value)
        holds = f" (its {stated})" if stated else ""
        message = (
            f"group {name} has no keys: no key or file says group: {name}, "
            f"so what it states{holds} holds for nothing"
        )
        found.append(Diagnostic(where.file, where.line, where.col, f"groups.{name}", message, WARNING))
    return found


def _group(name: str, raw: Any, owner: FileLoader) -> GroupFrame:
    own = raw if isinstance(raw, dict) and ("groups", name) not in owner.bad_paths else {}
    at = ("groups", name)
    rules = policy.read_policy(
        own.get("policy"), (*at, "policy"), owner.bad_paths, owner.report, owner.location
    )
    budget = policy.read_budget(own.get("budget"), (*at, "budget"), owner.bad_paths, owner.location)
    defaults = own.get("defaults")
    return GroupFrame(Group(name, rules, budget), owner, defaults if isinstance(defaults, dict) else {})
