"""The rules in review, of a root whose YAML link reaches its file through a linked folder
(`keys/ehkeys.yaml -> ../central/policy.yaml`, `central -> config/central`): the contents API
follows no folder link (`central/policy.yaml` is Not Found on the base), so the base's file was
"not on the commit" and rules-apart failed every pull request of such a team, a key-only one
too. The target is now resolved through the base's own links, hop by hop, as the system
resolves it in a checkout; a rule loosened through such a link is still caught, and a folder
link out of the repository, in a loop, in too long a chain, going into a folder and back out,
or to a submodule, is still said not compared. Against the fake GitHub, served for real."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.gitops import roots

from . import test_gitops as gitops
from .test_gitops import Actions, plan_comment
from .test_gitops_rules import BASE, FakeGitHub, plan
from .test_gitops_rules_cost import LOOSE, STRICT, asked, said, team

pytestmark = gitops.pytestmark

hub = gitops.hub
actions = gitops.actions

LINKS = {"keys/ehkeys.yaml": "../central/policy.yaml", "central": "config/central"}
FILES = {"keys/team.yaml": team(), "config/central/policy.yaml": STRICT, "config/loose/policy.yaml": LOOSE}
LOOSER = "> - max_allocation: 35.00 -> 900.00, looser"


def test_a_key_only_pr_is_compared_at_the_cost_of_its_own_file(actions: Actions, hub: FakeGitHub) -> None:
    """The PR changes a key of keys/team.yaml and leaves the link, the folder link and the file
    they reach alone: the checkout stands for them (the fast path), one request."""
    hub.commit(BASE, FILES, LINKS)
    hub.calls.clear()
    head = {**FILES, "keys/team.yaml": team(k0=20)}
    code, out = plan(
        actions, 300, head, "--rules-apart", root="keys", links=LINKS, changed=("keys/team.yaml",)
    )
    assert code == 0, out
    assert "Rules changed" not in said(hub, 300)
    assert asked(hub) == ["GET /contents/keys/team.yaml"]


def test_a_key_only_pr_beside_a_link_in_a_folder_it_leaves_alone(actions: Actions, hub: FakeGitHub) -> None:
    """keys/common/central.yaml -> ../../central/team.yaml (through the linked folder): the PR
    changes keys/team.yaml only, outside the link's folder."""
    links = {**LINKS, "keys/common/central.yaml": "../../central/team.yaml"}
    files = {**FILES, "config/central/team.yaml": "keys: []\n"}
    hub.commit(BASE, files, links)
    hub.calls.clear()
    head = {**files, "keys/team.yaml": team(k0=20)}
    code, out = plan(
        actions, 301, head, "--rules-apart", root="keys", links=links, changed=("keys/team.yaml",)
    )
    assert code == 0, out
    assert "Rules changed" not in said(hub, 301)
    assert asked(hub) == ["GET /contents/keys/team.yaml"]


@pytest.mark.parametrize("why", ["the pr's files unlisted", "a readme removed"])
def test_a_key_only_pr_read_whole_resolves_the_folder_link_on_the_base(
    actions: Actions, hub: FakeGitHub, monkeypatch: pytest.MonkeyPatch, why: str
) -> None:
    """The root read whole from the base (more files than GitHub lists; a README removed, which
    may have been a submodule): central/policy.yaml is read as config/central/policy.yaml."""
    if why == "the pr's files unlisted":
        monkeypatch.setattr(roots, "MAX_FILES", 0)
    hub.commit(BASE, {**FILES, "keys/README.md": "r\n"}, LINKS)
    hub.open_pull(302, "head302")
    hub.change(302, "keys/README.md", status="removed")
    hub.calls.clear()
    head = {**FILES, "keys/team.yaml": team(k0=20)}
    code, out = plan(
        actions, 302, head, "--rules-apart", root="keys", links=LINKS, changed=("keys/team.yaml",)
    )
    assert code == 0, out
    assert "Rules changed" not in said(hub, 302)
    assert "GET /contents/config/central/policy.yaml" in asked(hub)
    assert len(asked(hub)) <= 6, asked(hub)


def test_the_file_reached_through_a_linked_folder_loosened_with_a_key_is_caught(
    actions: Actions, hub: FakeGitHub
) -> None:
    """The PR loosens config/central/policy.yaml and uses the room: the base's old rules are read."""
    hub.commit(BASE, FILES, LINKS)
    head = {**FILES, "config/central/policy.yaml": LOOSE, "keys/team.yaml": team(k0=400)}
    changed = ("config/central/policy.yaml", "keys/team.yaml")
    code, out = plan(actions, 303, head, "--rules-apart", root="keys", links=LINKS, changed=changed)
    assert code == 4, out
    assert LOOSER in said(hub, 303)


def test_the_file_reached_through_a_linked_folder_changed_alone_is_compared(
    actions: Actions, hub: FakeGitHub
) -> None:
    """The PR loosens config/central/policy.yaml alone: the root is planned, the rule said."""
    hub.commit(BASE, FILES, LINKS)
    head = {**FILES, "config/central/policy.yaml": LOOSE}
    changed = ("config/central/policy.yaml",)
    code, out = plan(actions, 304, head, root="keys", links=LINKS, changed=changed)
    assert code == 0 and "nothing to plan" not in out, out
    assert LOOSER in said(hub, 304)


def test_the_linked_folder_re_pointed_with_a_key_is_caught(actions: Actions, hub: FakeGitHub) -> None:
    """The PR points central at config/loose and uses the room: the base's central led to the strict file."""
    hub.commit(BASE, FILES, LINKS)
    head = {**FILES, "keys/team.yaml": team(k0=400)}
    links = {**LINKS, "central": "config/loose"}
    code, out = plan(
        actions, 305, head, "--rules-apart", root="keys", links=links, changed=("central", "keys/team.yaml")
    )
    assert code == 4, out
    assert LOOSER in said(hub, 305)


def test_two_folder_links_on_the_way_are_each_followed(actions: Actions, hub: FakeGitHub) -> None:
    """central -> config/central, config -> etc: the file is etc/central/policy.yaml on the base;
    the PR loosens it and uses the room."""
    files = {"keys/team.yaml": team(), "etc/central/policy.yaml": STRICT}
    links = {**LINKS, "config": "etc"}
    hub.commit(BASE, files, links)
    head = {**files, "etc/central/policy.yaml": LOOSE, "keys/team.yaml": team(k0=400)}
    changed = ("etc/central/policy.yaml", "keys/team.yaml")
    code, out = plan(actions, 306, head, "--rules-apart", root="keys", links=links, changed=changed)
    assert code == 4, out
    assert LOOSER in said(hub, 306)


def refused(hub: FakeGitHub, number: int) -> str:
    comment = plan_comment(hub, number)
    assert "Rules not compared" in comment and "rules could not be compared" in comment, comment
    return comment


def key_only(
    actions: Actions,
    number: int,
    links: dict[str, str],
    changed: tuple[str, ...] = (),
    files: dict[str, str] = FILES,
) -> tuple[int, str]:
    """A PR that changes a key of keys/team.yaml (and `changed`), its checkout holding `links`."""
    head = {**files, "keys/team.yaml": team(k0=20)}
    listed = ("keys/team.yaml", *changed)
    return plan(actions, number, head, "--rules-apart", root="keys", links=links, changed=listed)


def test_a_folder_link_out_of_the_repository_left_alone_is_not_compared(
    actions: Actions, hub: FakeGitHub, tmp_path: Path
) -> None:
    """The checkout follows central to a folder outside the repository; the fast path does not
    keep it, the base read says so."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "policy.yaml").write_text(STRICT)
    links = {**LINKS, "central": str(tmp_path / "outside")}
    hub.commit(BASE, FILES, links)
    code, out = key_only(actions, 307, links)
    assert code == 4 and "Traceback" not in out, out
    assert "central is a link out of the repository" in refused(hub, 307)


def test_a_folder_link_into_a_folder_and_back_out_left_alone_is_not_compared(
    actions: Actions, hub: FakeGitHub
) -> None:
    """central -> config/x/../central: its text says config/central, the system goes through config/x."""
    links = {**LINKS, "central": "config/x/../central"}
    files = {**FILES, "config/x/readme.txt": "r\n"}
    hub.commit(BASE, files, links)
    code, out = key_only(actions, 308, links, files=files)
    assert code == 4 and "Traceback" not in out, out
    assert "goes into a folder and back out" in refused(hub, 308)


CHAIN = {"central": "d00", **{f"d{i:02d}": f"d{i + 1:02d}" for i in range(45)}, "d45": "config/central"}
ON_THE_BASE = {
    "a loop": ({"central": "loop", "loop": "central"}, "link of a chain: more than a checkout follows"),
    "45 folder links": (CHAIN, "link of a chain: more than a checkout follows"),
    "to a file": ({"central": "config/central/policy.yaml"}, "not on the commit"),
    "to nothing": ({"central": "config/gone"}, "not on the commit"),
    "to a submodule": ({"central": "vendor"}, "vendor is a submodule"),
}


@pytest.mark.parametrize(("folder", "says"), ON_THE_BASE.values(), ids=ON_THE_BASE)
def test_a_folder_link_that_led_nowhere_readable_on_the_base_is_not_compared(
    actions: Actions, hub: FakeGitHub, folder: dict[str, str], says: str
) -> None:
    """The PR re-points central (and removes the base's other links) with a key: the base's
    central is followed as the system would, and leads to no file the contents API reads."""
    modules = {"vendor": "c0ffee" * 6 + "abcd"} if "vendor" in folder.values() else {}
    hub.commit(BASE, FILES, {**LINKS, **folder}, submodules=modules)
    code, out = key_only(actions, 309, LINKS, changed=tuple(folder) + tuple(modules))
    assert code == 4 and "Traceback" not in out, out
    assert says in refused(hub, 309)


def test_a_folder_link_re_pointed_from_a_name_not_utf8_to_its_json_spelling_is_caught(
    actions: Actions, hub: FakeGitHub
) -> None:
    """central -> sh\\xff on the base, the strict file there; GitHub's JSON spells that target
    `sh\\ufffd`, which is another folder's name, holding the loose file. The PR re-points central
    to sh\\ufffd (its diff shows the same target on both sides) and uses the room: the base read
    that folder as central's, found the rules unchanged, and rules-apart passed. The base's link
    is read by its own bytes (its blob): a name no URL asks for, said not compared."""
    odd, decoy = "sh\udcff", "sh\ufffd"  # os.fsdecode(b"sh\xff"), and its spelling in JSON
    files = {"keys/team.yaml": team(), f"{odd}/policy.yaml": STRICT, f"{decoy}/policy.yaml": LOOSE}
    hub.commit(BASE, files, {**LINKS, "central": odd})
    head = {"keys/team.yaml": team(k0=400), f"{decoy}/policy.yaml": LOOSE}
    links = {**LINKS, "central": decoy}
    code, out = plan(
        actions, 310, head, "--rules-apart", root="keys", links=links, changed=("central", "keys/team.yaml")
    )
    assert code == 4, out
    assert "sh\\xff/policy.yaml is not UTF-8: the contents API cannot be asked for it" in out, out


TO_THE_TOP = {
    "top -> .": {"keys/ehkeys.yaml": "../top/config/central/policy.yaml", "top": "."},
    "a/up -> ..": {"keys/ehkeys.yaml": "../a/up/config/central/policy.yaml", "a/up": ".."},
    "up -> . on a hop": {
        "keys/ehkeys.yaml": "../central/policy.yaml",
        "central": "up/config/central",
        "up": ".",
    },
}
READ = {"from the checkout": False, "whole": True}


@pytest.mark.parametrize("whole", READ.values(), ids=READ)
@pytest.mark.parametrize("links", TO_THE_TOP.values(), ids=TO_THE_TOP)
def test_a_folder_link_to_the_repositorys_top_is_followed_not_refused(
    actions: Actions, hub: FakeGitHub, monkeypatch: pytest.MonkeyPatch, links: dict[str, str], whole: bool
) -> None:
    """A folder link to the repository's top ('.', or '..' a folder down) was "'.' is not a path
    in the repository", a GitHub API error, and rules-apart failed every key-only PR."""
    if whole:
        monkeypatch.setattr(roots, "MAX_FILES", 0)
    files = {**FILES, "a/readme.txt": "r\n"}
    hub.commit(BASE, files, links)
    hub.calls.clear()
    code, out = key_only(actions, 311, links, files=files)
    assert code == 0, out
    assert "Rules changed" not in said(hub, 311)


@pytest.mark.parametrize("links", TO_THE_TOP.values(), ids=TO_THE_TOP)
def test_the_file_a_link_to_the_top_leads_to_loosened_with_a_key_is_caught(
    actions: Actions, hub: FakeGitHub, links: dict[str, str]
) -> None:
    files = {**FILES, "a/readme.txt": "r\n"}
    hub.commit(BASE, files, links)
    head = {**files, "config/central/policy.yaml": LOOSE, "keys/team.yaml": team(k0=400)}
    changed = ("config/central/policy.yaml", "keys/team.yaml")
    code, out = plan(actions, 312, head, "--rules-apart", root="keys", links=links, changed=changed)
    assert code == 4, out
    assert LOOSER in said(hub, 312)


@pytest.mark.parametrize("target", ["../common", ".."])
def test_a_file_the_pr_changes_that_was_a_link_to_a_folder_is_not_read_as_that_folder(
    actions: Actions, hub: FakeGitHub, target: str
) -> None:
    """keys/extra.yaml -> ../common (or the repository's top) on the base, a team file in the
    PR: the loader does not enter a linked folder, yet its 100 files were read, a request each."""
    many = {f"common/d{i}/f{j}.yaml": "keys: []\n" for i in range(10) for j in range(10)}
    files = {**FILES, **many}
    links = {**LINKS, "keys/extra.yaml": target}
    hub.commit(BASE, files, links)
    hub.calls.clear()
    head = {**files, "keys/extra.yaml": "keys: []\n", "keys/team.yaml": team(k0=20)}
    changed = ("keys/extra.yaml", "keys/team.yaml")
    code, out = plan(actions, 313, head, "--rules-apart", root="keys", links=LINKS, changed=changed)
    assert code == 0, out
    assert "Rules changed" not in said(hub, 313)
    assert len(asked(hub)) <= 4, asked(hub)


INTO_GIT = {
    "a file link": {"keys/ehkeys.yaml": "../.git/policy.yaml"},
    "a folder link": {"keys/ehkeys.yaml": "../central/policy.yaml", "central": ".git"},
    "a folder link, its case changed": {"keys/ehkeys.yaml": "../central/policy.yaml", "central": ".Git"},
}  # .Git: the runner's .git where names ignore case (macOS), a folder of its own here


@pytest.mark.parametrize("links", INTO_GIT.values(), ids=INTO_GIT)
def test_a_link_into_git_is_not_read_from_the_runners_checkout(
    actions: Actions, hub: FakeGitHub, links: dict[str, str]
) -> None:
    """No commit holds .git (git and GitHub refuse the name, in any case): a base link into it
    leads to nothing there. The checkout's .git is the runner's own: the fast path read its
    file as the base's, and compared the rules with what the runner holds."""
    files = {"keys/team.yaml": team(), ".git/policy.yaml": STRICT, ".Git/policy.yaml": STRICT}
    hub.commit(BASE, {"keys/team.yaml": team()}, links)
    code, out = key_only(actions, 314, links, files=files)
    assert code == 4 and "Traceback" not in out, out
    assert "a link into .git" in refused(hub, 314)
