"""Saved plans (`ehkeys plan --out FILE`, `ehkeys apply --plan FILE`).

A saved plan records, per key to update, the live state it was made against and the exact
update body (less the proxy key): never the API key, never a full proxy key. Apply refuses
a plan whose manifest has changed, and skips any key whose live state moved since.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.errors import StateError
from reconciler.plan import Plan

KIND = "ehkeys-saved-plan"


def _canon(value: Any) -> Any:
    """Plain JSON with money as exact decimal text, for storing and comparing."""
    return json.loads(json.dumps(value, default=str, sort_keys=True))


def save(plan: Plan, path: str, manifest_digest: str) -> None:
    payload = {
        "kind": KIND,
        "format_version": 1,
        "manifest_digest": manifest_digest,
        "updates": {
            k.fingerprint: {"name": k.name, "key": k.key, "live": k.live, "body": _canon(k.body)}
            for k in plan.updates
        },
        "plan": plan.data(),
    }
    try:
        Path(path).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise StateError(f"{path}: cannot write the plan ({exc.strerror})") from exc


@dataclass(frozen=True)
class SavedPlan:
    manifest_digest: str
    updates: dict[str, dict[str, Any]]

    def matches(self, fingerprint: str, live: Any, body: Any) -> bool:
        """True when the key is in this plan and neither its live state nor its update moved."""
        saved = self.updates.get(fingerprint)
        return saved is not None and saved["live"] == live and saved["body"] == _canon(body)


def load(path: str) -> SavedPlan:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("kind") != KIND or data.get("format_version") != 1:
            raise ValueError("not a saved ehkeys plan (make one with `ehkeys plan --out FILE`)")
        return SavedPlan(str(data["manifest_digest"]), dict(data["updates"]))
    except OSError as exc:
        raise StateError(f"{path}: cannot read the plan ({exc.strerror})") from exc
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StateError(f"{path}: {exc}") from exc
