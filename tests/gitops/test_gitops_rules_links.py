"""The rules in review, of a root whose YAML files are links: the base is assembled as the
checkout's loader reads links, each file once however many links reach it (by its real path),
under the name the loader's walk reaches it by first. Read as a copy per link, the base held
its keys twice, did not load (duplicate ids), and rules-apart failed every pull request of such
a repository. Against the fake GitHub, served for real (links on the base commit as git keeps
them: GitHub follows one to a normal file, answers with the link itself otherwise)."""

from __future__ import annotations

import pytest
import yaml
from starlette.responses import JSONResponse

from .. import fakeanswers
from ..fakegithub import FakeGitHub
from . import test_gitops as gitops
from .test_gitops import Actions, manifest, plan_comment
from .test_gitops_rules import BASE, plan

pytestmark = gitops.pytestmark

hub = gitops.hub
actions = gitops.actions

SETTINGS = "version: 1\npolicy: {max_allocation: 35}\n"


def team(**allocations: float) -> str:
    return yaml.safe_dump({"keys": yaml.safe_load(manifest(**allocations))["keys"]})


def said(hub: FakeGitHub, number: int) -> str:
    comment = plan_comment(hub, number)
    assert "Rules not compared" not in comment and "rules could not be compared" not in comment, comment
    return comment


LINKS = {
    "to another team file of the root": {"keys/teams/a.yaml": "../central/a.yaml"},
    "to the settings file": {"keys/teams/a.yaml": "../ehkeys.yaml"},
    "through another link": {"keys/teams/a.yaml": "b.yaml", "keys/teams/b.yaml": "../central/a.yaml"},
}


@pytest.mark.parametrize("links", LINKS.values(), ids=LINKS)
def test_a_file_of_the_root_reached_twice_is_read_once_on_the_base(
    actions: Actions, hub: FakeGitHub, links: dict[str, str]
) -> None:
    """The checkout has the links too: a link to the file the PR changes has the root read whole
    from the base; one to a file it leaves alone (the settings) is kept from the checkout."""
    files = {"keys/ehkeys.yaml": SETTINGS, "keys/central/a.yaml": team()}
    hub.commit(BASE, files, links)
    head = {**files, "keys/central/a.yaml": team(k0=20)}
    code, out = plan(
        actions, 90, head, "--rules-apart", root="keys", links=links, changed=("keys/central/a.yaml",)
    )
    assert code == 0, out  # a key changed, no rule
    assert "Rules changed" not in said(hub, 90)
    whole = any(target.endswith("central/a.yaml") for target in links.values())
    assert ("GET /git/blobs/" in " ".join(hub.calls)) == whole, "read whole, a link's target is its blob"


def test_a_file_the_root_reaches_twice_is_read_once_when_the_pr_raises_a_rule(
    actions: Actions, hub: FakeGitHub
) -> None:
    """The base loads, so the rule raised with the key that uses it fails rules-apart, saying which."""
    links = LINKS["to another team file of the root"]
    hub.commit(BASE, {"keys/ehkeys.yaml": SETTINGS, "keys/central/a.yaml": team()}, links)
    head = {
        "keys/ehkeys.yaml": "version: 1\npolicy: {max_allocation: 50}\n",
        "keys/central/a.yaml": team(k0=40),
    }
    code, out = plan(actions, 91, head, "--rules-apart", root="keys", links=links)
    assert code == 4, out
    assert "> - max_allocation: 35.00 -> 50.00, looser" in said(hub, 91)


def test_a_team_file_two_roots_share_through_a_link_is_read_once(actions: Actions, hub: FakeGitHub) -> None:
    """`plan teams central`, teams/a.yaml a link to ../central/a.yaml: one manifest, the file once."""
    links = {"teams/a.yaml": "../central/a.yaml"}
    own = {"id": "t1", "name": "t1", "allocated_ammount": 5, "limit_type": "daily"}
    other = yaml.safe_dump({"version": 1, "keys": [own]})
    central = yaml.safe_dump({"version": 1, "policy": {"max_allocation": 35}, **yaml.safe_load(team())})
    hub.commit(BASE, {"central/a.yaml": central, "teams/b.yaml": other}, links)
    head = {
        "central/a.yaml": central.replace("allocated_ammount: 10", "allocated_ammount: 20", 1),
        "teams/b.yaml": other,
    }
    code, out = plan(
        actions, 92, head, "--rules-apart", root="teams central", links=links, changed=("central/a.yaml",)
    )
    assert code == 0, out
    assert "Rules changed" not in said(hub, 92)


def test_a_link_on_the_base_the_pr_makes_a_file_is_read_as_the_link(
    actions: Actions, hub: FakeGitHub
) -> None:
    """The checkout has no link (only the PR's files are asked for): the base's link, which
    GitHub follows, is still one file with its target; its own text is read (its folder's
    listing, then its blob), to say where it leads."""
    links = LINKS["to another team file of the root"]
    hub.commit(BASE, {"keys/ehkeys.yaml": SETTINGS, "keys/central/a.yaml": team()}, links)
    own = yaml.safe_dump(
        {"keys": [{"id": "t1", "name": "t1", "allocated_ammount": 5, "limit_type": "daily"}]}
    )
    head = {"keys/ehkeys.yaml": SETTINGS, "keys/central/a.yaml": team(), "keys/teams/a.yaml": own}
    code, out = plan(actions, 93, head, "--rules-apart", root="keys", changed=("keys/teams/a.yaml",))
    assert code == 0, out  # a key added, no rule
    assert "Rules changed" not in said(hub, 93)
    read = [c for c in hub.calls if c.startswith("GET /contents/keys") and "/.ehkeys/" not in c]
    assert read == ["GET /contents/keys/teams/a.yaml", "GET /contents/keys/teams"]


def test_a_yaml_named_link_to_a_folder_is_left_unread_as_the_checkout_leaves_it(
    actions: Actions, hub: FakeGitHub
) -> None:
    """The loader's walk does not enter a linked folder, whatever its name: nothing to compare
    there, not an incomplete base."""
    links = {"keys/extra.yaml": "../common"}
    files = {"keys/ehkeys.yaml": SETTINGS, "keys/team.yaml": team(), "common/other.yaml": "keys: []\n"}
    hub.commit(BASE, files, links)
    head = {**files, "keys/team.yaml": team(k0=20)}
    code, out = plan(
        actions, 94, head, "--rules-apart", root="keys", links=links, changed=("keys/team.yaml",)
    )
    assert code == 0, out
    assert "Rules changed" not in said(hub, 94)


def test_a_root_that_was_a_link_to_a_folder_on_the_base_is_read_as_that_folder(
    actions: Actions, hub: FakeGitHub
) -> None:
    """The PR turns keys, a link to config/keys, into that folder: on the base, the root was
    the folder it linked to (the loader's walk enters the folder it is given, link or not)."""
    files = {"config/keys/ehkeys.yaml": SETTINGS, "config/keys/team.yaml": team()}
    hub.commit(BASE, files, {"keys": "config/keys"})
    head = {"keys/ehkeys.yaml": SETTINGS, "keys/team.yaml": team(k0=20)}
    hub.open_pull(95, "head95")
    hub.change(95, "keys", status="removed")
    hub.change(95, *head, status="added")
    code, out = plan(actions, 95, head, "--rules-apart", root="keys", changed=())
    assert code == 0, out
    assert "Rules changed" not in said(hub, 95)


def test_a_link_into_another_directory_manifest_is_named_as_the_checkout_names_it(
    actions: Actions, hub: FakeGitHub
) -> None:
    """keys/partners holds its own ehkeys.yaml: the walk of keys stops there, and reads its
    t.yaml only through keys/zeta/a.yaml, under that name (here in the base's error)."""
    links = {"keys/zeta/a.yaml": "../partners/t.yaml"}
    partners = {"keys/partners/ehkeys.yaml": "version: 1\n", "keys/partners/t.yaml": "keys: [{id: x}]\n"}
    hub.commit(BASE, {"keys/ehkeys.yaml": SETTINGS, "keys/team.yaml": team(), **partners}, links)
    head = {"keys/ehkeys.yaml": SETTINGS, "keys/team.yaml": team(k0=20), **partners}
    own = {"id": "p0", "name": "p0", "allocated_ammount": 5, "limit_type": "daily"}
    head["keys/partners/t.yaml"] = yaml.safe_dump({"keys": [own]})
    plan(actions, 96, head, root="keys", links=links, changed=("keys/team.yaml", "keys/partners/t.yaml"))
    assert "the manifest there does not load: keys/zeta/a.yaml:1:" in plan_comment(hub, 96)


def test_links_that_loop_on_the_base_are_said_never_an_internal_error(
    actions: Actions, hub: FakeGitHub
) -> None:
    """The PR removes keys/a.yaml -> b.yaml -> a.yaml: the base, read as links, does not load,
    and says why (rules-apart then fails: the rules could not be compared)."""
    loop = {"keys/a.yaml": "b.yaml", "keys/b.yaml": "a.yaml"}
    hub.commit(BASE, {"keys/ehkeys.yaml": SETTINGS, "keys/team.yaml": team()}, loop)
    hub.open_pull(97, "head97")
    hub.change(97, *loop, status="removed")
    head = {"keys/ehkeys.yaml": SETTINGS, "keys/team.yaml": team()}
    code, out = plan(actions, 97, head, "--rules-apart", root="keys", changed=())
    assert code == 4 and "internal error" not in out and "Traceback" not in out, out
    assert (
        "the manifest there does not load: keys/a.yaml: a link that reaches no file (its links loop)"
        in plan_comment(hub, 97)
    )


@pytest.mark.parametrize("path", ["../../outside.yaml", "/etc/team.yaml", "keys/\0.yaml"])
def test_a_followed_link_whose_answer_names_no_path_in_the_repository_is_said(
    actions: Actions, hub: FakeGitHub, path: str
) -> None:
    """GitHub answers a link to a normal file with that file, at its own path: one that is no
    path in the repository is a GitHub error, before anything is written for it."""
    hub.commit(BASE, {"keys/ehkeys.yaml": SETTINGS, "keys/team.yaml": team()})
    answer = fakeanswers.content("keys/team.yaml", team().encode(), BASE, inline=True)
    hub.faults["GET /contents/keys/team.yaml"] = JSONResponse({**answer, "path": path})
    head = {"keys/ehkeys.yaml": SETTINGS, "keys/team.yaml": team(k0=20)}
    code, out = plan(actions, 98, head, "--rules-apart", root="keys", changed=("keys/team.yaml",))
    assert code == 4 and "Traceback" not in out, out
    assert f"GitHub API GET /contents: {path!r} is not a path in the repository" in out
