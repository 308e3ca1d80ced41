"""A manifest root, or a file it reads, whose name is not UTF-8 (git keeps any bytes): every job
refuses it with the same message, naming it printably, never a traceback. GitHub spells names in
UTF-8, so no artifact, comment, state path or digest could name it (each crashed in turn)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..fakegithub import REPO, FakeGitHub
from . import test_gitops as gitops
from .test_gitops import Actions, manifest, plan_comment
from .test_gitops_rules import BASE, run_plan
from .test_gitops_rules_cost import STRICT, team

pytestmark = gitops.pytestmark
hub = gitops.hub
actions = gitops.actions

ODD = "caf\udce9"  # os.fsdecode(b"caf\xe9"): how Python hands over a name that is not UTF-8
SHOWN = "caf\\xe9"  # how ehkeys names it
PULL = {"number": 9, "head": {"sha": "head9", "repo": {"full_name": REPO}}, "base": {"ref": "main"}}
EVENTS: dict[str, tuple[str, dict[str, Any]]] = {
    "plan": ("pull_request", {"pull_request": PULL}),
    "comment": ("pull_request", {"pull_request": PULL}),
    "apply": ("push", {"after": "merged9"}),
    "drift": ("schedule", {}),
    "rotate": ("schedule", {}),
    "deliver": ("workflow_dispatch", {}),
}


def refused(out: str, shown: str) -> bool:
    return "internal error" not in out and "Traceback" not in out and shown in out and "not UTF-8" in out


ROOTS = {  # the root as the action is given it, and how the refusal names it
    "named": (ODD, f"the manifest root {SHOWN} is a name that is not UTF-8"),
    "linked": ("keys", f"the manifest root keys (its path from the repository's top: {SHOWN})"),
}


@pytest.mark.parametrize("given", list(ROOTS))
@pytest.mark.parametrize("job", list(EVENTS))
def test_a_root_whose_name_is_not_utf8_is_refused_by_every_job(
    actions: Actions, hub: FakeGitHub, job: str, given: str
) -> None:
    """caf\\xe9/, or keys -> caf\\xe9/: the root's path from the top names its artifact, comments
    and state."""
    hub.open_pull(9, "head9")
    hub.change(9, "keys/keys.yaml")
    event, payload = EVENTS[job]
    workspace = actions.checkout(manifest(), event, "merged9", payload, f"{ODD}/keys.yaml")
    (workspace / "keys").symlink_to(ODD)
    root, said = ROOTS[given]
    sandbox = () if job == "comment" else ("--sandbox", *actions.seeded)
    code, out, err = actions.run("github", job, root, *sandbox)
    assert code == 1 and refused(out + err, said), out + err
    assert not list(Path(workspace).glob("**/.ehkeys/*")), "nothing kept for it"


@pytest.mark.parametrize(
    ("files", "links", "shown"),
    [
        ({"keys/ehkeys.yaml": STRICT, f"keys/{ODD}.yaml": team()}, {}, f"keys/{SHOWN}.yaml"),
        ({"keys/ehkeys.yaml": STRICT, f"keys/{ODD}/team.yaml": team()}, {}, f"keys/{SHOWN}/team.yaml"),
        (
            {"keys/ehkeys.yaml": STRICT, f"{ODD}/team.yaml": team()},
            {"keys/team.yaml": f"../{ODD}/team.yaml"},
            f"links to ../{SHOWN}/team.yaml",
        ),
    ],
    ids=["file", "folder", "link"],
)
def test_a_file_of_the_root_whose_name_is_not_utf8_fails_the_plan_and_its_comment_says_so(
    actions: Actions, hub: FakeGitHub, files: dict[str, str], links: dict[str, str], shown: str
) -> None:
    hub.commit(BASE, {"keys/ehkeys.yaml": STRICT, "keys/team.yaml": team()})
    changed = tuple(name.replace(ODD, "caf\ufffd") for name in [*files, *links])  # GitHub's spelling
    code, out, workspace = run_plan(actions, 9, files, root="keys", changed=changed, links=links)
    assert code == 1 and refused(out, shown), out
    assert not (workspace / "ehkeys-out" / "plan.json").exists()
    code, out, err = actions.run("github", "comment", "keys")
    assert code == 1 and "could not plan" in plan_comment(hub, 9), out + err
