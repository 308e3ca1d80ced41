"""A fake of the GitHub REST API (a Starlette app), just what the ehkeys jobs call, served for real.

Issues and their comments, the pull requests of a commit and the files a pull request
changes, the commits and files between two commits (`history`: compare, as a push's range is
read; a commit that reverts another's change lists neither's), a commit's files and folders (the contents API at `?ref=SHA`, a branch's whole tree at once: base64 content, `type: file|dir`,
404 for a path it lacks), Actions secrets of a repository or an environment (sealed with the fake's own key
pair, which it opens to keep what a workflow would read: `secrets`), a workflow run and its artifacts (the zip behind a redirect to another origin, which
must not see the token), and the contents and git APIs that keep the state on a branch: a
missing branch answers 404, a stale `sha` 409, as GitHub does. What a test sets up and reads is plain records (dicts); each answer is GitHub's
own example for that operation with the record laid over it (tests/fakeanswers.py), and every
request and answer is validated against GitHub's description (tests/githubspec.py): a test
whose traffic does not conform fails at teardown.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import posixpath
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from nacl.public import PrivateKey, SealedBox
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from . import fakeanswers as answers
from . import githubspec
from .fakeanswers import REPO, git_sha
from .githubspec import example
from .served import serving

TOKEN = "ghs_faketoken"
# a workflow's own GITHUB_TOKEN, say: GitHub answers 403 to its calls on secrets
NO_SECRETS_TOKEN = "ghs_without_secrets"
BOT = {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"}  # GITHUB_TOKEN's identity
PLAN_WORKFLOW = ".github/workflows/keys-plan.yml"
INLINE_LIMIT = 1_000_000  # the contents API leaves out a file's content above this
MAX_PULL_FILES = 3000  # GET /pulls/{n}/files lists no more than this, however many changed
MAX_COMPARED_FILES = 300  # GET /compare/{basehead} lists no more files than this
UNPAGED_COMMITS = 250  # GET /compare/{basehead} asked for no page lists the last 250 commits
KEPT_UNTIL = "2027-03-04T12:00:00Z"  # an upload's expiry, as its run's artifact list says it


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(githubspec.error(status, message), status_code=status)


def _missing(message: str = "Not Found") -> JSONResponse:
    return _error(404, message)


@dataclass(repr=False)  # a record may hold a 50 MB zip: never in a failure's message
class FakeGitHub:
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    artifacts: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> name, run, zip, expired
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)  # run id -> head_sha, event, path
    branches: dict[str, dict[str, bytes]] = field(default_factory=dict)  # branch -> path -> bytes
    links: dict[str, dict[str, str]] = field(default_factory=dict)  # commit -> path -> a link's target
    submodules: dict[str, dict[str, str]] = field(default_factory=dict)  # commit -> path -> its commit
    history: dict[str, dict[str, Any]] = field(default_factory=dict)  # commit -> parents, files changed
    calls: list[str] = field(default_factory=list)
    leaked_token: bool = False
    blob_url: str = ""
    inline_limit: int = INLINE_LIMIT
    faults: dict[str, Response] = field(default_factory=dict)  # "METHOD /path" prefix -> answer
    flaky: dict[str, int] = field(default_factory=dict)  # prefix -> how many calls get a 502, unserved
    lost: dict[str, int] = field(default_factory=dict)  # prefix -> how many calls are served, then 502
    raced: dict[str, int] = field(default_factory=dict)  # prefix -> how many writes lose a race for the ref
    violations: list[str] = field(default_factory=list)  # requests and answers GitHub's description refuses
    secrets: dict[tuple[str, str | None, str], str] = field(
        default_factory=dict
    )  # (repo, env, name) -> value
    sealing: PrivateKey = field(default_factory=PrivateKey.generate)  # the repositories' key pair

    # --- what a test sets up ---------------------------------------------------------------

    def open_pull(self, number: int, head_sha: str, files: tuple[str, ...] = (), base: str = "main") -> None:
        self.issues[number] = {"number": number, "pull_request": {}, "state": "open", "labels": []}
        self.pulls[number] = {"number": number, "head": {"sha": head_sha}, "merge_commit_sha": None}
        self.pulls[number]["base"] = {"ref": base}  # the branch it merges into (`edited` changes it)
        self.pulls[number].update(merged_at=None, state="open", files=[])
        self.change(number, *files)

    def change(self, number: int, *paths: str, status: str = "modified", previous: str = "") -> None:
        """The PR (also) changes these files, as GET /pulls/{n}/files lists them (a rename names
        its `previous` path too); a path listed again takes the new status."""
        files = self.pulls[number]["files"]
        for path in paths:
            files[:] = [f for f in files if f["filename"] != path]
            files.append({"filename": path, "status": status, **({"previous": previous} if previous else {})})

    def files_of(self, number: int) -> list[str]:
        return [f["filename"] for f in self.pulls[number]["files"]]

    def commit(
        self,
        sha: str,
        files: dict[str, str | bytes],
        links: dict[str, str] | None = None,
        submodules: dict[str, str] | None = None,
    ) -> None:
        """A commit the contents API reads at `?ref=SHA` (a pull request's base): its files by path,
        its symbolic links (`links`: path -> target, as git keeps it), and its submodules (path ->
        the other repository's commit: none of their files is this repository's). A name or a
        target that is not UTF-8 is given as `os.fsdecode` spells it, and answered as GitHub's
        JSON can spell it (`fakeanswers.spelled`: U+FFFD), its bytes exact in a link's blob."""
        self.branches[sha] = {p: d.encode() if isinstance(d, str) else d for p, d in files.items()}
        self.links[sha] = dict(links or {})
        self.submodules[sha] = dict(submodules or {})

    def landed(
        self,
        sha: str,
        parents: tuple[str, ...] = (),
        *paths: str,
        status: str = "modified",
        reverts: str = "",
    ) -> None:
        """A commit of the repository's history, as GET /compare lists it: its parents (the
        first parent first) and the files it changes (GitHub's diff entries: path, status);
        `reverts`: the commit whose change to those paths this one undoes (a comparison that holds
        both lists neither's paths). Commits are landed oldest first: compare lists them so."""
        files = [{"filename": p, "status": status} for p in paths]
        self.history[sha] = {"parents": parents, "files": files, "reverts": reverts}

    def merge(self, number: int, merge_sha: str, rebased: tuple[str, ...] = ()) -> None:
        """The PR merged by `merge_sha`; `rebased`: its other commits as "Rebase and merge" put
        them on the base (the last, `merge_sha`, is its merge commit), which GitHub lists it for."""
        self.pulls[number].update(
            merge_commit_sha=merge_sha, merged_at="2026-11-22T10:00:00Z", state="closed", rebased=rebased
        )

    def start_run(
        self, run_id: str, head_sha: str, event: str = "pull_request", path: str = PLAN_WORKFLOW
    ) -> None:
        """A workflow run, as GET /actions/runs/{id} tells it: its commit, event and workflow file."""
        self.runs[run_id] = {"head_sha": head_sha, "event": event, "path": path}

    def upload(self, run_id: str, name: str, files: dict[str, bytes]) -> int:
        """What actions/upload-artifact does: a zip of the files, listed under the run."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zipped:
            for path, data in files.items():
                zipped.writestr(path, data)
        artifact_id = len(self.artifacts) + 100
        self.artifacts[artifact_id] = {
            "run": run_id,
            "name": name,
            "zip": buffer.getvalue(),
            "expired": False,
            "expires_at": KEPT_UNTIL,  # GitHub's default retention: 90 days from the upload
        }
        return artifact_id

    def comment_as(self, author: dict[str, Any], number: int, body: str) -> int:
        """A comment someone else wrote (a person, or another app's bot)."""
        cid = max(self.comments, default=0) + 1
        self.comments[cid] = {"id": cid, "issue": number, "body": body, "user": author}
        return cid

    def comments_on(self, number: int) -> list[str]:
        return [c["body"] for c in self.comments.values() if c["issue"] == number]

    def assert_conformant(self) -> None:
        found = list(dict.fromkeys(self.violations))
        if found:
            raise AssertionError("GitHub's description of its API refuses:\n" + "\n".join(found))

    def writes(self, kind: str = "") -> list[str]:
        return [c for c in self.calls if not c.startswith("GET") and kind in c]

    # --- the API ---------------------------------------------------------------------------

    def app(self) -> Starlette:
        base = "/repos/{owner}/{name}"
        routes = [
            Route(base + "/issues/{number:int}/comments", self.issue_comments, methods=["GET", "POST"]),
            Route(base + "/issues/comments/{id:int}", self.edit_comment, methods=["PATCH"]),
            Route(base + "/issues", self.list_or_open_issue, methods=["GET", "POST"]),
            Route(base + "/issues/{number:int}", self.edit_issue, methods=["PATCH"]),
            Route(base + "/commits/{sha}/pulls", self.commit_pulls),
            Route(base + "/pulls/{number:int}/files", self.pull_files),
            Route(base + "/compare/{basehead}", self.compare),
            Route(base + "/actions/runs/{run:int}", self.workflow_run),
            Route(base + "/actions/runs/{run:int}/artifacts", self.run_artifacts),
            Route(base + "/actions/artifacts/{id:int}/zip", self.artifact_zip),
            Route(base + "/contents/{path:path}", self.contents, methods=["GET", "PUT", "DELETE"]),
            Route(base + "/git/blobs/{sha}", self.blob),
            Route(base + "/git/trees", self.git_object, methods=["POST"]),
            Route(base + "/git/trees/{ref:path}", self.read_tree),
            Route(base + "/git/commits", self.git_object, methods=["POST"]),
            Route(base + "/git/refs", self.create_ref, methods=["POST"]),
            Route(base + "/actions/secrets/public-key", self.secrets_key),
            Route(base + "/actions/secrets/{secret}", self.put_secret, methods=["PUT"]),
            Route(base + "/environments/{environment}/secrets/public-key", self.secrets_key),
            Route(base + "/environments/{environment}/secrets/{secret}", self.put_secret, methods=["PUT"]),
            Route("/storage/{id:int}", self.storage),
        ]
        return Starlette(
            routes=routes, middleware=[Middleware(BaseHTTPMiddleware, dispatch=self.check_token)]
        )

    async def check_token(self, request: Request, call_next: Any) -> Response:
        call = f"{request.method} {request.url.path.removeprefix('/repos/' + REPO)}"
        self.calls.append(call)
        fault = next((answer for prefix, answer in self.faults.items() if call.startswith(prefix)), None)
        if fault is not None:
            return fault
        if self._take(self.flaky, call):
            return Response("<html>502 Bad Gateway</html>", status_code=502)
        if self._take(self.raced, call):  # another file's write moved the branch: nothing written
            return _error(409, "refs/heads/ehkeys-state expected to be at " + git_sha(call.encode()))
        auth = request.headers.get("authorization")
        if request.url.path.startswith("/storage/"):  # not GitHub's API: the artifact storage
            self.leaked_token = self.leaked_token or auth is not None
            return await call_next(request)
        if auth == f"Bearer {NO_SECRETS_TOKEN}" and "/secrets" in request.url.path:
            return _error(403, "Resource not accessible by integration")
        if auth != f"Bearer {TOKEN}":
            return JSONResponse(githubspec.error(401, "Bad credentials"), status_code=401)
        response, refused = await githubspec.served(request, call_next)
        self.violations += refused
        if self._take(self.lost, call):
            return Response("<html>502 Bad Gateway</html>", status_code=502)
        return response

    @staticmethod
    def _take(counts: dict[str, int], call: str) -> bool:
        prefix = next((p for p, n in counts.items() if n > 0 and call.startswith(p)), None)
        if prefix is not None:
            counts[prefix] -= 1
        return prefix is not None

    @staticmethod
    def _page(items: list[dict[str, Any]], request: Request) -> list[dict[str, Any]]:
        size, page = int(request.query_params.get("per_page", 30)), int(request.query_params.get("page", 1))
        return items[(page - 1) * size : page * size]

    async def issue_comments(self, request: Request) -> Response:
        number = request.path_params["number"]
        if request.method == "GET":
            base = example("issues/list-comments")[0]
            mine = [answers.comment(c, base) for c in self.comments.values() if c["issue"] == number]
            return JSONResponse(self._page(mine, request))
        cid = self.comment_as(BOT, number, (await request.json())["body"])
        created = answers.comment(self.comments[cid], example("issues/create-comment", 201))
        return JSONResponse(created, status_code=201)

    async def edit_comment(self, request: Request) -> Response:
        comment = self.comments.get(request.path_params["id"])
        if comment is None:
            return _missing()
        comment["body"] = (await request.json())["body"]
        return JSONResponse(answers.comment(comment, example("issues/update-comment")))

    async def list_or_open_issue(self, request: Request) -> Response:
        if request.method == "GET":
            label, state = request.query_params.get("labels"), request.query_params.get("state", "open")
            base = example("issues/list-for-repo")[0]
            found = [
                answers.issue(i, base)
                for i in self.issues.values()
                if i["state"] == state and (label is None or label in i["labels"] or "pull_request" in i)
            ]
            return JSONResponse(self._page(found, request))
        number = max(self.issues, default=0) + 1
        self.issues[number] = {"number": number, "state": "open", "user": BOT, **(await request.json())}
        return JSONResponse(
            answers.issue(self.issues[number], example("issues/create", 201)), status_code=201
        )

    async def edit_issue(self, request: Request) -> Response:
        issue = self.issues.get(request.path_params["number"])
        if issue is None:
            return _missing()
        issue.update(await request.json())
        return JSONResponse(answers.issue(issue, example("issues/update")))

    async def commit_pulls(self, request: Request) -> Response:
        sha = request.path_params["sha"]
        found = [
            answers.pull(p)
            for p in self.pulls.values()
            if sha in (p["merge_commit_sha"], p["head"]["sha"], *p.get("rebased", ()))
        ]
        return JSONResponse(self._page(found, request))

    async def pull_files(self, request: Request) -> Response:
        """GET /pulls/{n}/files: 30 a page unless asked, and never past the 3,000th file."""
        pull = self.pulls.get(request.path_params["number"])
        if pull is None:
            return _missing()
        base = example("pulls/list-files")[0]
        listed = [answers.pull_file(f, base) for f in pull["files"][:MAX_PULL_FILES]]
        return JSONResponse(self._page(listed, request))

    def _ancestors(self, sha: str) -> set[str]:
        """The commit and every commit it descends from."""
        found, todo = set(), [sha]
        while todo:
            one = todo.pop()
            if one not in found:
                found.add(one)
                todo += self.history[one]["parents"]
        return found

    async def compare(self, request: Request) -> Response:
        """GET /compare/{base}...{head}: the commits `git log base..head` lists, oldest first
        (paged when a page is asked for, else the last 250), the files they change (up to 300,
        on the first page only), and how head stands to base (ahead, behind, diverged)."""
        base, dots, head = request.path_params["basehead"].partition("...")
        if not dots or base not in self.history or head not in self.history:
            return _missing()
        below, above = self._ancestors(base), self._ancestors(head)
        if not below & above:
            return _missing(f"No common ancestor between {base} and {head}.")
        status = (
            "identical"
            if base == head
            else "ahead"
            if base in above
            else "behind"
            if head in below
            else "diverged"
        )
        listed = [sha for sha in self.history if sha in above - below]
        paged = "page" in request.query_params or "per_page" in request.query_params
        page = self._page([{"sha": sha} for sha in listed], request) if paged else None
        shown = [c["sha"] for c in page] if page is not None else listed[-UNPAGED_COMMITS:]
        first = not paged or int(request.query_params.get("page", 1)) == 1
        files = self._net(listed)[:MAX_COMPARED_FILES] if first else None
        commits = [(sha, self.history[sha]["parents"]) for sha in shown]
        counts = (len(listed), len(below - above))
        return JSONResponse(answers.compared(request.path_params["basehead"], status, commits, files, counts))

    def _net(self, listed: list[str]) -> list[dict[str, Any]]:
        """The files `listed` (oldest first) change between them, as a diff of the two ends: a
        path whose every change in the list a later commit of it reverted is not one (a revert
        of a merge undoes the commits the merge brought in too)."""
        standing: dict[str, list[str]] = {}  # path -> the commits whose change to it stands
        entries: dict[str, dict[str, Any]] = {}
        for sha in listed:
            undone = self._brought(self.history[sha].get("reverts", ""))
            for entry in self.history[sha]["files"]:
                changes = standing.setdefault(entry["filename"], [])
                kept = [c for c in changes if c not in undone]
                if len(kept) == len(changes):  # a change, or a revert of what the list does not hold
                    kept.append(sha)
                    entries[entry["filename"]] = entry
                changes[:] = kept
        return [entries[path] for path, changes in standing.items() if changes]

    def _brought(self, sha: str) -> set[str]:
        """The commit and, a merge, what it brought in: what reverting it undoes."""
        if not sha:
            return set()
        parents = self.history[sha]["parents"]
        return self._ancestors(sha) - (self._ancestors(parents[0]) if parents else set())

    async def workflow_run(self, request: Request) -> Response:
        run_id = request.path_params["run"]
        found = self.runs.get(str(run_id))
        return JSONResponse(answers.run(run_id, found)) if found else _missing()

    async def run_artifacts(self, request: Request) -> Response:
        run, name = str(request.path_params["run"]), request.query_params.get("name")
        found = [
            answers.artifact(i, a, self.runs.get(run))
            for i, a in self.artifacts.items()
            if a["run"] == run and name in (None, a["name"])
        ]
        return JSONResponse({"total_count": len(found), "artifacts": self._page(found, request)})

    async def artifact_zip(self, request: Request) -> Response:
        artifact = self.artifacts.get(request.path_params["id"])
        if artifact is None or artifact["expired"]:
            return _error(410, "Artifact has expired")
        return RedirectResponse(f"{self.blob_url}/storage/{request.path_params['id']}", status_code=302)

    async def storage(self, request: Request) -> Response:
        return Response(self.artifacts[request.path_params["id"]]["zip"], media_type="application/zip")

    async def contents(self, request: Request) -> Response:
        path = request.path_params["path"]
        if request.method == "GET":
            ref = request.query_params.get("ref", "main")
            files = self.branches.get(ref)
            if files is None:
                return _missing("No commit found for the ref")
            links, submodules = self.links.get(ref, {}), self.submodules.get(ref, {})
            if path in submodules:
                return JSONResponse(answers.submodule(path, submodules[path], ref))
            if any(path.startswith(f"{module}/") for module in submodules):
                return _missing()  # another repository's file
            if path in links:
                return JSONResponse(self._link(path, links[path], files, ref))
            if path in files:
                inline = len(files[path]) <= self.inline_limit
                return JSONResponse(answers.content(path, files[path], ref, inline))
            linked, modules = self._linked(links, path), self._linked(submodules, path)
            below = self._folder({**files, **dict.fromkeys([*links, *submodules], b"")}, path)  # a folder
            entries = {
                name: data for name, data in below.items() if name not in linked and name not in modules
            }
            return JSONResponse(answers.listing(path, entries, ref, linked, modules)) if below else _missing()
        if request.method == "DELETE":
            return await self._delete(path, await request.json())
        return await self._put(path, await request.json())

    def _link(self, path: str, target: str, files: dict[str, bytes], ref: str) -> dict[str, Any]:
        """A link to a normal file of the commit: GitHub answers with that file, at its own path;
        to anything else, with the link itself."""
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
        if target.startswith("/") or resolved not in files:
            return answers.symlink(path, target, ref)
        return answers.content(resolved, files[resolved], ref, len(files[resolved]) <= self.inline_limit)

    @staticmethod
    def _linked(links: dict[str, str], path: str) -> dict[str, str]:
        """The links a folder holds itself: name -> target."""
        prefix = f"{path.strip('/')}/" if path.strip("/") else ""
        inside = {name[len(prefix) :]: target for name, target in links.items() if name.startswith(prefix)}
        return {name: target for name, target in inside.items() if "/" not in name}

    @staticmethod
    def _folder(files: dict[str, bytes], path: str) -> dict[str, bytes | None]:
        """What a folder holds, as git keeps it (a folder exists only with a file below it):
        each file's bytes by name, a folder's name with None."""
        prefix = f"{path.strip('/')}/" if path.strip("/") else ""
        found: dict[str, bytes | None] = {}
        for name, data in files.items():
            if name.startswith(prefix):
                first, _, rest = name[len(prefix) :].partition("/")
                found[first] = None if rest else data
        return found

    async def _put(self, path: str, body: dict[str, Any]) -> Response:
        files = self.branches.get(body["branch"])
        if files is None:
            return _missing(f"Branch {body['branch']} not found")
        current = files.get(path)
        if current is not None and body.get("sha") != git_sha(current):
            return _error(409, f"{path} does not match {body.get('sha')}")
        if current is None and body.get("sha"):
            return _error(422, "sha given for a new file")
        files[path] = base64.b64decode(body["content"])
        created = current is None
        written = answers.written(path, files[path], body["branch"], created)
        return JSONResponse(written, status_code=201 if created else 200)

    async def _delete(self, path: str, body: dict[str, Any]) -> Response:
        """DELETE /repos/{owner}/{repo}/contents/{path}: `message` and `sha` required, `branch`
        optional (the default branch); a `sha` that is not the file's is 409, as GitHub answers."""
        missing = [name for name in ("message", "sha") if not isinstance(body.get(name), str)]
        if missing:
            return _error(422, f"Invalid request.\n\n{missing[0]!r} wasn't supplied.")
        files = self.branches.get(body.get("branch", "main"))
        if files is None or path not in files:
            return _missing()
        if body["sha"] != git_sha(files[path]):
            return _error(409, f"{path} does not match {body['sha']}")
        del files[path]
        return JSONResponse(answers.deleted(body["message"]))

    def _key_id(self) -> str:
        return git_sha(bytes(self.sealing.public_key))[:18]

    async def secrets_key(self, request: Request) -> Response:
        """GET .../secrets/public-key: the key every secret is sealed with. (GitHub's description
        lists no 404 here, though GitHub answers one for an environment it does not know: a test
        sets that as a fault.)"""
        environment = request.path_params.get("environment")
        operation = "actions/get-environment-public-key" if environment else "actions/get-repo-public-key"
        key = base64.b64encode(bytes(self.sealing.public_key)).decode()
        return JSONResponse({**example(operation), "key_id": self._key_id(), "key": key})

    async def put_secret(self, request: Request) -> Response:
        """PUT .../secrets/{name}: opened with the private key, kept as a workflow would read it;
        201 a new secret, 204 one replaced, as GitHub answers."""
        environment = request.path_params.get("environment")
        body = await request.json()
        if body.get("key_id") != self._key_id():
            return _error(422, "Bad key_id")
        value = SealedBox(self.sealing).decrypt(base64.b64decode(body["encrypted_value"])).decode()
        repo = f"{request.path_params['owner']}/{request.path_params['name']}"
        where = (repo, environment, request.path_params["secret"])
        created = where not in self.secrets
        self.secrets[where] = value
        return JSONResponse({}, status_code=201) if created else Response(status_code=204)

    async def blob(self, request: Request) -> Response:
        links = [os.fsencode(target) for found in self.links.values() for target in found.values()]
        for data in [*(d for files in self.branches.values() for d in files.values()), *links]:
            if git_sha(data) == request.path_params["sha"]:
                return JSONResponse(answers.blob(data))
        return _missing()

    async def read_tree(self, request: Request) -> Response:
        """GET /git/trees/{ref}: a branch's (or commit's) files by a name GitHub takes for the
        tree; `?recursive=1` lists every file below the top (never cut short here)."""
        files = self.branches.get(request.path_params["ref"])
        if files is None:
            return _missing()
        return JSONResponse(answers.listed_tree(files, "recursive" in request.query_params))

    async def git_object(self, request: Request) -> Response:
        body = await request.json()
        if request.url.path.endswith("/trees"):
            self._tree = {e["path"]: e["content"].encode() for e in body["tree"]}
            return JSONResponse(answers.tree(git_sha(repr(self._tree).encode()), self._tree), status_code=201)
        assert body["parents"] == [], "the state branch is an orphan"
        made = answers.commit(git_sha(repr(body).encode()), body["tree"], body["message"])
        return JSONResponse(made, status_code=201)

    async def create_ref(self, request: Request) -> Response:
        body = await request.json()
        branch = body["ref"].removeprefix("refs/heads/")
        if branch in self.branches:
            return _error(422, "Reference already exists")
        self.branches[branch] = dict(self._tree)
        return JSONResponse(answers.ref(body["ref"], body["sha"]), status_code=201)


@contextlib.contextmanager
def serve(fake: FakeGitHub) -> Iterator[str]:
    """The API on one port, artifact storage on another (another origin); yields the API URL."""
    app = fake.app()
    with serving(app, app) as (api, storage):
        fake.blob_url = storage
        yield api
    fake.assert_conformant()  # after a test that passed: a failing one keeps its own error


@contextlib.contextmanager
def on_actions(fake: FakeGitHub, monkeypatch: Any) -> Iterator[FakeGitHub]:
    """`fake` served, and the variables a job on Actions reads pointed at it (monkeypatch:
    pytest's, so they go with the test)."""
    with serve(fake) as url:
        monkeypatch.setenv("GITHUB_API_URL", url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
        yield fake
