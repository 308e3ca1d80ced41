"""The one engine, called with typed settings as the command line and the GitOps jobs call it:
it returns values and exit codes, tells its console what happens as it happens, and prints
nothing itself. And the layout that keeps it so: argparse only in cli/, imports at the top."""

from __future__ import annotations

import ast
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.core.accounts import Account
from reconciler.core.errors import Refused
from reconciler.core.exitcodes import ExitCode
from reconciler.core.outcomes import Outcome, Report, Result
from reconciler.core.plan import Plan
from reconciler.core.plans import Plans
from reconciler.engine import apply as engine_apply
from reconciler.engine import drift as engine_drift
from reconciler.engine import plan as engine_plan
from reconciler.engine.settings import (
    ApplySettings,
    Connection,
    DriftSettings,
    Guards,
    PlanSettings,
    Workspace,
)
from reconciler.manifest.diagnostics import Diagnostic
from reconciler.sandbox import Sandbox, seeds

from ..helpers import key_value, manifest_text, seed_data
from ..house.syntax import parsed

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"


class Recorder:
    """A console that keeps what the engine tells it, in order; `refuse` says no when asked,
    `unasked` has nobody to ask (a pipe)."""

    def __init__(self, refuse: bool = False, unasked: bool = False) -> None:
        self.said: list[tuple[str, Any]] = []
        self.refuse, self.unasked = refuse, unasked

    def diagnostics(self, found: Sequence[Diagnostic]) -> None:
        self.said.append(("diagnostics", list(found)))

    def warning(self, text: str) -> None:
        self.said.append(("warning", text))

    def notice(self, text: str) -> None:
        self.said.append(("notice", text))

    def refused(self, text: str) -> None:
        self.said.append(("refused", text))

    def planned(self, plans: Plans) -> None:
        self.said.append(("planned", plans))

    def scoped(self, account: Account) -> Recorder:
        return self

    def approvable(self) -> None:
        self.said.append(("approvable", None))
        if self.unasked:
            raise Refused("nobody to ask; nothing was sent")

    def approve(self) -> None:
        self.said.append(("approve", None))
        if self.refuse:
            raise Refused("not approved; nothing was sent")

    def applying(self, recorded: str, skipped: Sequence[Result]) -> None:
        self.said.append(("applying", list(skipped)))

    def landed(self, result: Result) -> None:
        self.said.append(("landed", result))

    def stopped(self) -> None:
        self.said.append(("stopped", None))

    def nothing(self, plan: Plan, recorded: str) -> None:
        self.said.append(("nothing", plan))

    def handed_over(self, created: Sequence[str], unwritten: Sequence[str] = ()) -> None:
        self.said.append(("handed_over", list(created)))

    def applied(self, report: Report, review: Any) -> None:
        self.said.append(("applied", report))

    def reported(self, write: Any) -> None:
        self.said.append(("reported", None))

    @property
    def moments(self) -> list[str]:
        return [what for what, _ in self.said]


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed_data(2)))
    Path("keys.yaml").write_text(manifest_text(2, allocated_ammount=25))
    return Workspace(("keys.yaml",), Connection(sandbox=True, sandbox_seed="seed.yaml"))


def allocated(i: int) -> Decimal:
    key = Sandbox.open(".ehkeys/sandbox.db", seeds.load("seed.yaml")).store.key(key_value(i))
    assert key is not None
    return Decimal(key["allocated_ammount"])


def test_a_plan_is_a_value_and_the_engine_prints_nothing(workspace: Workspace, capsys: Any) -> None:
    console = Recorder()
    planned = engine_plan.make(PlanSettings(workspace), console)
    assert [c.name for c in planned.plans.only.to_apply] == ["key-0", "key-1"]
    assert planned.exit_code() is ExitCode.OK and planned.exit_code(detailed=True) is ExitCode.CHANGES
    assert console.moments == ["diagnostics"]
    assert capsys.readouterr() == ("", "")


def test_an_apply_tells_its_console_each_moment_in_order(workspace: Workspace, capsys: Any) -> None:
    console = Recorder()
    applied = engine_apply.run(ApplySettings(workspace), console)
    assert applied.exit_code is ExitCode.OK
    assert [r.outcome for r in applied.only.report.results] == [Outcome.APPLIED, Outcome.APPLIED]
    assert console.moments == [
        "diagnostics", "approvable", "planned", "approve", "applying", "landed", "landed", "handed_over",
        "applied", "reported",
    ]  # fmt: skip
    assert allocated(0) == allocated(1) == Decimal(25)
    assert capsys.readouterr() == ("", "")
    again = Recorder()
    assert engine_apply.run(ApplySettings(workspace), again).exit_code is ExitCode.OK
    assert again.moments == ["diagnostics", "planned", "nothing"]


def test_a_console_that_does_not_approve_stops_the_apply_before_anything_is_sent(
    workspace: Workspace,
) -> None:
    console = Recorder(refuse=True)
    with pytest.raises(Refused):
        engine_apply.run(ApplySettings(workspace), console)
    assert console.moments == ["diagnostics", "approvable", "planned", "approve"]
    assert allocated(0) == allocated(1) == Decimal(10)


def test_a_console_with_nobody_to_ask_stops_the_apply_before_the_plan_is_shown(
    workspace: Workspace,
) -> None:
    """In a pipe the plan was printed whole, then refused: the console is asked first."""
    console = Recorder(unasked=True)
    with pytest.raises(Refused):
        engine_apply.run(ApplySettings(workspace), console)
    assert console.moments == ["diagnostics", "approvable"]
    assert allocated(0) == allocated(1) == Decimal(10)
    assert engine_apply.run(ApplySettings(workspace), Recorder()).exit_code is ExitCode.OK
    nothing = Recorder(unasked=True)  # nothing left to apply: nobody needs asking, the plan is shown
    assert engine_apply.run(ApplySettings(workspace), nothing).exit_code is ExitCode.OK
    assert nothing.moments == ["diagnostics", "planned", "nothing"]


def test_the_guards_are_settings_and_refuse_before_the_console_sees_a_plan(workspace: Workspace) -> None:
    console = Recorder()
    with pytest.raises(Refused, match="max-debit"):
        engine_apply.run(ApplySettings(workspace, Guards(max_debit=Decimal(5))), console)
    assert console.moments == ["diagnostics"]
    assert allocated(0) == Decimal(10)


def test_drift_is_a_report_with_its_exit_code(workspace: Workspace) -> None:
    drifted = engine_drift.examine(DriftSettings(workspace), Recorder())
    assert drifted.report.drifted and drifted.exit_code is ExitCode.DRIFT


def _imports(path: Path) -> list[tuple[str, bool]]:
    """Each module `path` imports, and whether the import is inside a function."""
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, inside: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = inside or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                found.extend((a.name, nested) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module:
                found.append((child.module, nested))
            visit(child, nested)

    visit(parsed(path), False)
    return found


def _modules(*packages: str) -> list[Path]:
    return [p for package in packages for p in sorted((PACKAGE / package).rglob("*.py"))]


@pytest.mark.slow  # lint: every module's imports parsed
def test_argparse_and_the_command_line_stay_in_cli() -> None:
    """The engine and the GitOps jobs take typed settings: no Namespace reaches them (only
    `python -m reconciler` starts the command line)."""
    inside = {PACKAGE / "__main__.py", *(PACKAGE / "cli").rglob("*.py")}
    outside = [p for p in PACKAGE.rglob("*.py") if p not in inside]
    wrong = [
        f"{p.relative_to(PACKAGE)}: {name}"
        for p in outside
        for name, _ in _imports(p)
        if name == "argparse" or name.startswith("reconciler.cli")
    ]
    assert wrong == []


# Each function-level import and why: none holds a cycle apart; each keeps a start-up lean.
START_UP_IMPORTS = {
    "cli/options.py": {"reconciler.cli.githubopts"},  # the GitOps jobs' options, only for github
    "cli/launch.py": {"reconciler.cli.main"},  # the rest of ehkeys, a Ctrl-C meanwhile an interrupt
    "engine/target.py": {"reconciler.sandbox"},  # starlette, only for --sandbox
    "delivery/github.py": {"nacl.exceptions", "nacl.public"},  # libsodium, only to seal a secret
    "sandbox/__init__.py": {"uvicorn"},  # only to serve over a socket, not in-process
    "manifest/schemacheck.py": {"jsonschema"},  # only for a manifest the plain tests doubt (`schemarules`)
    "manifest/namepattern.py": {"re2"},  # RE2 (~3 ms), only for a manifest with a policy name_pattern
}


def test_imports_inside_functions_are_only_the_documented_start_up_ones() -> None:
    """cli.commands: one per command; the others above."""
    found = {
        (str(p.relative_to(PACKAGE)), name)
        for p in PACKAGE.rglob("*.py")
        for name, inside in _imports(p)
        if inside
    }
    assert all(name.startswith("reconciler.cli.") for where, name in found if where == "cli/commands.py")
    others = {where: {n for w, n in found if w == where} for where, _ in found if where != "cli/commands.py"}
    assert others == START_UP_IMPORTS
