"""The folder a pull request's base is written into, as a checkout holds it (`gitops.basetree`
reads the base through the contents API into it; `gitops.basefiles` copies the checkout's files
the PR leaves alone): each file at its path, each link a link to its target's path there, and
an empty stand-in for another manifest's settings file. Nothing is written below a link
written here: no checkout has such a path (git keeps no file below a link), and one would lead
out of the folder, where a hostile answer could write, or read a runner's file.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from reconciler.gitops.basehops import TOP
from reconciler.gitops.hub import GitHubError


class BaseFolder:
    """`folder`, the base's files and links written into it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.stand_ins: set[str] = set()  # other manifests' settings files, unread: empty
        self.written: dict[str, str] = {}  # the links written: path -> target, from the top
        self.real: set[str] = set()  # folders here, none a link nor below one (`_place`)

    def _linked(self, path: str) -> bool:
        """Whether a folder above `path` is a link written here (its target read as the link's)."""
        parts = PurePosixPath(path).parts
        return any(self.folder.joinpath(*parts[:depth]).is_symlink() for depth in range(1, len(parts)))

    def stand_in(self, path: str) -> None:
        """An empty stand-in for another manifest's settings file, which stops the loader's walk."""
        if self._missing(path):
            self.write(path, b"")
            self.stand_ins.add(path)

    def link(self, path: str, target: str) -> None:
        """A link of the base to `target` (a path from the repository's top), as a checkout holds it."""
        self._symlink(path, target)

    def write(self, path: str, data: bytes) -> None:
        """A file of the base; one already there is the same file of the base (or its link)."""
        if not self._missing(path):
            return
        self.stand_ins.discard(path)
        target = self._place(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def _missing(self, path: str) -> bool:
        """Whether `path` is not in the folder yet (a stand-in is not what it stands for)."""
        return path in self.stand_ins or not os.path.lexists(self._place(path))

    def _symlink(self, path: str, target: str) -> None:
        """Link `path` to `target` (a path from the top, maybe through a link written here; `.`
        the top itself)."""
        link, to = self._place(path), self.folder if target == TOP else self._valid(target)
        if path in self.stand_ins:
            link.unlink()
            self.stand_ins.discard(path)
        if not os.path.lexists(link):
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(os.path.relpath(to, link.parent))
            self.written[path] = target

    def _place(self, path: str) -> Path:
        """Where `path`, a path in the repository, goes in the folder. A path through a link
        written here is no checkout's (git keeps no file below a link), and would lead out."""
        place, parts, checked = self._valid(path), PurePosixPath(path).parts, []
        for depth in range(len(parts) - 1, 0, -1):  # the nearest folder first, up to a real one
            folder = os.path.join(self.folder, *parts[:depth])
            if folder in self.real:
                break  # each folder checked once (a folder 700 deep: its file is not 700 checks)
            if os.path.islink(folder):
                below = "/".join(parts[:depth])
                raise GitHubError(f"GitHub API GET /contents: {path!r} is below the link {below!r}")
            checked.append(folder)
        self.real.update(folder for folder in checked if os.path.isdir(folder))  # never a link later
        return place

    def _valid(self, path: str) -> Path:
        """Where `path` is in the folder, as its text says (GitHubError: not a path in the repository)."""
        parts = PurePosixPath(path).parts
        if not parts or ".." in parts or PurePosixPath(path).is_absolute() or not _spelled(path):
            raise GitHubError(f"GitHub API GET /contents: {path!r} is not a path in the repository")
        return self.folder.joinpath(*parts)


def _spelled(path: str) -> bool:
    """Whether a file system can spell `path`: no NUL, no surrogate that stands for no byte (JSON's
    `\\ud800`; a name that is not UTF-8, as os.fsdecode gives it, is \\udc80-\\udcff)."""
    try:
        return b"\0" not in os.fsencode(path)
    except UnicodeEncodeError:
        return False
