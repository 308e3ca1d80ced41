"""Which files make a manifest: files as given, directories read recursively, each file once.

A folder below a directory that holds a settings file (`ehkeys.yaml`) is a directory manifest
of its own (see `layout`): a directory's files stop at it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from reconciler.manifest.diagnostics import Diagnostic

SETTINGS_FILE = "ehkeys.yaml"
"""The settings of a directory manifest, at its root; the folder's other files hold keys."""
SUFFIXES = (".yaml", ".yml")  # a directory manifest's files


def is_manifest_file(name: str) -> bool:
    """Whether a folder's file of this name is one of its manifest's (YAML, not hidden)."""
    return name.endswith(SUFFIXES) and not name.startswith(".")


NOT_A_FILE = "not a regular file (a device or a pipe): name a manifest file or a folder"
LOOP = "a link that reaches no file (its links loop): link it to a file, or remove it"


def expand_paths(inputs: Sequence[str]) -> tuple[list[str], list[Diagnostic]]:
    """Files as given; a directory contributes its *.yaml and *.yml files at any depth,
    sorted (hidden ones aside: .git, .ehkeys). A file named twice (or reached again through a
    link) is read once, by its real path; a link that loops is a problem."""
    files: list[str] = []
    problems: list[Diagnostic] = []
    seen: set[Path] = set()
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            own, roots = walk(path)
            found = [str(p) for p in own]
            if not found:
                problems.append(Diagnostic(item, 0, 0, "", _empty(roots)))  # a folder: no line
        elif path.is_file():
            found = [item]
        else:
            found = []
            problems.append(
                Diagnostic(item, 0, 0, "", NOT_A_FILE if path.exists() else "no such file or directory")
            )
        for file in found:
            real = real_path(Path(file))
            if real is None:
                problems.append(Diagnostic(file, 0, 0, "", LOOP))
            elif real not in seen:
                seen.add(real)
                files.append(file)
    return files, problems


def _empty(roots: list[Path]) -> str:
    if not roots:
        return "directory holds no *.yaml manifest"
    named = ", ".join(str(root) for root in roots)
    return (
        f"directory holds no *.yaml manifest of its own, only directory manifests (folders holding "
        f"{SETTINGS_FILE}), each a manifest of its own: {named}"
    )


def walk(root: Path) -> tuple[list[Path], list[Path]]:
    """The YAML files under `root` (hidden ones aside), sorted; and the folders below it that
    hold a settings file, each a manifest of its own, whose files are not `root`'s."""
    found: list[Path] = []
    roots: list[Path] = []
    for folder, subfolders, names in os.walk(root):
        here = Path(folder)
        if here != root and SETTINGS_FILE in names and (here / SETTINGS_FILE).is_file():
            roots.append(here)
            subfolders[:] = []
            continue
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        chosen = (n for n in sorted(names) if is_manifest_file(n))
        found.extend(here / name for name in chosen)
    return found, roots


def real_path(path: Path) -> Path | None:
    """`path` with each link followed; None when its links loop."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):  # a loop: RuntimeError before Python 3.13, OSError from it
        return None
