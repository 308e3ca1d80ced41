"""One file of a manifest: read, parsed, checked against the schema, and its keys built.

What a file may hold depends on its place (`layout`): a manifest file on its own needs
`version` and `keys`; a directory manifest's `ehkeys.yaml` needs `version`; its other files
need `keys`. A key's account, per-key cap and defaults come from the manifest as a whole
(`KeyContext`), as `settings.resolve` found them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from reconciler.core.accounts import DEFAULT, DEFAULT_KEY_VAR
from reconciler.core.keys import DesiredKey, Location
from reconciler.core.policy import KeyRules, Violation, Waiver
from reconciler.manifest import keychecks, keytext, policy, rules, schemacheck, schemamessages, sinks
from reconciler.manifest.diagnostics import ERROR, WARNING, Diagnostic, key_id, path_text
from reconciler.manifest.duplicates import Claim
from reconciler.manifest.hints import closest
from reconciler.manifest.keycontext import Frame, Given, GroupFrame, KeyContext
from reconciler.manifest.keyfields import KeyFields
from reconciler.manifest.layout import STANDALONE, TEAM
from reconciler.manifest.yamlsrc import Document, YamlError, parse

MAX_FILE_BYTES = 20 * 1024 * 1024
NOT_A_FILE = "not a regular file (a device or a pipe): move it out of the manifest's folder"
_BY_ENTRY = ("accounts", "policy", "budget")  # settings read entry by entry


@dataclass(frozen=True)
class Setting:
    """A top-level field as one file gives it, and where."""

    value: Any
    where: Location
    owner: FileLoader


class FileLoader:
    def __init__(
        self,
        file: str,
        env: Mapping[str, str],
        now: int | None,
        offline: bool = False,
        role: str = STANDALONE,
    ) -> None:
        self.file = file
        self.role = role
        self.offline = offline  # validate: no secret is needed, an unset ${VAR} is a notice
        self.env = env
        self.now = now
        self.diagnostics: list[Diagnostic] = []
        self.doc = Document(None)
        self.text = ""
        self.bad_paths: set[tuple[Any, ...]] = set()
        self.account: str | None = None  # the file's `account:` (for its keys that name none)
        self.account_known = True
        self.group: tuple[GroupFrame | None, bool] = (None, True)  # the file's `group:`, as `_group` says
        self.violations: list[Violation] = []  # what its keys break of their account's policy
        self.waivers: list[Waiver] = []  # their exceptions in force
        self.rules: dict[tuple[str, str], KeyRules] = {}  # (account, address) -> what its key is judged by
        self.caps: dict[
            tuple[str, str], Decimal | None
        ] = {}  # (account, address) -> its per_key_cap in force
        self.claims: list[Claim] = []  # the address each key entry takes, with errors or not

    @property
    def data(self) -> dict[str, Any]:
        return self.doc.data if isinstance(self.doc.data, dict) else {}

    def report(
        self,
        path: tuple[Any, ...],
        message: str,
        *,
        key: bool = False,
        warn: bool = False,
        severity: str = "",
    ) -> None:
        line, col = self._position(path, key)
        severity = severity or (WARNING if warn else ERROR)
        self.diagnostics.append(
            Diagnostic(self.file, line, col, path_text(path), message, severity, key_id(self.data, path))
        )

    def location(self, path: tuple[Any, ...], *, key: bool = False) -> Location:
        return Location(self.file, *self._position(path, key))

    def _position(self, path: tuple[Any, ...], key: bool) -> tuple[int, int]:
        if not self.doc.knows(path, key=key):
            self.doc = parse(self.text, complete=True)  # a problem: now keep every position
        return self.doc.position(path, key=key)

    def setting(self, name: str) -> Setting | None:
        """A top-level field, unless the schema found it wrong (those of _BY_ENTRY: entry by entry)."""
        if name not in self.data:
            return None
        value = self.data[name]
        if (name,) in self.bad_paths and not (name in _BY_ENTRY and isinstance(value, dict)):
            return None
        return Setting(value, self.location((name,)), self)

    def read(self) -> None:
        """Parse and check the file against the schema; its keys are built by `keys`."""
        text = self.text = self._read() or ""
        if not text and self.diagnostics:
            return
        try:
            self.doc = parse(text)
        except YamlError as exc:
            self.diagnostics.append(Diagnostic(self.file, exc.line, exc.col, "", exc.message))
            return
        if self.doc.data is None:
            wanted = " and ".join(f"'{name}'" for name in schemacheck.required(self.role))
            self.report((), f"empty manifest: expected a mapping with {wanted}")
            return
        self._schema_check()
        self._misread_check()
        self._stray_keys()
        for path, amount in policy.sub_cent(self.data):
            if path not in self.bad_paths:
                self.bad_paths.add(path)
                self.report(path, f"{amount} has more than 2 decimal places: credits are counted in cents")

    def _read(self) -> str | None:
        try:
            found = os.stat(self.file)
            if not stat.S_ISREG(found.st_mode):  # a pipe in a manifest's folder: never read to no end
                self.report((), NOT_A_FILE)
                return None
            size = found.st_size
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
        for error in schemacheck.errors(self.doc.data, self.role):
            path = tuple(error.absolute_path)
            self.bad_paths.add(path)
            for where, message, at_key in schemamessages.schema_messages(error):
                self.report(path + where, message, key=at_key)

    def _stray_keys(self) -> None:
        """Key-shaped text outside proxy_key values (a comment, a command's arguments), tokens: by line."""
        refused = {d.line for d in self.diagnostics if d.severity == ERROR}  # a github_secret's token
        for line, col, message in keytext.found(self.text, self.doc.data, self._proxy_key_at, refused):
            self.diagnostics.append(Diagnostic(self.file, line, col, "", message, WARNING))

    def _proxy_key_at(self, index: int) -> tuple[int, int]:
        return self._position(("keys", index, "proxy_key"), False)

    def _misread_check(self) -> None:
        """Numbers a reader could take for others: the YAML 1.1 octal 050, 0o, 0x; and .nan."""
        for path, text in self.doc.misread.items():
            numeric = bool(path) and path[-1] in schemamessages.NUMERIC_FIELDS
            if numeric and not (path in self.bad_paths and "." in text):
                self.bad_paths.add(path)
                self.report(path, schemamessages.misread_number(text))

    # --- keys ------------------------------------------------------------------------------

    def keys(self, context: KeyContext) -> list[DesiredKey]:
        """The file's keys; each problem reported, a key with an error left out."""
        data = self.data
        if not isinstance(data.get("keys"), list):
            return []
        self._file_account(context)
        self.group = self._group(data, ("group",), context, (None, True))
        owner = context.defaults or self
        defaults = owner.data.get("defaults")
        frame = Frame(context, owner, defaults if isinstance(defaults, dict) else {}, self._file_cap(context))
        built, fields = [], KeyFields(frame, self.env, self.now, self.offline)
        for index, raw in enumerate(data["keys"]):
            if isinstance(raw, dict):
                key = self._key(index, raw, frame, fields)
                if key is not None:
                    built.append(key)
        return built

    def _file_account(self, context: KeyContext) -> None:
        if "account" in self.data:
            self.account = self.data["account"]
            bad = ("account",) in self.bad_paths
            self.account_known = not bad and self._known(self.data["account"], ("account",), context)

    def _known(self, name: Any, path: tuple[Any, ...], context: KeyContext) -> bool:
        if context.unchecked or (context.accounts is not None and name in context.accounts):
            return True
        if context.accounts is None:
            message = (
                f"unknown account {name!r}: the manifest declares no accounts (its one account's key "
                f"is ${DEFAULT_KEY_VAR}); declare it under accounts:"
            )
        else:
            hint = closest(name, context.accounts)
            message = f"unknown account {name!r}: the manifest declares {_names(context)}{hint}"
        self.report(path, message)
        return False

    def _account(self, index: int, raw: dict[str, Any], context: KeyContext) -> str | None:
        """The key's account: its own, its file's, or the only one; None when unknown (said)."""
        path = ("keys", index, "account")
        if "account" in raw:
            known = path not in self.bad_paths and self._known(raw["account"], path, context)
            return str(raw["account"]) if known else None
        if self.account is not None:
            return str(self.account) if self.account_known else None
        if context.accounts is None or context.unchecked:
            return DEFAULT
        if len(context.accounts) == 1:
            return next(iter(context.accounts))
        if not context.accounts:
            return None  # `accounts: {}` is an error of its own: not one more per key
        message = (
            f"no account: the manifest declares {_names(context)}: set account: on the key, "
            "or at the top of its file for all the file's keys"
        )
        self.report(("keys", index), message)
        return None

    def _file_cap(self, context: KeyContext) -> Decimal | None:
        """The per-key cap of the file's keys whose account sets none: the file's per_key_cap,
        else the manifest's."""
        cap = self.data.get("per_key_cap")
        if isinstance(cap, (int, Decimal)) and self.role != TEAM and ("per_key_cap",) not in self.bad_paths:
            return Decimal(cap)
        return context.cap

    def _key(self, index: int, raw: dict[str, Any], frame: Frame, fields: KeyFields) -> DesiredKey | None:
        account = self._account(index, raw, frame.context)
        key = self._built(index, raw, frame, fields, account)
        if key is not None:
            self.claims.append(Claim.of(key))
        elif account is not None and ("keys", index, "id") not in self.bad_paths:
            given = raw.get("id", raw.get("name"))
            if isinstance(given, str):
                self.claims.append(Claim(account, given, "id" not in raw, self.location(("keys", index))))
        return key

    def _built(
        self, index: int, raw: dict[str, Any], frame: Frame, fields: KeyFields, account: str | None
    ) -> DesiredKey | None:
        accounts = frame.context.accounts
        own = accounts.get(account) if accounts and account else None
        cap = frame.cap if own is None else own
        group, known = self._group(raw, ("keys", index, "group"), frame.context, self.group)
        at = ("keys", index)
        defaults, first = fields.defaults(group)
        sources: tuple[Given, ...] = ((self, at, raw), *defaults)
        failed = not known
        if "limit_type" not in raw and "limit_type" not in first and raw.get("absent") is not True:
            self.report(at, rules.LIMIT_TYPE_REQUIRED)
            failed = True
        values, ok = fields.read(self, at, raw, first, cap)
        failed = failed or not ok
        if failed or account is None or "name" not in values or ("keys", index, "id") in self.bad_paths:
            return None
        key = self._checked(index, raw, values, account, group)
        key = sinks.attach(key, sources, frame.context) if key is not None else None
        if key is not None:
            self.caps[key.account, key.address] = cap
            self._police(index, raw, key, frame)
        return key

    def _group(
        self,
        raw: dict[str, Any],
        path: tuple[Any, ...],
        context: KeyContext,
        inherited: tuple[GroupFrame | None, bool],
    ) -> tuple[GroupFrame | None, bool]:
        """The group `raw` names at `path` (a key's, else its file's: `inherited`), and False
        when it names an unknown one (said once, where it is named)."""
        if "group" not in raw:
            return inherited
        if path in self.bad_paths:
            return None, False
        found = (context.groups or {}).get(raw["group"])
        if found is None:
            names = ", ".join(sorted(context.groups or ())) or "none (declare it under groups:)"
            self.report(path, f"unknown group {raw['group']!r}: the manifest's groups are {names}")
        return found, found is not None

    def _checked(
        self, index: int, raw: dict[str, Any], values: dict[str, Any], account: str, group: GroupFrame | None
    ) -> DesiredKey | None:
        """The key, unless the checks across its fields find an error."""
        found = keychecks.problems(index, raw, values, self.now)
        for path, message, severity in found:
            self.report(path, message, severity=severity)
        if any(severity == ERROR for _, _, severity in found):
            return None
        values.update(address=str(raw.get("id", values["name"])), location=self.location(("keys", index)))
        values.update(absent=raw.get("absent") is True, protect=raw.get("protect") is True, account=account)
        values["group"] = group.group.name if group is not None else None
        return DesiredKey(**values)

    def _police(self, index: int, raw: dict[str, Any], key: DesiredKey, frame: Frame) -> None:
        """The key against its policy: what it breaks, its exceptions in force."""
        waived = policy.exceptions(
            raw.get("policy_exceptions"), ("keys", index, "policy_exceptions"), self.bad_paths
        )
        rules_in_force = KeyRules(frame.context.policy_of(key), waived)
        if not rules_in_force:
            return
        self.rules[key.account, key.address] = rules_in_force

        def locate(path: tuple[str, ...]) -> tuple[Location, str, bool]:
            where = ("keys", index, *path) if path[0] in raw else ("keys", index)
            return self.location(where), path_text(where), path[0] in raw

        found = policy.check_key(key, rules_in_force, self.now, locate)
        self.violations.extend(found.violations)
        self.waivers.extend(found.waivers)
        for rule in found.idle:
            message = f"the policy of this key's account sets no {rule} rule: the exception waives nothing"
            self.report(("keys", index, "policy_exceptions", rule), message, warn=True)


def _names(context: KeyContext) -> str:
    names = ", ".join(sorted(context.accounts or ())) or "none"
    return f"{names} (accounts: at {context.where})" if context.where else names
