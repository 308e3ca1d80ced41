"""The rules in review, read from the head's checkout but for the files the pull request changes:
only those are asked of the base (GitHub's list of the PR's files, which the plan job asks for
`when-modified` already), each as the base has it. Against the fake GitHub, served for real."""

from __future__ import annotations

import yaml

from . import test_gitops as gitops
from .test_gitops import Actions, manifest, plan_comment
from .test_gitops_rules import BASE, FakeGitHub, plan

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
