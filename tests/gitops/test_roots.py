"""Manifest roots: how a job names its root, which files of a pull request touch it, and which
comments and issues are its own (reconciler/gitops/roots.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.gitops.hub import GitHub
from reconciler.gitops.roots import Root, glob, untouched

from ..fakegithub import FakeGitHub, on_actions

TOP = Path("/repo")


def root(*manifests: str) -> Root:
    return Root.of([str(TOP / m) for m in manifests], TOP)


def test_a_root_is_named_by_its_path_from_the_top_of_the_repository() -> None:
    assert root("keys/payments/").name == "keys/payments"
    assert root("keys.prod.yaml").name == "keys.prod.yaml"
    assert Root.of(["/elsewhere/keys.yaml"], TOP).name == "/elsewhere/keys.yaml"
    assert root("keys.prod.yaml", "keys.staging.yaml").name == "keys.prod.yaml, keys.staging.yaml"
    assert root("").name == "." and root("").artifact.startswith("ehkeys-plan-top-")


def test_a_pr_touches_a_root_by_its_file_or_a_file_below_its_folder() -> None:
    payments, prod = root("keys/payments"), root("keys.prod.yaml")
    assert payments.touched(["keys/payments/team-a.yaml"]) and payments.touched(["keys/payments/x/y.yaml"])
    assert not payments.touched(["keys/payments2/keys.yaml", "keys/research/keys.yaml", "README.md"])
    assert prod.touched(["keys.prod.yaml"]) and not prod.touched(["keys.staging.yaml", "keys.prod.yaml.bak"])
    assert Root.of(["/elsewhere/keys.yaml"], TOP).touched(["anything"]), "outside: it cannot be told"
    assert root("").touched(["anything"]), "the whole repository"


def test_when_modified_patterns_read_as_a_workflows_paths_filter() -> None:
    cases = {
        ("action.yml", "action.yml"): True,
        ("*.yml", "action.yml"): True,
        ("*.yml", ".github/workflows/keys-plan.yml"): False,
        ("**.yml", ".github/workflows/keys-plan.yml"): True,
        ("**/*.yaml", "keys.yaml"): True,
        ("keys/*", "keys/a/b.yaml"): False,
        ("keys/**", "keys/a/b.yaml"): True,
        ("shared/", "shared/defaults.yaml"): True,
        ("a?.yaml", "ab.yaml"): True,
    }
    found = {case: bool(glob(case[0]).fullmatch(case[1])) for case in cases}
    assert found == cases
    assert root("keys/payments").touched(["shared/defaults.yaml"], ["shared/**"])


def test_each_root_has_an_artifact_name_of_its_own_that_upload_artifact_takes() -> None:
    names = [root(m).artifact for m in ("keys/a-b", "keys/a/b", "keys/a_b", "keys.prod.yaml", "k" * 200)]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"ehkeys-plan-[A-Za-z0-9._-]+", n) and len(n) < 100 for n in names), names
    assert Root().artifact == "ehkeys-plan", "an unnamed root's artifact keeps the name every plan had"


def test_a_root_edits_its_own_comment_else_one_written_before_roots_never_anothers() -> None:
    payments, research = root("keys/payments"), root("keys/research")
    own, earlier = "<!-- ehkeys-root: keys/payments -->\nmine", "no root line"
    theirs = "<!-- ehkeys-root: keys/research -->\ntheirs"
    assert payments.mine([earlier, theirs, own], str) == [own]
    assert payments.mine([earlier, theirs], str) == [earlier]
    assert research.mine([own], str) == []
    assert Root().mine([own], str) == [own], "an unnamed root (one root) takes any"


def test_stamping_names_the_root_in_the_line_and_the_heading() -> None:
    body = "<!-- ehkeys-apply -->\n### ehkeys apply\n\n2 applied\n"
    stamped = root("keys/payments").stamp(body, "<!-- ehkeys-apply -->", "ehkeys apply")
    assert stamped.splitlines()[:3] == [
        "<!-- ehkeys-apply -->",
        "<!-- ehkeys-root: keys/payments -->",
        "### ehkeys apply `keys/payments`",
    ]
    assert Root().stamp(body, "<!-- ehkeys-apply -->", "ehkeys apply") == body.rstrip("\n") + "\n"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    hub = FakeGitHub()
    with on_actions(hub, monkeypatch):
        yield hub


def test_a_file_moved_out_of_a_root_touches_it(fake: FakeGitHub) -> None:
    fake.open_pull(4, "h", ())
    fake.change(4, "keys/research/team.yaml", status="renamed", previous="keys/payments/team.yaml")
    hub = GitHub.from_env()
    assert untouched(hub, root("keys/payments"), 4, ()) is None
    assert untouched(hub, root("keys/other"), 4, ()) == (
        "PR #4 changes no file of keys/other (2 changed file(s) elsewhere): nothing to plan or apply for it"
    )


@pytest.mark.slow  # 3,000 files through the fake GitHub, each page checked against its description
def test_a_pr_of_more_files_than_github_lists_is_planned(fake: FakeGitHub) -> None:
    """GitHub lists 3,000 files at most: the root's may be among the others."""
    fake.open_pull(5, "h", tuple(f"docs/{i}.md" for i in range(3000)))
    hub = GitHub.from_env()
    assert untouched(hub, root("keys/payments"), 5, ()) is None
    fake.pulls[5]["files"].pop()
    assert untouched(hub, root("keys/payments"), 5, ()) is not None
