"""Which manifest schemas are ehkeys' own, unedited (`manifest.shipped`): a file holding one is
replaced by a newer ehkeys, any other text is kept. The list must hold every version shipped,
this one included, or a schema this ehkeys wrote would be taken for an edit by the next."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from reconciler.manifest import schemafile
from reconciler.manifest.resources import schema_text
from reconciler.manifest.shipped import MANIFEST_SCHEMAS

from ..helpers import ROOT, TESTS

SCHEMA = "schemas/manifest.schema.json"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_this_versions_schema_is_listed_as_shipped() -> None:
    """Fails on a change to schemas/manifest.schema.json until its digest is added."""
    digest = _digest(schema_text("manifest").encode("utf-8"))
    assert digest in MANIFEST_SCHEMAS, f"add {digest} to reconciler/manifest/shipped.py"


def test_every_version_of_the_schema_in_this_repositorys_history_is_listed() -> None:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    log = subprocess.run(
        [git, "rev-list", "--full-history", "HEAD", "--", SCHEMA], cwd=ROOT, capture_output=True, text=True
    )
    if log.returncode != 0:  # a shallow clone, or a checkout git cannot read
        pytest.skip(log.stderr)
    versions = {
        _digest(subprocess.run([git, "show", f"{commit}:{SCHEMA}"], cwd=ROOT, capture_output=True).stdout)
        for commit in log.stdout.split()
    }
    assert versions - MANIFEST_SCHEMAS == set()


def test_the_shipped_fixture_is_a_schema_ehkeys_shipped_and_an_edit_of_it_is_not(tmp_path: Path) -> None:
    shipped = TESTS / "shipped" / "manifest.schema.79727a1.json"
    assert schemafile.held(shipped) == schemafile.OURS
    edited = tmp_path / "manifest.schema.json"
    edited.write_text(shipped.read_text().replace('"title"', '"description": "ours",\n  "title"', 1))
    assert schemafile.held(edited) == schemafile.EDITED
