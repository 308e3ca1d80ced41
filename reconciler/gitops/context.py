"""What GitHub Actions tells a step about its run: the event, the commit, the run's address."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from reconciler.core.errors import ConfigError
from reconciler.engine.settings import Workspace
from reconciler.state.files import NOT_A_FILE, not_a_file, read_file

MAX_EVENT = 64 * 1024 * 1024  # bytes of an event file read: GitHub caps a webhook's payload at 25 MB
SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # a commit as GitHub names it (SHA-1, or SHA-256)


@dataclass(frozen=True)
class RunContext:
    event_name: str
    sha: str
    run_id: str
    run_url: str
    workspace: Path
    event: dict[str, Any] = field(default_factory=dict)
    retention: str = ""  # GITHUB_RETENTION_DAYS: the days Actions keeps this run's artifacts
    # GITHUB_ACTIONS: the job runs on an Actions runner, whose disk goes with the job (and the
    # plan job's apply job will): a `file:` sink writes where nothing lasts.
    throwaway_runner: bool = False

    @classmethod
    def from_env(cls) -> RunContext:
        env = os.environ
        server, repo, run = (
            env.get("GITHUB_SERVER_URL", "https://github.com"),
            env.get("GITHUB_REPOSITORY"),
            env.get("GITHUB_RUN_ID", ""),
        )
        return cls(
            event_name=env.get("GITHUB_EVENT_NAME", ""),
            sha=env.get("GITHUB_SHA", ""),
            run_id=run,
            run_url=f"{server}/{repo}/actions/runs/{run}" if run else "",
            workspace=Path(env.get("GITHUB_WORKSPACE") or "."),
            event=_event(env.get("GITHUB_EVENT_PATH")),
            retention=env.get("GITHUB_RETENTION_DAYS", ""),
            throwaway_runner=env.get("GITHUB_ACTIONS") == "true",
        )

    def runs(self, workspace: Workspace) -> Workspace:
        """The job's workspace, its sinks run where this run does (`Workspace.throwaway_runner`)."""
        return replace(workspace, throwaway_runner=self.throwaway_runner)

    @property
    def pull_request(self) -> dict[str, Any]:
        found = self.event.get("pull_request")
        return found if isinstance(found, dict) else {}

    @property
    def pr_number(self) -> int | None:
        number = self.pull_request.get("number")
        return number if isinstance(number, int) else None

    @property
    def head_sha(self) -> str:
        """The commit a pull request's plan is made for (its head, not the test merge)."""
        head = self.pull_request.get("head")
        return str(head.get("sha", "")) if isinstance(head, dict) else self.sha

    @property
    def before(self) -> str | None:
        """A push's `before`: the branch's commit before the push (all zeros: the push created
        it); None when the event is no push (a run by hand)."""
        before = self.event.get("before")
        return before if isinstance(before, str) else None

    def refuse_fork(self) -> None:
        """A pull_request run from a fork gets no secrets and a read-only token: said at once,
        before a request that could only fail with a message that does not say why."""
        head, base = _repo_of(self.pull_request.get("head")), _repo_of(self.pull_request.get("base"))
        if self.event_name == "pull_request" and head and base and head != base:
            raise ConfigError(
                f"PR #{self.pr_number} comes from the fork {head}: GitHub gives a fork's pull_request "
                "runs no secrets and a read-only token, so ehkeys can neither read the account nor "
                "comment; nothing was planned. To plan it, push its commits to a branch of "
                f"{base} and open the pull request from there (or, once merged, apply by hand: "
                "keys-apply, fresh: true)"
            )


def _repo_of(side: Any) -> str:
    """`pull_request.head.repo.full_name` (or base's), "" when the event does not say."""
    repo = side.get("repo") if isinstance(side, dict) else None
    name = repo.get("full_name") if isinstance(repo, dict) else None
    return name if isinstance(name, str) else ""


def set_output(name: str, value: str) -> None:
    """A step output (`steps.<id>.outputs.<name>`) when Actions runs the step (GITHUB_OUTPUT);
    a device or a pipe is refused, never opened (a FIFO with no reader waits forever)."""
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    if not_a_file(Path(path)):
        raise ConfigError(f"GITHUB_OUTPUT {path}: cannot write the step's outputs: {NOT_A_FILE}")
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"{name}={value}\n")
    except OSError as exc:
        raise ConfigError(f"GITHUB_OUTPUT {path}: cannot write the step's outputs ({exc.strerror})") from exc


def _event(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    try:
        data = json.loads(read_file(Path(path), MAX_EVENT).decode("utf-8"))  # never /dev/zero read to no end
    except (OSError, ValueError) as exc:
        raise ConfigError(f"GITHUB_EVENT_PATH {path}: cannot read the event ({exc})") from exc
    except RecursionError:  # json's parser recurses once per nested array or object
        raise ConfigError(f"GITHUB_EVENT_PATH {path}: cannot read the event (nested too deeply)") from None
    event = data if isinstance(data, dict) else {}
    _check_pull(path, event.get("pull_request"))
    before = event.get("before")
    if "before" in event and not (isinstance(before, str) and SHA.fullmatch(before)):
        raise ConfigError(f"GITHUB_EVENT_PATH {path}: before is {_shown(before)}, not a commit")
    return event


def _check_pull(path: str, pull: Any) -> None:
    """A pull request's number and head commit as GitHub sends them, or a message naming the
    field: `true` is an int to Python (the PR `/pulls/True`), `null` a commit `None`, and a
    `pull_request` that is no object would be read as no pull request at all."""
    if pull is None:
        return
    if not isinstance(pull, dict):
        raise ConfigError(f"GITHUB_EVENT_PATH {path}: pull_request is {_shown(pull)}, not a pull request")
    number, head = pull.get("number"), pull.get("head")
    if "number" in pull and (isinstance(number, bool) or not isinstance(number, int) or number < 1):
        raise ConfigError(
            f"GITHUB_EVENT_PATH {path}: pull_request.number is {_shown(number)}, not a PR's number"
        )
    if isinstance(head, dict) and (not isinstance(head.get("sha"), str) or not head["sha"]):
        raise ConfigError(
            f"GITHUB_EVENT_PATH {path}: pull_request.head.sha is {_shown(head.get('sha'))}, not a commit"
        )


def _shown(value: Any) -> str:
    """A field's value as the event wrote it (JSON), cut short."""
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:40] + "…"
