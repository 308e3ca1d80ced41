"""Load manifests: read, parse, validate against schemas/manifest.schema.json, normalise.

The schema is the single statement of the format's shape; this module adds what a schema
cannot say (environment references, IP networks, dates, duplicates across files, the
per-key cap) and turns every problem into a Diagnostic with file, line and column.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from reconciler.core.accounts import DEFAULT, Account
from reconciler.core.heap import gc_paused
from reconciler.core.jsonvalue import to_json_value
from reconciler.core.keys import UPDATABLE, DesiredKey, Location
from reconciler.manifest import addresses, keychecks, rules, schemacheck
from reconciler.manifest.diagnostics import ERROR, NOTICE, WARNING, Diagnostic
from reconciler.manifest.envvars import checked_environment
from reconciler.manifest.sources import expand_paths
from reconciler.manifest.yamlsrc import Document, YamlError, parse

MAX_FILE_BYTES = 20 * 1024 * 1024
SETTINGS = ("prune", "ignore", "key_cap")
_KEY_FIELDS = ("proxy_key", *UPDATABLE, "is_active")


@dataclass(frozen=True)
class Manifest:
    keys: tuple[DesiredKey, ...]
    files: tuple[str, ...]
    accounts: tuple[Account, ...] = (Account(),)  # each key names one of them (`key.account`)

    def __repr__(self) -> str:  # short, like Plan's: asyncio may format it
        return f"<Manifest of {len(self.keys)} keys from {', '.join(self.files)}>"

    def account(self, name: str) -> Account:
        return next(a for a in self.accounts if a.name == name)

    def keys_of(self, account: str) -> tuple[DesiredKey, ...]:
        return tuple(k for k in self.keys if k.account == account)

    @property
    def digest(self) -> str:
        """Identifies the desired state (not the bytes): comments and layout do not count."""
        rows = [[_identity(k), {f: to_json_value(v) for f, v in k.values().items()}] for k in self.keys]
        return hashlib.sha256(
            json.dumps([rows, _settings_identity(self.accounts)], sort_keys=True).encode()
        ).hexdigest()


def _settings_identity(accounts: tuple[Account, ...]) -> list[Any]:
    """The accounts' settings as the digest counts them (one undeclared account: as it always was)."""
    if len(accounts) == 1 and not accounts[0].declared:
        only = accounts[0]
        return [only.prune, list(only.ignore), only.key_cap]
    return [
        [
            a.name,
            a.key_var,
            a.base_url,
            a.prune,
            list(a.ignore),
            a.key_cap,
            str(a.per_key_cap),
            str(a.max_debit),
        ]
        for a in accounts
    ]


def _identity(key: DesiredKey) -> list[Any]:
    secret = key.proxy_key.fingerprint if key.proxy_key else None
    identity = [key.address, secret, key.is_active, key.absent, key.protect]
    return identity if key.account == DEFAULT else [*identity, key.account]


@dataclass
class LoadResult:
    manifest: Manifest | None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]


def load(
    inputs: Sequence[str], env: Mapping[str, str] | None = None, now: int | None = None, offline: bool = False
) -> LoadResult:
    """Every problem in every file, not just the first; a Manifest only when none is an error.
    `offline` (validate): a ${VAR} that is not set is a notice, not an error."""
    files, diagnostics = expand_paths(inputs)
    if env is None:
        env, problems = checked_environment()
        diagnostics.extend(problems)
    keys: list[DesiredKey] = []
    loaders = []
    with gc_paused():
        for file in files:
            loader = _FileLoader(file, env, now, offline)
            keys.extend(loader.run())
            diagnostics.extend(loader.diagnostics)
            loaders.append(loader)
    diagnostics.extend(_duplicates(keys))
    diagnostics.extend(addresses.shared_variables(keys))
    settings = _settings(loaders, diagnostics)
    result = LoadResult(None, sorted(set(diagnostics)))  # a schema may say one thing twice
    if not result.errors and files:
        result.manifest = Manifest(tuple(keys), tuple(files), (Account(**settings),))
    return result


def _settings(loaders: Sequence[_FileLoader], diagnostics: list[Diagnostic]) -> dict[str, Any]:
    """prune, ignore and key_cap from whichever file sets them; two files may not disagree."""
    found: dict[str, Any] = {}
    where: dict[str, str] = {}
    for loader in loaders:
        for name, (value, (line, col)) in loader.settings.items():
            if name in found and found[name] != value and name != "ignore":
                msg = f"{name} is set differently in {where[name]}: set it in one file"
                diagnostics.append(Diagnostic(loader.file, line, col, name, msg))
            found[name] = [*found.get(name, []), *value] if name == "ignore" else value
            where[name] = f"{loader.file}:{line}"
    return {
        "ignore": tuple(found.get("ignore", ())),
        **{k: found[k] for k in ("prune", "key_cap") if k in found},
    }


def _duplicates(keys: Iterable[DesiredKey]) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    by_key: dict[str, DesiredKey] = {}
    by_name: dict[str, DesiredKey] = {}
    by_address: dict[str, DesiredKey] = {}
    for key in keys:
        loc = key.location
        first = by_key.setdefault(key.proxy_key.fingerprint, key) if key.proxy_key else key
        if first is not key:  # the value is a secret: name the places, never the key
            msg = f"{key.name!r} has the same proxy_key as {first.name!r} at {first.location}"
            found.append(Diagnostic(loc.file, loc.line, loc.col, "", "duplicate proxy_key: " + msg))
        first = by_address.setdefault(key.address, key)
        if first is not key:
            what = "name" if key.address == key.name and first.address == first.name else "id"
            msg = f"duplicate {what} {key.address!r}: already the id (or name) of the key at {first.location}"
            found.append(Diagnostic(loc.file, loc.line, loc.col, "", msg))
            continue
        first = by_name.setdefault(key.name, key)
        if first is not key:
            msg = f"name {key.name!r} is also used at {first.location}: these keys are never bound by name"
            found.append(Diagnostic(loc.file, loc.line, loc.col, "", msg, WARNING))
    return found


class _FileLoader:
    def __init__(self, file: str, env: Mapping[str, str], now: int | None, offline: bool = False) -> None:
        self.file = file
        self.offline = offline  # validate: no secret is needed, an unset ${VAR} is a notice
        self.env = env
        self.now = now
        self.diagnostics: list[Diagnostic] = []
        self.doc = Document(None)
        self.text = ""
        self.bad_paths: set[tuple[Any, ...]] = set()
        self.settings: dict[str, Any] = {}  # prune, ignore, key_cap, where this file sets them

    def report(
        self,
        path: tuple[Any, ...],
        message: str,
        *,
        key: bool = False,
        warn: bool = False,
        severity: str = "",
    ) -> None:
        if not self.doc.knows(path, key=key):
            self.doc = parse(self.text, complete=True)  # a problem: now keep every position
        line, col = self.doc.position(path, key=key)
        severity = severity or (WARNING if warn else "error")
        self.diagnostics.append(Diagnostic(self.file, line, col, _path_str(path), message, severity))

    def run(self) -> list[DesiredKey]:
        text = self.text = self._read() or ""
        if not text and self.diagnostics:
            return []
        try:
            self.doc = parse(text)
        except YamlError as exc:
            self.diagnostics.append(Diagnostic(self.file, exc.line, exc.col, "", exc.message))
            return []
        if self.doc.data is None:
            self.report((), "empty manifest: expected a mapping with 'version' and 'keys'")
            return []
        self._schema_check()
        self._misread_check()
        data = self.doc.data
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            return []
        return self._keys(data)

    def _read(self) -> str | None:
        try:
            size = os.path.getsize(self.file)
            if size > MAX_FILE_BYTES:
                self.report((), f"file is {size} bytes; manifests over {MAX_FILE_BYTES} are refused")
                return None
            raw = Path(self.file).read_bytes()
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            self.report((), f"not UTF-8 text (bad byte at offset {exc.start})")
        except OSError as exc:
            self.report((), f"cannot read: {exc.strerror}")
        return None

    def _schema_check(self) -> None:
        for error in schemacheck.errors(self.doc.data):
            path = tuple(error.absolute_path)
            self.bad_paths.add(path)
            for where, message, at_key in rules.schema_messages(error):
                self.report(path + where, message, key=at_key)

    def _misread_check(self) -> None:
        """Numbers a reader could take for others: the YAML 1.1 octal 050, 0o, 0x."""
        for path, text in self.doc.misread.items():
            if path and path[-1] in rules.NUMERIC_FIELDS:
                self.bad_paths.add(path)
                self.report(path, rules.misread_number(text))

    def _keys(self, data: dict[str, Any]) -> list[DesiredKey]:
        for name in SETTINGS:
            if name in data and (name,) not in self.bad_paths:
                self.settings[name] = (data[name], self.doc.position((name,)))
        cap = data.get("per_key_cap")  # None: the default cap applies (messages say so)
        cap = (
            Decimal(cap)
            if isinstance(cap, (int, Decimal)) and ("per_key_cap",) not in self.bad_paths
            else None
        )
        defaults = data.get("defaults")
        defaults = defaults if isinstance(defaults, dict) else {}
        built = []
        for index, raw in enumerate(data["keys"]):
            if isinstance(raw, dict):
                key = self._key(index, raw, defaults, cap)
                if key is not None:
                    built.append(key)
        return built

    def _key(
        self, index: int, raw: dict[str, Any], defaults: dict[str, Any], cap: Decimal | None
    ) -> DesiredKey | None:
        values: dict[str, Any] = {}
        failed = "limit_type" not in raw and "limit_type" not in defaults and raw.get("absent") is not True
        if failed:
            self.report(("keys", index), rules.LIMIT_TYPE_REQUIRED)
        for name in _KEY_FIELDS:
            if name in raw:
                failed = not self._field(("keys", index, name), raw[name], values, cap) or failed
            elif name in defaults:
                failed = not self._field(("defaults", name), defaults[name], values, cap) or failed
        if failed or "name" not in values or ("keys", index, "id") in self.bad_paths:
            return None
        return self._checked(index, raw, values)

    def _field(self, path: tuple[Any, ...], value: Any, values: dict[str, Any], cap: Decimal | None) -> bool:
        """One field normalised into `values`; False when it is wrong (and reported)."""
        name = path[-1]
        if path in self.bad_paths:
            return False
        try:
            values[name] = rules.normalise(name, value, self.env, cap)
        except rules.Unresolved as exc:
            if not self.offline:
                self.report(path, str(exc))
                return False
            self.report(path, f"{exc}: plan and apply need it", severity=NOTICE)
            return True
        except rules.FieldError as exc:
            for item, message in exc.problems:
                self.report(path if item is None else (*path, item), message)
            return False
        if name in rules.WARNED_FIELDS:
            for warning in rules.field_warnings(name, value, values[name], self.now, self.env):
                self.report(path, warning, warn=True)
        return True

    def _checked(self, index: int, raw: dict[str, Any], values: dict[str, Any]) -> DesiredKey | None:
        """The key, unless the checks across its fields find an error."""
        found = keychecks.problems(index, raw, values, self.now)
        for path, message, severity in found:
            self.report(path, message, severity=severity)
        if any(severity == ERROR for _, _, severity in found):
            return None
        address = str(raw.get("id", values["name"]))
        where = Location(self.file, *self.doc.position(("keys", index)))
        values.update(absent=raw.get("absent") is True, protect=raw.get("protect") is True)
        return DesiredKey(address=address, location=where, **values)


def _path_str(path: tuple[Any, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
