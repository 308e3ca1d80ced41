"""The manifest schema beside an imported manifest: the modeline `import` writes names it by a
path relative to the manifest (as editors resolve it), so completion and checks work offline
in a repository that only installed ehkeys (it named `schemas/…`, which only this one has)."""

from __future__ import annotations

import sys
from pathlib import Path

from reconciler.core.errors import UsageError
from reconciler.manifest.resources import schema_text

NAME = "manifest.schema.json"  # not *.yaml: never read as a manifest of the folder
MODELINE = f"# yaml-language-server: $schema={NAME}\n"


def write_beside(manifest: Path) -> Path:
    """Write (or refresh) the schema beside `manifest`; says so on stderr."""
    target = manifest.parent / NAME
    text = schema_text("manifest")
    try:
        if target.is_file() and target.read_text(encoding="utf-8") == text:
            return target
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{target}: cannot write the manifest schema ({exc.strerror})") from exc
    print(f"wrote {target}, the schema its modeline names (commit it with the manifest)", file=sys.stderr)
    return target
