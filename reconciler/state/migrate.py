"""A state where earlier versions kept it, moved into the manifest's own folder on first use.

Earlier versions kept one state for every manifest of a folder: `.ehkeys/state.json`
(sandbox runs `.ehkeys/sandbox/state.json`). On the first run after the upgrade, while the
manifest's own folder (`statepaths.default_state`) holds no state yet, that state moves
there, its journal and `drift-seen.json` with it, and ehkeys says so: when the state names
no manifest (or this one), and this is the only manifest in its folder. Beside other
manifests nobody can tell whose keys it binds (two of them may both have `id: backend`),
so ehkeys refuses, and says which command moves it by hand.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from reconciler.core.accounts import DEFAULT_KEY_VAR
from reconciler.core.errors import StateError
from reconciler.core.jsonvalue import parse_json
from reconciler.state import paths as statepaths
from reconciler.state.files import atomic_write

MOVED = (statepaths.STATE_FILE, statepaths.JOURNAL_FILE, statepaths.SEEN_FILE)
_EVENTS = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser where PyYAML has it
MAX_PEEK = 1024 * 1024  # a YAML file bigger than this beside the manifest counts as a manifest


def adopt_legacy(manifests: Sequence[str], sandbox: bool) -> None:
    """Move the folder's state of the old layout into this manifest's, or refuse (StateError)."""
    new = statepaths.default_state(manifests, sandbox)
    old = statepaths.legacy_state(manifests, sandbox)
    if _holds_state(new.parent) or not _holds_state(old.parent) or not _legacy(old, manifests):
        return
    others = other_manifests(manifests)
    if others:
        raise StateError(_refusal(old, new, others, statepaths.base(manifests)))
    _move(old, new, "each manifest now keeps its own state")


def adopt_undeclared(manifests: Sequence[str], accounts: Sequence[str], former: str | None = None) -> None:
    """The state a manifest kept before it declared accounts (`.ehkeys/<name>/state.json`) moved
    into the folder of the account it was kept for, on the first run after: its one account, or
    `former` (the account whose key $ELECTRONHUB_API_KEY holds). Else refused (StateError):
    nobody can tell which account's keys it binds. Left alone, every key it binds would be
    planned anew (a key renamed since created twice) and the keys it remembers protected
    forgotten. Sandbox runs keep theirs: a declared account has a sandbox account of its own."""
    old = statepaths.default_state(manifests, False)
    new = {name: statepaths.default_state(manifests, False, name) for name in accounts}
    if not _holds_state(old.parent) or any(_holds_state(n.parent) for n in new.values()):
        return
    if not _legacy(old, manifests):
        return
    owner = accounts[0] if len(accounts) == 1 else former
    if owner is not None:
        _move(old, new[owner], f"the manifest now declares accounts, and it was {owner}'s", manifests)
        return
    raise StateError(
        f"{old} is the state {statepaths.owner(manifests)} kept before it declared accounts "
        f"({', '.join(accounts)}), and ehkeys cannot tell which account's keys it binds; nothing was "
        f"sent. Set {DEFAULT_KEY_VAR} to the account key it was kept with (as before) and run again: "
        "ehkeys moves it into that account's folder. Or remove it to start afresh (keys are then "
        "found again by proxy_key or name; what it remembers protected is forgotten)"
    )


def _move(old: Path, new: Path, why: str, manifests: Sequence[str] = ()) -> None:
    """`manifests`: the state names its manifest from its folder: named again from the new one."""
    try:
        new.parent.mkdir(parents=True, exist_ok=True)
        for name in MOVED:
            if (old.parent / name).exists():
                os.replace(old.parent / name, new.parent / name)
        if manifests:
            _renamed(new, statepaths.owner(manifests))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise StateError(f"{old}: cannot move it to {new.parent}/ ({reason}): {_by_hand(old, new)}") from exc
    print(
        f"ehkeys: notice: moved the state {old} (with its journal) to {new.parent}/: {why}", file=sys.stderr
    )


def _renamed(state: Path, manifest: Path) -> None:
    try:
        data = parse_json(state.read_text(encoding="utf-8"))
    except ValueError:
        return  # unreadable: reported where it is by the state's own checks
    if isinstance(data, dict) and isinstance(data.get("manifest"), str):
        data["manifest"] = statepaths.recorded_name(state, manifest)
        atomic_write(state, json.dumps(data, indent=2, sort_keys=True) + "\n")


def _files(old: Path) -> str:
    return " ".join(str(old.parent / name) for name in MOVED if (old.parent / name).exists())


def other_manifests(manifests: Sequence[str]) -> list[Path]:
    """The manifests beside this one that are not part of this run (none for a directory)."""
    if statepaths.owner(manifests).is_dir():
        return []
    folder = statepaths.base(manifests)
    given = {Path(m).resolve() for m in manifests}
    found = sorted(p for p in folder.glob("*.y*ml") if p.suffix in (".yaml", ".yml") and p.is_file())
    return [p for p in found if not p.name.startswith(".") and p.resolve() not in given and _a_manifest(p)]


def _holds_state(folder: Path) -> bool:
    return any((folder / name).exists() for name in MOVED[:2])


def _legacy(old: Path, manifests: Sequence[str]) -> bool:
    """A state that names no manifest, or this one (another's is no legacy state: left alone)."""
    try:
        recorded = parse_json(old.read_text(encoding="utf-8")).get("manifest")
    except (OSError, ValueError, AttributeError):
        return True  # unreadable: moved, and then reported where it is by the state's own checks
    owner = statepaths.owner(manifests)
    return not isinstance(recorded, str) or statepaths.same_manifest(old, recorded, owner)


def _a_manifest(path: Path) -> bool:
    """A YAML file with `version` and `keys` at its top (a seed, a workflow are not)."""
    try:
        if path.stat().st_size > MAX_PEEK:
            return True
        return has_top_keys(path.read_text(encoding="utf-8"), {"version", "keys"})
    except (OSError, ValueError, yaml.YAMLError):
        return False


def has_top_keys(text: str, wanted: set[str]) -> bool:
    """Whether the YAML document's top mapping has every `wanted` key, read as libyaml's events
    and stopped once they are seen (`version:` comes first in a manifest): a plan that asks
    which files beside it are manifests never builds a large seed or manifest (PyYAML's
    safe_load took 0.7 s for a 2,000-key seed, on every first plan of a new root)."""
    depth, key_next, seen = 0, False, set()
    for event in yaml.parse(text, Loader=_EVENTS):
        if isinstance(event, yaml.CollectionStartEvent):
            if depth == 0 and not isinstance(event, yaml.MappingStartEvent):
                return False  # a list or a scalar document: no manifest
            depth, key_next = depth + 1, depth == 0
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            key_next = depth == 1  # a value at the top ended: a key comes next
        elif depth == 1 and isinstance(event, yaml.ScalarEvent | yaml.AliasEvent):
            if key_next and isinstance(event, yaml.ScalarEvent):
                seen.add(event.value)
                if wanted <= seen:
                    return True
            key_next = not key_next
        if depth == 0 and isinstance(event, yaml.DocumentEndEvent):
            return False
    return False


def _refusal(old: Path, new: Path, others: list[Path], base: Path) -> str:
    names = ", ".join(str(p) for p in others[:5]) + (
        f" and {len(others) - 5} more" if len(others) > 5 else ""
    )
    return (
        f"{old} is the state earlier versions kept for every manifest in {base}/, and {names} may "
        "have keys in it too, so ehkeys cannot tell whose it is; nothing was sent. "
        f"Each manifest now has its own state: {_by_hand(old, new)}"
    )


def _by_hand(old: Path, new: Path) -> str:
    return (
        f"move it into the folder of the manifest whose keys it binds (`mkdir -p {new.parent} && mv "
        f"{_files(old)} {new.parent}/` for this one; another manifest then starts afresh and finds its keys "
        "again by proxy_key or name), or keep using it with --state "
        f"{old}"
    )
