"""`schema`: the manifest's JSON Schema, the very one `validate` checks manifests with, as ehkeys
ships it: its text to print, or written to a file (`--out`) as `import --out` writes it beside a
manifest (`manifest.schemafile`), never over a file ehkeys keeps, an edit, or a file of the user's."""

from __future__ import annotations

from pathlib import Path

from reconciler.core.errors import UsageError
from reconciler.manifest import schemafile
from reconciler.manifest.resources import schema_text
from reconciler.state import kept
from reconciler.state.files import NOT_A_FILE, not_a_file
from reconciler.state.paths import FOLDER

LIKE = f"like {schemafile.NAME}"
FOR_EDITORS = (
    "ehkeys' manifest schema: name it on a manifest's first line for editors, "
    "`# yaml-language-server: $schema=<its path from the manifest's folder>`"
)


def text() -> str:
    """The schema as shipped, byte for byte: what a file written by `write` holds."""
    return schema_text("manifest")


def write(path: str) -> str:
    """The schema written at `path` (or there already); what to say of it. Refused before anything
    is written: a place ehkeys keeps a file, not a regular file, YAML, a missing folder, an edit of
    the schema, or any other file there."""
    _refuse_place(path)
    target = Path(path)
    found = schemafile.held(target)
    if found == schemafile.EDITED:
        raise UsageError(
            f"--out {path}: it holds {schemafile.EDIT}, and an edit is never overwritten; nothing was "
            f"written: move it away first, or {schemafile.MERGE}"
        )
    if found == schemafile.OTHER:
        raise UsageError(
            f"--out {path}: it is there and is not ehkeys' manifest schema (in a file of its own, not "
            "a link); nothing was written: move it away, or name another file"
        )
    return schemafile.write(target, found, FOR_EDITORS)


def _refuse_place(path: str) -> None:
    target = Path(path)
    if kept.anywhere(path):
        raise UsageError(
            f"--out {path}: that is where ehkeys keeps a state, its journal or its lock (a file of "
            f"such a name, an {FOLDER} folder, or in one), which the schema would replace; name a file "
            f"elsewhere, {LIKE}"
        )
    if not_a_file(target):
        raise UsageError(f"--out {path}: {NOT_A_FILE}, {LIKE}")
    if target.suffix.lower() in (".yaml", ".yml"):  # a manifest lost, or a file read as one of its own
        raise UsageError(f"--out {path}: the schema is JSON, and a YAML file is read as a manifest; {LIKE}")
    if not target.parent.is_dir():
        raise UsageError(f"--out {path}: no such directory {target.parent}")
