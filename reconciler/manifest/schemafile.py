"""The manifest schema in a file: beside an imported manifest, whose modeline `import --out`
writes names it by a path relative to the manifest (as editors resolve it), so completion and
checks work offline in a repository that only installed ehkeys (it named `schemas/…`, which only
this one has); and wherever `ehkeys schema --out` is asked to write it.

Only a manifest written to a file gets the modeline, and the schema beside it: one printed goes
where import cannot see, so it names no schema rather than one that may not be there. What is
there already is told by its content (`held`): a schema ehkeys shipped, unedited, is replaced by
this version's, and said so; one with ehkeys' `$id` and other text was edited, and is kept (an
edit is never overwritten); anything else is the user's: import refuses, before any request,
rather than overwrite it."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import stat
import sys
import tempfile
from pathlib import Path

from reconciler.core.errors import UsageError
from reconciler.manifest.resources import schema, schema_text
from reconciler.manifest.shipped import MANIFEST_SCHEMAS

NAME = "manifest.schema.json"  # not *.yaml: never read as a manifest of the folder
MODELINE = f"# yaml-language-server: $schema={NAME}\n"
UNNAMED = (
    f"the manifest printed names no schema, and no {NAME} was written: with --out FILE, import "
    f"writes {NAME} beside FILE and names it on the manifest's first line, for editors"
)
NONE, SAME, OURS, EDITED, OTHER = "none", "same", "ours", "edited", "other"
LARGEST = 1 << 20  # bytes read of a file there: ehkeys' schema is some 20 KB
EDIT = "an edited copy of ehkeys' manifest schema (its $id is ehkeys', its text no schema ehkeys shipped)"
MERGE = "merge your edits into this version's schema, which `ehkeys schema` prints"


def check_beside(manifest: Path) -> str:
    """Refuse, before anything is read or written, to put the schema over a file of the user's;
    else what is there (`held`)."""
    target = manifest.parent / NAME
    found = held(target)
    if found == OTHER:
        raise UsageError(
            f"--out {manifest}: {target} is there and is not ehkeys' manifest schema (in a file of "
            "its own, not a link), which import writes beside the manifest and names on its first "
            "line: move that file away, or write the manifest in another folder; nothing was written"
        )
    return found


def write_beside(manifest: Path) -> Path:
    """Write (or refresh) the schema beside `manifest`, or keep an edited one; says so on stderr."""
    found = check_beside(manifest)  # again: a file may have come since
    target = manifest.parent / NAME
    if found == EDITED:
        kept = f"kept {target} as it is: {EDIT}, and an edit is never overwritten"
        print(f"{kept}; the manifest's first line names it: {MERGE}", file=sys.stderr)
    elif found != SAME:
        print(
            write(target, found, "the schema its modeline names (commit it with the manifest)"),
            file=sys.stderr,
        )
    return target


def write(target: Path, found: str, what: str) -> str:
    """This ehkeys' schema written at `target`, where `held` found nothing or a schema ehkeys
    shipped (`found`; never called over an edit or the user's file), and what to say of it
    (`what`: what the new file is for)."""
    if found == SAME:
        return f"{target} holds this ehkeys' manifest schema already: nothing was written"
    try:
        _replace(target, schema_text("manifest"), over=found == OURS)
    except FileExistsError:
        raise UsageError(
            f"{target}: a file came there while the schema was being written, and was left as it is; "
            "nothing was written: run it again"
        ) from None
    except OSError as exc:
        raise UsageError(f"{target}: cannot write the manifest schema ({exc.strerror})") from exc
    if found == OURS:
        return f"updated {target} to this ehkeys' manifest schema (it held another version's, unedited)"
    return f"wrote {target}, {what}"


def held(target: Path) -> str:
    """What is at `target`, by its content: nothing, this schema, one ehkeys shipped (unedited, in
    a file of its own: never written through a link), ehkeys' schema edited (its `$id`, other
    text), or anything else (another file, a folder, a pipe or a device, a file far larger than a
    schema, a broken link)."""
    if not target.exists() and not target.is_symlink():
        return NONE
    text = _read(target)
    if text is None:
        return OTHER
    text = _as_written(text)
    if text == schema_text("manifest"):
        return SAME
    if target.is_symlink():
        return OTHER
    if hashlib.sha256(text.encode("utf-8")).hexdigest() in MANIFEST_SCHEMAS:
        return OURS
    try:
        found = json.loads(text)
    except ValueError:  # not JSON
        return OTHER
    return EDITED if isinstance(found, dict) and found.get("$id") == schema("manifest")["$id"] else OTHER


def _as_written(text: str) -> str:
    """`text` as ehkeys writes a schema, where a checkout or an editor may have changed it without
    editing it: CRLF line ends (git's autocrlf on Windows), the end of the last line (one more,
    or none), a byte order mark. Such a copy of ehkeys' schema is no edit, never kept as one."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").rstrip("\n") + "\n"


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


def _replace(target: Path, text: str, over: bool) -> None:
    """`text` in a new file renamed over `target` (`over`: a schema ehkeys shipped is there), else
    linked there: FileExistsError when a file came since nothing was (it is never replaced). A
    link put there since it was read is replaced or refused, never written through."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # read by editors, committed: mkstemp makes it 0600
        if over or not _linked(tmp, target):
            os.replace(tmp, target)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _linked(tmp: str, target: Path) -> bool:
    """`tmp` linked at `target` unless something is there; False where the file system has no
    hard links (then it is renamed there, as before)."""
    try:
        os.link(tmp, target)
    except OSError as exc:  # FileExistsError (EEXIST) raised, as any other failure
        if exc.errno in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            return False
        raise
    return True
