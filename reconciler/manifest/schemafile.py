"""The manifest schema beside an imported manifest: the modeline `import --out` writes names it by
a path relative to the manifest (as editors resolve it), so completion and checks work offline
in a repository that only installed ehkeys (it named `schemas/…`, which only this one has).

Only a manifest written to a file gets the modeline, and the schema beside it: one printed goes
where import cannot see, so it names no schema rather than one that may not be there. A file of
the schema's name beside the manifest that is not ehkeys' manifest schema is the user's: import
refuses, before any request, rather than overwrite it; ehkeys' own of another version is
replaced, and said so (editors then check what this version's loader checks)."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
import tempfile
from pathlib import Path

from reconciler.core.errors import UsageError
from reconciler.manifest.resources import schema, schema_text

NAME = "manifest.schema.json"  # not *.yaml: never read as a manifest of the folder
MODELINE = f"# yaml-language-server: $schema={NAME}\n"
UNNAMED = (
    f"the manifest printed names no schema, and no {NAME} was written: with --out FILE, import "
    f"writes {NAME} beside FILE and names it on the manifest's first line, for editors"
)
NONE, SAME, OURS, OTHER = "none", "same", "ours", "other"
LARGEST = 1 << 20  # bytes read of a file there: ehkeys' schema is some 20 KB


def check_beside(manifest: Path) -> str:
    """Refuse, before anything is read or written, to put the schema over a file of the user's;
    else what is there (`_held`)."""
    target = manifest.parent / NAME
    held = _held(target)
    if held == OTHER:
        raise UsageError(
            f"--out {manifest}: {target} is there and is not ehkeys' manifest schema (in a file of "
            "its own, not a link), which import writes beside the manifest and names on its first "
            "line: move that file away, or write the manifest in another folder; nothing was written"
        )
    return held


def write_beside(manifest: Path) -> Path:
    """Write (or refresh) the schema beside `manifest`; says so on stderr."""
    held = check_beside(manifest)  # again: a file may have come since
    target = manifest.parent / NAME
    if held == SAME:
        return target
    try:
        _replace(target, schema_text("manifest"))
    except OSError as exc:
        raise UsageError(f"{target}: cannot write the manifest schema ({exc.strerror})") from exc
    said = (
        f"updated {target} to this ehkeys' manifest schema (it held another version's)"
        if held == OURS
        else f"wrote {target}, the schema its modeline names (commit it with the manifest)"
    )
    print(said, file=sys.stderr)
    return target


def _held(target: Path) -> str:
    """What is at `target`: nothing, this schema, ehkeys' manifest schema of another version (its
    `$id`, in a file of its own: never written through a link), or anything else (another file,
    a folder, a pipe or a device, a file far larger than a schema, a broken link)."""
    if not target.exists() and not target.is_symlink():
        return NONE
    text = _read(target)
    try:
        found = json.loads(text) if text is not None else None
    except ValueError:  # not JSON
        return OTHER
    if text == schema_text("manifest"):
        return SAME
    ours = isinstance(found, dict) and found.get("$id") == schema("manifest")["$id"]
    return OURS if ours and not target.is_symlink() else OTHER


def _read(target: Path) -> str | None:
    """The text of a regular file no larger than LARGEST; None for anything else. Opened without
    waiting (a pipe would wait for a writer for ever) and read no further (`/dev/zero`)."""
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = handle.read(LARGEST + 1)
    try:
        return data.decode("utf-8") if len(data) <= LARGEST else None
    except UnicodeDecodeError:
        return None


def _replace(target: Path, text: str) -> None:
    """`text` in a new file renamed over `target`: a link put there since it was read is
    replaced, never written through."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # read by editors, committed: mkstemp makes it 0600
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
