"""The rules review's base read against a hostile contents API: a path listed below a link it
wrote (no checkout has one) would climb out of the temporary folder physically though it looks
inside lexically, writing there or reading a runner's file into the PR comment; a chain of
hundreds of links would recurse until Python gives up. Each is refused, failing closed."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml

from reconciler.gitops import baserules
from reconciler.gitops.hub import NotFound
from reconciler.manifest.load import load
from reconciler.render import rules

from . import test_gitops as gitops
from .test_gitops import Actions, manifest
from .test_gitops_rules import BASE, FakeGitHub, run_plan

UP = 12  # more than enough '..' to reach / from any temporary folder


def sha(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


class Hostile:
    def __init__(self, answers: dict[str, object], blobs: dict[str, bytes]) -> None:
        self.answers, self.blobs, self.calls = answers, blobs, []

    def call(self, method: str, path: str, **kw: object) -> object:
        self.calls.append(path)
        if path.startswith("/git/blobs/"):
            data = self.blobs[path.rsplit("/", 1)[1]]
            return {"content": base64.b64encode(data).decode(), "encoding": "base64"}
        key = unquote(path.removeprefix("/contents/"))
        if key not in self.answers:
            raise NotFound(f"GitHub API GET {path}: 404 Not Found")
        return self.answers[key]


def entry(name: str, kind: str, data: bytes = b"") -> dict[str, str]:
    return {"name": name, "type": kind, "sha": sha(data or name.encode())}


def file(data: bytes) -> dict[str, str]:
    return {
        "type": "file",
        "encoding": "base64",
        "content": base64.b64encode(data).decode(),
        "sha": sha(data),
    }


def climbing(outside: str, writes: bool) -> Hostile:
    """keys/sub/up.yaml -> .. (a link to keys), then keys/sub/up.yaml/<deep...>: lexically deep,
    physically keys/. A link there to '../' * n + `outside` climbs out of the temp folder; with
    `writes`, the same name is listed as a folder too, holding a file to write through it."""
    deep = "/".join(["d"] * UP)
    up_link, out_link = b"..", ("../" * (UP + 3) + outside.lstrip("/")).encode()
    answers: dict[str, object] = {
        "keys": [entry("ehkeys.yaml", "file"), entry("sub", "dir")],
        "keys/ehkeys.yaml": file(b"version: 1\n"),
        "keys/sub": [entry("up.yaml", "symlink", up_link), entry("up.yaml", "dir")],
        "keys/sub/up.yaml": [entry("d", "dir")],
    }
    for i in range(1, UP):
        answers["keys/sub/up.yaml/" + "/".join(["d"] * i)] = [entry("d", "dir")]
    answers[f"keys/sub/up.yaml/{deep}"] = [entry("c.yaml", "symlink", out_link)]
    answers[outside.lstrip("/")] = []  # "a folder": GitHub's answer for the link's target
    if writes:
        answers[f"keys/sub/up.yaml/{deep}"] = [entry("c.yaml", "symlink", out_link), entry("c.yaml", "dir")]
        answers[f"keys/sub/up.yaml/{deep}/c.yaml"] = [entry("pwned.yaml", "file")]
        answers[f"keys/sub/up.yaml/{deep}/c.yaml/pwned.yaml"] = file(b"written by a hostile GitHub\n")
    return Hostile(answers, {sha(up_link): up_link, sha(out_link): out_link})


def test_a_hostile_answer_writes_outside_the_temporary_folder(tmp_path: Path) -> None:
    victim = tmp_path / "victim"  # stands for any folder the runner can write: the workspace, ~/.local/...
    victim.mkdir()
    head = tmp_path / "head.yaml"
    head.write_text("version: 1\nkeys: []\n")
    manifest = load([str(head)], env={}, offline=True).manifest
    baserules.compare(climbing(str(victim), writes=True), "b" * 40, ["keys"], manifest)
    assert not (victim / "pwned.yaml").exists(), (victim / "pwned.yaml").read_text()


@pytest.mark.parametrize(
    "text",
    [
        "GITHUB_TOKEN=ghs_s3cr3tvalue\nOTHER=1\n",
        "keys:\n- id: ghs_s3cr3tvalue\n  nme: x\n",
        "version: 1\nkeys: [{id: a, name: a, allocated_ammount: 5, limit_type: daily, "
        "policy_exceptions: {max_allocation: ghs_s3cr3tvalue}}]\n",
    ],
)
def test_a_hostile_answer_reads_a_runner_file(tmp_path: Path, text: str) -> None:
    secret = tmp_path / "runner-secret"
    secret.write_text(text)
    head = tmp_path / "head.yaml"
    head.write_text("version: 1\nkeys: []\n")
    manifest = load([str(head)], env={}, offline=True).manifest
    found = baserules.compare(climbing(str(secret), writes=False), "b" * 40, ["keys"], manifest)
    said = "\n".join(rules.said(found))
    assert "s3cr3t" not in said and "is below the link" in said


def test_a_chain_of_400_links_on_the_base_is_said_not_followed_to_a_crash(
    actions: Actions, hub: FakeGitHub
) -> None:
    n = 400
    links = {f"keys/l{i:03d}.yaml": f"l{i + 1:03d}.yaml" for i in range(n - 1)}
    links[f"keys/l{n - 1:03d}.yaml"] = "zz/x.yaml"
    files = {
        "keys/ehkeys.yaml": "version: 1\npolicy: {max_allocation: 35}\n",
        "keys/zz/x.yaml": "keys: []\n",
        "keys/team.yaml": yaml.safe_dump({"keys": yaml.safe_load(manifest())["keys"]}),
    }
    hub.commit(BASE, files, links)
    hub.open_pull(68, "head68")
    hub.change(68, *links, status="removed")
    head = {**files, "keys/team.yaml": yaml.safe_dump({"keys": yaml.safe_load(manifest(k0=20))["keys"]})}
    code, out, _ = run_plan(actions, 68, head, "--rules-apart", root="keys", changed=("keys/team.yaml",))
    assert "Traceback" not in out and "internal error" not in out
    assert code == 4 and "the 40th link of a chain: more than a checkout follows" in out, out[-2000:]


pytestmark = gitops.pytestmark
hub = gitops.hub
actions = gitops.actions


@pytest.mark.parametrize("target", [b"../p\xff.yaml", b"../sh\xff/policy.yaml"])
def test_a_base_link_whose_target_is_not_utf8_is_said_not_a_crash(tmp_path: Path, target: bytes) -> None:
    """git keeps a link's target as bytes; one that is not UTF-8 cannot be asked for by path
    (a URL is UTF-8): not compared, never a UnicodeEncodeError."""
    answers: dict[str, object] = {
        "keys": [entry("ehkeys.yaml", "symlink", target), entry("team.yaml", "file")],
        "keys/team.yaml": file(b"keys: []\n"),
    }
    head = tmp_path / "head.yaml"
    head.write_text("version: 1\nkeys: []\n")
    manifest = load([str(head)], env={}, offline=True).manifest
    found = baserules.compare(Hostile(answers, {sha(target): target}), "b" * 40, ["keys"], manifest)
    assert "is not UTF-8" in found.problem, found


@pytest.mark.parametrize("target", ["sh\ud800/policy.yaml", "\ud800", "../sh\ud800.yaml"])
def test_a_link_target_with_a_surrogate_no_byte_stands_for_is_said_not_a_crash(
    tmp_path: Path, target: str
) -> None:
    """JSON may spell `\\ud800`, which no name on a file system is (os.fsdecode gives only
    \\udc80-\\udcff): the link could not be written, and crashed the job with UnicodeEncodeError."""
    answers: dict[str, object] = {
        "keys": [entry("ehkeys.yaml", "symlink"), entry("team.yaml", "file")],
        "keys/ehkeys.yaml": {"type": "symlink", "target": target, "sha": sha(b"x")},
        "keys/team.yaml": file(b"keys: []\n"),
    }
    head = tmp_path / "head.yaml"
    head.write_text("version: 1\nkeys: []\n")
    manifest = load([str(head)], env={}, offline=True).manifest
    found = baserules.compare(Hostile(answers, {}), "b" * 40, ["keys/ehkeys.yaml"], manifest)
    assert "is not a path in the repository" in found.problem, found


def test_a_base_of_folders_nested_700_deep_is_read_not_a_recursion_error(tmp_path: Path) -> None:
    """git, and a checkout (1,400 bytes of path), hold a folder 700 deep; the whole read went a
    Python call deeper per folder and crashed the job with RecursionError. Read one at a time."""
    depth = 700
    answers: dict[str, object] = {
        "keys": [entry("ehkeys.yaml", "file"), entry("a", "dir")],
        "keys/ehkeys.yaml": file(b"version: 1\npolicy: {max_allocation: 35}\n"),
    }
    for level in range(1, depth):
        answers["keys/" + "/".join(["a"] * level)] = [entry("a", "dir")]
    deepest = "keys/" + "/".join(["a"] * depth)
    answers[deepest] = [entry("t.yaml", "file")]
    answers[f"{deepest}/t.yaml"] = file(b"keys: []\n")
    head = tmp_path / "head.yaml"
    head.write_text("version: 1\npolicy: {max_allocation: 35}\nkeys: []\n")
    manifest = load([str(head)], env={}, offline=True).manifest
    found = baserules.compare(Hostile(answers, {}), "b" * 40, ["keys"], manifest)
    assert not found.problem and not found.changes, found


def test_a_base_link_whose_target_holds_a_workflow_command_is_said_on_one_line(
    actions: Actions, hub: FakeGitHub
) -> None:
    """git keeps a link's target as any bytes, a newline too. Said raw in the job's log, its rest
    was a line of its own there, and `::error::...` (or `::set-output`) a workflow command the
    runner obeys. The PR makes the base's link a file of its own, so the base's link is read."""
    forged = "::error title=ehkeys::rules-apart passed"
    files = {"keys/team.yaml": yaml.safe_dump({"keys": yaml.safe_load(manifest())["keys"]})}
    hub.commit(BASE, files, {"keys/ehkeys.yaml": f"/x\n{forged}"})
    head = {**files, "keys/ehkeys.yaml": "version: 1\npolicy: {max_allocation: 35}\n"}
    code, out, _ = run_plan(actions, 66, head, "--rules-apart", root="keys", changed=tuple(head))
    assert code == 4 and "is a link out of the repository" in out, out
    assert not any(line.startswith("::") for line in out.splitlines()), out
