"""Which pull requests touch a root that is, or holds, a link: the link itself re-pointed, or the
file a link of the root leads to changed, is a change to the root (it was "nothing to plan":
green, never applied, and the next PR compared the loosened base and passed rules-apart)."""

from __future__ import annotations

from . import test_gitops as gitops
from .test_gitops import Actions, manifest, plan_comment
from .test_gitops_rules import BASE, FakeGitHub, plan, run_plan
from .test_gitops_rules_cost import LOOSE, STRICT, team

pytestmark = gitops.pytestmark
hub = gitops.hub
actions = gitops.actions


def test_a_root_link_re_pointed_alone_is_planned_and_its_rules_compared(
    actions: Actions, hub: FakeGitHub
) -> None:
    keys = "\n".join(manifest().splitlines()[1:]) + "\n"
    loose = f"{LOOSE}{keys}".replace("allocated_ammount: 10", "allocated_ammount: 400", 1)
    files = {"envs/strict.yaml": f"{STRICT}{keys}", "envs/loose.yaml": loose}
    hub.commit(BASE, files, {"keys.prod.yaml": "envs/strict.yaml"})
    links = {"keys.prod.yaml": "envs/loose.yaml"}
    code, out = plan(
        actions, 72, files, "--rules-apart", root="keys.prod.yaml", links=links, changed=("keys.prod.yaml",)
    )
    assert "nothing to plan" not in out and code == 4, out


def test_a_folder_root_link_re_pointed_alone_is_planned(actions: Actions, hub: FakeGitHub) -> None:
    files = {
        "config/strict/ehkeys.yaml": STRICT,
        "config/strict/team.yaml": team(),
        "config/loose/ehkeys.yaml": LOOSE,
        "config/loose/team.yaml": team(k0=400),
    }
    hub.commit(BASE, files, {"keys": "config/strict"})
    code, out = plan(
        actions, 79, files, "--rules-apart", root="keys", links={"keys": "config/loose"}, changed=("keys",)
    )
    assert "nothing to plan" not in out and code == 4, out


def test_the_file_a_roots_link_leads_to_changed_alone_is_planned(actions: Actions, hub: FakeGitHub) -> None:
    """keys/ehkeys.yaml -> ../common/policy.yaml; the PR loosens common/policy.yaml alone: planned,
    and the comment shows the rule it loosens (here with the keys' first limit_type, as keys too)."""
    links = {"keys/ehkeys.yaml": "../common/policy.yaml"}
    files = {"keys/team.yaml": team(), "common/policy.yaml": STRICT}
    hub.commit(BASE, files, links)
    head = {**files, "common/policy.yaml": LOOSE}
    code, out = plan(
        actions, 73, head, "--rules-apart", root="keys", links=links, changed=("common/policy.yaml",)
    )
    assert "nothing to plan" not in out, out
    assert "max_allocation: 35.00 -> 900.00, looser" in out


DOTDOT = {"keys/ehkeys.yaml": "../common/sub/../policy.yaml", "common/sub": "../other/deep"}
DECOY = {
    "keys/team.yaml": team(),
    "common/policy.yaml": LOOSE,
    "other/policy.yaml": STRICT,
    "other/deep/x.txt": "x\n",
}


def test_a_link_into_a_folder_and_back_out_left_alone_is_not_read_by_its_text(
    actions: Actions, hub: FakeGitHub
) -> None:
    """../common/sub/../policy.yaml reads other/policy.yaml while common/sub links to ../other/deep
    (the system resolves `..` through the link); its text, normalised, says common/policy.yaml.
    The PR makes common/sub a real folder: the same link now reads the loose file."""
    hub.commit(BASE, DECOY, DOTDOT)
    head = {**DECOY, "keys/team.yaml": team(k0=400), "common/sub/readme.txt": "r\n"}
    hub.open_pull(70, "head70")
    hub.change(70, "common/sub", status="removed")
    hub.change(70, "common/sub/readme.txt", status="added")
    links = {"keys/ehkeys.yaml": DOTDOT["keys/ehkeys.yaml"]}
    code, out = plan(
        actions, 70, head, "--rules-apart", root="keys", links=links, changed=("keys/team.yaml",)
    )
    assert code == 4 and "goes into a folder and back out" in out, out


def test_a_link_into_a_linked_folder_and_back_out_is_said_not_compared_on_the_whole_read(
    actions: Actions, hub: FakeGitHub
) -> None:
    hub.commit(BASE, DECOY, DOTDOT)
    head = {**DECOY, "keys/team.yaml": team(k0=400), "other/policy.yaml": LOOSE}
    changed = ("keys/team.yaml", "other/policy.yaml")
    code, out = plan(actions, 71, head, "--rules-apart", root="keys", links=DOTDOT, changed=changed)
    assert code == 4 and "goes into a folder and back out" in out, out


def test_a_link_into_a_linked_folder_and_back_out_that_github_follows_is_read_by_its_own_text(
    actions: Actions, hub: FakeGitHub
) -> None:
    """The PR makes keys/ehkeys.yaml, on the base a link the system reads through common/sub
    as other/policy.yaml (strict), a loose file of its own, and uses the room. Asked for the
    link, GitHub answers with the file it finds at its target (the fake: as its text says,
    normalised: common/policy.yaml, the decoy, loose): the base read as loose as the head,
    "unchanged", and rules-apart passed. A link GitHub follows is read by its own text."""
    hub.commit(BASE, DECOY, DOTDOT)
    head = {**DECOY, "keys/ehkeys.yaml": LOOSE, "keys/team.yaml": team(k0=400)}
    links = {"common/sub": DOTDOT["common/sub"]}
    changed = ("keys/ehkeys.yaml", "keys/team.yaml")
    code, out = plan(actions, 76, head, "--rules-apart", root="keys", links=links, changed=changed)
    assert code == 4 and "goes into a folder and back out" in out, out


def test_a_link_to_a_name_that_is_not_utf8_is_refused_not_read(actions: Actions, hub: FakeGitHub) -> None:
    """git allows any bytes in a name; GitHub's JSON cannot carry \\xff as it is (U+FFFD here), so
    the PR's file list cannot be matched with the checkout's name, nor a plan or a state name it:
    the loader refuses it, naming it (the head read it once; the check failed only as its rules
    were not compared)."""
    odd = "common/p\udcff.yaml"  # os.fsdecode(b"common/p\xff.yaml")
    links = {"keys/ehkeys.yaml": "../" + odd}
    hub.commit(BASE, {"keys/team.yaml": team(), odd: STRICT}, links)
    head = {"keys/team.yaml": team(k0=400), odd: LOOSE}
    changed = ("keys/team.yaml", "common/p\ufffd.yaml")
    code, out, _ = run_plan(actions, 75, head, "--rules-apart", root="keys", links=links, changed=changed)
    assert code == 1 and "links to ../common/p\\xff.yaml, a name that is not UTF-8" in out, out


def test_a_base_link_to_a_name_that_is_not_utf8_the_pr_makes_a_file_is_said_not_compared(
    actions: Actions, hub: FakeGitHub
) -> None:
    """The base's keys/ehkeys.yaml -> ../common/p\\xff.yaml; the PR makes it a loose file of its
    own and uses the room. GitHub follows the link, naming its target p\\ufffd.yaml (JSON cannot
    spell \\xff); the link's own bytes are read (its blob), and their target, which no URL can ask
    for, said: not compared, rules-apart fails. (The fake answered HTTP 500 for such a link once,
    and the review said that.)"""
    odd = "common/p\udcff.yaml"  # os.fsdecode(b"common/p\xff.yaml")
    hub.commit(BASE, {"keys/team.yaml": team(), odd: STRICT}, {"keys/ehkeys.yaml": "../" + odd})
    head = {"keys/team.yaml": team(k0=400), "keys/ehkeys.yaml": LOOSE}
    code, out = plan(actions, 77, head, "--rules-apart", root="keys", changed=tuple(head))
    assert code == 4, out
    assert "common/p\\xff.yaml is not UTF-8: the contents API cannot be asked for it" in out, out
    comment = plan_comment(hub, 77)
    assert "common/p&#92;xff.yaml is not UTF-8" in comment and "HTTP 5" not in comment, comment
    assert any(call.startswith("GET /git/blobs/") for call in hub.calls), "the link read by its blob"


def test_a_folder_link_on_a_hops_way_re_pointed_touches_the_root(actions: Actions, hub: FakeGitHub) -> None:
    """keys/ehkeys.yaml -> ../central/policy.yaml, central -> strict: the PR re-points `central` alone."""
    files = {"keys/team.yaml": team(k0=400), "strict/policy.yaml": STRICT, "loose/policy.yaml": LOOSE}
    hub.commit(BASE, files, {"keys/ehkeys.yaml": "../central/policy.yaml", "central": "strict"})
    links = {"keys/ehkeys.yaml": "../central/policy.yaml", "central": "loose"}
    code, out, _ = run_plan(
        actions, 102, files, "--rules-apart", root="keys", links=links, changed=("central",)
    )
    assert "nothing to plan" not in out, out


def test_a_root_that_links_to_a_folder_is_touched_by_its_links_targets(
    actions: Actions, hub: FakeGitHub
) -> None:
    links = {"keys": "envs/prod", "envs/prod/ehkeys.yaml": "../../common/policy.yaml"}
    files = {"envs/prod/team.yaml": team(k0=400), "common/policy.yaml": STRICT}
    hub.commit(BASE, files, links)
    head = {**files, "common/policy.yaml": LOOSE}
    changed = ("common/policy.yaml",)
    code, out, _ = run_plan(actions, 103, head, "--rules-apart", root="keys", links=links, changed=changed)
    assert "nothing to plan" not in out, out


def test_a_folder_link_above_the_root_re_pointed_touches_it(actions: Actions, hub: FakeGitHub) -> None:
    files = {
        "envs/strict/prod/ehkeys.yaml": STRICT,
        "envs/strict/prod/team.yaml": team(k0=400),
        "envs/loose/prod/ehkeys.yaml": LOOSE,
        "envs/loose/prod/team.yaml": team(k0=400),
    }
    hub.commit(BASE, files, {"keys": "envs/strict"})
    links = {"keys": "envs/loose"}
    code, out, _ = run_plan(
        actions, 104, files, "--rules-apart", root="keys/prod", links=links, changed=("keys",)
    )
    assert "nothing to plan" not in out, out


def test_a_link_loop_in_the_root_is_the_loaders_to_say_not_a_crash(actions: Actions, hub: FakeGitHub) -> None:
    files = {"keys/ehkeys.yaml": STRICT, "keys/team.yaml": team()}
    links = {"keys/a.yaml": "b.yaml", "keys/b.yaml": "a.yaml"}
    hub.commit(BASE, files, links)
    code, out, _ = run_plan(
        actions, 101, files, "--rules-apart", root="keys", links=links, changed=("keys/team.yaml",)
    )
    assert "internal error" not in out and "loop" in out, out


# every link the system meets on the way to what a root loads touches it


def test_file_link_reached_through_a_folder_link_re_pointed(actions: Actions, hub: FakeGitHub) -> None:
    """keys/ehkeys.yaml -> ../central/policy.yaml; central -> common; common/policy.yaml -> ../strict/policy.yaml.
    The PR re-points common/policy.yaml (the link the system reads) to ../loose/policy.yaml."""
    files = {"keys/team.yaml": team(k0=400), "strict/policy.yaml": STRICT, "loose/policy.yaml": LOOSE}
    base = {
        "keys/ehkeys.yaml": "../central/policy.yaml",
        "central": "common",
        "common/policy.yaml": "../strict/policy.yaml",
    }
    hub.commit(BASE, files, base)
    head = {**base, "common/policy.yaml": "../loose/policy.yaml"}
    code, out, _ = run_plan(
        actions, 201, files, "--rules-apart", root="keys", links=head, changed=("common/policy.yaml",)
    )
    assert "nothing to plan" not in out, out


def test_second_folder_link_of_a_chain_re_pointed(actions: Actions, hub: FakeGitHub) -> None:
    """keys/ehkeys.yaml -> ../central/policy.yaml; central -> current; current -> strict. The PR re-points current."""
    files = {"keys/team.yaml": team(k0=400), "strict/policy.yaml": STRICT, "loose/policy.yaml": LOOSE}
    base = {"keys/ehkeys.yaml": "../central/policy.yaml", "central": "current", "current": "strict"}
    hub.commit(BASE, files, base)
    head = {**base, "current": "loose"}
    code, out, _ = run_plan(
        actions, 202, files, "--rules-apart", root="keys", links=head, changed=("current",)
    )
    assert "nothing to plan" not in out, out


def test_folder_link_inside_a_linked_folder_above_the_root_re_pointed(
    actions: Actions, hub: FakeGitHub
) -> None:
    """root keys/prod; keys -> envs; envs/prod -> ../strict. The PR re-points envs/prod to ../loose."""
    files = {
        "envs/readme.txt": "r\n",
        "strict/ehkeys.yaml": STRICT,
        "strict/team.yaml": team(k0=400),
        "loose/ehkeys.yaml": LOOSE,
        "loose/team.yaml": team(k0=400),
    }
    hub.commit(BASE, files, {"keys": "envs", "envs/prod": "../strict"})
    links = {"keys": "envs", "envs/prod": "../loose"}
    code, out, _ = run_plan(
        actions, 203, files, "--rules-apart", root="keys/prod", links=links, changed=("envs/prod",)
    )
    assert "nothing to plan" not in out, out


def test_a_link_loop_as_the_root_is_said_not_a_crash(actions: Actions, hub: FakeGitHub) -> None:
    files = {"keys/team.yaml": team()}
    links = {"keys.prod.yaml": "loop/a.yaml", "loop": "loop2", "loop2": "loop"}
    hub.commit(BASE, files, links)
    code, out, _ = run_plan(
        actions, 204, files, root="keys.prod.yaml", links=links, changed=("keys.prod.yaml",)
    )
    assert "Traceback" not in out and "internal error" not in out.lower() and "RuntimeError" not in out, out


def test_the_non_utf8_file_a_roots_link_reads_changed_alone(actions: Actions, hub: FakeGitHub) -> None:
    odd = "common/p\udcff.yaml"
    links = {"keys/ehkeys.yaml": "../" + odd}
    hub.commit(BASE, {"keys/team.yaml": team(k0=400), odd: STRICT}, links)
    head = {"keys/team.yaml": team(k0=400), odd: LOOSE}
    code, out, _ = run_plan(
        actions, 205, head, "--rules-apart", root="keys", links=links, changed=("common/p\ufffd.yaml",)
    )
    assert "nothing to plan" not in out, out  # touched: GitHub's spelling of the name the link reads
    assert code == 1 and "links to ../common/p\\xff.yaml, a name that is not UTF-8" in out, out  # planned


def test_team_file_root_below_a_folder_link_its_real_ehkeys_yaml_loosened(
    actions: Actions, hub: FakeGitHub
) -> None:
    """root keys/prod/team.yaml (a team file: names its whole directory manifest); keys -> envs.
    The PR loosens envs/prod/ehkeys.yaml, the settings file that root loads."""
    files = {"envs/prod/ehkeys.yaml": STRICT, "envs/prod/team.yaml": team(k0=400)}
    links = {"keys": "envs"}
    hub.commit(BASE, files, links)
    head = {**files, "envs/prod/ehkeys.yaml": LOOSE}
    code, out, _ = run_plan(
        actions,
        207,
        head,
        "--rules-apart",
        root="keys/prod/team.yaml",
        links=links,
        changed=("envs/prod/ehkeys.yaml",),
    )
    assert "nothing to plan" not in out, out
