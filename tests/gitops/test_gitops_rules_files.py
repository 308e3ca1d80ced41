"""The rules in review, read from the head's checkout but for the files the pull request changes:
only those are asked of the base (GitHub's list of the PR's files, which the plan job asks for
`when-modified` already), each as the base has it. Against the fake GitHub, served for real."""

from __future__ import annotations

import pytest
import yaml

from . import test_gitops as gitops
from .test_gitops import Actions, manifest, plan_comment
from .test_gitops_rules import BASE, FakeGitHub, plan, run_plan

pytestmark = gitops.pytestmark

hub = gitops.hub
actions = gitops.actions

SETTINGS = "keys/ehkeys.yaml"


def team(**allocations: float) -> str:
    return yaml.safe_dump({"keys": yaml.safe_load(manifest(**allocations))["keys"]})


def folder(files: int, limit: int = 35) -> dict[str, str]:
    """A directory manifest of `files` team files without keys, and keys/team.yaml with three."""
    found = {f"keys/t{i:03d}.yaml": "keys: []\n" for i in range(files)}
    return {SETTINGS: f"version: 1\npolicy: {{max_allocation: {limit}}}\n", **found, "keys/team.yaml": team()}


def asked(hub: FakeGitHub) -> list[str]:
    return [c for c in hub.calls if c.startswith("GET /contents/keys") and "/.ehkeys/" not in c]


def test_only_the_files_the_pr_changes_are_asked_of_the_base(actions: Actions, hub: FakeGitHub) -> None:
    hub.commit(BASE, folder(300))
    hub.calls.clear()
    head = {**folder(300, limit=50), "keys/team.yaml": team(k0=40)}
    code, out = plan(actions, 70, head, "--rules-apart", root="keys", changed=(SETTINGS, "keys/team.yaml"))
    assert code == 4, out
    assert "> - max_allocation: 35.00 -> 50.00, looser" in plan_comment(hub, 70)
    assert asked(hub) == ["GET /contents/keys/ehkeys.yaml", "GET /contents/keys/team.yaml"]


def test_a_file_removed_renamed_or_added_is_the_base_s(actions: Actions, hub: FakeGitHub) -> None:
    """Removed: fetched; renamed: its old name fetched, its new one not on the base; added: not."""
    waived = yaml.safe_load(team())
    waived["keys"][0]["policy_exceptions"] = {"max_allocation": "partner"}
    base = {**folder(2), "keys/gone.yaml": "keys: []\n", "keys/old.yaml": yaml.safe_dump(waived)}
    base["keys/team.yaml"] = "keys: []\n"
    hub.commit(BASE, base)
    head = {**folder(2), "keys/new.yaml": yaml.safe_dump(waived), "keys/added.yaml": "keys: []\n"}
    head["keys/team.yaml"] = "keys: []\n"
    hub.open_pull(71, "head71")
    hub.change(71, "keys/gone.yaml", status="removed")
    hub.change(71, "keys/new.yaml", status="renamed", previous="keys/old.yaml")
    hub.change(71, "keys/added.yaml", status="added")
    hub.calls.clear()
    code, out = plan(actions, 71, head, "--rules-apart", root="keys", changed=())
    assert code == 0, out  # k0 and its exception moved file: the same rules
    assert "Rules changed" not in plan_comment(hub, 71)
    assert asked(hub) == ["GET /contents/keys/gone.yaml", "GET /contents/keys/old.yaml"]


STRICT, LOOSE = "version: 1\npolicy: {max_allocation: 35}\n", "version: 1\npolicy: {max_allocation: 900}\n"


@pytest.mark.parametrize("target", ["keys/policy.txt", "keys/.common/ehkeys.yaml", "common/ehkeys.yaml"])
def test_settings_read_through_a_link_the_pr_leaves_alone_are_the_base_s(
    actions: Actions, hub: FakeGitHub, target: str
) -> None:
    """keys/ehkeys.yaml links to a file the loader's walk never names (not YAML, hidden, outside
    the root): copied from the checkout, the base read the head's target, and a rule loosened
    there with a key using it passed rules-apart."""
    link = "../" + target if target.startswith("common") else target.removeprefix("keys/")
    hub.commit(BASE, {target: STRICT, "keys/team.yaml": team()}, {"keys/ehkeys.yaml": link})
    head = {target: LOOSE, "keys/team.yaml": team(k0=400)}
    extra = ("--when-modified", "common/**") if target.startswith("common") else ()
    code, _ = plan(
        actions,
        80,
        head,
        "--rules-apart",
        *extra,
        root="keys",
        links={"keys/ehkeys.yaml": link},
        changed=(target, "keys/team.yaml"),
    )
    assert code == 4, plan_comment(hub, 80)


VENDOR = yaml.safe_dump(
    {
        "keys": [
            {
                "id": "p1",
                "name": "p1",
                "allocated_ammount": 400,
                "limit_type": "daily",
                "policy_exceptions": {"max_allocation": "vendor says so"},
            }
        ]
    }
)
MODULE = {"keys/vendor": "5ub" * 13 + "m"}  # keys/vendor: another repository's commit
CHECKED_OUT = {"keys/vendor/team.yaml": VENDOR, "keys/vendor/.git": "gitdir: ../../.git/modules/vendor\n"}


def test_a_submodule_bumped_by_the_pr_is_said_not_compared(actions: Actions, hub: FakeGitHub) -> None:
    """GitHub lists a submodule's bump as its folder alone, and its files are another
    repository's: the checkout's are the new commit's, the base's no contents API of this
    repository gives. Not compared: rules-apart fails, saying why."""
    hub.commit(BASE, {SETTINGS: STRICT, "keys/team.yaml": team()}, submodules=MODULE)
    head = {SETTINGS: STRICT, "keys/team.yaml": team(), **CHECKED_OUT}
    code, _ = plan(actions, 87, head, "--rules-apart", root="keys", changed=("keys/vendor",))
    assert code == 4
    assert (
        "keys/vendor is a submodule the pull request changes: its files on the base are another "
        "repository's, at a commit the contents API does not read"
    ) in plan_comment(hub, 87)


@pytest.mark.parametrize("whole", [False, True], ids=["its changes", "read whole"])
def test_a_submodule_the_pr_leaves_alone_is_the_checkout_s_on_the_base(
    actions: Actions, hub: FakeGitHub, whole: bool
) -> None:
    """GitHub lists a submodule in a folder as a file (of size 0, no download): the base lacked
    its files, which the checkout reads (`submodules: true`), and every key-only pull request
    of such a root failed rules-apart (an exception added). Whole: a link in the root has it
    read from the base, folder by folder."""
    links = {"keys/a.yaml": "team.yaml"} if whole else {}
    hub.commit(BASE, {SETTINGS: STRICT, "keys/team.yaml": team()}, links, submodules=MODULE)
    head = {SETTINGS: STRICT, "keys/team.yaml": team(k0=20), **CHECKED_OUT}
    code, out = plan(
        actions, 88, head, "--rules-apart", root="keys", links=links, changed=("keys/team.yaml",)
    )
    assert code == 0, out
    assert "Rules changed" not in plan_comment(hub, 88) and "Rules not compared" not in plan_comment(hub, 88)


def alone(**allocations: float) -> str:
    """A manifest file of a folder without ehkeys.yaml: each file its own `version`."""
    return yaml.safe_dump({"version": 1, **yaml.safe_load(team(**allocations))})


def test_a_submodule_the_pr_removes_is_said_not_compared(actions: Actions, hub: FakeGitHub) -> None:
    """GitHub lists a removed submodule as its name alone, which the checkout no longer holds
    and no YAML walk reads: the fast path left its files out of the base unsaid (in a folder
    without ehkeys.yaml they may be where the policy is). Not compared: rules-apart fails."""
    hub.commit(BASE, {"keys/team.yaml": alone()}, submodules=MODULE)
    hub.open_pull(90, "head90")
    hub.change(90, "keys/vendor", status="removed")
    code, _ = plan(actions, 90, {"keys/team.yaml": alone(k0=400)}, "--rules-apart", root="keys")
    assert code == 4
    assert "keys/vendor is a submodule the pull request changes" in plan_comment(hub, 90)


def test_a_submodule_bumped_under_a_root_at_the_repository_top_is_said_not_compared(
    actions: Actions, hub: FakeGitHub
) -> None:
    """`manifest: .`: every changed path is below the root (a check of `path + "/"` matched none)."""
    hub.commit(BASE, {"team.yaml": alone()}, submodules={"vendor": MODULE["keys/vendor"]})
    head = {"team.yaml": alone(k0=20), "vendor/.git": "gitdir: ../.git/modules/vendor\n"}
    code, out, _ = run_plan(actions, 93, head, "--rules-apart", root=".", changed=("vendor", "team.yaml"))
    assert code == 4 and "vendor is a submodule the pull request changes" in out, out
