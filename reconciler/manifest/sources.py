"""Which files make a manifest: files as given, directories read recursively, each file once.

A folder below a directory that holds a settings file (`ehkeys.yaml`) is a directory manifest
of its own (see `layout`): a directory's files stop at it.

A path whose name is not UTF-8, or that reaches its file through a link whose target is not,
is refused here, named as `core.pathnames` shows it: every file a manifest reads is a name
ehkeys keeps (the saved plan lists them, the state names its manifest by where its links lead,
GitHub names a root's files), and those spell names in UTF-8."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from reconciler.core.pathnames import refusal, shown, undecodable
from reconciler.manifest.diagnostics import Diagnostic

SETTINGS_FILE = "ehkeys.yaml"
"""The settings of a directory manifest, at its root; the folder's other files hold keys."""
SUFFIXES = (".yaml", ".yml")  # a directory manifest's files
MAX_HOPS = 40  # links in one chain, as Linux follows them (MAXSYMLINKS)


def is_manifest_file(name: str) -> bool:
    """Whether a folder's file of this name is one of its manifest's (YAML, not hidden)."""
    return name.endswith(SUFFIXES) and not name.startswith(".")


NOT_A_FILE = "not a regular file (a device or a pipe): name a manifest file or a folder"
LOOP = "a link that reaches no file (its links loop): link it to a file, or remove it"


def expand_paths(inputs: Sequence[str]) -> tuple[list[str], list[Diagnostic]]:
    """Files as given; a directory contributes its *.yaml and *.yml files at any depth,
    sorted (hidden ones aside: .git, .ehkeys). A file named twice (or reached again through a
    link) is read once, by its real path; a link that loops is a problem, as is a name that is
    not UTF-8 (`unkept`)."""
    files: list[str] = []
    problems: list[Diagnostic] = []
    seen: set[Path] = set()
    for item in inputs:
        found, problem = _expanded(item)
        problems += [Diagnostic(shown(item), 0, 0, "", problem)] if problem else []  # no line
        for file in found:
            real, refused = real_path(Path(file)), _unkept_below(file, item)
            if real is None or refused:
                problems.append(Diagnostic(shown(file), 0, 0, "", refused or LOOP))
            elif real not in seen:
                seen.add(real)
                files.append(file)
    return files, problems


def _expanded(item: str) -> tuple[list[str], str | None]:
    """The files an input names, or why none."""
    path = Path(item)
    refused = unkept(item) if os.path.lexists(item) else None
    if refused:
        return [], refused
    if path.is_dir():
        own, roots = walk(path)
        return [str(p) for p in own], None if own else _empty(roots)
    if path.is_file():
        return [item], None
    return [], NOT_A_FILE if path.exists() else "no such file or directory"


def unkept(path: str) -> str | None:
    """Why ehkeys cannot keep `path` as a manifest's (None: it can): its name, or the target of a
    link the system follows reaching it, is not UTF-8."""
    if undecodable(path):
        return refusal()
    for link, target in followed(path):
        if undecodable(target):
            which = "" if link == path else f"{shown(link)} "
            return refusal(
                f"{which}links to {shown(target)}, a name that", "rename it, and point the link there"
            )
    return None


def _unkept_below(file: str, item: str) -> str | None:
    """`unkept` of a file of input `item` (already found kept): a walk enters no folder link, so
    only the file's own name and, if it is a link, where it leads are left to check."""
    if file == item or undecodable(file) or os.path.islink(file):
        return unkept(file)
    return None


def followed(path: str) -> list[tuple[str, str]]:
    """Each link the system follows reaching `path`, with its target as written, in order (a
    chain of MAX_HOPS at most: a loop is `real_path`'s to find)."""
    met: list[tuple[str, str]] = []
    here, rest = Path(), list(Path(path).parts)
    while rest and len(met) < MAX_HOPS:
        step = here / rest.pop(0)
        try:
            target = os.readlink(step)
        except OSError:  # no link (or nothing there): the next part is below it
            here = step
            continue
        met.append((str(step), target))
        rest = [*Path(target).parts, *rest]  # from the link's folder, or from / for an absolute one
    return met


def _empty(roots: list[Path]) -> str:
    if not roots:
        return "directory holds no *.yaml manifest"
    named = ", ".join(shown(str(root)) for root in roots)
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
