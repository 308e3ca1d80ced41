"""The GitHub side of the GitOps workflows: one PR comment kept up to date, one drift issue.

`ehkeys github comment --pr N --file plan.md` edits the comment that carries the plan's
hidden marker (or posts it once); `ehkeys github drift-issue --file drift.md --status S`
opens, updates or closes the single issue labelled `ehkeys-drift`. Both read GITHUB_TOKEN,
GITHUB_REPOSITORY and GITHUB_API_URL as set in Actions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import httpx

from reconciler import __version__
from reconciler.errors import ConfigError, EhkeysError
from reconciler.model import scrub
from reconciler.render import MARKER

DRIFT_LABEL = "ehkeys-drift"
DRIFT_TITLE = "ehkeys: proxy keys drifted from the manifest"
MAX_BODY = 65000  # GitHub refuses comments over 65,536 characters


class GitHubError(EhkeysError):
    pass


def _clip(body: str) -> str:
    if len(body) <= MAX_BODY:
        return body
    return body[:MAX_BODY] + "\n\n_(cut: the full plan is in the job summary and the artifact)_\n"


@dataclass
class GitHub:
    http: httpx.Client
    repo: str

    @classmethod
    def from_env(cls, transport: httpx.BaseTransport | None = None) -> GitHub:
        token, repo = os.environ.get("GITHUB_TOKEN"), os.environ.get("GITHUB_REPOSITORY")
        if not token or not repo:
            raise ConfigError("GITHUB_TOKEN and GITHUB_REPOSITORY must be set (as in GitHub Actions)")
        http = httpx.Client(
            base_url=os.environ.get("GITHUB_API_URL", "https://api.github.com"),
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": f"ehkeys/{__version__}",
            },
            transport=transport,
            timeout=30,
        )
        return cls(http, repo)

    def call(self, method: str, path: str, **kw: Any) -> Any:
        try:
            answer = self.http.request(method, f"/repos/{self.repo}{path}", **kw)
        except httpx.HTTPError as exc:
            raise GitHubError(f"GitHub API {method} {path}: {exc}") from exc
        if answer.status_code >= 300:
            raise GitHubError(
                f"GitHub API {method} {path}: HTTP {answer.status_code}: {scrub(answer.text[:200])}"
            )
        return answer.json() if answer.content else None

    def pages(self, path: str, **params: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for page in range(1, 50):
            batch = self.call("GET", path, params={**params, "per_page": 100, "page": page})
            found.extend(batch)
            if len(batch) < 100:
                break
        return found

    def upsert_comment(self, pr: int, body: str, marker: str = MARKER) -> str:
        """Edit the one comment that carries the marker, or post it: never one per push."""
        body = _clip(body if marker in body else f"{marker}\n{body}")
        for comment in self.pages(f"/issues/{pr}/comments"):
            if marker in (comment.get("body") or ""):
                self.call("PATCH", f"/issues/comments/{comment['id']}", json={"body": body})
                return "updated"
        self.call("POST", f"/issues/{pr}/comments", json={"body": body})
        return "created"

    def sync_drift_issue(self, body: str, drifted: bool) -> str:
        """One open issue while keys drift: opened, then updated, closed when in sync again."""
        issues = [
            i for i in self.pages("/issues", state="open", labels=DRIFT_LABEL) if "pull_request" not in i
        ]
        if drifted and issues:
            self.call("PATCH", f"/issues/{issues[0]['number']}", json={"body": _clip(body)})
            return f"updated #{issues[0]['number']}"
        if drifted:
            created = self.call(
                "POST", "/issues", json={"title": DRIFT_TITLE, "body": _clip(body), "labels": [DRIFT_LABEL]}
            )
            return f"opened #{created['number']}"
        for issue in issues:
            note = "The live keys match the manifest again; closing.\n\n" + _clip(body)
            self.call("POST", f"/issues/{issue['number']}/comments", json={"body": note})
            self.call("PATCH", f"/issues/{issue['number']}", json={"state": "closed"})
        return f"closed {len(issues)}" if issues else "in sync, nothing open"
