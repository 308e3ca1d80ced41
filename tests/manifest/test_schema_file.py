"""Which manifest schemas are ehkeys' own, unedited (`manifest.shipped`): a file holding one is
replaced by a newer ehkeys, any other text is kept. The list must hold every version shipped,
this one included, or a schema this ehkeys wrote would be taken for an edit by the next."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.errors import UsageError
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


@pytest.mark.parametrize(
    "change",
    [
        lambda text: text.replace("\n", "\r\n"),  # git's autocrlf, on a Windows checkout
        lambda text: text.rstrip("\n"),  # an editor that leaves no newline at the end
        lambda text: text + "\n\n",  # or adds one
        lambda text: "\ufeff" + text,  # a byte order mark, as some Windows editors write
    ],
    ids=["CRLF", "no final newline", "more newlines", "BOM"],
)
def test_a_schema_a_checkout_or_an_editor_changed_without_editing_it_is_no_edit(
    tmp_path: Path, change: Any
) -> None:
    """Such a copy of the schema ehkeys shipped was taken for the user's edit, kept for ever and
    said to be one ('an edited copy'); with a BOM, for another file altogether, refused."""
    shipped = (TESTS / "shipped" / "manifest.schema.79727a1.json").read_text()
    target = tmp_path / "manifest.schema.json"
    target.write_bytes(change(shipped).encode("utf-8"))
    assert schemafile.held(target) == schemafile.OURS
    target.write_bytes(change(schema_text("manifest")).encode("utf-8"))
    assert schemafile.held(target) == schemafile.SAME


def test_a_file_that_comes_while_the_schema_is_written_is_never_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing was there when it was looked at; a file came before the schema was renamed there:
    it was replaced."""
    target = tmp_path / "manifest.schema.json"
    real = os.fdopen

    def meanwhile(fd: int, *args: Any, **kwargs: Any) -> Any:
        target.write_text("theirs\n")  # as the temporary file is written
        return real(fd, *args, **kwargs)

    monkeypatch.setattr(os, "fdopen", meanwhile)
    with pytest.raises(UsageError, match="a file came there while the schema was being written"):
        schemafile.write(target, schemafile.NONE, "for editors")
    assert target.read_text() == "theirs\n"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.schema.json"]  # no temporary file left
