"""Where a secret must never be written: a file git would track, or a path that is no regular
file. A file sink, `apply --secrets-out` and `reveal --out` refuse such a file; `validate` and
`plan` say so of a file sink ahead of the apply (`tracked_sinks`), at the sink's FILE:LINE. No
HTTP here: `validate`, a pre-commit hook, imports it.

Whether git would track a file is git's answer (`git check-ignore`). No git, or no repository
around the file: nothing to track it. Any other failure (a repository owned by another user,
"dubious ownership", as in a container's CI job; a broken config) fails closed: git cannot say,
so the file is refused, with git's own reason and what fixes it.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

from reconciler.core.keys import DesiredKey, Location
from reconciler.core.secrets import scrub
from reconciler.core.sinks import FileSink
from reconciler.manifest.diagnostics import Diagnostic

NOT_A_FILE = "not a regular file; secrets go only to a file (0600) or a terminal"
TRACKED = (
    "git would track this file (it is inside a repository and not ignored); "
    "write secrets outside the repository or to an ignored path"
)
LOOP = (
    "a loop of symbolic links (a link that leads back to itself): point the link at a file, or "
    "write the file's own path"
)
GIT_TIMEOUT = 10.0  # seconds git is given to answer
# git's answers (read in English) where no repository holds the file: outside any, or outside
# the one GIT_DIR names
_NOT_ITS_REPOSITORY = ("not a git repository", "is outside repository")
_GIT_ENV = {"LC_ALL": "C", "LANGUAGE": ""}  # git's messages untranslated: those above are recognised
# What names a repository to git rather than letting it find the one around a folder (git's
# "repository locations"; a hook runs with several set)
_ELSEWHERE = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
)


def unfollowed(path: Path) -> str:
    """Why `path` leads to no place a file could be ('' when it does): a loop of symbolic links,
    a name longer than the system takes. Asked before anything else of the path, which would
    raise on them (`resolve`, `exists`)."""
    try:
        path.resolve().exists()
        path.exists()
    except RuntimeError:  # Python before 3.13: a loop
        return LOOP
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return LOOP
        return f"cannot be followed to a file ({exc.strerror}): write a path this system can open"
    return ""


def not_a_file(path: Path) -> bool:
    """Only a regular file: /dev/stdout or a pipe would put the secret in a log."""
    return path.exists() and not path.resolve().is_file()


def why(path: Path) -> str:
    """Why git forbids a secret in this file ('' when it does not): `git add` would pick it up
    (TRACKED), or git cannot say, in a repository (`unanswered`). No git, or outside a
    repository: ''. Asked of the repository around the file; and when the environment names
    one (GIT_DIR: a dotfiles repository as yadm or vcsh set it), of that one too, as `git add`
    where ehkeys runs would answer: either one tracking it refuses it. A path that leads to no
    file (`unfollowed`) is refused too."""
    stuck = unfollowed(path)
    if stuck:
        return stuck
    target = path.resolve()
    found = _asked(["git", "-C", str(_existing(target.parent))], target, without=_ELSEWHERE)
    if found or not os.environ.get("GIT_DIR"):
        return found
    return _asked(["git"], target)


def _asked(git: list[str], target: Path, without: Sequence[str] = ()) -> str:
    """One repository's answer: `git` run as given, with this environment less `without`."""
    env = {k: v for k, v in os.environ.items() if k not in without}
    try:
        done = subprocess.run(
            [*git, "check-ignore", "-q", str(target)],
            capture_output=True,
            timeout=GIT_TIMEOUT,
            check=False,
            env={**env, **_GIT_ENV},
        )
    except FileNotFoundError:
        return ""  # no git: nothing to track it
    except subprocess.TimeoutExpired:
        return unanswered(f"git did not answer within {GIT_TIMEOUT:g} s", target.parent)
    except OSError as exc:
        return unanswered(f"git could not be run ({exc.strerror})", target.parent)
    if done.returncode in (0, 1):  # 0: ignored; 1: not ignored, so tracked
        return TRACKED if done.returncode == 1 else ""
    said = done.stderr.decode("utf-8", "replace")
    if done.returncode == 128 and any(words in said for words in _NOT_ITS_REPOSITORY):
        return ""  # no repository there, or not this file's: nothing of it tracks the file
    return unanswered(said, target.parent)


def unanswered(said: str, folder: Path) -> str:
    """git failed in a repository: the file is refused (it may be one git tracks), with git's
    reason (the first line it wrote) and how to fix it (the command git suggests, when it does)."""
    lines = [line.strip() for line in said.splitlines() if line.strip()]
    reason = lines[0].removeprefix("fatal: ") if lines else "it failed without a word"
    fix = next((line for line in lines if line.startswith("git config ")), "")
    how = f"run `{fix}` if you trust that repository" if fix else f"make `git -C {folder} status` work here"
    return (
        f"git cannot say whether it would track this file ({reason}); a secret is not written where "
        f"git might track it: {how}, or write secrets outside the repository"
    )


def _existing(folder: Path) -> Path:
    """The folder, or its nearest ancestor that exists (git is asked from there: a folder not
    made yet would be in the same repository)."""
    while not folder.is_dir() and folder.parent != folder:
        folder = folder.parent
    return folder


def tracked_sinks(keys: Iterable[DesiredKey]) -> list[tuple[DesiredKey, FileSink, str]]:
    """The file sinks of these keys (those `absent` left out) that git would track, or about
    which git cannot say, with why: the apply would refuse to create such a key. Each file is
    asked once."""
    asked: dict[Path, str] = {}
    found = []
    for key in (k for k in keys if not k.absent):
        for sink in (s for s in key.deliver if isinstance(s, FileSink)):
            if sink.target not in asked:
                asked[sink.target] = why(sink.target)
            found += [(key, sink, asked[sink.target])] if asked[sink.target] else []
    return found


def diagnostics(keys: Iterable[DesiredKey]) -> list[Diagnostic]:
    """`validate`'s error at each file sink git would track (or about which git cannot say), at
    the sink's FILE:LINE, naming its key (`keys[api].deliver`); a sink that `defaults` (a group,
    an account) gives several keys is said once, naming them."""
    places: dict[tuple[Location, str], list[DesiredKey]] = {}
    for key, sink, reason in tracked_sinks(keys):
        places.setdefault((sink.at or key.location, scrub(f"{sink.target}: {reason}")), []).append(key)
    return [_said(where, message, owners) for (where, message), owners in places.items()]


def _said(where: Location, message: str, owners: Sequence[DesiredKey]) -> Diagnostic:
    if len(owners) == 1:
        return Diagnostic(where.file, where.line, where.col, "deliver", message, key_id=owners[0].address)
    more = f" and {len(owners) - 3} more" if len(owners) > 3 else ""
    names = ", ".join(repr(k.address) for k in owners[:3]) + more
    return Diagnostic(where.file, where.line, where.col, "deliver", f"{message} (the sink of keys {names})")


def refusal(key: DesiredKey, sink: FileSink, reason: str = TRACKED) -> str:
    """`keys.yaml:7:9: .env: git would track this file ...` (the key's line when the sink has
    none)."""
    return scrub(f"{sink.at or key.location}: {sink.target}: {reason}")  # a token in its path hidden
