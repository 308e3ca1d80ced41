"""The GitHub REST API as the workflows use it: one client, one error hierarchy, pages, downloads.

Reads GITHUB_TOKEN, GITHUB_REPOSITORY and GITHUB_API_URL as Actions sets them. Statuses
become errors here only: 404 is NotFound, 409 and 422 (a stale `sha`) are Conflict, and
401/403 name the workflow permission that is usually missing.
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from reconciler import __version__
from reconciler.core.errors import ConfigError, EhkeysError
from reconciler.core.secrets import scrub

PAGE = 100
MAX_PAGES = 50
BACKOFF = (2.0, 5.0)  # seconds before the 2nd and 3rd try of a call GitHub answered RETRIED
SAID = 200  # characters of GitHub's error message quoted
RETRIED = (500, 502, 503, 504)  # GitHub's "try again": a 500 too (a state write it made is found)
REPEATABLE = ("GET", "PUT", "PATCH", "DELETE")  # contents PUT/DELETE are conditional on the sha
_TOKEN = re.compile(r"[\x21-\x7e]+")  # what a token in a request header may hold
_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")  # OWNER/NAME
log = logging.getLogger("ehkeys")


class GitHubError(EhkeysError):
    """A GitHub API call failed; the message names the call and GitHub's answer."""


class NotFound(GitHubError):
    pass


class Conflict(GitHubError):
    """The resource changed since it was read (a file's sha, a ref)."""


def _hidden(text: str, headers: httpx.Headers) -> str:
    """`text` without the token the request carried (an answer or an error may quote it)."""
    token = headers.get("authorization", "").partition(" ")[2]
    return scrub(text.replace(token, "…") if token else text)


def _error(method: str, path: str, answer: httpx.Response) -> GitHubError:
    try:
        said = str(answer.json().get("message", ""))
    except (ValueError, AttributeError, RecursionError):
        said = answer.text
    said = " ".join(_hidden(said, answer.request.headers).split())  # one line: a log line starting
    said = said if len(said) <= SAID else said[:SAID] + "…"  # `::` would be a workflow command
    text = f"GitHub API {method} {path}: HTTP {answer.status_code}: {said}"
    if answer.status_code in (404, 410):  # 410: gone (an artifact expired, an issue deleted)
        return NotFound(text)
    if answer.status_code in (409, 422):
        return Conflict(text)
    limited = _rate_limited(answer)
    if limited:
        text += f" ({limited})"
    elif answer.status_code in (401, 403):
        text += " (check the job's `permissions:` and the token)"
    return GitHubError(text)


def _rate_limited(answer: httpx.Response) -> str:
    """What to do when GitHub's answer is its rate limit ('' when it is not): a 429, or a 403 that
    says so in its headers (`x-ratelimit-remaining: 0`, `retry-after`), never a permission."""
    headers = answer.headers
    if answer.status_code not in (403, 429):
        return ""
    if (
        answer.status_code == 403
        and headers.get("x-ratelimit-remaining") != "0"
        and "retry-after" not in headers
    ):
        return ""
    wait = headers.get("retry-after", "")
    reset = headers.get("x-ratelimit-reset", "")
    if wait.isdigit():
        when = f"in {int(wait)} s"
    elif reset.isdigit():
        when = f"after {time.strftime('%H:%M:%S UTC', time.gmtime(int(reset)))}"
    else:
        when = "later"
    return f"GitHub's rate limit for this token, not a permission: it takes this token's calls again {when}"


def _check_env(token: str, repo: str, api: str) -> None:
    """What Actions sets, checked before any request: a message naming the variable, never its token."""
    if not _TOKEN.fullmatch(token):
        raise ConfigError(
            "GITHUB_TOKEN holds a character no token has (a newline, a space, or one beyond ASCII): "
            "check how it is set (its value is not shown)"
        )
    if not _REPO.fullmatch(repo):
        raise ConfigError(f"GITHUB_REPOSITORY {repo!r} is not OWNER/NAME (as Actions sets it)")
    try:
        httpx.URL(api)
        parts = urlsplit(api)
    except (ValueError, httpx.InvalidURL):  # a bracket left open, a newline, a port of letters
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"GITHUB_API_URL {api!r} is not an http:// or https:// URL (as Actions sets it)")


def pick(item: Any, call: str, *keys: str, kind: type = object) -> Any:
    """`item[key][key]…` of an answer, or a GitHubError naming the call and the field it lacks."""
    for key in keys:
        item = item.get(key) if isinstance(item, dict) else None
    if item is None or item == "" or not isinstance(item, kind):
        raise GitHubError(f"GitHub API {call}: the answer has no usable `{'.'.join(keys)}`")
    return item


def by_bot(item: dict[str, Any]) -> bool:
    """A comment or issue written by an app (the workflow's token), not by a person who quoted it."""
    author = item.get("user")
    return isinstance(author, dict) and author.get("type") == "Bot"


@dataclass
class GitHub:
    http: httpx.Client
    repo: str

    @classmethod
    def from_env(cls, transport: httpx.BaseTransport | None = None) -> GitHub:
        token, repo = os.environ.get("GITHUB_TOKEN"), os.environ.get("GITHUB_REPOSITORY")
        if not token or not repo:
            raise ConfigError("GITHUB_TOKEN and GITHUB_REPOSITORY must be set (as in GitHub Actions)")
        api = os.environ.get("GITHUB_API_URL", "https://api.github.com")
        _check_env(token, repo, api)
        http = httpx.Client(
            base_url=api,
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

    def _send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """One call; a repeatable one is tried again after a server or gateway error, or a dropped
        connection."""
        pauses = list(BACKOFF) if method in REPEATABLE else []
        while True:
            try:
                answer = self.http.request(method, f"/repos/{self.repo}{path}", **kw)
            except httpx.InvalidURL as exc:  # a path made of what the event said (a commit's sha)
                raise GitHubError(f"GitHub API {method} {path!r}: not a URL ({exc})") from None
            except httpx.HTTPError as exc:
                if not pauses or not isinstance(exc, httpx.TransportError):
                    why = _hidden(str(exc), self.http.headers)
                    raise GitHubError(f"GitHub API {method} {path}: {type(exc).__name__}: {why}") from exc
            else:
                if answer.status_code < 300:
                    return answer
                if not pauses or answer.status_code not in RETRIED:
                    raise _error(method, path, answer)
            time.sleep(pauses.pop(0))

    def call(self, method: str, path: str, **kw: Any) -> Any:
        """One call under /repos/OWNER/NAME; the decoded answer, or None when it is empty."""
        answer = self._send(method, path, **kw)
        try:
            return answer.json() if answer.content else None
        except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than json parses
            raise GitHubError(f"GitHub API {method} {path}: the answer is not JSON") from exc

    def pages(self, path: str, field: str | None = None, **params: Any) -> list[dict[str, Any]]:
        """Every item of a listing, up to MAX_PAGES pages (a warning names the call when that cut
        it); `field` names the list when the answer wraps it."""
        found: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            answer = self.call("GET", path, params={**params, "per_page": PAGE, "page": page})
            batch = answer.get(field, []) if field and isinstance(answer, dict) else answer
            if not isinstance(batch, list) or not all(isinstance(item, dict) for item in batch):
                raise GitHubError(f"GitHub API GET {path}: expected a list of objects")
            found.extend(batch)
            if len(batch) < PAGE:
                return found
        log.warning(
            "GitHub API GET %s: stopped after %d pages of %d (%s items): any beyond were not read",
            path,
            MAX_PAGES,
            PAGE,
            f"{len(found):,}",
        )
        return found

    def download(self, path: str, limit: int) -> bytes:
        """A file behind a redirect (an artifact's zip): httpx drops the token on another host.
        Read as it comes, and refused past `limit` bytes: memory is not the sender's to fill."""
        try:
            with self.http.stream("GET", f"/repos/{self.repo}{path}", follow_redirects=True) as answer:
                if answer.status_code >= 300:
                    answer.read()
                    raise _error("GET", path, answer)
                data = bytearray()
                for chunk in answer.iter_bytes():
                    data += chunk
                    if len(data) > limit:
                        raise GitHubError(f"GitHub API GET {path}: over {limit:,} bytes, more than expected")
                return bytes(data)
        except httpx.HTTPError as exc:
            raise GitHubError(f"GitHub API GET {path}: {type(exc).__name__}: {exc}") from exc
