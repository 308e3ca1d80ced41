"""Saved plans (`ehkeys plan --out FILE`, `ehkeys show FILE`, `ehkeys apply --plan FILE`).

A saved plan records, per change, its operations and every live value they depend on
(used_ammount included: it decides a refund), and the plan as `plan --format json` shows it,
with the order of the few mappings whose order the display follows (`layout`) and the keys
moved between accounts (`moves`: names only, `saved_moves`): the file is written with sorted
keys, so the same plan always makes the same bytes, and the same digest.
Never the API key, never a full proxy key. Apply refuses a plan whose manifest has changed
(`StalePlan`); a change whose live state or operations moved since is skipped; keys outside
the saved plan are not part of it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from dataclasses import dataclass, replace
from decimal import InvalidOperation
from pathlib import Path
from typing import Any

from reconciler.core.accounts import IMPLICIT, Account
from reconciler.core.changes import Change
from reconciler.core.errors import Refused, StalePlan, StateError, UsageError
from reconciler.core.jsonvalue import parse_json
from reconciler.core.money import money
from reconciler.core.plan import Plan
from reconciler.core.plans import Move, Plans
from reconciler.core.printable import printable
from reconciler.core.secrets import scrub
from reconciler.core.times import iso
from reconciler.delivery.tracking import unfollowed
from reconciler.state import saved_digest, saved_moves, saved_where
from reconciler.state import saved_parts as planagree
from reconciler.state.files import NOT_A_FILE, atomic_write, not_a_file, read_file

KIND = "ehkeys-saved-plan"
FORMAT_VERSION = 5  # 5: the moves; 4: a part per account; 3 added created_at and layout (what `show` needs)
ONE_ACCOUNT_VERSION = 3  # what a manifest without `accounts:` saves, as before accounts (no moves)
NO_MOVES_VERSION = 4  # a part per account, no moves saved: read as a plan that shows none
READABLE = (ONE_ACCOUNT_VERSION, NO_MOVES_VERSION, FORMAT_VERSION)
_NOT_A_PLAN = "not a saved ehkeys plan (make one with `ehkeys plan --out FILE`)"


def _canon(value: Any) -> Any:
    """Plain JSON with money as exact decimal text, for storing and comparing."""
    return json.loads(json.dumps(value, default=str, sort_keys=True))


def check_path(path: str, manifests: list[str]) -> None:
    """Refuse to write a plan over a manifest, or into any YAML file: that would lose it; and
    to a path no file can be at (a loop of links, a name too long), before it is resolved."""
    stuck = unfollowed(Path(path))
    if stuck:
        raise UsageError(f"--out {path}: {stuck}")
    target = Path(path).resolve()
    if target in {Path(m).resolve() for m in manifests}:
        raise UsageError(f"--out {path}: that is a manifest on this command line; save the plan elsewhere")
    if target.suffix in (".yaml", ".yml"):
        raise UsageError(f"--out {path}: a saved plan is JSON; name it like plan.json")
    if not_a_file(Path(path)):
        raise UsageError(f"--out {path}: {NOT_A_FILE}, like plan.json")
    if not target.parent.is_dir():
        raise UsageError(f"--out {path}: no such directory {target.parent}")


def encode(plans: Plans, manifest_digest: str, created_at: int) -> bytes:
    """The saved plan's bytes: the same plans made at the same moment are the same bytes. A
    manifest without `accounts:` saves format 3, its one plan at the top; one with accounts
    saves format 5, a section per account and the keys moved between them."""
    head = {"kind": KIND, "created_at": iso(created_at), "manifest_digest": manifest_digest}
    if plans.declared:
        sections = {p.account.name: _section(p) for p in plans.each}
        moves = saved_moves.encode(plans.moves)
        payload = {**head, "format_version": FORMAT_VERSION, "accounts": sections, **moves}
    else:
        payload = {**head, "format_version": ONE_ACCOUNT_VERSION, **_section(plans.only)}
    return (json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode()


def _section(plan: Plan) -> dict[str, Any]:
    shown, layout = _canon(plan.data()), [_layout(c) for c in plan.changes]
    return {
        "changes": {c.address: _canon(c.saved()) for c in plan.to_apply},
        "plan": shown,
        "layout": layout,
        **saved_digest.encode(shown, layout),  # what it shows, as written: an edit of it alone is told
        **saved_where.encode(plan.endpoint),
    }


def _layout(change: Change) -> dict[str, Any]:
    """What sorting the file's keys loses and showing the plan needs: the order of the fields
    and of each body's members, and how many managed fields did not change."""
    bodies = [list(op.data().get("body", {})) for op in change.operations]
    return {"fields": [f.field for f in change.fields], "bodies": bodies, "unchanged": change.unchanged}


def save(plans: Plans, path: str, manifest_digest: str, created_at: int | None = None) -> str:
    """Write the plans atomically (never half a plan) and return the file's digest."""
    data = encode(plans, manifest_digest, int(time.time()) if created_at is None else created_at)
    try:
        atomic_write(Path(path), data, mode=0o644)  # no secrets; CI uploads it as an artifact
    except OSError as exc:
        raise StateError(f"{path}: cannot write the plan ({exc.strerror or exc})") from exc
    return _digest_of(data)


def _digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def digest(path: str) -> str:
    """`sha256:<64 hex>` of the saved file's bytes: what a reviewer saw, and `--expect-digest` checks."""
    return _digest_of(_read(path))


@dataclass(frozen=True)
class SavedPlan:
    """One account's part of a saved plan."""

    path: str
    changes: dict[str, dict[str, Any]]
    plan: Plan  # as it was shown when saved: its keys known only as shown (RedactedKey, ShownKey)

    def holds(self, change: Change) -> bool:
        return change.address in self.changes

    def unmoved(self, change: Change) -> bool:
        """True when neither the change's live state nor its operations moved since."""
        saved: Any = self.changes.get(change.address)
        return bool(saved == _canon(change.saved()))

    def check_shown(self, change: Change) -> None:
        """Refuse a change to send whose key, name or credit is not the one the plan shows, as
        this apply plans it now: the file was edited by hand (reading it, `load` checks what it
        shows against what it applies; a key's last four characters and a manifest key's name
        on its delete it cannot work out offline). The field lines shown are compared where
        rendering is at hand (`engine.saved.check_lines`)."""
        shown = self.reviewed(change.address)
        if (change.key, change.name, change.credit) != (shown.key, shown.name, shown.credit):
            raise Refused(
                f"{self.path}: {printable(change.address)} would be applied to {_titled(change)} for "
                f"{money(change.credit.net, sign=True)}, but the plan shows {_titled(shown)} for "
                f"{money(shown.credit.net, sign=True)} (edited by hand?): plan again; nothing was sent"
            )

    def reviewed(self, address: str) -> Change:
        """The change as the saved plan showed it."""
        return self._shown[address]

    @functools.cached_property
    def _shown(self) -> dict[str, Change]:
        """Each address's change, indexed once: an apply asks per key (a search per key made
        applying a reviewed plan of 10,000 keys quadratic)."""
        shown: dict[str, Change] = {}
        for change in self.plan.changes:
            shown.setdefault(change.address, change)
        return shown

    def live(self, address: str) -> dict[str, Any] | None:
        """The live values the saved change was planned against (None: no key then)."""
        live: dict[str, Any] | None = self.changes.get(address, {}).get("live")
        return live


@dataclass(frozen=True)
class SavedPlans:
    """A saved plan file: each account's part, and what the file says of itself."""

    path: str
    digest: str
    created_at: str
    manifest_digest: str
    sections: dict[str, SavedPlan]  # by account name
    moves: tuple[Move, ...] = ()  # as the plan showed them; apply finds them again, never reads these

    @property
    def plans(self) -> Plans:
        return Plans(tuple(section.plan for section in self.sections.values()), self.moves)

    def section(self, account: str) -> SavedPlan | None:
        """The account's part; None: the saved plan covers no change there."""
        return self.sections.get(account)

    def check_manifest(self, manifest_digest: str) -> None:
        if manifest_digest != self.manifest_digest:
            raise StalePlan(
                f"{self.path} was made from another version of the manifest (it changed since the "
                "plan was reviewed): plan again; nothing was sent"
            )


def _titled(change: Change) -> str:
    return f"{printable(scrub(change.name))} ({change.key})"


def load(path: str) -> SavedPlans:
    """The saved plan, checked whole before anything is sent; a bad file is one message."""
    raw = _read(path)
    data = _parse(path, raw)
    try:
        sections = _sections(path, data)
        moves = saved_moves.decode(path, data["moves"]) if data["format_version"] == FORMAT_VERSION else ()
        saved_moves.check(path, data, moves, {name: part.plan for name, part in sections.items()})
        head = (str(data["created_at"]), str(data["manifest_digest"]))
    except KeyError as exc:
        raise StateError(f"{path}: not a complete saved plan (no {exc} in it): plan again") from exc
    except InvalidOperation as exc:  # said `[<class 'decimal.ConversionSyntax'>]`
        raise StateError(
            f"{path}: not a complete saved plan (an amount in it is no number): plan again"
        ) from exc
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise StateError(f"{path}: not a complete saved plan ({exc}): plan again") from exc  # int(1e400)
    return SavedPlans(path, _digest_of(raw), *head, sections, moves)


def _sections(path: str, data: dict[str, Any]) -> dict[str, SavedPlan]:
    if data["format_version"] == ONE_ACCOUNT_VERSION:
        return {IMPLICIT.name: _loaded(path, data, IMPLICIT)}
    accounts = data["accounts"]
    if not isinstance(accounts, dict) or not accounts:
        raise ValueError("accounts is not a mapping of account names")
    latest = data["format_version"] == FORMAT_VERSION
    return {
        str(name): _loaded(path, part, Account(str(name), declared=True), latest)
        for name, part in accounts.items()
    }


def _loaded(path: str, data: dict[str, Any], account: Account, latest: bool = False) -> SavedPlan:
    """One account's part, checked: it holds together, and applies what it shows (`latest`:
    written as this ehkeys writes them, its `api` entry there)."""
    plan = _rebuild(data)
    plan.account = account
    plan.endpoint = saved_where.decode(path, data, required=latest)
    saved = SavedPlan(path, dict(data["changes"]), plan)
    if _canon(plan.data()) != data["plan"]:
        raise StateError(f"{path}: the saved plan does not hold together (edited by hand?): plan again")
    planagree.check_live(path, saved.changes)  # what it compares with, and shows when it moved
    planagree.check(path, data, account.name if account.declared else "")  # it shows what it applies
    return saved


def _read(path: str) -> bytes:
    try:
        return read_file(Path(path))
    except OSError as exc:
        raise StateError(f"{path}: cannot read the plan ({exc.strerror or exc})") from exc


def _parse(path: str, raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
        data = parse_json(text)
    except UnicodeDecodeError:
        raise StateError(f"{path}: {_NOT_A_PLAN}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        if not text.strip():
            raise StateError(f"{path}: the file is empty; {_NOT_A_PLAN}") from None
        if exc.pos >= len(text.rstrip()):
            raise StateError(f"{path}: the plan ends early (truncated?): save it again") from None
        where = f"line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise StateError(f"{path}: {_NOT_A_PLAN}: not JSON, at {where}") from None
    except ValueError as exc:  # parse_json's own: nested too deeply
        raise StateError(f"{path}: {_NOT_A_PLAN}: {exc}") from None
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise StateError(f"{path}: {_NOT_A_PLAN}")
    _check_version(path, data.get("format_version"))
    return data


def _check_version(path: str, version: Any) -> None:
    if not isinstance(version, int) or isinstance(version, bool):
        raise StateError(f"{path}: {_NOT_A_PLAN}: format_version {version!r}")
    if version in READABLE:
        return
    if version > FORMAT_VERSION:
        raise StateError(
            f"{path}: a saved plan of format {version}, from a newer ehkeys (this one reads format "
            f"{FORMAT_VERSION}): upgrade ehkeys"
        )
    raise StateError(f"{path}: a saved plan of format {version}, from an older ehkeys: plan again")


def _rebuild(data: dict[str, Any]) -> Plan:
    """The Plan as it was shown: its data, with the order of fields and bodies put back."""
    shown, layout = data["plan"], data["layout"]
    if len(layout) != len(shown["keys"]):
        raise ValueError("the layout does not match the keys")
    keys = [_ordered(key, lay) for key, lay in zip(shown["keys"], layout, strict=True)]
    plan = Plan.from_data({**shown, "keys": keys})
    plan.changes = [
        replace(change, unchanged=int(lay["unchanged"]))
        for change, lay in zip(plan.changes, layout, strict=True)
    ]
    return plan


def _ordered(key: dict[str, Any], layout: dict[str, Any]) -> dict[str, Any]:
    changes = {name: key["changes"][name] for name in layout["fields"]}
    if changes.keys() != key["changes"].keys():
        raise ValueError(f"the layout of {key['address']!r} does not match its fields")
    operations = [
        {**op, "body": {name: op["body"][name] for name in order}} if "body" in op else op
        for op, order in zip(key["operations"], layout["bodies"], strict=True)
    ]
    return {**key, "changes": changes, "operations": operations}
