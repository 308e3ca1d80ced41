"""The state file's format, and the checks every record of it passes before anything uses it.

Format 4 added `manifest` (the manifest whose state it is, as a path from the state's folder)
and `protected` (fingerprint -> address of each key last applied with `protect: true`);
3 added `snapshots`, 2 `bindings`. Older files read as having none of what came later. The
sections of work under way (`rotations`, `deliveries`, `delivered`, `moves`) are written only
while there is some, so a state without any reads as it always did.

A record of the wrong shape (a binding that is no fingerprint, a snapshot amount that is no
decimal, a list that is text) is a StateError naming the file, the record and how to
recover, raised when the state is loaded: never an internal error halfway through a plan.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from reconciler.core.errors import StateError
from reconciler.core.jsonvalue import parse_json
from reconciler.core.pathnames import shown, undecodable
from reconciler.core.sinks import known_as
from reconciler.state import deliveries
from reconciler.state.deliveries import Delivered, Deliveries

FORMAT_VERSION = 4
WINDOWS = ("daily", "weekly", "monthly")  # what an apply sends, and so records
READABLE_VERSIONS = (1, 2, 3, 4)

Records = dict[str, dict[str, Any]]
Bindings = dict[str, str]
Snapshots = dict[str, dict[str, Any]]  # fingerprint -> the live key as last verified
Protected = dict[str, str]  # fingerprint -> the address that protected it
Rotations = dict[str, dict[str, Any]]  # address -> its rotation under way (`core.rotation.Rotating`)
Moves = dict[str, dict[str, Any]]  # address -> its move to other accounts under way (`check_move`)
V = TypeVar("V")

FIX = (
    "the file was edited or damaged: correct or delete that record (ehkeys then finds the key "
    "again by its proxy_key or name, and the next apply records it anew), or move the file aside "
    "to start afresh"
)


@dataclass
class Contents:
    """What a state holds: each map by fingerprint, but bindings (by manifest address)."""

    records: Records = field(default_factory=dict)
    bindings: Bindings = field(default_factory=dict)
    snapshots: Snapshots = field(default_factory=dict)
    protected: Protected = field(default_factory=dict)
    manifest: str | None = None
    account: str | None = None  # the manifest's account whose state it is, when it declares accounts
    rotations: Rotations = field(default_factory=dict)
    deliveries: Deliveries = field(default_factory=dict)  # address -> sink -> owed (`deliveries`)
    delivered: Delivered = field(default_factory=dict)  # address -> sinks its value reached
    moves: Moves = field(default_factory=dict)  # address -> its move under way, in the old account


def parse(text: str, where: str) -> Contents:
    """A state file's text; StateError naming `where` for anything that is not one."""
    try:
        data = parse_json(text)
        if not isinstance(data, dict) or data.get("format_version") not in READABLE_VERSIONS:
            raise ValueError("unknown format")
        if not isinstance(data["keys"], dict):
            raise ValueError("keys is not a mapping")
    except (ValueError, KeyError) as exc:
        raise StateError(f"{where}: not an ehkeys state file ({exc}); move it aside to start afresh") from exc

    def each(name: str, check: Callable[[Any, str], Any], fix: str = FIX) -> dict[str, Any]:
        return {k: check(v, f"{where}: {name}[{k}]") for k, v in _section(data, name, where, fix).items()}

    return Contents(
        each("keys", check_record),
        each("bindings", check_fingerprint),
        each("snapshots", check_snapshot),
        each("protected", _text),
        _name(data.get("manifest"), f"{where}: manifest"),
        _name(data.get("account"), f"{where}: account"),
        each("rotations", check_rotation),
        each("deliveries", _owed),
        each("delivered", _done),
        each("moves", lambda v, w: check_move(v, w, _MOVE_FIX), _MOVE_FIX),
    )


def dump(contents: Contents) -> str:
    payload: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "bindings": dict(sorted(contents.bindings.items())),
        "keys": dict(sorted(contents.records.items())),
        "snapshots": dict(sorted(contents.snapshots.items())),
        "protected": dict(sorted(contents.protected.items())),
    }
    if contents.manifest is not None:
        payload["manifest"] = contents.manifest
    if contents.account is not None:
        payload["account"] = contents.account
    if contents.rotations:  # only while a key is being rotated: other states read as before
        payload["rotations"] = dict(sorted(contents.rotations.items()))
    if contents.deliveries:  # only when some are owed: a state without any reads as it always did
        payload["deliveries"] = {a: dict(sorted(o.items())) for a, o in sorted(contents.deliveries.items())}
    if contents.delivered:  # only once a value was delivered: a state without reads as it always did
        payload["delivered"] = {a: sorted(s) for a, s in sorted(contents.delivered.items())}
    if contents.moves:  # only while a key moves to another account: other states read as before
        payload["moves"] = dict(sorted(contents.moves.items()))
    return json.dumps(payload, indent=2, sort_keys=True) + "\n"


def check_line(entry: Mapping[str, Any], where: str) -> None:
    """A journal line's fields that a replay uses; StateError naming the line when one is wrong."""
    _fields(entry, where, _LINE_FIELDS, _LINE_FIX)
    if isinstance(entry.get("fingerprint"), str):
        check_fingerprint(entry["fingerprint"], f"{where}: fingerprint", fix=_LINE_FIX)
    if "snapshot" in entry:
        check_snapshot(entry["snapshot"], f"{where}: snapshot", fix=_LINE_FIX)
    if "rotation" in entry:
        check_rotation(entry["rotation"], f"{where}: rotation", fix=_LINE_FIX)
    if "move" in entry:
        if not isinstance(entry.get("address"), str):
            raise StateError(f"{where}: a move that names no address; {_LINE_FIX}")
        check_move(entry["move"], f"{where}: move", _LINE_FIX)


_LINE_FIX = (
    "the journal was edited or damaged: delete that line (the next plan then treats that key's "
    "last write as not recorded, and the next apply records it anew)"
)


def _owed(value: Any, where: str) -> dict[str, str]:
    if not deliveries.checked(value):
        raise StateError(f"{where}: {_shown(value)} is not a map of sinks to pending or failed; {FIX}")
    return {known_as(sink): status for sink, status in value.items()}  # an earlier ehkeys' idents too


def _done(value: Any, where: str) -> list[str]:
    if not deliveries.checked_done(value):
        raise StateError(f"{where}: {_shown(value)} is not a list of sinks; {FIX}")
    return sorted({known_as(sink) for sink in value})


def check_fingerprint(value: Any, where: str, fix: str = FIX) -> str:
    if not isinstance(value, str) or not value.startswith("sha256:"):
        raise StateError(f"{where}: {_shown(value)} is not a key fingerprint (sha256:…); {fix}")
    return value


def check_record(value: Any, where: str) -> dict[str, Any]:
    """The write-only values last applied to one key: a window is one the API takes (a rotation
    sends it again)."""
    record = _fields(_mapping(value, where), where, _RECORD_FIELDS, FIX)
    window = record.get("limit_type")
    if window is not None and window not in WINDOWS:
        raise StateError(f"{where}: limit_type {_shown(window)} is not daily, weekly or monthly; {FIX}")
    return record


def check_rotation(value: Any, where: str, fix: str = FIX) -> dict[str, Any]:
    """A rotation under way: its predecessor's fingerprint, when it started, its overlap, the
    successor's name, whether the successor was delivered."""
    record = _fields(_mapping(value, where, fix), where, _ROTATION_FIELDS, fix)
    for name in ("predecessor", "started", "overlap", "name"):
        if record.get(name) is None:
            raise StateError(f"{where}: no {name}; {fix}")
    check_fingerprint(record["predecessor"], f"{where}: predecessor", fix)
    return record


def check_move(value: Any, where: str, fix: str) -> dict[str, Any]:
    """A move under way: the accounts the key was sent `to` (a move sent on before it was done
    names each), and the `key` (fingerprint) it moves from here, deleted once one holds it."""
    record = _fields(_mapping(value, where, fix), where, _MOVE_FIELDS, fix)
    if not record.get("to"):
        raise StateError(f"{where}: no to (the accounts the key moves to); {fix}")
    check_fingerprint(record.get("key"), f"{where}: key", fix)
    return {"to": record["to"], "key": record["key"]}


_MOVE_FIX = (
    "the file was edited or damaged: correct or delete that record (to: the accounts the key moves "
    "to, key: the fingerprint this state binds its address to; without it, the old key is left in "
    "this account and the plan says how to delete it), or move the file aside to start afresh"
)


def check_snapshot(value: Any, where: str, fix: str = FIX) -> dict[str, Any]:
    """A key as an apply verified it: each field present has the type `snapshots.values` writes."""
    return _fields(_mapping(value, where, fix), where, _SNAPSHOT_FIELDS, fix)


def _fields(record: Mapping[str, Any], where: str, kinds: Mapping[str, _Kind], fix: str) -> dict[str, Any]:
    """`record`, each field of `kinds` it holds (but null) of its kind; else StateError."""
    for name, (kind, valid) in kinds.items():
        if name in record and record[name] is not None and not valid(record[name]):
            raise StateError(f"{where}: {name} {_shown(record[name])} is not {kind}; {fix}")
    return dict(record)


_AMOUNT_RE = re.compile(r"-?\d{1,30}(\.\d{1,30})?")  # as snapshots.money_text writes: "10.00"


def _amount(value: Any) -> bool:
    """Plain decimal text: not "1e999999", a Decimal that drift printed as a million digits."""
    return isinstance(value, str) and _AMOUNT_RE.fullmatch(value) is not None


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _texts(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


_Kind = tuple[str, Callable[[Any], bool]]  # what a field must be, in words, and the check
_TEXT: _Kind = ("text", lambda v: isinstance(v, str))
_RECORD_FIELDS: dict[str, _Kind] = {
    "limit_type": _TEXT,
    "name": _TEXT,
    "applied_at": _TEXT,
    "pending": ("true or false", lambda v: isinstance(v, bool)),
}
_LINE_FIELDS: dict[str, _Kind] = {
    name: _TEXT
    for name in (
        "fingerprint",
        "address",
        "result",
        "operation",
        "name",
        "time",
        "limit_type",
        "sink",
        "delivery",
    )
}
_ROTATION_FIELDS: dict[str, _Kind] = {
    "predecessor": _TEXT,
    "started": ("a whole number of seconds", _integer),
    "overlap": ("a whole number of seconds", _integer),
    "name": _TEXT,
    "delivered": ("true or false", lambda v: isinstance(v, bool)),
}
_MOVE_FIELDS: dict[str, _Kind] = {
    "to": (
        "a list of account names",
        lambda v: isinstance(v, list) and all(isinstance(a, str) and a for a in v),
    ),
    "key": _TEXT,
}
_SNAPSHOT_FIELDS: dict[str, _Kind] = {
    "name": _TEXT,
    "expires_at": ("a whole number of seconds", _integer),
    "allocated_ammount": ('an amount as decimal text (like "10.00")', _amount),
    "model_whitelist": ("a list of text", _texts),
    "ip_whitelist": ("a list of text", _texts),
    "is_active": ("true or false", lambda v: isinstance(v, bool)),
    "created_at": ("a whole number of seconds", _integer),
    "recorded_at": _TEXT,
}


def _section(data: Mapping[str, Any], name: str, where: str, fix: str) -> dict[str, Any]:
    section = data.get(name, {})
    if not isinstance(section, dict):
        raise StateError(f"{where}: {name} is {_shown(section)}, not a mapping; {fix}")
    return {str(k): v for k, v in section.items()}


def _mapping(value: Any, where: str, fix: str = FIX) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise StateError(f"{where}: {_shown(value)} is not a mapping; {fix}")
    return dict(value)


def _text(value: Any, where: str, fix: str = FIX) -> str:
    if not isinstance(value, str):
        raise StateError(f"{where}: {_shown(value)} is not text; {fix}")
    return value


def _name(value: Any, where: str) -> str | None:
    """The manifest's path, or its account's name: text a path may hold (no NUL), in UTF-8."""
    if value is None:
        return None
    text = _text(value, where)
    if "\x00" in text or undecodable(text):
        raise StateError(f"{where}: {shown(text)} is not a path ehkeys writes (a NUL, or not UTF-8); {FIX}")
    return text


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:39] + "…"


def newest(disk: Records, ours: Records, touched: set[str], stamp: str) -> Records:
    """Per fingerprint, the newest wins; one this process did not touch never replaces disk's."""
    merged = dict(disk)
    for fingerprint, mine in ours.items():
        theirs = disk.get(fingerprint)
        if theirs is None or (fingerprint in touched and _stamp(mine, stamp) >= _stamp(theirs, stamp)):
            merged[fingerprint] = mine
    return merged


def merged(on_disk: Mapping[str, V], ours: Mapping[str, V | None]) -> dict[str, V]:
    """Disk's map with this process's changes on top (None: forgotten)."""
    both = {**on_disk, **{a: f for a, f in ours.items() if f is not None}}
    return {a: f for a, f in both.items() if ours.get(a, f) is not None}


def _stamp(record: Mapping[str, Any], field: str) -> str:
    return str(record.get(field) or "")
