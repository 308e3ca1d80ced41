"""A file sink git would track is said by `validate` and `plan`, at the sink's FILE:LINE, not
only refused by the apply: a pull request adding one fails its checks, rather than the apply
after its merge."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ..helpers import run_cli

SANDBOX = ["--sandbox"]
MANIFEST = """version: 1
defaults: {limit_type: daily}
keys:
  - id: api
    name: API
    allocated_ammount: 5
    deliver:
      - file: app.env
  - id: web
    name: Web
    allocated_ammount: 1
"""
SINK_AT = "keys.yaml:8:15"  # `app.env`, the file sink's own line
TRACKED = "app.env: git would track this file (it is inside a repository and not ignored)"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if subprocess.run(["git", "--version"], capture_output=True).returncode != 0:
        pytest.skip("no git")
    monkeypatch.chdir(tmp_path)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text(".ehkeys/\n")
    (tmp_path / "keys.yaml").write_text(MANIFEST)
    return tmp_path


def test_validate_says_a_tracked_file_sink_at_its_line(repo: Path, capsys: Any) -> None:
    code, out, err = run_cli(capsys, "validate", "keys.yaml")
    assert code == 1, out + err
    assert f"{SINK_AT}: deliver: {TRACKED}" in out
    (repo / ".gitignore").write_text(".ehkeys/\n*.env\n")
    code, out, err = run_cli(capsys, "validate", "keys.yaml")
    assert code == 0 and "git would track" not in out + err


def test_plan_holds_the_create_of_a_key_whose_file_sink_is_tracked(repo: Path, capsys: Any) -> None:
    code, out, err = run_cli(capsys, "plan", "keys.yaml", "--format", "json", *SANDBOX)
    assert code == 1, out + err
    rows = {k["address"]: k for k in json.loads(out)["keys"]}
    assert rows["api"]["action"] == "error" and rows["web"]["action"] == "create"
    assert f"{SINK_AT}: {TRACKED}" in rows["api"]["error"]
    assert "the apply refuses to create the key" in rows["api"]["error"]
    code, out, err = run_cli(capsys, "plan", "keys.yaml", *SANDBOX)
    assert code == 1 and f"{SINK_AT}: {TRACKED}" in out + err
    (repo / ".gitignore").write_text(".ehkeys/\napp.env\n")
    code, out, err = run_cli(capsys, "plan", "keys.yaml", "--format", "json", *SANDBOX)
    assert code == 0, out + err
    assert [k["action"] for k in json.loads(out)["keys"] if k["address"] in ("api", "web")] == [
        "create",
        "create",
    ]
