"""The fake GitHub's answers: the description's example for each operation, with the fake's
plain records (what a test sets up and reads) laid over it.

A record holds only what a test cares about (a comment's body and author, a pull request's
head); GitHub's answer has every field the description says GitHub always returns, so a job
can rely on a field only if GitHub really sends it.
"""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any

from .githubspec import DROP, answer, example, lay, schema_example

API = "https://api.github.com"
REPO = "acme/keys"
WEB = f"https://github.com/{REPO}"
ACTIONS_APP_ID = 15368  # the GitHub Actions app, whose installation token is GITHUB_TOKEN


def git_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def spelled(name: str) -> str:
    """A name (or a link's target) as GitHub's JSON spells it. git keeps either as any bytes; a
    test gives one that is not UTF-8 as `os.fsdecode` does (a lone surrogate for each such byte).
    JSON is UTF-8, so GitHub cannot send those bytes as they are: the fake assumes (as its pull
    request file list does, which `roots` matches so) that each byte that does not decode is
    U+FFFD, the replacement character, as Ruby's `String#scrub` and Python's "replace" give it;
    only a blob (GET /git/blobs, base64) holds a link's target byte for byte."""
    return os.fsencode(name).decode("utf-8", "replace")


def _first(operation: str, status: int = 200) -> Any:
    """The first item of an operation's example list."""
    found = example(operation, status)
    return found[0] if isinstance(found, list) else found["artifacts"][0]


def user(record: dict[str, Any] | None) -> dict[str, Any]:
    """A full user (or bot) from a record such as {"login": "github-actions[bot]", "type": "Bot"}."""
    login = (record or {}).get("login", "octocat")
    base = lay(_first("issues/list-comments")["user"], {"login": login, "url": f"{API}/users/{login}"})
    return lay(base, {"html_url": f"https://github.com/{login}", **(record or {})})


def app(slug: str) -> dict[str, Any]:
    """The GitHub App an installation token acts for (its bot user is `<slug>[bot]`)."""
    owner = user({"login": "github" if slug == "github-actions" else slug, "type": "Organization"})
    known = {"id": ACTIONS_APP_ID, "name": "GitHub Actions"} if slug == "github-actions" else {}
    return lay(
        schema_example("issues/list-comments", 200, "[]", "performed_via_github_app"),
        {"slug": slug, "name": slug, "html_url": f"https://github.com/apps/{slug}", "owner": owner, **known},
    )


def acting_app(author: dict[str, Any]) -> dict[str, Any] | None:
    """An app's bot writes through the app: GitHub names the app in `performed_via_github_app`."""
    login = str(author.get("login", ""))
    return app(login.removesuffix("[bot]")) if login.endswith("[bot]") else None


def comment(record: dict[str, Any], base: Any) -> dict[str, Any]:
    cid, issue = record["id"], record["issue"]
    author = record.get("user") or {}
    return lay(
        base,
        {
            "id": cid,
            "body": record["body"],
            "user": user(author),
            "url": f"{API}/repos/{REPO}/issues/comments/{cid}",
            "html_url": f"{WEB}/issues/{issue}#issuecomment-{cid}",
            "issue_url": f"{API}/repos/{REPO}/issues/{issue}",
            "performed_via_github_app": record.get("performed_via_github_app", acting_app(author)),
        },
    )


def _label(name: str) -> dict[str, Any]:
    base = example("issues/list-for-repo")[0]["labels"][0]
    return lay(base, {"name": name, "url": f"{API}/repos/{REPO}/labels/{name}", "default": False})


def issue(record: dict[str, Any], base: Any) -> dict[str, Any]:
    number, closed = record["number"], record.get("state") == "closed"
    url = f"{API}/repos/{REPO}/issues/{number}"
    pull = {"url": f"{API}/repos/{REPO}/pulls/{number}", "html_url": f"{WEB}/pull/{number}"}
    return lay(
        base,
        {
            "number": number,
            "title": record.get("title", f"#{number}"),
            "body": record.get("body"),
            "state": record.get("state", "open"),
            # GitHub sends null on an open issue, but its description's enum leaves null out
            "state_reason": record.get("state_reason", "completed") if closed else DROP,
            "closed_at": "2026-11-22T10:00:00Z" if closed else None,
            "labels": [_label(str(name)) for name in record.get("labels", [])],
            "user": user(record.get("user")),
            "url": url,
            "comments_url": f"{url}/comments",
            "html_url": f"{WEB}/issues/{number}",
            "pull_request": pull if "pull_request" in record else DROP,
        },
    )


def pull(record: dict[str, Any]) -> dict[str, Any]:
    number = record["number"]
    return lay(
        _first("repos/list-pull-requests-associated-with-commit"),
        {
            "number": number,
            "state": record.get("state", "open"),
            "head": {"sha": record["head"]["sha"]},
            "base": {"ref": record.get("base", {}).get("ref", "main")},
            "requested_teams": [],  # the description's example team lacks the `type` it requires
            "merge_commit_sha": record.get("merge_commit_sha"),
            "merged_at": record.get("merged_at"),
            "url": f"{API}/repos/{REPO}/pulls/{number}",
            "html_url": f"{WEB}/pull/{number}",
        },
    )


def pull_file(record: dict[str, Any], base: Any) -> dict[str, Any]:
    """One file of a PR's diff: its path, and the path it had before when it was renamed."""
    path, previous = record["filename"], record.get("previous")
    ref = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
    return lay(
        base,
        {
            "filename": path,
            "status": record["status"],
            "previous_filename": previous if previous else DROP,
            "blob_url": f"{WEB}/blob/{ref}/{path}",
            "raw_url": f"{WEB}/raw/{ref}/{path}",
            "contents_url": f"{API}/repos/{REPO}/contents/{path}?ref={ref}",
        },
    )


def compared(
    basehead: str,
    status: str,
    commits: list[tuple[str, tuple[str, ...]]],
    files: list[dict[str, Any]] | None,
    counts: tuple[int, int],
) -> dict[str, Any]:
    """GET /compare/{base}...{head}: a page of the commits (sha and parents each), the files the
    whole comparison changes (`None`: not on this page, as GitHub shows them on the first only),
    `counts` (ahead_by, behind_by)."""
    first = example("repos/compare-commits-with-basehead")
    base = first["commits"][0]

    def one(sha: str, parents: tuple[str, ...]) -> dict[str, Any]:
        url = f"{API}/repos/{REPO}/commits/{sha}"
        linked = [{"sha": p, "url": f"{API}/repos/{REPO}/commits/{p}"} for p in parents]
        return lay(base, {"sha": sha, "url": url, "html_url": f"{WEB}/commit/{sha}", "parents": linked})

    over = {
        "url": f"{API}/repos/{REPO}/compare/{basehead}",
        "html_url": f"{WEB}/compare/{basehead}",
        "status": status,
        "ahead_by": counts[0],
        "behind_by": counts[1],
        "total_commits": counts[0],
        "commits": [one(sha, parents) for sha, parents in commits],
        "files": DROP if files is None else [pull_file(f, first["files"][0]) for f in files],
    }
    return lay(first, over)


def artifact(artifact_id: int, record: dict[str, Any], run: dict[str, Any] | None) -> dict[str, Any]:
    url = f"{API}/repos/{REPO}/actions/artifacts/{artifact_id}"
    made_by = {"id": int(record["run"])} if str(record["run"]).isdigit() else {}
    return lay(
        _first("actions/list-workflow-run-artifacts"),
        {
            "id": artifact_id,
            "name": record["name"],
            "expired": record["expired"],
            "expires_at": record["expires_at"],
            "size_in_bytes": len(record["zip"]),
            "digest": "sha256:" + hashlib.sha256(record["zip"]).hexdigest(),
            "url": url,
            "archive_download_url": f"{url}/zip",
            "workflow_run": {**made_by, **({"head_sha": run["head_sha"]} if run else {})},
        },
    )


def run(run_id: int, record: dict[str, Any]) -> dict[str, Any]:
    url = f"{API}/repos/{REPO}/actions/runs/{run_id}"
    return answer(
        "actions/get-workflow-run",
        id=run_id,
        head_sha=record["head_sha"],
        event=record["event"],
        path=record["path"],
        status="completed",
        conclusion="success",
        url=url,
        html_url=f"{WEB}/actions/runs/{run_id}",
        artifacts_url=f"{url}/artifacts",
        pull_requests=[],
    )


def _file_links(path: str, sha: str, ref: str) -> dict[str, Any]:
    url = f"{API}/repos/{REPO}/contents/{path}?ref={ref}"
    git = f"{API}/repos/{REPO}/git/blobs/{sha}"
    html = f"{WEB}/blob/{ref}/{path}"
    return {"url": url, "git_url": git, "html_url": html, "_links": {"self": url, "git": git, "html": html}}


def content(path: str, data: bytes, ref: str, inline: bool) -> dict[str, Any]:
    """GET contents of a file: base64 inline, or (over 1 MB) `encoding: none` and no content."""
    sha, path = git_sha(data), spelled(path)
    return answer(
        "repos/get-content",
        200,
        "response-if-content-is-a-file",
        type="file",
        name=path.rsplit("/", 1)[-1],
        path=path,
        sha=sha,
        size=len(data),
        encoding="base64" if inline else "none",
        content=base64.b64encode(data).decode() if inline else "",
        download_url=f"https://raw.githubusercontent.com/{REPO}/{ref}/{path}",
        **_file_links(path, sha, ref),
    )


def symlink(path: str, target: str, ref: str) -> dict[str, Any]:
    """GET contents of a link GitHub does not follow (to a folder, another link, nothing, or
    out of the repository): the link itself, its `target` as git keeps it (its blob's bytes),
    spelled as JSON can (`spelled`)."""
    data = os.fsencode(target)
    sha, path = git_sha(data), spelled(path)
    return answer(
        "repos/get-content",
        200,
        "response-if-content-is-a-symlink",
        type="symlink",
        target=spelled(target),
        name=path.rsplit("/", 1)[-1],
        path=path,
        sha=sha,
        size=len(data),
        download_url=f"https://raw.githubusercontent.com/{REPO}/{ref}/{path}",
        **_file_links(path, sha, ref),
    )


def submodule(path: str, commit: str, ref: str) -> dict[str, Any]:
    """GET contents of a submodule: its commit, in another repository."""
    url = f"{API}/repos/{REPO}/contents/{path}?ref={ref}"
    other = f"{API}/repos/acme/vendor/git/trees/{commit}"
    html = f"https://github.com/acme/vendor/tree/{commit}"
    return answer(
        "repos/get-content",
        200,
        "response-if-content-is-a-submodule",
        name=path.rsplit("/", 1)[-1],
        path=path,
        sha=commit,
        submodule_git_url="git://github.com/acme/vendor.git",
        url=url,
        git_url=other,
        html_url=html,
        _links={"self": url, "git": other, "html": html},
    )


def listing(
    folder: str,
    entries: dict[str, bytes | None],
    ref: str,
    links: dict[str, str] | None = None,
    submodules: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """GET contents of a folder: an entry per file (None: a folder; a name in `links`: a link,
    its target; in `submodules`: a submodule, listed as GitHub lists one, a `file` of size 0
    that no URL downloads), no content, sorted by name."""
    base = example("repos/get-content", 200, "response-if-content-is-a-directory")[0]
    modules = [
        lay(base, {**_module(f"{folder}/{n}" if folder else n, c, ref), "type": "file", "download_url": None})
        for n, c in (submodules or {}).items()
    ]
    return sorted([*_listed(base, folder, entries, ref, links), *modules], key=lambda e: str(e["name"]))


def _module(path: str, commit: str, ref: str) -> dict[str, Any]:
    return {k: v for k, v in submodule(path, commit, ref).items() if k != "submodule_git_url"}


def _listed(
    base: Any, folder: str, entries: dict[str, bytes | None], ref: str, links: dict[str, str] | None
) -> list[dict[str, Any]]:
    found = []
    for name, data in sorted({**entries, **{n: os.fsencode(t) for n, t in (links or {}).items()}}.items()):
        path = spelled(f"{folder}/{name}" if folder else name)
        sha = git_sha(data if data is not None else os.fsencode(path))
        file_links = _file_links(path, sha, ref)
        if data is None:  # a folder: its tree, no download
            file_links["git_url"] = file_links["_links"]["git"] = f"{API}/repos/{REPO}/git/trees/{sha}"
            file_links["html_url"] = file_links["_links"]["html"] = f"{WEB}/tree/{ref}/{path}"
        kind = {"type": "file", "size": len(data)} if data is not None else {"type": "dir", "size": 0}
        kind["type"] = "symlink" if name in (links or {}) else kind["type"]
        download = f"https://raw.githubusercontent.com/{REPO}/{ref}/{path}" if data is not None else None
        named = {"name": spelled(name), "path": path, "sha": sha, "download_url": download}
        found.append(lay(base, {**named, **kind, **file_links}))
    return found


def written(path: str, data: bytes, branch: str, created: bool) -> dict[str, Any]:
    """PUT contents: 201 with the new file, or 200 when it replaced one."""
    sha = git_sha(data)
    file = {"name": path.rsplit("/", 1)[-1], "path": path, "sha": sha, "size": len(data)}
    file |= _file_links(path, sha, branch)
    name = "example-for-creating-a-file" if created else "example-for-updating-a-file"
    return answer("repos/create-or-update-file-contents", 201 if created else 200, name, content=file)


def deleted(message: str) -> dict[str, Any]:
    """DELETE contents: no content left, and the commit that removed it."""
    return answer("repos/delete-file", 200, content=None, commit={"message": message})


def blob(data: bytes) -> dict[str, Any]:
    sha = git_sha(data)
    return answer(
        "git/get-blob",
        sha=sha,
        content=base64.b64encode(data).decode(),
        encoding="base64",
        size=len(data),
        url=f"{API}/repos/{REPO}/git/blobs/{sha}",
    )


def tree(sha: str, files: dict[str, bytes]) -> dict[str, Any]:
    entry = example("git/create-tree", 201)["tree"][0]
    entries = [
        lay(entry, {"path": p, "mode": "100644", "type": "blob", "sha": git_sha(d), "size": len(d)})
        for p, d in files.items()
    ]
    return answer("git/create-tree", 201, sha=sha, tree=entries, truncated=False)


def listed_tree(files: dict[str, bytes], recursive: bool) -> dict[str, Any]:
    """GET /git/trees/{ref}: the commit's top files and folders, or with `recursive` every file
    and folder below it, as git lists them (a folder exists only with a file below it)."""
    base = example("git/get-tree", 200, "response-recursively-retrieving-a-tree")
    folders = {"/".join(p.split("/")[:i]) for p in files for i in range(1, p.count("/") + 1)}
    entries = [_tree_entry(base["tree"][0], p, None) for p in folders]
    entries += [_tree_entry(base["tree"][0], p, d) for p, d in files.items()]
    shown = sorted((e for e in entries if recursive or "/" not in e["path"]), key=lambda e: str(e["path"]))
    sha = git_sha(repr(sorted(files.items())).encode())
    return lay(
        base, {"sha": sha, "url": f"{API}/repos/{REPO}/git/trees/{sha}", "tree": shown, "truncated": False}
    )


def _tree_entry(base: dict[str, Any], path: str, data: bytes | None) -> dict[str, Any]:
    """A file (its bytes) or a folder (None) as a tree lists it."""
    if data is None:
        sha = git_sha(path.encode())
        folder = {"path": path, "mode": "040000", "type": "tree", "sha": sha, "size": DROP}
        return lay(base, {**folder, "url": f"{API}/repos/{REPO}/git/trees/{sha}"})
    sha = git_sha(data)
    blob = {"path": path, "mode": "100644", "type": "blob", "sha": sha, "size": len(data)}
    return lay(base, {**blob, "url": f"{API}/repos/{REPO}/git/blobs/{sha}"})


def commit(sha: str, tree_sha: str, message: str) -> dict[str, Any]:
    return answer("git/create-commit", 201, sha=sha, message=message, tree={"sha": tree_sha}, parents=[])


def ref(name: str, sha: str) -> dict[str, Any]:
    return answer("git/create-ref", 201, ref=name, object={"sha": sha, "type": "commit"})
