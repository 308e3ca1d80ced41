"""The architecture is checked: the import-linter contracts of pyproject.toml hold, and no
reconciler module reaches itself through its imports (a cycle, even one held apart by a
function-level import)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..helpers import ROOT
from . import imports

pytestmark = pytest.mark.slow  # lint: import-linter processes, every module's imports parsed

CONTRACTS = re.findall(r'^id = "([\w-]+)"', (ROOT / "pyproject.toml").read_text(), re.M)


def _lint_imports() -> str:
    found = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which(
        "lint-imports"
    )
    assert found, "lint-imports is missing: pip install -e '.[test]'"
    return found


def test_pyproject_names_the_contracts() -> None:
    assert {"layers", "core", "sandbox", "argparse"} <= set(CONTRACTS)


@pytest.mark.parametrize("contract", CONTRACTS)
def test_the_import_contract_holds(contract: str) -> None:
    argv = [_lint_imports(), "--no-cache", "--no-logo", "--contract", contract]
    run = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


def test_no_module_imports_itself_through_others() -> None:
    assert imports.cycles(imports.graph()) == []


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / "pkg" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "pkg" / name).write_text(text)
    return tmp_path


def test_a_cycle_through_a_function_level_import_is_found_and_type_checking_is_not(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from pkg import b\n",
            "b.py": "def late():\n    from pkg.c import x\n",
            "c.py": "from . import a\nx = 1\n",
            "d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import e\n",
            "e.py": "import pkg.d\n",
        },
    )
    edges = imports.graph(root / "pkg")
    assert edges["pkg.d"] == set() and edges["pkg.e"] == {"pkg.d"}
    assert imports.cycles(edges) == [["pkg.a", "pkg.b", "pkg.c"]]
