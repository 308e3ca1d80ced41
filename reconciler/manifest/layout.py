"""Layouts: which inputs make which manifest, and what each file of a manifest holds.

- A folder holding `ehkeys.yaml` is a *directory manifest*: its settings (version, accounts,
  defaults, caps, prune, ignore) are stated once, in that file; every other YAML file below it,
  subfolders included, holds keys. A folder below it that holds an `ehkeys.yaml` of its own is
  another manifest.
- A file (or folder) inside one belongs to the nearest folder above it that holds an
  `ehkeys.yaml` (looking up to the repository's root, the folder holding `.git`): naming one
  team file names its whole directory manifest, so cross-file rules are checked in full.
- A folder in no directory manifest is, as it always was, one manifest of its YAML files (each
  keeps its own `defaults`); each folder below it holding an `ehkeys.yaml` is its own manifest.
- Any other file is a manifest on its own. Several inputs are several manifests, in the order
  given, unless they belong to one (two files of one directory manifest; a file in a folder
  also given).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.core.pathnames import shown
from reconciler.manifest.diagnostics import Diagnostic
from reconciler.manifest.sources import SETTINGS_FILE, SUFFIXES, expand_paths, real_path, walk

STANDALONE = "manifest"  # a file that is a manifest (or one of a folder's): it may say anything
SETTINGS = "settings"  # a directory manifest's ehkeys.yaml: its settings (and keys, if it likes)
TEAM = "keys"  # another file of a directory manifest: keys (and their `account:`) only


@dataclass(frozen=True)
class Source:
    """One manifest: what to load (`manifest.load.load(source.inputs)`)."""

    inputs: tuple[str, ...]  # a file, or a folder (a directory manifest: its root)
    settings: str | None = None  # a directory manifest's settings file, `<root>/ehkeys.yaml`

    @property
    def root(self) -> str:
        """The path that names the manifest (its state folder, in messages): the file or folder."""
        return self.inputs[0]

    @property
    def shown(self) -> str:
        """The root as output names it (`pathnames.shown`: a name that is not UTF-8, escaped)."""
        return shown(self.root)


def manifests(inputs: Sequence[str]) -> list[tuple[str, ...]]:
    """Each manifest's inputs, in the order given: what to load, plan or validate on its own."""
    return [source.inputs for source in sources(inputs)]


def sources(inputs: Sequence[str]) -> list[Source]:
    """The manifests the inputs name, each once, in the order first named; a folder in no
    directory manifest names its own files' manifest and each directory manifest below it."""
    return _sources(inputs, below=True)


def _sources(inputs: Sequence[str], below: bool) -> list[Source]:
    folders = _folders(inputs)
    found: dict[Path, Source] = {}
    for item in inputs:
        for source in _sources_of(item, folders, below):
            found.setdefault(_real(Path(source.root)), source)
    return list(found.values())


def root_of(path: Path) -> Path | None:
    """The directory manifest a file or folder is in: the nearest folder at or above it holding
    `ehkeys.yaml`, up to the repository's root (None: in none, or the path does not exist)."""
    if not path.exists() or (path.is_file() and not path.name.endswith(SUFFIXES)):
        return None
    start = Path(os.path.abspath(path if path.is_dir() else path.parent))
    for folder in (start, *start.parents):
        if (folder / SETTINGS_FILE).is_file():
            return folder
        if (folder / ".git").exists():
            return None
    return None


def files(inputs: Sequence[str]) -> tuple[list[tuple[str, str]], list[Diagnostic]]:
    """The files of the one manifest the inputs make, each with what it holds (STANDALONE,
    SETTINGS or TEAM); a directory manifest named with anything else is a problem. A folder
    is its own files: the directory manifests below it are others (`sources` lists them)."""
    found = _sources(inputs, below=False)
    directory = next((s for s in found if s.settings), None)
    if directory is not None and len(found) > 1:
        return [], [_mixed(directory, other) for other in found if other is not directory]
    paths, problems = expand_paths([item for source in found for item in source.inputs])
    if directory is None or directory.settings is None:
        return [(path, STANDALONE) for path in paths], problems
    settings = Path(directory.settings).resolve()
    return [(path, SETTINGS if Path(path).resolve() == settings else TEAM) for path in paths], problems


def _mixed(directory: Source, other: Source) -> Diagnostic:
    message = (
        f"{directory.shown} is a directory manifest (it holds {SETTINGS_FILE}), a manifest of its own: "
        f"it is never merged with {other.shown}; give them to separate runs"
    )
    return Diagnostic(other.shown, 0, 0, "", message)  # a whole manifest: no line


def _sources_of(item: str, folders: dict[Path, str], below: bool) -> Iterator[Source]:
    path = Path(item)
    root = root_of(path)
    if root is not None:
        yield _directory_manifest(_shown(root, item))
        return
    outer = _enclosing(path, folders)
    if outer is not None or path.is_dir():
        yield from _folder(outer or item) if below else [Source((outer or item,))]
    else:
        yield Source((item,))


def _directory_manifest(root: str) -> Source:
    return Source((root,), str(Path(root) / SETTINGS_FILE))


def _folder(item: str) -> Iterator[Source]:
    """A folder in no directory manifest: one manifest of its files (if it has any, or it has
    no manifest below it either: then loading says it is empty), and each one below it."""
    own, roots = walk(Path(item))
    if own or not roots:
        yield Source((item,))
    for root in roots:
        yield _directory_manifest(str(root))


def _folders(inputs: Sequence[str]) -> dict[Path, str]:
    """The folders given that are in no directory manifest, by their real path."""
    return {Path(i).resolve(): i for i in inputs if Path(i).is_dir() and root_of(Path(i)) is None}


def _enclosing(path: Path, folders: dict[Path, str]) -> str | None:
    """The outermost folder given whose files include `path` (a file, or a folder below it)."""
    real = _real(path)
    for folder in sorted(folders, key=lambda f: len(f.parts)):
        if folder != real and real.is_relative_to(folder):
            inside = real.relative_to(folder).parts
            if not any(part.startswith(".") for part in inside) and (path.is_dir() or _read(path)):
                return folders[folder]
    return None


def _real(path: Path) -> Path:
    """Its real path; one whose links loop, as written (loading it says it reaches no file)."""
    return real_path(path) or Path(os.path.abspath(path))


def _read(path: Path) -> bool:
    """Whether a folder's reading takes this file (a YAML file: the others are skipped)."""
    return path.name.endswith(SUFFIXES)


def _shown(root: Path, item: str) -> str:
    """The root as the user would name it: as given, or relative to here when it was relative."""
    if Path(os.path.abspath(item)) == root:
        return item
    if Path(item).is_absolute():
        return str(root)
    try:
        return os.path.relpath(root)
    except ValueError:  # another drive
        return str(root)
