"""Saved plans (`ehkeys plan --out FILE`, `ehkeys apply --plan FILE`).

A saved plan records, per change, its operations and every live value they depend on
(used_ammount included: it decides a refund). Never the API key, never a full proxy key.
Apply refuses a plan whose manifest has changed; a change whose live state or operations
moved since is skipped; keys outside the saved plan are not part of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.changes import Change
from reconciler.errors import StateError, UsageError
from reconciler.plan import Plan

KIND = "ehkeys-saved-plan"
FORMAT_VERSION = 2


def _canon(value: Any) -> Any:
    """Plain JSON with money as exact decimal text, for storing and comparing."""
    return json.loads(json.dumps(value, default=str, sort_keys=True))


def check_path(path: str, manifests: list[str]) -> None:
    """Refuse to write a plan over a manifest, or into any YAML file: that would lose it."""
    target = Path(path).resolve()
    if target in {Path(m).resolve() for m in manifests}:
        raise UsageError(f"--out {path}: that is a manifest on this command line; save the plan elsewhere")
    if target.suffix in (".yaml", ".yml"):
        raise UsageError(f"--out {path}: a saved plan is JSON; name it like plan.json")


def save(plan: Plan, path: str, manifest_digest: str) -> None:
    payload = {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "manifest_digest": manifest_digest,
        "changes": {c.address: _canon(c.saved()) for c in plan.to_apply},
        "plan": _canon(plan.data()),
    }
    try:
        Path(path).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise StateError(f"{path}: cannot write the plan ({exc.strerror})") from exc


@dataclass(frozen=True)
class SavedPlan:
    manifest_digest: str
    changes: dict[str, dict[str, Any]]
    data: dict[str, Any]

    def holds(self, change: Change) -> bool:
        return change.address in self.changes

    def unmoved(self, change: Change) -> bool:
        """True when neither the change's live state nor its operations moved since."""
        saved: Any = self.changes.get(change.address)
        return bool(saved == _canon(change.saved()))


def load(path: str) -> SavedPlan:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("kind") != KIND or data.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"not a saved ehkeys plan of format {FORMAT_VERSION} (make one with `ehkeys plan --out`)"
            )
        return SavedPlan(str(data["manifest_digest"]), dict(data["changes"]), dict(data["plan"]))
    except OSError as exc:
        raise StateError(f"{path}: cannot read the plan ({exc.strerror})") from exc
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StateError(f"{path}: {exc}") from exc
