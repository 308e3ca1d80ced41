"""The rules in review read the root on the base as the BASE's layout gives it: a folder below
it that holds its own `ehkeys.yaml` there is another manifest (its files are not the root's),
whatever the checkout holds, and the other way round. Read from the checkout by the head's
layout, a file moved out of such a folder brought its exception unsaid, and a folder declaring
its own account made every pull request touching it fail root `keys`' rules-apart. Against the
fake GitHub, served for real."""

from __future__ import annotations

from typing import Any

import yaml

from . import test_gitops as gitops
from .test_gitops import Actions, manifest, plan_comment
from .test_gitops_rules import BASE, FakeGitHub, plan

pytestmark = gitops.pytestmark

hub = gitops.hub
actions = gitops.actions

STRICT = "version: 1\npolicy: {max_allocation: 35}\n"
ACCOUNT = "version: 1\naccounts:\n  partner:\n    key_var: PARTNER_KEY\n"


def team(**allocations: float) -> str:
    return yaml.safe_dump({"keys": yaml.safe_load(manifest(**allocations))["keys"]})


def partner(amount: int = 5, **more: Any) -> str:
    key = {"id": "p0", "name": "p0", "allocated_ammount": amount, "limit_type": "daily", **more}
    return yaml.safe_dump({"keys": [key]})


WAIVED = partner(400, policy_exceptions={"max_allocation": "partner"})


def compared(hub: FakeGitHub, number: int) -> str:
    comment = plan_comment(hub, number)
    assert "Rules not compared" not in comment, comment
    return comment


def test_a_file_moved_out_of_another_manifest_brings_its_exception_said(
    actions: Actions, hub: FakeGitHub
) -> None:
    """keys/partners is a manifest of its own: its x.yaml, waived from max_allocation, moved into
    root keys is an exception added to keys (it was read into the base's keys, unchanged)."""
    partners = {"keys/partners/ehkeys.yaml": "version: 1\n", "keys/partners/y.yaml": "keys: []\n"}
    files = {"keys/ehkeys.yaml": STRICT, "keys/team/a.yaml": team(), **partners}
    hub.commit(BASE, {**files, "keys/partners/x.yaml": WAIVED})
    hub.open_pull(60, "head60")
    hub.change(60, "keys/team/x.yaml", status="renamed", previous="keys/partners/x.yaml")
    code, out = plan(
        actions, 60, {**files, "keys/team/x.yaml": WAIVED}, "--rules-apart", root="keys", changed=()
    )
    assert code == 4, out
    assert "exception added: p0 max_allocation" in compared(hub, 60)


def test_another_manifest_s_own_account_is_not_the_root_s_on_the_base(
    actions: Actions, hub: FakeGitHub
) -> None:
    """keys/partners declares account partner: a PR changing a key there and one in keys is
    compared (the base's keys did not load: unknown account 'partner'), and changes no rule."""
    partners = {"keys/partners/ehkeys.yaml": ACCOUNT, "keys/partners/t.yaml": partner(account="partner")}
    hub.commit(BASE, {"keys/ehkeys.yaml": STRICT, "keys/team.yaml": team(), **partners})
    head = {"keys/ehkeys.yaml": STRICT, "keys/team.yaml": team(k0=20), **partners}
    head["keys/partners/t.yaml"] = partner(6, account="partner")
    changed = ("keys/team.yaml", "keys/partners/t.yaml")
    code, out = plan(actions, 61, head, "--rules-apart", root="keys", changed=changed)
    assert code == 0, out
    assert "Rules changed" not in compared(hub, 61)


def test_a_folder_merged_into_the_root_brings_its_exceptions_said(actions: Actions, hub: FakeGitHub) -> None:
    """The PR removes keys/partners/ehkeys.yaml: its files become keys', a waived key with them."""
    hub.commit(
        BASE,
        {"keys/ehkeys.yaml": STRICT, "keys/team.yaml": team()}
        | {"keys/partners/ehkeys.yaml": "version: 1\n", "keys/partners/x.yaml": WAIVED},
    )
    hub.open_pull(62, "head62")
    hub.change(62, "keys/partners/ehkeys.yaml", status="removed")
    head = {"keys/ehkeys.yaml": STRICT, "keys/team.yaml": team(), "keys/partners/x.yaml": WAIVED}
    code, out = plan(actions, 62, head, "--rules-apart", root="keys", changed=())
    assert code == 4, out
    assert "exception added: p0 max_allocation" in compared(hub, 62)


def test_a_folder_split_off_the_root_takes_its_files_with_it_on_the_head_only(
    actions: Actions, hub: FakeGitHub
) -> None:
    """The PR adds keys/partners/ehkeys.yaml: on the base its files were keys' (read from the
    checkout, as the PR does not change them); keys loses the waived key, which is no rule added."""
    files = {"keys/ehkeys.yaml": STRICT, "keys/team.yaml": team(), "keys/partners/x.yaml": WAIVED}
    hub.commit(BASE, files)
    hub.open_pull(63, "head63")
    hub.change(63, "keys/partners/ehkeys.yaml", status="added")
    code, out = plan(
        actions, 63, {**files, "keys/partners/ehkeys.yaml": "version: 1\n"}, root="keys", changed=()
    )
    assert "exception" not in compared(hub, 63), out


def test_a_root_link_re_pointed_is_read_where_it_led_on_the_base(actions: Actions, hub: FakeGitHub) -> None:
    """`manifest: keys.prod.yaml`, a link to envs/strict.yaml on the base: the PR points it at
    envs/loose.yaml and raises a key there (the base was read through the head's link: loose)."""
    keys = "\n".join(manifest().splitlines()[1:]) + "\n"
    strict, loose = f"{STRICT}{keys}", f"version: 1\npolicy: {{max_allocation: 900}}\n{keys}"
    hub.commit(
        BASE, {"envs/strict.yaml": strict, "envs/loose.yaml": loose}, {"keys.prod.yaml": "envs/strict.yaml"}
    )
    head = {
        "envs/strict.yaml": strict,
        "envs/loose.yaml": loose.replace("allocated_ammount: 10", "allocated_ammount: 400", 1),
    }
    links, changed = {"keys.prod.yaml": "envs/loose.yaml"}, ("keys.prod.yaml", "envs/loose.yaml")
    code, out = plan(actions, 64, head, "--rules-apart", root="keys.prod.yaml", links=links, changed=changed)
    assert code == 4, out
    assert "max_allocation: 35.00 -> 900.00, looser" in compared(hub, 64)


def test_a_root_the_pr_makes_a_link_is_the_base_s_folder(actions: Actions, hub: FakeGitHub) -> None:
    """The PR moves keys/ to config/keys/, loosening its policy, and leaves keys -> config/keys:
    on the base keys is the folder (it was "new", nothing compared)."""
    hub.commit(BASE, {"keys/ehkeys.yaml": STRICT, "keys/team.yaml": team()})
    head = {
        "config/keys/ehkeys.yaml": "version: 1\npolicy: {max_allocation: 900}\n",
        "config/keys/team.yaml": team(k0=400),
    }
    hub.open_pull(65, "head65")
    hub.change(65, "keys/ehkeys.yaml", "keys/team.yaml", status="removed")
    hub.change(65, *head, "keys", status="added")
    code, out = plan(
        actions, 65, head, "--rules-apart", root="keys", links={"keys": "config/keys"}, changed=()
    )
    assert code == 4, out
    assert "max_allocation: 35.00 -> 900.00, looser" in compared(hub, 65)


def test_a_team_file_named_is_its_directory_manifest_on_the_base(actions: Actions, hub: FakeGitHub) -> None:
    """`manifest: keys/prod.yaml` names the directory manifest keys/ it is in: the PR removing
    keys/ehkeys.yaml (its policy) is compared with it (the base was prod.yaml alone)."""
    hub.commit(BASE, {"keys/ehkeys.yaml": STRICT, "keys/prod.yaml": manifest()})
    hub.open_pull(66, "head66")
    hub.change(66, "keys/ehkeys.yaml", status="removed")
    code, out = plan(
        actions,
        66,
        {"keys/prod.yaml": manifest(k0=400)},
        "--rules-apart",
        root="keys/prod.yaml",
        changed=("keys/prod.yaml",),
    )
    assert code == 4, out
    assert "max_allocation: 35.00 -> (not set), looser" in compared(hub, 66)


def test_a_sub_folder_split_off_is_compared_with_the_directory_manifest_it_was_in(
    actions: Actions, hub: FakeGitHub
) -> None:
    """`manifest: keys/prod` names keys/ on the base; the PR adds keys/prod/ehkeys.yaml without
    keys/ policy and raises a key: the base's keys/ policy is the rule loosened."""
    files = {"keys/ehkeys.yaml": STRICT, "keys/prod/team.yaml": manifest(), "keys/other.yaml": "keys: []\n"}
    hub.commit(BASE, files)
    hub.open_pull(67, "head67")
    hub.change(67, "keys/prod/ehkeys.yaml", status="added")
    head = {**files, "keys/prod/team.yaml": manifest(k0=400), "keys/prod/ehkeys.yaml": "version: 1\n"}
    code, out = plan(actions, 67, head, "--rules-apart", root="keys/prod", changed=("keys/prod/team.yaml",))
    assert code == 4, out
    assert "max_allocation: 35.00 -> (not set), looser" in compared(hub, 67)


def test_a_team_file_new_in_a_directory_manifest_is_compared_with_it(
    actions: Actions, hub: FakeGitHub
) -> None:
    """`manifest: keys/prod.yaml`, new in the PR, in keys/ of the base: not a root "new" with
    nothing to compare, but keys/ compared (its policy loosened)."""
    hub.commit(BASE, {"keys/ehkeys.yaml": STRICT, "keys/other.yaml": "keys: []\n"})
    head = {
        "keys/ehkeys.yaml": "version: 1\npolicy: {max_allocation: 900}\n",
        "keys/other.yaml": "keys: []\n",
    }
    head["keys/prod.yaml"] = team(k0=400)
    hub.open_pull(68, "head68")
    hub.change(68, "keys/prod.yaml", status="added")
    code, out = plan(actions, 68, head, "--rules-apart", root="keys/prod.yaml", changed=("keys/ehkeys.yaml",))
    assert code == 4, out
    assert "max_allocation: 35.00 -> 900.00, looser" in compared(hub, 68)


def test_a_root_below_a_link_on_the_base_is_said_incomplete_not_new(
    actions: Actions, hub: FakeGitHub
) -> None:
    """On the base keys/ is a link to config/keys; `manifest: keys/prod.yaml` is read through it by
    a checkout, never by the contents API: the comparison would be incomplete, not "new"."""
    hub.commit(BASE, {"config/keys/prod.yaml": manifest()}, {"keys": "config/keys"})
    hub.open_pull(69, "head69")
    hub.change(69, "keys", status="removed")
    hub.change(69, "keys/prod.yaml", status="added")
    code, out = plan(
        actions, 69, {"keys/prod.yaml": manifest(k0=20)}, "--rules-apart", root="keys/prod.yaml", changed=()
    )
    assert code == 4, out
    assert "keys is a link on the base: the contents API reads no path through it" in plan_comment(hub, 69)


def test_a_team_file_named_is_planned_when_another_file_of_its_directory_manifest_changes(
    actions: Actions, hub: FakeGitHub
) -> None:
    """`manifest: keys/prod.yaml` loads the whole of keys/: a PR loosening keys/ehkeys.yaml and
    raising a key of keys/other.yaml touches it, though not keys/prod.yaml (it said "changes no
    file of keys/prod.yaml: nothing to plan", green, and the next PR compared the loosened base)."""
    other = {"keys": [{"id": "o0", "name": "o0", "allocated_ammount": 10, "limit_type": "daily"}]}
    files = {"keys/ehkeys.yaml": STRICT, "keys/prod.yaml": team(), "keys/other.yaml": yaml.safe_dump(other)}
    hub.commit(BASE, files)
    other["keys"][0]["allocated_ammount"] = 400
    head = {**files, "keys/ehkeys.yaml": "version: 1\npolicy: {max_allocation: 900}\n"}
    head["keys/other.yaml"] = yaml.safe_dump(other)
    changed = ("keys/ehkeys.yaml", "keys/other.yaml")
    code, out = plan(actions, 96, head, "--rules-apart", root="keys/prod.yaml", changed=changed)
    assert code == 4 and "nothing to plan" not in out, out
    assert "max_allocation: 35.00 -> 900.00, looser" in compared(hub, 96)
