"""Two manifest roots on one account, `keys/search/` and `keys/payments/` (prune: true), both
`account: prod`, through the GitOps jobs one matrix job per root, against the fake GitHub and a
sandbox served on a loopback port: the pruning root never deletes a key the other root's state
(on the state branch) binds, and its plan says whose it is. The other roots' states are read
only when a key would be pruned: one listing of the branch's tree, a blob per other state. One
that cannot be read, or a listing GitHub cut short, prunes nothing, and the plan says why.

Each job is a fresh checkout of the whole repository (both roots), as a matrix job's is.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.responses import JSONResponse

from reconciler.sandbox import Sandbox
from reconciler.sandbox import seed as seeds

from ..engine.test_prune_owners import PROD_KEY, root, seed
from ..fakegithub import REPO, FakeGitHub
from ..githubspec import example
from ..reliability_log import record
from ..served import serving
from . import test_gitops as gitops
from .test_gitops import Actions, kept

pytestmark = pytest.mark.slow  # the GitOps jobs end to end: several jobs per test against the fake GitHub

hub = gitops.hub
SEARCH, PAYMENTS = "keys/search", "keys/payments"
SEARCH_STATE = "keys/search/.ehkeys/search/prod/state.json"
PAYMENTS_STATE = "keys/payments/.ehkeys/payments/prod/state.json"
WHY = f"not pruned: managed by keys/search (its state binds it: ehkeys-state:{SEARCH_STATE})"
TREE = "GET /git/trees/ehkeys-state"


TEXTS = {SEARCH: root(["search-a", "search-b"]), PAYMENTS: root(["pay-1"], prune=True)}


class Matrix(Actions):
    """The keys workflows' matrix over both roots, prod's key from its variable."""

    def __init__(self, tmp: Path, hub: FakeGitHub, mp: pytest.MonkeyPatch, capsys: Any, base: str) -> None:
        super().__init__(tmp, hub, mp, capsys)
        self.db = tmp / "accounts.db"
        mp.setenv("ELECTRONHUB_BASE_URL", base)
        mp.setenv("EH_PROD_API_KEY", PROD_KEY)

    def fresh(self, root: str, event: str, sha: str, payload: dict[str, Any]) -> Path:
        """A matrix job's checkout: both roots."""
        workspace = self.checkout(TEXTS[root], event, sha, payload, f"{root}/keys.yaml")
        for other, text in TEXTS.items():
            (workspace / other).mkdir(parents=True, exist_ok=True)
            (workspace / other / "keys.yaml").write_text(text)
        return workspace

    def plan(self, number: int, root: str) -> tuple[int, str]:
        """keys-plan on a PR that changes `root`: plan, upload the artifact, comment."""
        head = f"h{number}"
        self.hub.pulls.get(number) or self.hub.open_pull(number, head, (f"{root}/keys.yaml",))
        pull = {"number": number, "head": {"sha": head, "repo": {"full_name": REPO}}, "base": {"ref": "main"}}
        payload = {"pull_request": pull}
        workspace = self.fresh(root, "pull_request", f"test-merge-{head}", payload)
        self.hub.start_run(str(1000 + self.runs), head)
        code, out, err = self.run("github", "plan", root)
        if (workspace / "ehkeys-out" / "plan.json").exists():
            self.hub.upload(str(1000 + self.runs), self.outputs()["artifact"], kept(workspace))
        comment = self.run("github", "comment", root)
        return code, out + err + comment[1] + comment[2]

    def apply(self, number: int, root: str) -> tuple[int, str]:
        """keys-apply on the push of the PR's merge commit."""
        self.hub.merge(number, f"m{number}")
        self.fresh(root, "push", f"m{number}", {"after": f"m{number}"})
        code, out, err = self.run("github", "apply", root)
        return code, out + err + self.summary()

    def names(self) -> list[str]:
        with sqlite3.connect(self.db) as db:
            return sorted(name for (name,) in db.execute("SELECT name FROM keys WHERE user_id = 'u1'"))


@pytest.fixture
def matrix(tmp_path: Path, hub: FakeGitHub, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Iterator[Matrix]:
    path = tmp_path / "accounts-seed.yaml"
    path.write_text(yaml.safe_dump(seed()))
    box = Sandbox.open(tmp_path / "accounts.db", seeds.load(str(path)))
    with serving(box.app) as (url,):
        yield Matrix(tmp_path, hub, monkeypatch, capsys, f"{url}/v1")


def plan_comment(hub: FakeGitHub, number: int) -> str:
    return gitops.plan_comment(hub, number)


def applied_search(matrix: Matrix, hub: FakeGitHub) -> None:
    """Search's PR planned and applied first: its state on the branch binds its two keys. Its
    plan has unmanaged keys (payments' and the stray one), so it lists the branch's tree once,
    to tell whose they are: no other root's state there yet, no blob read."""
    code, out = matrix.plan(1, SEARCH)
    assert code == 0, out
    assert hub.calls.count(TREE) == 1 and not any(c.startswith("GET /git/blobs/") for c in hub.calls)
    code, out = matrix.apply(1, SEARCH)
    assert code == 0 and SEARCH_STATE in hub.branches["ehkeys-state"], out


def test_a_pruning_root_never_deletes_the_keys_another_roots_state_binds(
    matrix: Matrix, hub: FakeGitHub
) -> None:
    applied_search(matrix, hub)
    before = len(hub.calls)
    code, out = matrix.plan(2, PAYMENTS)
    assert code == 0, out
    shown = plan_comment(hub, 2)
    assert "1 to delete" in shown and "stray" in shown, "a key nobody binds is still pruned"
    assert shown.count(WHY) == 2 and "search-a" in shown and "search-b" in shown
    reads = [c for c in hub.calls[before:] if c.startswith(("GET /git/trees", "GET /git/blobs"))]
    assert reads == [TREE, reads[1]] and reads[1].startswith("GET /git/blobs/"), "one listing, one state read"

    code, out = matrix.apply(2, PAYMENTS)
    assert code == 0, out
    assert matrix.names() == ["pay-1", "search-a", "search-b"], "search's keys live on; stray pruned"
    assert "as reviewed" in gitops.apply_comment(hub, 2)
    record(
        "gitops",
        "two manifest roots on one account, the second pruning: the first root's keys",
        1,
        "kept, its plan naming whose they are (the other root's state on the branch binds them)",
    )


def test_another_roots_state_that_cannot_be_read_prunes_nothing(matrix: Matrix, hub: FakeGitHub) -> None:
    applied_search(matrix, hub)
    hub.branches["ehkeys-state"][SEARCH_STATE] = b"{not json"
    code, out = matrix.plan(2, PAYMENTS)
    assert code == 0, out
    shown = plan_comment(hub, 2)
    assert (
        "0 to delete" in shown and "nothing is pruned: another manifest root's state cannot be read" in shown
    )
    assert f"ehkeys-state:{SEARCH_STATE}: not an ehkeys state file" in shown
    assert matrix.apply(2, PAYMENTS)[0] == 0
    assert matrix.names() == ["pay-1", "search-a", "search-b", "stray"], "closed: nothing deleted"

    cut = {**example("git/get-tree"), "truncated": True}  # over GitHub's 100,000 entries
    hub.faults[TREE] = JSONResponse(cut)
    code, out = matrix.plan(3, PAYMENTS)
    assert code == 0, out
    assert "0 to delete" in plan_comment(hub, 3) and "the listing is cut short" in plan_comment(hub, 3)
    record(
        "gitops",
        "a pruning root whose other root's state on the branch cannot be read (or its listing is cut)",
        1,
        "nothing pruned, the plan's warning naming the file and why; never every unmanaged key deleted",
    )


def test_another_roots_state_committed_beside_its_manifest_spares_its_keys_while_the_branch_holds_none(
    matrix: Matrix, hub: FakeGitHub
) -> None:
    """Search's state is committed in the repository (as `ehkeys import --out` writes it, as
    docs/gitops.md says to) and the branch holds none for it (search's first apply is yet to come,
    or the branch was lost): a matrix job of payments reads it from its checkout, as search's
    own jobs do, and keeps search's keys."""
    applied_search(matrix, hub)
    matrix.committed[SEARCH_STATE] = hub.branches["ehkeys-state"].pop(SEARCH_STATE)
    code, out = matrix.plan(2, PAYMENTS)
    assert code == 0, out
    shown = plan_comment(hub, 2)
    why = (
        f"not pruned: managed by keys/search (its state binds it: {SEARCH_STATE}, in the checkout: "
        "the branch ehkeys-state holds none there)"
    )
    assert "1 to delete" in shown and shown.count(why) == 2, shown
    assert matrix.apply(2, PAYMENTS)[0] == 0
    assert matrix.names() == ["pay-1", "search-a", "search-b"], "search's keys live on; stray pruned"


def test_a_lost_state_branch_leaves_another_roots_keys_to_the_state_committed_beside_it(
    matrix: Matrix, hub: FakeGitHub
) -> None:
    """The whole branch deleted: each root's state is then the one committed in the repository
    (as docs/gitops.md says to commit import's), and the pruning root spares the keys search's binds."""
    applied_search(matrix, hub)
    matrix.committed[SEARCH_STATE] = hub.branches["ehkeys-state"][SEARCH_STATE]
    del hub.branches["ehkeys-state"]
    code, out = matrix.plan(2, PAYMENTS)
    assert code == 0, out
    shown = plan_comment(hub, 2)
    committed = (
        f"its state binds it: {SEARCH_STATE}, in the checkout: the branch ehkeys-state holds none there"
    )
    assert "1 to delete" in shown and shown.count(committed) == 2, shown
    assert matrix.apply(2, PAYMENTS)[0] == 0
    assert matrix.names() == ["pay-1", "search-a", "search-b"], "search's keys live on; stray pruned"


def test_a_key_of_another_root_named_as_one_of_ours_is_no_doubt_on_a_committed_state(
    matrix: Matrix, hub: FakeGitHub
) -> None:
    """The branch deleted, payments' committed state binds pay-1: a live key of that name is
    no rival (no rotation's successor of ours) while search's state binds it."""
    applied_search(matrix, hub)
    assert matrix.plan(2, PAYMENTS)[0] == 0 and matrix.apply(2, PAYMENTS)[0] == 0
    for path in (SEARCH_STATE, PAYMENTS_STATE):
        matrix.committed[path] = hub.branches["ehkeys-state"][path]
    with sqlite3.connect(matrix.db) as db:  # search's key, named as payments' (the dashboard)
        db.execute("UPDATE keys SET name = 'pay-1' WHERE name = 'search-b'")
    del hub.branches["ehkeys-state"]
    code, out = matrix.plan(3, PAYMENTS)
    assert code == 0 and "no verified apply's" not in out, out
    assert f"not pruned: managed by keys/search (its state binds it: {SEARCH_STATE}" in plan_comment(hub, 3)
