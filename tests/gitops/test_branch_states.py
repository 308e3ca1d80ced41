"""The other roots' states on the state branch, as a pruning root's job reads them
(`gitops.otherstates`), against the fake GitHub served for real: a listing no git tree gives (a
path with a NUL, absolute or climbing out; a `sha` that is no object's name), a state too big
to be one, or more states than a job reads, prunes nothing and says why, never a traceback nor
a request per file without end; this root's own state where earlier versions kept it is its own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.responses import JSONResponse

from reconciler.core.secrets import fingerprint
from reconciler.engine.settings import Workspace
from reconciler.gitops import otherstates
from reconciler.gitops.hub import GitHub
from reconciler.gitops.otherstates import BranchStates

from ..fakeanswers import listed_tree
from ..fakegithub import FakeGitHub, on_actions

BRANCH = "ehkeys-state"
TREE = f"GET /git/trees/{BRANCH}"
SEARCH = "keys/search/.ehkeys/search/prod/state.json"
KEY = fingerprint("ek-proxy-search-a-secret")


def state(manifest: str | None = "../../..") -> bytes:
    data: dict[str, Any] = {"format_version": 4, "keys": {}, "bindings": {"search-a": KEY}}
    return json.dumps({**data, "manifest": manifest} if manifest else data).encode()


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeGitHub]:
    """The fake GitHub, and a checkout of the directory manifest keys/payments (alone in its folder)."""
    fake = FakeGitHub()
    (tmp_path / "keys" / "payments").mkdir(parents=True)
    (tmp_path / "keys" / "payments" / "keys.yaml").write_text("version: 1\nkeys: []\n")
    monkeypatch.chdir(tmp_path)
    with on_actions(fake, monkeypatch):
        yield fake


def read(tmp_path: Path) -> Any:
    return BranchStates(GitHub.from_env(), tmp_path, Workspace(("keys/payments",))).read()


def texts(owners: dict[str, Any]) -> dict[str, str]:
    """Whose each key (or name) is, as the plan says it: `keys/search (its state binds it: …)`."""
    return {key: str(owner) for key, owner in owners.items()}


@pytest.mark.parametrize(
    "path",
    [
        "keys/se\x00arch/.ehkeys/search/prod/state.json",
        "/keys/search/.ehkeys/search/prod/state.json",
        "keys/payments/../search/.ehkeys/search/prod/state.json",
        "keys/./search/.ehkeys/search/prod/state.json",
        "keys//search/.ehkeys/search/prod/state.json",
    ],
)
def test_a_listing_naming_a_path_no_git_tree_holds_prunes_nothing(
    hub: FakeGitHub, tmp_path: Path, path: str
) -> None:
    listed = listed_tree({SEARCH: state()}, True)
    listed["tree"][-1]["path"] = path
    hub.faults[TREE] = JSONResponse(listed)
    found = read(tmp_path)
    assert found.owners == {} and f"names a path no git tree holds: {path!r}" in found.unknown
    assert not [c for c in hub.calls if c.startswith("GET /git/blobs")], "nothing read by such a listing"


@pytest.mark.parametrize("sha", ["../../../../user", "abc", "A" * 40, "0" * 39 + "\x00"])
def test_a_listing_whose_sha_names_no_object_prunes_nothing(
    hub: FakeGitHub, tmp_path: Path, sha: str
) -> None:
    """A `sha` is put in the blob's URL: one that is no object's name is never sent."""
    listed = listed_tree({SEARCH: state()}, True)
    listed["tree"][-1]["sha"] = sha
    hub.faults[TREE] = JSONResponse(listed)
    found = read(tmp_path)
    assert found.owners == {} and f"names no git object by {sha!r}" in found.unknown
    assert hub.calls == [TREE]


def test_a_state_too_big_to_be_one_is_never_read_and_prunes_nothing(hub: FakeGitHub, tmp_path: Path) -> None:
    hub.branches[BRANCH] = {SEARCH: state()}
    listed = listed_tree(hub.branches[BRANCH], True)
    listed["tree"][-1]["size"] = otherstates.MAX_BYTES + 1
    hub.faults[TREE] = JSONResponse(listed)
    found = read(tmp_path)
    assert found.owners == {} and f"{BRANCH}:{SEARCH}: {otherstates.MAX_BYTES + 1:,} bytes" in found.unknown
    assert hub.calls == [TREE]


def test_more_states_than_a_job_reads_prune_nothing_in_a_bounded_number_of_requests(
    hub: FakeGitHub, tmp_path: Path
) -> None:
    """Conflict copies never cleaned up, roots long gone: a read per state would be a request
    per file without end (GitHub lets a job's token make 1,000 an hour)."""
    many = otherstates.MAX_READS + 1
    hub.branches[BRANCH] = {f"keys/r{i}/.ehkeys/r{i}/state.json": state(None) + b" " * i for i in range(many)}
    found = read(tmp_path)
    assert found.owners == {} and f"{many} files of other roots' states" in found.unknown
    assert hub.calls == [TREE]


def test_a_blob_is_read_once_however_many_files_hold_it(hub: FakeGitHub, tmp_path: Path) -> None:
    """A conflict's copy of a state as it is: one request for both, both binding the key."""
    hub.branches[BRANCH] = {SEARCH: state(), f"{SEARCH}.conflict-7": state()}
    assert texts(read(tmp_path).owners) == {KEY: f"keys/search (its state binds it: {BRANCH}:{SEARCH})"}
    assert len([c for c in hub.calls if c.startswith("GET /git/blobs/")]) == 1


def test_this_roots_state_where_earlier_versions_kept_it_is_its_own(hub: FakeGitHub, tmp_path: Path) -> None:
    """The branch kept `keys/payments/.ehkeys/state.json` (an earlier version's, which names no
    manifest) after the job moved it into place: it is this root's own, alone in its folder,
    and spares none of this root's keys. Beside other manifests nobody can tell whose it is."""
    hub.branches[BRANCH] = {"keys/payments/.ehkeys/state.json": state(None)}
    assert read(tmp_path).owners == {}

    hub.branches[BRANCH] = {"keys/.ehkeys/state.json": state(None)}
    (tmp_path / "keys" / "other.yaml").write_text("version: 1\nkeys: []\n")
    where = f"{BRANCH}:keys/.ehkeys/state.json"
    owner = f"a manifest in keys/ (an older state, which names none) (its state binds it: {where})"
    assert texts(read(tmp_path).owners) == {KEY: owner}


def test_a_create_another_roots_journal_on_the_branch_never_saw_land_names_a_key_it_may_have_made(
    hub: FakeGitHub, tmp_path: Path
) -> None:
    journal = "keys/search/.ehkeys/search/prod/journal.jsonl"
    sent = {"address": "search-c", "name": "search-c", "operation": "create", "result": "sending"}
    hub.branches[BRANCH] = {SEARCH: state(), journal: json.dumps(sent).encode() + b"\n"}
    made = "its state records a create of a key of this name that it never saw land"
    assert texts(read(tmp_path).by_name) == {"search-c": f"keys/search's ({made}: {BRANCH}:{SEARCH})"}


def test_a_key_another_roots_manifest_in_the_checkout_names_and_its_state_binds_not_is_its_by_name(
    hub: FakeGitHub, tmp_path: Path
) -> None:
    """Its next apply adopts a live key of that name (a key moving to it): kept by name."""
    (tmp_path / "keys" / "search").mkdir()
    keys = [{"id": n, "name": n, "limit_type": "daily"} for n in ("search-a", "search-z")]
    (tmp_path / "keys" / "search" / "keys.yaml").write_text(json.dumps({"version": 1, "keys": keys}))
    hub.branches[BRANCH] = {"keys/search/.ehkeys/search/state.json": state("../..")}
    adopts = "its manifest names a key so that its state binds to no key yet: its next apply adopts this one by name"
    assert texts(read(tmp_path).by_name) == {"search-z": f"keys/search's ({adopts})"}


def test_a_manifest_a_state_names_outside_the_checkout_is_never_read(
    hub: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A state on the branch names its manifest by a path anyone who can push there writes: one
    out of the checkout (`../../../..`, the runner's disk) is read for nothing, nor quoted."""
    top = tmp_path / "checkout"
    (top / "keys" / "payments").mkdir(parents=True)
    (top / "keys" / "payments" / "keys.yaml").write_text("version: 1\nkeys: []\n")
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "keys.yaml").write_text(json.dumps({"version": 1, "keys": [{"name": "x"}]}))
    monkeypatch.chdir(top)
    hub.branches[BRANCH] = {SEARCH: state("../../../../../../secret")}
    found = BranchStates(GitHub.from_env(), top, Workspace(("keys/payments",))).read()
    assert (found.by_name, found.unknown) == ({}, "")
    assert [str(o) for o in found.owners.values()] == [f"../secret (its state binds it: {BRANCH}:{SEARCH})"]
