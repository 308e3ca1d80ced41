"""The rules in review: the plan job reads the root on the pull request's base commit (the
contents API, `pull_request.base.sha`), and says at the top of its comment and the job summary
each rule the pull request changes; with `--rules-apart` (the action's `rules-apart`), a PR
that changes the rules and a key fails its check. Against the fake GitHub, served for real."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from starlette.responses import JSONResponse

from reconciler.gitops import roots

from .. import githubspec
from ..fakegithub import REPO, FakeGitHub
from . import test_gitops as gitops
from .test_gitops import MANIFEST, Actions, manifest, plan_comment
from .test_gitops_policy import with_rules

pytestmark = gitops.pytestmark

hub = gitops.hub
actions = gitops.actions

BASE = "ba5e" * 10
LOOSER = "max_allocation: 35.00 -> 50.00, looser"


def run_plan(
    actions: Actions,
    number: int,
    files: dict[str, str],
    *options: str,
    root: str = MANIFEST,
    base: str = BASE,
    changed: tuple[str, ...] | None = None,
    links: dict[str, str] | None = None,
) -> tuple[int, str, Path]:
    """keys-plan's plan step on a PR whose head holds `files` (the first written by the checkout):
    its exit code, its output and the checkout (`root`: its manifests, space-separated; `changed`:
    the files GitHub lists as the PR's, all of them unless told; `links`: path -> target, links
    in the checkout); the event names the PR's base commit."""
    head = f"head{number}"
    actions.hub.pulls.get(number) or actions.hub.open_pull(number, head)
    actions.hub.change(number, *(files if changed is None else changed))
    where = {"ref": actions.hub.pulls[number]["base"]["ref"], "sha": base}
    pull = {"number": number, "head": {"sha": head, "repo": {"full_name": REPO}}, "base": where}
    first = next(iter(files))
    workspace = actions.checkout(
        files[first], "pull_request", f"test-merge-{head}", {"pull_request": pull}, first
    )
    for path, text in list(files.items())[1:]:
        (workspace / path).parent.mkdir(parents=True, exist_ok=True)
        (workspace / path).write_text(text)
    for path, target in (links or {}).items():
        (workspace / path).parent.mkdir(parents=True, exist_ok=True)
        (workspace / path).symlink_to(target)
    actions.hub.start_run(str(1000 + actions.runs), head)
    code, out, err = actions.run("github", "plan", *root.split(), "--sandbox", *actions.seeded, *options)
    return code, out + err, workspace


def plan(
    actions: Actions,
    number: int,
    files: dict[str, str],
    *options: str,
    root: str = MANIFEST,
    base: str = BASE,
    changed: tuple[str, ...] | None = None,
    links: dict[str, str] | None = None,
) -> tuple[int, str]:
    """keys-plan on a PR (`run_plan`): plan, upload, comment, as the action runs them."""
    code, out, workspace = run_plan(
        actions, number, files, *options, root=root, base=base, changed=changed, links=links
    )
    if (workspace / "ehkeys-out" / "plan.json").exists():
        actions.hub.upload(str(1000 + actions.runs), actions.outputs()["artifact"], gitops.kept(workspace))
    assert actions.run("github", "comment", *root.split())[0] == 0, "the comment is posted all the same"
    return code, out


def settled(actions: Actions, text: str) -> None:
    """The account as `text` says, applied from a merged PR: a plan of `text` changes no key."""
    assert actions.plan_pr(1, "settle", text)[0] == 0
    assert actions.merge_and_apply(1, "settled", text)[0] == 0


def test_a_pr_that_loosens_a_rule_and_uses_it_says_so_at_the_top_of_its_comment(
    actions: Actions, hub: FakeGitHub
) -> None:
    hub.commit(BASE, {MANIFEST: with_rules(manifest(), policy={"max_allocation": 35})})
    code, out = plan(actions, 7, {MANIFEST: with_rules(manifest(k0=40), policy={"max_allocation": 50})})
    assert code == 0, out  # every rule holds: the PR's own
    lines = plan_comment(hub, 7).splitlines()
    title = next(i for i, line in enumerate(lines) if line.startswith("### "))
    assert lines[title].endswith("0 errors, 1 rule changed.")
    assert (
        lines[title + 2]
        == f"> :warning: **Rules changed by this pull request** (against its base `{BASE[:12]}`):"
    )
    assert lines[title + 4] == f"> - {LOOSER}"
    assert LOOSER in actions.summary() and f"rules: {LOOSER}" in out  # the job summary, the log
    saved = (actions.tmp / f"run-{actions.runs}" / "ehkeys-out" / "plan.json").read_text()
    assert "Rules changed" not in saved and "looser" not in saved, "the saved plan is the plan alone"
    assert "GET /contents/keys/keys.yaml" in hub.calls


def test_rules_apart_fails_a_pr_that_changes_the_rules_and_a_key(actions: Actions, hub: FakeGitHub) -> None:
    hub.commit(BASE, {MANIFEST: with_rules(manifest(), policy={"max_allocation": 35})})
    settled(actions, with_rules(manifest(), policy={"max_allocation": 35}))
    text = with_rules(manifest(k0=40), policy={"max_allocation": 50})
    code, out = plan(actions, 8, {MANIFEST: text}, "--rules-apart")
    assert code == 4, out
    comment = plan_comment(hub, 8)
    assert f"> - {LOOSER}" in comment
    assert (
        "> :x: **rules-apart: this pull request changes the rules and 1 key: change the rules in a pull "
        "request of their own, merge it, then use them**. The plan check fails." in comment
    )
    assert "**Not a plan to apply:** plan `sha256:" in comment, "the plan is shown and saved, never applied"


def test_rules_apart_passes_a_pr_that_changes_only_the_rules(actions: Actions, hub: FakeGitHub) -> None:
    hub.commit(BASE, {MANIFEST: with_rules(manifest(), policy={"max_allocation": 35})})
    settled(actions, with_rules(manifest(), policy={"max_allocation": 35}))
    code, out = plan(
        actions, 9, {MANIFEST: with_rules(manifest(), policy={"max_allocation": 20})}, "--rules-apart"
    )
    assert code == 0, out
    comment = plan_comment(hub, 9)
    assert "> - max_allocation: 35.00 -> 20.00, tighter" in comment
    assert "rules-apart: this pull request changes only the rules: it passes" in comment


def test_a_root_new_in_the_pr_has_nothing_to_compare(actions: Actions, hub: FakeGitHub) -> None:
    hub.commit(BASE, {"README.md": "hello"})
    code, out = plan(
        actions, 10, {MANIFEST: with_rules(manifest(), policy={"max_allocation": 50})}, "--rules-apart"
    )
    assert code == 0, out
    comment = plan_comment(hub, 10)
    assert (
        f"> :information_source: Rules: the manifest root is new in this pull request (not on its base "
        f"`{BASE[:12]}`): nothing to compare." in comment
    )
    assert "rule changed" not in comment


def test_a_base_that_does_not_load_is_said_and_fails_only_rules_apart(
    actions: Actions, hub: FakeGitHub
) -> None:
    hub.commit(BASE, {MANIFEST: "version: 1\nkeys: [{id: a}\n"})
    text = with_rules(manifest(k0=20), policy={"max_allocation": 50})
    code, out = plan(actions, 11, {MANIFEST: text})
    assert code == 0, out
    comment = plan_comment(hub, 11)
    said = f"> :warning: Rules not compared with its base `{BASE[:12]}`: the manifest there does not load: keys/keys.yaml:"
    assert said in comment and "ehkeys-base-" not in comment, "the base's place, from the repository's top"
    code, out = plan(actions, 11, {MANIFEST: text}, "--rules-apart")
    assert code == 4, out
    assert "> :x: **rules-apart: the rules could not be compared with the base's (the manifest there" in (
        plan_comment(hub, 11)
    )


def test_a_github_error_reading_the_base_is_said_never_a_traceback(actions: Actions, hub: FakeGitHub) -> None:
    hub.commit(BASE, {MANIFEST: manifest()})
    refused = githubspec.error(403, "Resource not accessible by integration")
    hub.faults["GET /contents/keys/keys.yaml"] = JSONResponse(refused, status_code=403)
    code, out = plan(actions, 12, {MANIFEST: manifest(k0=20)})
    assert code == 0, out
    assert "Traceback" not in out
    assert (
        f"Rules not compared with its base `{BASE[:12]}`: GitHub API GET /contents/keys/keys.yaml: HTTP 403: "
        "Resource not accessible by integration (check the job's &#96;permissions:&#96; and the token)."
    ) in plan_comment(hub, 12)


def test_a_directory_manifests_rules_are_read_from_its_settings_file(
    actions: Actions, hub: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PR of more files than GitHub lists: the folder is listed, each YAML file read (a
    hidden folder, the state's, is not)."""
    monkeypatch.setattr(roots, "MAX_FILES", 2)
    team = yaml.safe_dump({"keys": yaml.safe_load(manifest())["keys"]})
    hub.commit(
        BASE,
        {
            "keys/ehkeys.yaml": "version: 1\npolicy: {max_allocation: 35}\n",
            "keys/team/keys.yaml": team,
            "keys/.ehkeys/keys/state.json": "{}",
        },
    )
    files = {"keys/ehkeys.yaml": "version: 1\npolicy: {max_allocation: 50}\n", "keys/team/keys.yaml": team}
    code, out = plan(actions, 13, files, root="keys")
    assert code == 0, out
    assert f"> - {LOOSER}" in plan_comment(hub, 13)
    read = [
        c for c in hub.calls if c.startswith("GET /contents/keys") and "/.ehkeys/" not in c
    ]  # not the state's
    assert read == [
        "GET /contents/keys",
        "GET /contents/keys/ehkeys.yaml",
        "GET /contents/keys/team",
        "GET /contents/keys/team/keys.yaml",
    ]


def test_each_root_compares_its_own_rules(actions: Actions, hub: FakeGitHub) -> None:
    payments, research = "keys/payments.yaml", "keys/research.yaml"
    hub.commit(
        BASE,
        {
            payments: with_rules(manifest(), policy={"max_allocation": 35}),
            research: with_rules(manifest(), policy={"max_allocation": 35}),
        },
    )
    plan(actions, 14, {payments: with_rules(manifest(), policy={"max_allocation": 50})}, root=payments)
    plan(actions, 14, {research: with_rules(manifest(k0=20), policy={"max_allocation": 35})}, root=research)
    by_root = {
        root: next(b for b in hub.comments_on(14) if f"ehkeys-root: {root} " in b)
        for root in (payments, research)
    }
    assert f"> - {LOOSER}" in by_root[payments]
    assert "Rules changed" not in by_root[research]


def grouped(k0_group: str | None, k0: int) -> str:
    """key-0 in `k0_group` (strict: at most 35; loose: 900; None: no group) with `k0`; the others loose."""
    groups = {"strict": {"policy": {"max_allocation": 35}}, "loose": {"policy": {"max_allocation": 900}}}
    keys = yaml.safe_load(manifest(k0=k0))["keys"]
    for key in keys:
        group = k0_group if key["id"] == "k0" else "loose"
        key.update({"group": group} if group else {})
    return yaml.safe_dump({"version": 1, "groups": groups, "keys": keys}, sort_keys=False)


def test_rules_apart_fails_a_key_moved_to_a_looser_group_and_using_it(
    actions: Actions, hub: FakeGitHub
) -> None:
    hub.commit(BASE, {MANIFEST: grouped("strict", 10)})
    settled(actions, grouped("strict", 10))
    for number, group, was in ((30, "loose", "900.00"), (31, None, "(not set)")):
        code, out = plan(actions, number, {MANIFEST: grouped(group, 800)}, "--rules-apart")
        assert code == 4, out
        moved = f"{group or '(none)'}): 35.00 -> {was}, looser"
        assert f"> - max_allocation (key k0: group strict -> {moved}" in plan_comment(hub, number)


def test_rules_apart_fails_an_account_renamed_without_its_rules(actions: Actions, hub: FakeGitHub) -> None:
    def named(account: str, k0: int, **rules: object) -> str:
        keys = [{**k, "account": account} for k in yaml.safe_load(manifest(k0=k0))["keys"]]
        settings = {"api_key": "${ELECTRONHUB_API_KEY}", **rules}
        return yaml.safe_dump({"version": 1, "accounts": {account: settings}, "keys": keys}, sort_keys=False)

    hub.commit(BASE, {MANIFEST: named("prod", 10, policy={"max_allocation": 35})})
    code, out = plan(actions, 32, {MANIFEST: named("prod2", 900)}, "--rules-apart")
    assert code == 4, out
    comment = plan_comment(hub, 32)
    assert "> - max_allocation (account prod): 35.00 -> (account removed), removed" in comment
    assert "> - max_allocation (key k0: account prod -> prod2): 35.00 -> (not set), looser" in comment


def test_one_manifest_new_among_several_leaves_the_others_compared(actions: Actions, hub: FakeGitHub) -> None:
    """`plan a.yaml b.yaml`, b new in the PR: a's rules are compared all the same."""
    first, new = "keys/a.yaml", "keys/b.yaml"
    hub.commit(BASE, {first: with_rules(manifest(), policy={"max_allocation": 35})})
    files = {
        first: with_rules(manifest(k0=50), policy={"max_allocation": 50}),
        new: "version: 1\nkeys:\n  - {id: z9, name: z9, allocated_ammount: 1, limit_type: daily}\n",
    }
    code, out = plan(actions, 33, files, "--rules-apart", root=f"{first} {new}")
    assert code == 4, out
    assert f"rules: {LOOSER}" in out
    assert "root is new" not in out


@pytest.mark.parametrize("name", ["team#1.yaml", "what?.yaml", "100%25.yaml", "é t.yaml"])
def test_a_file_name_a_url_does_not_carry_as_written_is_read(
    actions: Actions, hub: FakeGitHub, name: str
) -> None:
    team = yaml.safe_dump({"keys": yaml.safe_load(manifest())["keys"]})
    files = {"keys/ehkeys.yaml": "version: 1\npolicy: {max_allocation: 35}\n", f"keys/{name}": team}
    hub.commit(BASE, files)
    head = {**files, f"keys/{name}": yaml.safe_dump({"keys": yaml.safe_load(manifest(k0=20))["keys"]})}
    code, out = plan(actions, 34, head, "--rules-apart", root="keys")
    assert code == 0, out  # a key changed, no rule
    assert "Rules not compared" not in plan_comment(hub, 34)


def test_a_folder_of_1000_entries_is_said_incomplete_not_compared_in_part(
    actions: Actions, hub: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GitHub lists at most 1,000 entries of a folder, silently: the rest would be missing (a
    PR of more files than it lists: each of the base's is asked for)."""
    monkeypatch.setattr(roots, "MAX_FILES", 2)
    keys = yaml.safe_load(manifest())["keys"]
    files = {f"keys/t{i:04d}.yaml": "keys: []\n" for i in range(998)}  # with 2 more: 1,000
    files |= {"keys/ehkeys.yaml": "version: 1\npolicy: {max_allocation: 35}\n"}
    hub.commit(BASE, {**files, "keys/zz.yaml": yaml.safe_dump({"keys": keys})})
    code, out = plan(
        actions, 35, {**files, "keys/zz.yaml": yaml.safe_dump({"keys": keys})}, "--rules-apart", root="keys"
    )
    assert code == 4, out
    assert (
        "rules-apart: the rules could not be compared with the base's (the comparison would be "
        "incomplete: the folder keys lists 1,000 entries, the most GitHub's contents API gives: the "
        "rest are not read)"
    ) in plan_comment(hub, 35)


def linked(hub: FakeGitHub, links: dict[str, str]) -> tuple[str, str]:
    """keys/team.yaml a link on the base (`links`, to common/team.yaml: GitHub follows a link to
    a normal file, answers with the link itself otherwise), its key k0 with an exception; the
    base's settings file, and the head's team file (a key changed, no rule)."""
    keys = yaml.safe_load(manifest())["keys"]
    keys[0]["policy_exceptions"] = {"max_allocation": "partner"}
    team = yaml.safe_dump({"keys": keys})
    settings = "version: 1\npolicy: {max_allocation: 35}\n"
    hub.commit(BASE, {"keys/ehkeys.yaml": settings, "common/team.yaml": team}, links)
    keys[1]["allocated_ammount"] = 20  # the PR changes a key, no rule
    return settings, yaml.safe_dump({"keys": keys})


LINKS = {
    "to a file": {"keys/team.yaml": "../common/team.yaml"},
    "to a link to a file": {"keys/team.yaml": "../common/current.yaml", "common/current.yaml": "team.yaml"},
}


@pytest.mark.parametrize("links", LINKS.values(), ids=LINKS)
def test_a_linked_team_file_is_read_as_the_checkout_reads_it(
    actions: Actions, hub: FakeGitHub, links: dict[str, str]
) -> None:
    settings, team = linked(hub, links)
    code, out = plan(
        actions, 36, {"keys/ehkeys.yaml": settings, "keys/team.yaml": team}, "--rules-apart", root="keys"
    )
    assert code == 0, out  # only a key changed: k0's exception is the base's
    assert "GET /contents/keys/team.yaml" in hub.calls


def test_a_link_out_of_the_repository_is_said_incomplete(actions: Actions, hub: FakeGitHub) -> None:
    settings, team = linked(hub, {"keys/team.yaml": "../../etc/team.yaml"})
    code, out = plan(
        actions, 37, {"keys/ehkeys.yaml": settings, "keys/team.yaml": team}, "--rules-apart", root="keys"
    )
    assert code == 4, out
    assert (
        "the comparison would be incomplete: keys/team.yaml is a link out of the repository "
        "(../../etc/team.yaml)"
    ) in plan_comment(hub, 37)
