"""What the rules review costs, of a root with links: a link the pull request leaves alone, whose
target it leaves alone too, reads the same on the base, and is kept from the checkout; a link the
loader never reads (not YAML) never matters. Once, any link had the whole root read from the
base, a request per file and folder: a 300-file root with one link cost some 304 (334 in 30
folders), so a few pushes spent GITHUB_TOKEN's 1,000 an hour, and then rules-apart failed every
pull request until the budget reset. A link the PR changes, or whose target it changes, is still
compared with the base's. Against the fake GitHub, served for real."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from . import test_gitops as gitops
from .test_gitops import Actions, manifest, plan_comment
from .test_gitops_rules import BASE, FakeGitHub, plan

pytestmark = gitops.pytestmark

hub = gitops.hub
actions = gitops.actions

STRICT, LOOSE = "version: 1\npolicy: {max_allocation: 35}\n", "version: 1\npolicy: {max_allocation: 900}\n"


def team(**allocations: float) -> str:
    return yaml.safe_dump({"keys": yaml.safe_load(manifest(**allocations))["keys"]})


def asked(hub: FakeGitHub) -> list[str]:
    """The review's requests for the base's files (the state's aside)."""
    reads = ("GET /contents/", "GET /git/blobs")
    return [c for c in hub.calls if c.startswith(reads) and "/.ehkeys/" not in c]


def said(hub: FakeGitHub, number: int) -> str:
    comment = plan_comment(hub, number)
    assert "Rules not compared" not in comment and "rules could not be compared" not in comment, comment
    return comment


def root(folders: int) -> dict[str, str]:
    """keys/team.yaml first (the checkout's), 299 team files without keys, in `folders` folders."""
    files = {"keys/team.yaml": team()}
    for i in range(299):
        files[f"keys/f{i % folders:02d}/t{i:03d}.yaml" if folders > 1 else f"keys/t{i:03d}.yaml"] = (
            "keys: []\n"
        )
    return files


COSTLY = {
    "a team file": {"keys/shared.yaml": "../common/shared.yaml"},
    "the settings": {"keys/ehkeys.yaml": "../common/policy.yaml"},
    "two hops": {"keys/ehkeys.yaml": "../common/current.yaml", "common/current.yaml": "policy.yaml"},
}


@pytest.mark.parametrize("folders", [1, 30])
@pytest.mark.parametrize("links", COSTLY.values(), ids=COSTLY)
def test_a_link_the_pr_leaves_alone_costs_what_a_root_without_links_does(
    actions: Actions, hub: FakeGitHub, folders: int, links: dict[str, str]
) -> None:
    """The PR changes a key of keys/team.yaml: its file alone is asked for, as without the link
    (the base, with the link's target, loads: its rules compared, none changed)."""
    files = {**root(folders), "common/shared.yaml": "keys: []\n", "common/policy.yaml": STRICT}
    if "keys/ehkeys.yaml" not in links:
        files["keys/ehkeys.yaml"] = STRICT
    hub.commit(BASE, files, links)
    hub.calls.clear()
    head = {**files, "keys/team.yaml": team(k0=20)}
    code, out = plan(
        actions, 60, head, "--rules-apart", root="keys", links=links, changed=("keys/team.yaml",)
    )
    assert code == 0, out
    assert "Rules changed" not in said(hub, 60)
    assert asked(hub) == ["GET /contents/keys/team.yaml"]


@pytest.mark.parametrize("change", ["left alone", "added", "re-pointed"])
def test_a_link_the_loader_never_reads_never_has_the_root_read_whole(
    actions: Actions, hub: FakeGitHub, change: str
) -> None:
    """keys/README.md, a link to ../common/README.md: not YAML, so no manifest's, however the PR
    leaves it (or the file it reaches)."""
    files = {**root(1), "keys/ehkeys.yaml": STRICT, "common/README.md": "a\n", "common/OTHER.md": "b\n"}
    before = {} if change == "added" else {"keys/README.md": "../common/README.md"}
    after = {"keys/README.md": "../common/OTHER.md" if change == "re-pointed" else "../common/README.md"}
    hub.commit(BASE, files, before)
    hub.calls.clear()
    head = {**files, "keys/team.yaml": team(k0=20), "common/README.md": "c\n"}
    listed = ("keys/team.yaml", "common/README.md", *(() if change == "left alone" else after))
    code, out = plan(actions, 61, head, "--rules-apart", root="keys", links=after, changed=listed)
    assert code == 0, out
    assert "Rules changed" not in said(hub, 61)
    assert asked(hub) == ["GET /contents/keys/team.yaml"]


def test_a_link_the_pr_re_points_is_compared_with_where_it_led_on_the_base(
    actions: Actions, hub: FakeGitHub
) -> None:
    """keys/ehkeys.yaml led to ../common/strict.yaml; the PR points it at ../common/loose.yaml
    (neither file changed) and uses the room: looser, so rules-apart fails."""
    files = {"keys/team.yaml": team(), "common/strict.yaml": STRICT, "common/loose.yaml": LOOSE}
    hub.commit(BASE, files, {"keys/ehkeys.yaml": "../common/strict.yaml"})
    head = {**files, "keys/team.yaml": team(k0=400)}
    links = {"keys/ehkeys.yaml": "../common/loose.yaml"}
    code, out = plan(
        actions,
        62,
        head,
        "--rules-apart",
        root="keys",
        links=links,
        changed=("keys/ehkeys.yaml", "keys/team.yaml"),
    )
    assert code == 4, out
    assert "> - max_allocation: 35.00 -> 900.00, looser" in said(hub, 62)


CHANGED = {
    "the file it reaches": ("common/v1.yaml",),
    "a link on the way": ("common/current.yaml",),
}


@pytest.mark.parametrize("listed", CHANGED.values(), ids=CHANGED)
def test_a_link_to_what_the_pr_changes_is_compared_with_the_base_s_content(
    actions: Actions, hub: FakeGitHub, listed: tuple[str, ...]
) -> None:
    """keys/ehkeys.yaml -> ../common/current.yaml -> v1.yaml, the link left alone: the PR
    loosens v1.yaml, or points current.yaml at v2.yaml. The base's rules are v1's as it was."""
    links = {"keys/ehkeys.yaml": "../common/current.yaml", "common/current.yaml": "v1.yaml"}
    files = {"keys/team.yaml": team(), "common/v1.yaml": STRICT, "common/v2.yaml": LOOSE}
    hub.commit(BASE, files, links)
    head = {**files, "keys/team.yaml": team(k0=400)}
    if listed == ("common/v1.yaml",):
        head["common/v1.yaml"] = LOOSE
    else:
        links = {**links, "common/current.yaml": "v2.yaml"}
    changed = ("keys/team.yaml", *listed)
    code, out = plan(
        actions,
        63,
        head,
        "--rules-apart",
        "--when-modified",
        "common/**",
        root="keys",
        links=links,
        changed=changed,
    )
    assert code == 4, out
    assert "> - max_allocation: 35.00 -> 900.00, looser" in said(hub, 63)


def test_a_link_out_of_the_repository_is_still_said_incomplete(
    actions: Actions, hub: FakeGitHub, tmp_path: Path
) -> None:
    """The PR leaves keys/outside.yaml, a link out of the repository (which the checkout reads),
    alone: the base is read whole, as before, and said incomplete (rules-apart fails)."""
    (tmp_path / "outside.yaml").write_text("keys: []\n")
    links = {"keys/outside.yaml": str(tmp_path / "outside.yaml")}
    files = {"keys/team.yaml": team(), "keys/ehkeys.yaml": STRICT}
    hub.commit(BASE, files, links)
    head = {**files, "keys/team.yaml": team(k0=20)}
    code, out = plan(
        actions, 64, head, "--rules-apart", root="keys", links=links, changed=("keys/team.yaml",)
    )
    assert code == 4, out
    assert "keys/outside.yaml is a link out of the repository" in plan_comment(hub, 64)
