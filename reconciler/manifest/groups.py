"""`groups:`: teams' groups of keys, each with defaults for its keys (before the manifest's), a
policy whose rules replace the account's of the same name for its keys, and a budget for its
keys in each account. A key joins one with `group: NAME`."""

from __future__ import annotations

from typing import Any

from reconciler.core.policy import Group
from reconciler.manifest import policy
from reconciler.manifest.fileload import FileLoader, Setting
from reconciler.manifest.keycontext import GroupFrame


def read(setting: Setting | None) -> dict[str, GroupFrame]:
    """The declared groups, by name (their parts the schema found wrong left out: said)."""
    if setting is None or not isinstance(setting.value, dict):
        return {}
    owner = setting.owner
    return {str(name): _group(str(name), raw, owner) for name, raw in setting.value.items()}


def _group(name: str, raw: Any, owner: FileLoader) -> GroupFrame:
    own = raw if isinstance(raw, dict) and ("groups", name) not in owner.bad_paths else {}
    at = ("groups", name)
    rules = policy.read_policy(
        own.get("policy"), (*at, "policy"), owner.bad_paths, owner.report, owner.location
    )
    budget = policy.read_budget(own.get("budget"), (*at, "budget"), owner.bad_paths, owner.location)
    defaults = own.get("defaults")
    return GroupFrame(Group(name, rules, budget), owner, defaults if isinstance(defaults, dict) else {})
