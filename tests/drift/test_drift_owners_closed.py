"""`ehkeys drift` of two manifest roots on one account, against states and manifests that try to
make it hide a key: a key is left to another root's drift only when that root's drift watches it
(its own state, where its manifest keeps it, binds it to a key its manifest names). Any other
claim, a key of a root that is gone, an older state, a copy a run could not push, a state naming
no manifest of the checkout, two roots each claiming the other's dropped key, a key of a name
alone, leaves the key this root's drift, saying why; a state no run wrote never crashes drift.
The roots, seed and account are `engine.test_prune_owners`'s, served for real.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ..engine.test_prune_owners import SEARCH_STATE, checkout
from ..helpers import run_cli
from .test_drift_owners import both_applied, drift_json

__all__ = ["checkout"]  # the fixture: two roots of one checkout, the account served


def unmanaged(found: dict[str, Any]) -> dict[str, str]:
    return {k["name"]: k["note"] for k in found["groups"]["unmanaged"]}


@pytest.mark.parametrize(
    ("field", "value"), [("manifest", "keys\u0000search"), ("manifest", "\udce9"), ("account", "pr\u0000od")]
)
def test_another_roots_state_naming_what_no_path_is_leaves_its_keys_drift(
    checkout: Path, capsys: Any, field: str, value: str
) -> None:
    """A NUL or a lone surrogate, which no state ehkeys writes holds: an error naming the file,
    never an internal error."""
    both_applied(capsys)
    SEARCH_STATE.write_text(json.dumps({**json.loads(SEARCH_STATE.read_text()), field: value}))
    code, found = drift_json(capsys, "keys/payments")
    assert code == 2 and sorted(unmanaged(found)) == ["search-a", "search-b"]
    assert found["others_unread"].startswith(f"{SEARCH_STATE}: {field}: ")
    assert "is not a path ehkeys writes" in found["others_unread"]
    code, out, err = run_cli(capsys, "drift", "keys/payments")
    assert code == 2 and "internal error" not in err, err
