"""Which reviewed plan the apply job trusts: a comment by the identity the plan job writes with,
naming a run of the plan workflow for the pull request's head commit.

Anyone who installs a GitHub App on the repository, or adds a workflow to it, can write a
comment that looks like the plan job's and points at an artifact of their own. So the apply
job reads only comments whose author (`user.login`, `user.type`, `performed_via_github_app`,
as GitHub returns them) is the plan job's identity, and only an artifact whose run
(`GET /actions/runs/{id}`: `head_sha`, `event`, `path`) is the plan workflow's, on a pull
request event, for the head commit the reviewers saw. With `rules_apart` (the apply job's
`--rules-apart`), only a plan whose run says it passed rules-apart (`madefor`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PLAN_AUTHOR = "github-actions[bot]"  # GITHUB_TOKEN's identity: what the plan job writes with
PLAN_WORKFLOW = ".github/workflows/keys-plan.yml"
PULL_EVENTS = ("pull_request", "pull_request_target")


@dataclass(frozen=True)
class Trust:
    author: str = PLAN_AUTHOR
    workflow: str = PLAN_WORKFLOW
    rules_apart: bool = False  # apply only a plan whose run says it passed rules-apart


def author(item: dict[str, Any]) -> str:
    """Who GitHub says wrote a comment: its user's login ("?" when it names none)."""
    user = item.get("user")
    login = user.get("login") if isinstance(user, dict) else None
    return login if isinstance(login, str) and login else "?"


def written_by(item: dict[str, Any], login: str) -> bool:
    """The comment is `login`'s own: that user (a Bot when the login is an app's `…[bot]`),
    writing directly or through its own app, never through another app on its behalf."""
    user = item.get("user")
    if author(item).lower() != login.lower() or not isinstance(user, dict):
        return False
    is_app = login.lower().endswith("[bot]")
    if is_app and user.get("type") != "Bot":
        return False
    via = item.get("performed_via_github_app")
    if via is None:
        return True
    slug = via.get("slug") if isinstance(via, dict) else None
    return is_app and isinstance(slug, str) and f"{slug}[bot]".lower() == login.lower()


def workflow_file(path: str) -> str:
    """A workflow's file, without the `@ref` GitHub may append (`….yml@refs/heads/main`)."""
    return path.split("@", 1)[0].strip().removeprefix("./")


def run_mismatch(run: dict[str, Any], head_sha: str, workflow: str) -> list[str]:
    """How a workflow run differs from the plan workflow's run for this head commit ([] if not)."""
    found = []
    path, event, sha = (str(run.get(k) or "") for k in ("path", "event", "head_sha"))
    if workflow_file(path) != workflow_file(workflow):
        found.append(f"its workflow is {path or '(none)'}, not {workflow}")
    if event not in PULL_EVENTS:
        found.append(f"it ran on {event or '(no event)'}, not on a pull request")
    if sha != head_sha:
        found.append(f"it ran for commit {sha[:12] or '(none)'}, not the PR's head {head_sha[:12]}")
    return found
