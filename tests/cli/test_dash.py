"""`-` as a path an option names (`cli.optiontypes.PathOption`): stdout where the option prints
by default (`schema --out -`, `import --out -`), as most tools take it; refused everywhere else,
before anything is sent, naming the option and what to give instead (`--out -` wrote a file
named `-`: a saved plan, the report, the created keys' values). A file's name ending with `/`
names a folder: refused too (`--out plans/` wrote a file named `plans`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.manifest import resources

from ..helpers import run_cli
from . import test_names as names

SANDBOX = names.SANDBOX
workdir = names.workdir  # a sandbox seeded with 3 keys, keys.yaml of 2, as the checkout


def files(workdir: Path) -> list[str]:
    return sorted(str(p.relative_to(workdir)) for p in workdir.rglob("*"))


def test_schema_out_dash_prints_the_schema(workdir: Path, capsys: Any) -> None:
    code, out, err = run_cli(capsys, "schema", "--out", "-")
    assert (code, out, err) == (0, resources.schema_text("manifest"), "")
    assert files(workdir) == ["keys.yaml", "seed.yaml"]


def test_import_out_dash_prints_the_manifest_and_writes_nothing_beside_it(workdir: Path, capsys: Any) -> None:
    code, out, _ = run_cli(capsys, "import", "--all", *SANDBOX, "--out", "-")
    assert code == 0 and [k["name"] for k in yaml.safe_load(out)["keys"]][:1] == ["key-0"], out
    assert not Path("-").exists() and not Path("manifest.schema.json").exists()


APPLY = ("apply", "keys.yaml", *SANDBOX, "--auto-approve")
REFUSED = {  # each option that never takes `-`: the command, and what its refusal says to do
    "plan --out": (("plan", "keys.yaml", *SANDBOX, "--out", "-"), "name a file, like plan.json"),
    "apply --secrets-out": ((*APPLY, "--secrets-out", "-"), "a key's value never goes to stdout"),
    "apply --report-out": ((*APPLY, "--report-out", "-"), "name a file, like apply.md"),
    "rotate --secrets-out": (
        ("rotate", "keys.yaml", "key-0", *SANDBOX, "--auto-approve", "--secrets-out", "-"),
        "a key's value never goes to stdout",
    ),
    "rotate --report-out": (
        ("rotate", "keys.yaml", "key-0", *SANDBOX, "--auto-approve", "--report-out", "-"),
        "name a file, like apply.md",
    ),
    "reveal --out": (("reveal", "keys.yaml", "key-0", *SANDBOX, "--out", "-"), "a terminal or a 0600 file"),
    "--state": (("plan", "keys.yaml", *SANDBOX, "--state", "-"), "name one, like state.json"),
    "apply --plan": ((*APPLY, "--plan", "-"), "ehkeys reads no input from stdin: name the file"),
    "show": (("show", "-"), "ehkeys reads no input from stdin: name the file"),
    "sandbox --db": (  # a bad --rate-limit too: without the refusal, it stops rather than serving
        ("sandbox", "--port", "0", "--db", "-", "--rate-limit", "bogus"),
        "leave --db out (in memory)",
    ),
    "github --dir": (("github", "plan", "keys.yaml", *SANDBOX, "--dir", "-"), "name a folder"),
}


@pytest.mark.parametrize("option", list(REFUSED))
def test_dash_is_refused_where_stdout_cannot_take_it_before_anything_is_sent(
    workdir: Path, capsys: Any, option: str
) -> None:
    argv, said = REFUSED[option]
    code, out, err = run_cli(capsys, *argv)
    flag = option.split()[-1] if option != "show" else "PLAN_FILE"
    assert (code, out) == (1, ""), err
    assert f"error: argument {flag}: -: " in err and said in err and "named - is ./-" in err, err
    assert files(workdir) == ["keys.yaml", "seed.yaml"], "nothing written, no sandbox opened"


@pytest.mark.parametrize(
    "argv",
    [
        ("schema", "--out", "schemas/"),
        ("plan", "keys.yaml", *SANDBOX, "--out", "plans/"),
        (*APPLY, "--report-out", "reports/"),
        (*APPLY, "--secrets-out", "secrets/"),
    ],
    ids=["schema --out", "plan --out", "apply --report-out", "apply --secrets-out"],
)
def test_a_file_named_with_a_trailing_slash_is_refused_not_written_without_it(
    workdir: Path, capsys: Any, argv: tuple[str, ...]
) -> None:
    code, out, err = run_cli(capsys, *argv)
    assert (code, out) == (1, ""), err
    assert f"argument {argv[-2]}: {argv[-1]}: ends with /, so it names a folder: name a file" in err, err
    assert files(workdir) == ["keys.yaml", "seed.yaml"]


def test_a_file_named_dash_is_still_written_as_dot_slash_dash(workdir: Path, capsys: Any) -> None:
    code, _, err = run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--out", "./-")
    assert code == 0 and Path("-").is_file(), err
