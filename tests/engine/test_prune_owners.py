"""A pruning manifest never deletes a key that another manifest root's state binds, on the
command line: two roots of one git checkout, `keys/payments/` (prune: true) and `keys/search/`,
both on account prod (one sandbox served on a loopback port), each applied on its own command
line. The other root's keys show as unmanaged, saying whose they are; a key nobody binds is
still pruned; another root's state that cannot be read prunes nothing, saying why.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from reconciler.manifest import resources
from reconciler.sandbox import Sandbox
from reconciler.sandbox import seed as seeds

from ..helpers import run_cli
from ..served import serving

PROD_KEY = "ek-test-prod-account"
SEARCH_STATE = Path("keys/search/.ehkeys/search/prod/state.json")
PAYMENTS_STATE = Path("keys/payments/.ehkeys/payments/prod/state.json")
BY_NAME = (  # a key of a name another root may have made, or adopts: its drift may never see it (another account's)
    "; drift here: a name tells no account, so until its state binds the key, keys/search's drift may never see it"
)


def seed() -> dict[str, Any]:
    """prod: search's two keys, payments' one, and a stray key nobody manages."""
    live = {"user_id": "u1", "expires_at": -1, "allocated_ammount": 10.0, "used_ammount": 1.0}
    names = {"search-a": "0001", "search-b": "0002", "pay-1": "0003", "stray": "0004"}
    keys = [{"key": f"ek-proxy-prod-{name}-{n}", "name": name, **live} for name, n in names.items()]
    account = {"user_id": "u1", "name": "prod", "api_key": PROD_KEY, "balance": 500.0}
    return {"accounts": [account], "keys": keys, "rate_limit": {"requests": 100_000, "window_s": 60}}


def root(names: list[str], prune: bool = False) -> str:
    doc = {
        "version": 1,
        "accounts": {"prod": {"api_key": "${EH_PROD_API_KEY}"}},
        "prune": prune,
        "account": "prod",
        "defaults": {"limit_type": "daily"},
        "keys": [{"id": name, "name": name, "allocated_ammount": 10} for name in names],
    }
    return yaml.safe_dump(doc, sort_keys=False)


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A git checkout (its `.git`) holding both roots; the account served for real."""
    path = tmp_path / "accounts-seed.yaml"
    path.write_text(yaml.safe_dump(seed()))
    box = Sandbox.open(tmp_path / "accounts.db", seeds.load(str(path)))
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    for name, text in {"search": root(["search-a", "search-b"]), "payments": root(["pay-1"], True)}.items():
        (repo / "keys" / name).mkdir(parents=True)
        (repo / "keys" / name / "keys.yaml").write_text(text)
    monkeypatch.chdir(repo)
    monkeypatch.setenv("EH_PROD_API_KEY", PROD_KEY)
    with serving(box.app) as (url,):
        monkeypatch.setenv("ELECTRONHUB_BASE_URL", f"{url}/v1")
        yield repo


def made_outside(repo: Path, name: str, value: str, like: str = "stray") -> None:
    """A key landed in the account (a create whose answer its run never recorded): as the
    sandbox's own create writes it, the other values of the key named `like`."""
    with sqlite3.connect(repo.parent / "accounts.db") as db:
        columns = [c for (_, c, *_) in db.execute("PRAGMA table_info(keys)")]
        rest = ", ".join(c for c in columns if c not in ("key", "name"))
        db.execute(
            f"INSERT INTO keys (key, name, {rest}) SELECT ?, ?, {rest} FROM keys WHERE name = ?",
            (value, name, like),
        )


def live(repo: Path) -> list[str]:
    with sqlite3.connect(repo.parent / "accounts.db") as db:
        return sorted(name for (name,) in db.execute("SELECT name FROM keys WHERE user_id = 'u1'"))


def test_a_pruning_root_keeps_the_keys_another_roots_state_binds(checkout: Path, capsys: Any) -> None:
    code, out, err = run_cli(capsys, "apply", "keys/search", "--auto-approve")
    assert code == 0 and SEARCH_STATE.is_file(), out + err

    code, out, err = run_cli(capsys, "plan", "keys/payments", "--format", "json")
    assert code == 0, out + err
    planned = json.loads(out)
    deleted = [c["name"] for c in planned["keys"] if c["action"] == "delete"]
    assert deleted == ["stray"], "a key nobody binds is still pruned; search's are not"
    kept = {u["name"]: u["note"] for u in planned["unmanaged"]}
    why = f"not pruned: managed by keys/search (its state binds it: {SEARCH_STATE.as_posix()})"
    assert kept == {"search-a": why, "search-b": why}
    assert planned["summary"]["requests"] == 2, "the account is read in its two requests, as always"

    code, out, err = run_cli(capsys, "apply", "keys/payments", "--auto-approve")
    assert code == 0, out + err
    assert "managed by keys/search" in out
    assert live(checkout) == ["pay-1", "search-a", "search-b"]
    code, out, _ = run_cli(capsys, "plan", "keys/search", "--detailed-exitcode")
    assert code == 0 and "No changes" in out, "search's keys are as search left them"


def test_another_roots_state_that_cannot_be_read_prunes_nothing(checkout: Path, capsys: Any) -> None:
    assert run_cli(capsys, "apply", "keys/search", "--auto-approve")[0] == 0
    SEARCH_STATE.write_text("{not json")
    code, out, err = run_cli(capsys, "plan", "keys/payments")
    assert code == 0, out + err
    assert "nothing is pruned: another manifest root's state cannot be read" in out + err
    assert f"{SEARCH_STATE.parent}" in out and "not an ehkeys state file" in out
    assert "- stray" not in out and "- search-a" not in out

    code, out, err = run_cli(capsys, "apply", "keys/payments", "--auto-approve")
    assert code == 0, out + err
    assert live(checkout) == ["pay-1", "search-a", "search-b", "stray"], "closed: nothing deleted"


def test_a_checkout_without_other_states_prunes_as_before(checkout: Path, capsys: Any) -> None:
    """Search never applied here: its keys are bound by no state, and the pruning root deletes
    them, as its plan says (docs/manifest.md's caveat: a root's keys are its own once it applied)."""
    code, out, err = run_cli(capsys, "plan", "keys/payments", "--format", "json")
    assert code == 0, out + err
    deleted = sorted(c["name"] for c in json.loads(out)["keys"] if c["action"] == "delete")
    assert deleted == ["search-a", "search-b", "stray"]
    assert not PAYMENTS_STATE.exists()


def test_a_reviewed_prune_of_a_key_another_root_bound_since_is_skipped_saying_why(
    checkout: Path, capsys: Any
) -> None:
    """The plan reviewed before search's first apply deletes search's keys; applied after it,
    they are kept (search's state binds them now), and the apply says so: never 'already as
    planned: the key is gone from the account' of a key that is still there."""
    code, out, err = run_cli(capsys, "plan", "keys/payments", "--out", "reviewed.json")
    assert code == 0 and "- search-a" in out, out + err
    assert run_cli(capsys, "apply", "keys/search", "--auto-approve")[0] == 0

    code, out, err = run_cli(capsys, "apply", "keys/payments", "--plan", "reviewed.json", "--auto-approve")
    assert code == 3, out + err
    assert live(checkout) == ["pay-1", "search-a", "search-b"], "search's keys kept; stray pruned"
    assert "gone from the account" not in out and "already as planned" not in out
    why = f"not pruned now: managed by keys/search (its state binds it: {SEARCH_STATE.as_posix()})"
    assert f"search-a (ek-proxy-…0001): skipped: changed since plan; {why}" in out, out


def test_a_key_another_root_sent_the_create_of_and_never_saw_land_is_not_pruned(
    checkout: Path, capsys: Any
) -> None:
    """Search's apply of a new key search-c was cut off (a kill, a lost answer) once the create
    was sent: its journal says so, and the key landed. Nothing binds it yet (search's next
    apply asks which key it is), so payments keeps it: it may be search's."""
    assert run_cli(capsys, "apply", "keys/search", "--auto-approve")[0] == 0
    line = {"time": "2026-01-01T00:00:00Z", "address": "search-c", "name": "search-c"}
    sent = {**line, "operation": "create", "result": "sending"}
    (SEARCH_STATE.parent / "journal.jsonl").write_text(json.dumps(sent) + "\n")
    made_outside(checkout, "search-c", "ek-proxy-prod-search-c-0009")

    code, out, err = run_cli(capsys, "plan", "keys/payments", "--format", "json")
    assert code == 0, out + err
    planned = json.loads(out)
    assert [c["name"] for c in planned["keys"] if c["action"] == "delete"] == ["stray"]
    kept = {u["name"]: u["note"] for u in planned["unmanaged"]}
    assert kept["search-c"] == (
        "not pruned: maybe keys/search's (its state records a create of a key of this name that it "
        f"never saw land: {SEARCH_STATE.as_posix()}){BY_NAME}"
    )


def test_the_successor_of_another_roots_rotation_not_yet_recorded_is_not_pruned(
    checkout: Path, capsys: Any
) -> None:
    """Search's rotation of search-a was cut off once its successor's create was sent: the
    rotation's record (in search's state) names the successor, which no state binds yet."""
    assert run_cli(capsys, "apply", "keys/search", "--auto-approve")[0] == 0
    data = json.loads(SEARCH_STATE.read_text())
    rotation = {
        "predecessor": data["bindings"]["search-a"],
        "started": 1,
        "overlap": 3600,
        "name": "search-a",
    }
    SEARCH_STATE.write_text(json.dumps({**data, "rotations": {"search-a": rotation}}))
    made_outside(checkout, "search-a", "ek-proxy-prod-search-a-0010")

    code, out, err = run_cli(capsys, "plan", "keys/payments", "--format", "json")
    assert code == 0, out + err
    planned = json.loads(out)
    assert [c["name"] for c in planned["keys"] if c["action"] == "delete"] == ["stray"]
    successor = [u["note"] for u in planned["unmanaged"] if u["key"].endswith("0010")]
    assert successor == [
        "not pruned: maybe keys/search's (its state records a create of a key of this name that it "
        f"never saw land: {SEARCH_STATE.as_posix()}){BY_NAME}"
    ]


def test_another_roots_state_folder_kept_elsewhere_by_a_link_still_spares_its_keys(
    checkout: Path, capsys: Any
) -> None:
    """Search keeps its state out of the checkout, its `.ehkeys` a link there: its keys are still
    its own. One leading nowhere (its target not on this machine) prunes nothing, and says so."""
    kept = checkout.parent / "search-state"
    kept.mkdir()
    Path("keys/search/.ehkeys").symlink_to(kept)
    assert run_cli(capsys, "apply", "keys/search", "--auto-approve")[0] == 0
    assert (kept / "search" / "prod" / "state.json").is_file()

    code, out, err = run_cli(capsys, "plan", "keys/payments", "--format", "json")
    assert code == 0, out + err
    planned = json.loads(out)
    assert [c["name"] for c in planned["keys"] if c["action"] == "delete"] == ["stray"]
    kept_keys = {u["name"]: u["note"] for u in planned["unmanaged"]}
    why = f"not pruned: managed by keys/search (its state binds it: {SEARCH_STATE.as_posix()})"
    assert kept_keys == {"search-a": why, "search-b": why}

    kept.rename(checkout.parent / "moved")
    code, out, err = run_cli(capsys, "plan", "keys/payments")
    assert code == 0, out + err
    assert "nothing is pruned: another manifest root's state cannot be read" in out
    assert "keys/search/.ehkeys: a link that leads nowhere" in out and "- stray" not in out


def test_a_pruning_plan_outside_a_git_checkout_says_where_it_looked_for_other_states(
    checkout: Path, capsys: Any
) -> None:
    """No `.git` above the manifest (an exported tree, a CI that copies files): the other
    manifests' states are looked for only below the manifest's own folder, so search's keys are
    pruned as any other; the plan says so beside what it deletes, for the reviewer."""
    assert run_cli(capsys, "apply", "keys/search", "--auto-approve")[0] == 0
    (checkout / ".git").rmdir()
    code, out, err = run_cli(capsys, "plan", "keys/payments")
    assert code == 0, out + err
    assert "- search-a" in out, "documented: outside a checkout, search's state is not found"
    said = (
        "prune: no git checkout holds keys/payments (no .git above it): other manifests' states were "
        "looked for only below keys/payments/, so a key that the state of a manifest elsewhere binds "
        "is pruned here as any other"
    )
    assert said in " ".join(out.split()), out


def test_a_key_moving_to_another_root_is_not_pruned_before_that_root_adopts_it(
    checkout: Path, capsys: Any
) -> None:
    """pay-1 moves from payments to search in one change (a PR of both roots: their jobs apply
    in either order): search's manifest names it (its next apply adopts it by name), payments'
    drops it. Payments, applied first, would delete it
    (its own state binds it, no other does yet): kept, then search's once search applied."""
    assert run_cli(capsys, "apply", "keys/search", "--auto-approve")[0] == 0
    assert run_cli(capsys, "apply", "keys/payments", "--auto-approve")[0] == 0
    Path("keys/search/keys.yaml").write_text(root(["search-a", "search-b", "pay-1"]))
    Path("keys/payments/keys.yaml").write_text(root(["stray"], prune=True))  # a key of its own, made anew

    code, out, err = run_cli(capsys, "plan", "keys/payments", "--format", "json")
    assert code == 0, out + err
    planned = json.loads(out)
    assert [c["name"] for c in planned["keys"] if c["action"] == "delete"] == []
    assert {u["name"]: u["note"] for u in planned["unmanaged"]}["pay-1"] == (
        "not pruned: maybe keys/search's (its manifest names a key so that its state binds to no "
        f"key yet: its next apply adopts this one by name){BY_NAME}"
    )
    assert run_cli(capsys, "apply", "keys/payments", "--auto-approve")[0] == 0
    assert run_cli(capsys, "apply", "keys/search", "--auto-approve")[0] == 0
    assert live(checkout) == ["pay-1", "search-a", "search-b", "stray"]
    code, out, err = run_cli(capsys, "plan", "keys/payments", "--format", "json")
    why = f"not pruned: managed by keys/search (its state binds it: {SEARCH_STATE.as_posix()})"
    assert {u["name"]: u["note"] for u in json.loads(out)["unmanaged"]}["pay-1"] == why


def test_another_roots_manifest_that_cannot_be_read_prunes_nothing(checkout: Path, capsys: Any) -> None:
    """Its next apply, once it is mended, adopts by name the keys it names: any of those this
    plan would prune."""
    assert run_cli(capsys, "apply", "keys/search", "--auto-approve")[0] == 0
    Path("keys/search/keys.yaml").write_text("version: 1\nkeys: [\n")
    code, out, err = run_cli(capsys, "plan", "keys/payments")
    assert code == 0, out + err
    shown = " ".join(out.split())
    assert "nothing is pruned: another manifest root's state cannot be read (keys/search, whose" in shown
    assert "next apply may adopt a key by its name, cannot be read: keys/search/keys.yaml:" in shown
    assert "- stray" not in out


def test_a_root_that_does_not_prune_lists_another_roots_keys_as_that_roots(
    checkout: Path, capsys: Any
) -> None:
    """Search (prune: false) plans beside payments' applied state: payments' key is unmanaged
    here, saying whose it is (`managed_by`, in the plan's JSON schema); the stray key is
    unmanaged as ever. The account is still read in its two requests."""
    assert run_cli(capsys, "apply", "keys/search", "--auto-approve")[0] == 0
    assert run_cli(capsys, "apply", "keys/payments", "--auto-approve")[0] == 0
    made_outside(checkout, "stray", "ek-proxy-prod-stray-0005", like="pay-1")  # pruned: made again
    code, out, err = run_cli(capsys, "plan", "keys/search", "--format", "json")
    assert code == 0, out + err
    planned = json.loads(out)
    jsonschema.validate(planned, resources.schema("plan"))
    why = f"managed by keys/payments (its state binds it: {PAYMENTS_STATE.as_posix()})"
    listed = [(u["name"], u["note"], u.get("managed_by")) for u in planned["unmanaged"]]
    assert listed == [("pay-1", why, "keys/payments"), ("stray", None, None)]
    assert planned["summary"]["requests"] == 2 and planned["notes"] == []


def test_a_key_another_root_manages_is_not_adopted_by_name(checkout: Path, capsys: Any) -> None:
    """Payments' manifest names search-a too: adopted by name, both roots would manage it (each
    apply reverting the other's values, each drift in sync after its own). An error, saying
    whose it is; once search's manifest lets it go, payments adopts it (a move)."""
    assert run_cli(capsys, "apply", "keys/search", "--auto-approve")[0] == 0
    Path("keys/payments/keys.yaml").write_text(root(["pay-1", "search-a"], True))
    code, out, err = run_cli(capsys, "plan", "keys/payments", "--format", "json")
    planned = {c["name"]: c for c in json.loads(out)["keys"]}
    assert code == 1 and planned["search-a"]["action"] == "error", out + err
    assert planned["search-a"]["error"] == (
        "a live key of this name, ek-proxy-…0001, is managed by keys/search (its state binds it: "
        f"{SEARCH_STATE.as_posix()}): two manifests would each manage it, each apply reverting the "
        "other's values. Rename this key; or, to move it here, remove it from keys/search's manifest first"
    )
    code, out, err = run_cli(capsys, "drift", "keys/payments")
    assert code == 1 and "managed by keys/search" in out + err

    Path("keys/search/keys.yaml").write_text(root(["search-b"]))
    code, out, err = run_cli(capsys, "plan", "keys/payments", "--format", "json")
    assert code == 0, out + err
    assert {c["name"]: c["action"] for c in json.loads(out)["keys"]}["search-a"] == "update"


def test_a_key_another_root_remembers_protected_is_not_deleted_here(checkout: Path, capsys: Any) -> None:
    """Search protects search-a, then drops it from its manifest (no prune: it stays, and search's
    state still remembers it protected). Payments adopting it by name with `absent: true` deleted
    it: a protected key deleted by a change that never listed it with its protect removed. An
    error now, saying how it can go; adopted without `protect`, the plan warns "protect removed",
    as for a key of its own, and once that is applied a later apply of payments deletes it. The
    other keys are ignored: only the delete and the adoption ask for the other roots' states."""
    search = yaml.safe_load(root(["search-a", "search-b"]))
    search["keys"][0]["protect"] = True
    Path("keys/search/keys.yaml").write_text(yaml.safe_dump(search, sort_keys=False))
    assert run_cli(capsys, "apply", "keys/search", "--auto-approve")[0] == 0
    search["keys"] = search["keys"][1:]
    Path("keys/search/keys.yaml").write_text(yaml.safe_dump(search, sort_keys=False))
    assert run_cli(capsys, "apply", "keys/search", "--auto-approve")[0] == 0

    payments = yaml.safe_load(root(["pay-1", "search-a"]))
    payments["ignore"] = ["search-b", "stray"]
    payments["keys"][1] = {"id": "search-a", "name": "search-a", "absent": True}
    Path("keys/payments/keys.yaml").write_text(yaml.safe_dump(payments, sort_keys=False))
    code, out, err = run_cli(capsys, "plan", "keys/payments", "--format", "json")
    planned = {c["name"]: c for c in json.loads(out)["keys"]}
    assert code == 1 and planned["search-a"]["action"] == "error", out + err
    assert planned["search-a"]["error"] == (
        "protected by keys/search (its state remembers it protected, as 'search-a': "
        f"{SEARCH_STATE.as_posix()}), but the plan would delete it: a protected key is deleted only "
        "after an apply that lists it with its protect removed, here (without absent: true; the plan "
        "warns \"protect removed\") or in keys/search (as 'search-a')"
    )
    code, out, err = run_cli(capsys, "apply", "keys/payments", "--auto-approve")
    assert code == 3 and "search-a" in live(checkout), out + err  # 3: pay-1 applied, search-a not planned

    pinned = {"id": "pinned", "name": "pinned", "proxy_key": "${EH_PINNED:-ek-proxy-prod-search-a-0001}"}
    for key in (
        {**pinned, "allocated_ammount": 10},
        {"id": "search-a", "name": "search-a", "allocated_ammount": 10},
    ):
        payments["keys"][1] = key  # bound by its proxy_key, or adopted by its name: warned alike
        Path("keys/payments/keys.yaml").write_text(yaml.safe_dump(payments, sort_keys=False))
        code, out, err = run_cli(capsys, "plan", "keys/payments", "--format", "json")
        planned = {c["address"]: c for c in json.loads(out)["keys"]}
        assert code == 0 and planned[key["id"]]["warnings"][0] == (
            "protect removed: keys/search's state remembers it protected (as 'search-a'); once this is "
            "applied, a later apply here may delete this key (absent: true, or prune)"
        ), out + err
    assert run_cli(capsys, "apply", "keys/payments", "--auto-approve")[0] == 0  # reviewed, unprotected
    payments["keys"][1] = {"id": "search-a", "name": "search-a", "absent": True}
    Path("keys/payments/keys.yaml").write_text(yaml.safe_dump(payments, sort_keys=False))
    code, out, err = run_cli(capsys, "apply", "keys/payments", "--auto-approve")
    assert code == 0 and "search-a" not in live(checkout), out + err
