"""What ships beside the code: the action's pinned install, the files a new repository ignores,
the pre-commit hook, and the licence pyproject names."""

from __future__ import annotations

import contextlib
import os
import posixpath
import re
import runpy
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reconciler.sandbox import envfile

from ..helpers import ROOT, sandbox
from ..reliability_log import record

CONSTRAINTS = ROOT / "constraints.txt"


def _install_step() -> dict[str, object]:
    steps = yaml.safe_load((ROOT / "action.yml").read_text())["runs"]["steps"]
    (step,) = [s for s in steps if "pip install" in str(s.get("run", ""))]
    return dict(step)


def test_the_action_installs_ehkeys_with_the_versions_the_suite_passed_with() -> None:
    """It installed whatever was newest, code that then runs with the account key."""
    step = _install_step()
    env = dict(step.get("env") or {})
    assert env.get("PIP_CONSTRAINT") == "${{ github.action_path }}/constraints.txt", step
    pins = dict(
        line.split("==", 1)
        for line in CONSTRAINTS.read_text().splitlines()
        if line and not line.startswith("#")
    )
    runtime = runpy.run_path(str(ROOT / ".ci" / "constraints"))["runtime"]()
    unpinned = {name: v for name, v in runtime.items() if pins.get(name) != v}
    assert not unpinned, (
        f"constraints.txt differs from this environment: run .ci/constraints > constraints.txt ({unpinned})"
    )
    assert "setuptools" in pins  # the build backend too: `pip install PATH` builds the package
    record("files", "the action's pip install: every runtime dependency pinned, as tested", 1, "pinned")


def test_only_the_ehkeys_step_of_the_action_has_the_account_key() -> None:
    steps = yaml.safe_load((ROOT / "action.yml").read_text())["runs"]["steps"]
    holding = [s.get("name") for s in steps if "ELECTRONHUB_API_KEY" in str(s.get("env") or {})]
    assert holding == ["ehkeys ${{ inputs.command }}"]


def test_a_plan_job_run_again_uploads_the_plan_it_comments() -> None:
    """upload-artifact refuses a name its run already has, and "Re-run jobs" is the same run: the
    re-run's comment showed a new plan's digest while the artifact kept the first attempt's, so
    the apply after the merge refused the plan the reviewers saw ("plan again")."""
    steps = yaml.safe_load((ROOT / "action.yml").read_text())["runs"]["steps"]
    (upload,) = [s for s in steps if "upload-artifact" in str(s.get("uses", ""))]
    assert upload["with"].get("overwrite") is True, upload


def _documented_gitignore() -> list[str]:
    """The .gitignore lines docs/gitops.md gives a new repository (the rows docs/RELIABILITY.md
    records still call it the README's, where it was)."""
    gitops = (ROOT / "docs" / "gitops.md").read_text()
    (block,) = re.findall(r"```gitignore\n(.*?)```", gitops, re.S)
    return [line.strip() for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_this_repository_ignores_the_lines_the_docs_give() -> None:
    ours = (ROOT / ".gitignore").read_text().splitlines()
    assert [line for line in _documented_gitignore() if line not in ours] == []


def test_the_documented_gitignore_ignores_the_documented_file_sinks(tmp_path: Path) -> None:
    """A file sink docs/delivery.md shows, in a repository with docs/gitops.md's .gitignore, is
    ignored: `validate`, `plan` and `apply` would refuse one git tracks."""
    paths = re.findall(r"^\s*- file: (\S+)", (ROOT / "docs" / "delivery.md").read_text(), re.M)
    assert ".env.backend" in paths
    assert _not_ignored(tmp_path, paths) == []


def _not_ignored(repository: Path, paths: list[str]) -> list[str]:
    """Those of `paths` git would track in a new repository holding docs/gitops.md's .gitignore."""
    if subprocess.run(["git", "--version"], capture_output=True).returncode != 0:
        pytest.skip("no git")
    subprocess.run(["git", "init", "-q", str(repository)], check=True)
    (repository / ".gitignore").write_text("\n".join(_documented_gitignore()) + "\n")
    checked = subprocess.run(
        ["git", "check-ignore", "--verbose", "--non-matching", *paths],
        cwd=repository,
        capture_output=True,
        text=True,
    )
    return [line.split("\t")[-1] for line in checked.stdout.splitlines() if line.startswith("::")]


def _documented_leftovers() -> list[str]:
    """What the docs have a user make in their repository that holds a sandbox's keys or a
    trial's state: each `--db NAME` (the database, SQLite's -wal and -shm beside it, and the
    variables file `NAME.env`), each `--state PATH`'s folder (its journal, locks and drift
    record beside it), each `--report-out FILE`; names in capitals are placeholders."""
    text = "\n".join(p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
    found = []
    for db in set(re.findall(r"--db (\.?[a-z][\w./-]*\.db)\b", text)):
        found += [db, f"{db}-wal", f"{db}-shm", f"{db}.env"]
    for state in set(re.findall(r"--state ([a-z][\w./-]*\.json)\b", text)):
        folder = posixpath.dirname(state)
        found += [
            state,
            *(posixpath.join(folder, n) for n in ("journal.jsonl", ".apply.lock", ".state.lock")),
        ]
        found.append(posixpath.join(folder, "drift-seen.json"))
    return found + re.findall(r"--report-out ([a-z][\w/-]*\.md)\b", text)


def test_the_documented_gitignore_ignores_what_the_sandbox_docs_leave(tmp_path: Path) -> None:
    """docs/sandbox.md has a user run `ehkeys sandbox --db sandbox.db` at the top of their
    repository: docs/gitops.md's lines ignored only `**/.ehkeys/**/sandbox.db*`, which left the
    database, its -wal and -shm (every sandbox key) to be committed."""
    leftovers = _documented_leftovers()
    assert {"sandbox.db", "sandbox.db.env", "sandbox-trial/state.json"} <= set(leftovers)
    assert _not_ignored(tmp_path, leftovers) == []


def _run(cwd: Path, *argv: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", *argv], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert done.returncode in (0, 2), done.stderr


@pytest.mark.slow
def test_the_documented_gitignore_leaves_only_what_a_new_repository_commits(tmp_path: Path) -> None:
    """A new repository that follows docs/gitops.md: import, an apply and a saved plan on the sandbox
    (the quickest trial) leave untracked only the manifest and its schema."""
    if subprocess.run(["git", "--version"], capture_output=True).returncode != 0:
        pytest.skip("no git")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("\n".join(_documented_gitignore()) + "\n")
    _run(tmp_path, "import", "--all", "--sandbox", "--out", "keys/keys.yaml")
    manifest = tmp_path / "keys" / "keys.yaml"
    manifest.write_text(re.sub(r"limit_type: unknown.*", "limit_type: daily", manifest.read_text()))
    _run(tmp_path, "apply", "keys/keys.yaml", "--sandbox", "--auto-approve")
    _run(tmp_path, "plan", "keys/keys.yaml", "--sandbox", "--out", "plan.json")
    _run(tmp_path, "drift", "keys/keys.yaml", "--sandbox")
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert sorted(p for p in status if p != "??") == [
        ".gitignore",
        "keys/keys.yaml",
        "keys/manifest.schema.json",
    ]
    record(
        "files", "a new repository's trial on the sandbox, with the README's .gitignore", 1, "nothing stray"
    )


def _hook_run(folder: Path, *changed: str) -> subprocess.CompletedProcess[str]:
    """What pre-commit runs for the hook: its entry, its args, then the changed files its `files`
    matches; `ehkeys` as installed beside this Python."""
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    entry = shlex.split(hook["entry"])
    assert entry[0] == "ehkeys", hook
    argv = [str(Path(sys.executable).parent / "ehkeys"), *entry[1:], *hook.get("args", [])]
    argv += [name for name in changed if re.search(hook["files"], name)]
    env = {name: value for name, value in os.environ.items() if not name.startswith(("EH", "ELECTRONHUB"))}
    return subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, timeout=60)


def test_the_pre_commit_hook_refuses_a_proxy_key_written_in_a_manifest(tmp_path: Path) -> None:
    """It ran `ehkeys validate`, which only warns of one: the key went into git, exit 0."""
    key = "ek-proxy-" + "hook9secret" * 4
    manifest = "version: 1\nkeys:\n  - name: api\n    limit_type: daily\n    proxy_key: {}\n"
    (tmp_path / "keys.yaml").write_text(manifest.format(key))
    done = _hook_run(tmp_path, "keys.yaml")
    assert (done.returncode, done.stderr) == (1, "1 error(s), 0 warning(s)\n"), done
    assert "keys.yaml:5:16: keys[api].proxy_key: plain-text proxy key in the manifest" in done.stdout
    assert key not in done.stdout + done.stderr
    (tmp_path / "keys.yaml").write_text(manifest.format("${EH_API_PROXY_KEY}"))  # unset: a notice, no failure
    done = _hook_run(tmp_path, "keys.yaml")
    assert (done.returncode, done.stderr) == (0, "0 warning(s); 1 key(s) valid\n"), done


def test_the_licence_pyproject_names_is_shipped() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert 'license = { text = "MIT" }' in (ROOT / "pyproject.toml").read_text()
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 the ehkeys authors" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in text


def _untracked(repo: Path) -> list[str]:
    status = ["git", "status", "--porcelain", "--untracked-files=all"]
    out = subprocess.run(status, cwd=repo, capture_output=True, text=True, check=True).stdout
    return sorted(line[3:] for line in out.splitlines())


@pytest.mark.parametrize("ignore", ["readme", "ours"])
def test_a_running_sandbox_leaves_nothing_untracked(tmp_path: Path, ignore: str) -> None:
    """While `ehkeys sandbox --db sandbox.db` ran (docs/sandbox.md's demo), or an in-process sandbox
    was open, `git status` showed SQLite's `sandbox.db-wal` and `sandbox.db-shm`; nor is the
    served sandbox's variables' file (`sandbox.db.env`) shown."""
    if subprocess.run(["git", "--version"], capture_output=True).returncode != 0:
        pytest.skip("no git")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    lines = _documented_gitignore() if ignore == "readme" else (ROOT / ".gitignore").read_text().splitlines()
    (tmp_path / ".gitignore").write_text("\n".join(lines) + "\n")
    where = [tmp_path / "keys" / ".ehkeys" / "sandbox.db"]
    where += [tmp_path / "sandbox.db"] if ignore == "ours" else []
    for db in where:
        db.parent.mkdir(parents=True, exist_ok=True)
    boxes = [sandbox(db=str(db)) for db in where]  # open: SQLite's sidecar files exist meanwhile
    assert all(box.store.keys_of("u1") for box in boxes)
    with contextlib.ExitStack() as served:  # as `ehkeys sandbox --db` writes it while it runs
        files = [served.enter_context(envfile.exported(str(db), [("EH_KEY", "v")])) for db in where]
        assert all(f.is_file() for f in files) and _untracked(tmp_path) == [".gitignore"]
    record("files", f"a running sandbox's database files, with {ignore} .gitignore", 1, "nothing stray")
