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
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.core.secrets import fingerprint
from reconciler.state import others

from ..engine.test_prune_owners import PAYMENTS_STATE, SEARCH_STATE, checkout, root
from ..helpers import run_cli
from .test_drift_owners import both_applied, by_hand, drift_json

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


def leaked(checkout: Path, name: str = "leak") -> str:
    """A key made by hand in the account (a leak, say): its fingerprint, as a state binds it."""
    by_hand(name)
    with sqlite3.connect(checkout.parent / "accounts.db") as db:
        (value,) = db.execute("SELECT key FROM keys WHERE name = ?", (name,)).fetchone()
    return fingerprint(value)


def claiming(source: Path, target: Path, bindings: dict[str, str], **fields: Any) -> None:
    """A state at `target`: `source`'s, binding also `bindings`, with `fields` in place of its own
    (None: left out, as an older state leaves `manifest` out)."""
    data = json.loads(source.read_text())
    data = {**data, "bindings": {**data["bindings"], **bindings}, **fields}
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({k: v for k, v in data.items() if v is not None}))


def reported_by_both(capsys: Any, name: str) -> dict[str, str]:
    """`name` is unmanaged drift in each root's report (exit 2); each one's note on it."""
    notes = {}
    for which in ("keys/search", "keys/payments"):
        code, found = drift_json(capsys, which)
        assert code == 2 and name in unmanaged(found), (which, found)
        assert name not in {k["name"] for k in found.get("managed_elsewhere", [])}
        notes[which] = unmanaged(found)[name]
    return notes


def test_a_key_two_roots_each_bind_to_an_id_their_manifests_dropped_is_drift_in_both(
    checkout: Path, capsys: Any
) -> None:
    """Each root would leave it to the other, and neither root's manifest names it: it was
    silent everywhere."""
    both_applied(capsys)
    leak = leaked(checkout)
    claiming(SEARCH_STATE, SEARCH_STATE, {"search-old": leak})
    claiming(PAYMENTS_STATE, PAYMENTS_STATE, {"pay-old": leak})
    notes = reported_by_both(capsys, "leak")
    assert notes["keys/payments"] == (
        f"not pruned: held by keys/search (its state binds it: {SEARCH_STATE.as_posix()}); drift here: it "
        "binds it to search-old, which keys/search no longer names, so its drift lists it as unmanaged too"
    )


def test_a_key_of_a_root_gone_from_the_checkout_is_drift(checkout: Path, capsys: Any) -> None:
    """keys/team.yaml was deleted; its state, beside it, was not: no drift watches its keys."""
    both_applied(capsys)
    leak = leaked(checkout)
    gone = Path("keys/.ehkeys/team/prod/state.json")
    claiming(SEARCH_STATE, gone, {"team-a": leak}, manifest="../../../team.yaml")
    notes = reported_by_both(capsys, "leak")
    assert notes["keys/search"] == (
        f"held by keys/team.yaml (its state binds it: {gone.as_posix()}); drift here: keys/team.yaml is "
        "not in the checkout, so no root's drift watches it (remove the state of a root that is gone)"
    )


@pytest.mark.parametrize(
    ("where", "fields", "why"),
    [
        (
            "keys/old/.ehkeys/state.json",
            {"manifest": None, "account": None, "format_version": 3},
            "an older state, which names no manifest: no drift reads it",
        ),
        (
            f"{SEARCH_STATE}.conflict-9",
            {},
            "a copy a run could not push, which no drift reads (merge it into its state.json by hand)",
        ),
        (
            "backup/.ehkeys/search/prod/state.json",
            {"manifest": "../../../../keys/search"},
            f"keys/search keeps its state in {SEARCH_STATE.as_posix()}: its drift does not read this one",
        ),
        (
            "keys/elsewhere/.ehkeys/elsewhere/prod/state.json",
            {"manifest": "../../../../../.."},
            "it names a manifest outside the checkout, which no drift here reads",
        ),
    ],
)
def test_a_key_only_a_state_no_drift_reads_binds_is_drift(
    checkout: Path, capsys: Any, where: str, fields: dict[str, Any], why: str
) -> None:
    """A state no root's drift reads: it was silent here; with two of them, one naming each root,
    it was silent everywhere (each root left it to the other)."""
    both_applied(capsys)
    leak = leaked(checkout)
    claiming(SEARCH_STATE, Path(where), {"search-a": leak}, **fields)
    code, found = drift_json(capsys, "keys/payments")
    assert code == 2 and unmanaged(found)["leak"].endswith(f"; drift here: {why}"), found


def test_a_root_that_is_a_link_still_watches_its_keys(checkout: Path, capsys: Any) -> None:
    """keys/strays.yaml is a link to teams/stray.yaml: its state is kept beside the link, where its
    drift reads it, though the state names the file the link leads to."""
    Path("teams").mkdir()
    Path("teams/stray.yaml").write_text(root(["stray"]))
    Path("keys/strays.yaml").symlink_to("../teams/stray.yaml")
    assert run_cli(capsys, "apply", "keys/search", "--auto-approve")[0] == 0
    assert run_cli(capsys, "apply", "keys/strays.yaml", "--auto-approve")[0] == 0
    assert run_cli(capsys, "apply", "keys/payments", "--auto-approve")[0] == 0
    code, found = drift_json(capsys, "keys/payments")
    assert code == 0 and found["groups"]["unmanaged"] == [], found
    assert {k["name"]: k["managed_by"] for k in found["managed_elsewhere"]}["stray"] == "teams/stray.yaml"


def test_a_key_of_a_name_another_accounts_root_adopts_is_drift(checkout: Path, capsys: Any) -> None:
    """keys/research keeps its keys in another ElectronHub account; its manifest names model-x,
    which its state binds to no key yet. A key of that name made by hand in prod was left to it,
    whose drift never reads prod: silent in every root that reads prod. A name tells no account."""
    both_applied(capsys)
    doc = {**yaml.safe_load(root(["model-x"])), "account": "research"}
    doc["accounts"] = {"research": {"api_key": "${EH_RESEARCH_API_KEY}"}}
    Path("keys/research").mkdir()
    Path("keys/research/keys.yaml").write_text(yaml.safe_dump(doc))
    state = Path("keys/research/.ehkeys/research/research/state.json")  # its apply never bound model-x
    state.parent.mkdir(parents=True)
    state.write_text(
        json.dumps({"format_version": 4, "keys": {}, "manifest": "../../..", "account": "research"})
    )
    leaked(checkout, "model-x")
    notes = reported_by_both(capsys, "model-x")
    assert notes["keys/search"] == (
        "maybe keys/research's (its manifest names a key so that its state binds to no key yet: its next "
        "apply adopts this one by name); drift here: a name tells no account, so until its state binds "
        "the key, keys/research's drift may never see it"
    )


def test_a_checkout_of_more_folders_than_a_run_walks_leaves_every_unmanaged_key_drift(
    checkout: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The walk for other manifests' states is bounded (a manifest in a home folder, no `.git`,
    would walk the whole disk on every drift): beyond the bound, closed, saying why. Here the
    bound is lowered below the 10 folders this checkout has, then raised above them."""
    both_applied(capsys)
    monkeypatch.setattr(others, "MAX_FOLDERS", 8)
    code, found = drift_json(capsys, "keys/payments")
    assert code == 2 and sorted(unmanaged(found)) == ["search-a", "search-b"]
    assert found["others_unread"] == (
        f"{checkout}: more than 8 folders below it, more than a run looks through for other manifests' "
        "states: keep the manifests that share an account in a git checkout of their own (the folder "
        "holding .git bounds the search)"
    )
    monkeypatch.setattr(others, "MAX_FOLDERS", 20)
    assert drift_json(capsys, "keys/payments")[0] == 0


def test_states_whose_account_leads_where_they_lie_still_hide_no_rotating_key(
    checkout: Path, capsys: Any
) -> None:
    """Two states, one naming each root, each at a path its account's name makes look like where
    that root keeps it (`../../../../backup/…`), each recording a rotation of the leaked key: no
    account of either manifest is so named, so neither root's drift watches the rotation."""
    both_applied(capsys)
    leak = leaked(checkout)
    for name in ("search", "payments"):
        where = Path(f"backup/{name}/.ehkeys/{name}/prod/state.json")
        account = f"../../../../backup/{name}/.ehkeys/{name}/prod"
        rotation = {"predecessor": leak, "started": 1, "overlap": 3600, "name": f"{name}-rotating"}
        source = SEARCH_STATE if name == "search" else PAYMENTS_STATE
        claiming(source, where, {}, manifest=f"../../../../../keys/{name}", account=account)
        claiming(where, where, {}, rotations={f"{name}-x": rotation})
    notes = reported_by_both(capsys, "leak")
    assert notes["keys/search"].endswith(
        "drift here: it binds it to payments-x, which keys/payments no longer names, so its drift lists "
        "it as unmanaged too"
    )
