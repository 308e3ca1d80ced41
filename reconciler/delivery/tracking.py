"""Where a secret must never be written: a file git would track, or a path that is no regular
file. A file sink, `apply --secrets-out` and `reveal --out` refuse such a file; `validate` and
`plan` say so of a file sink ahead of the apply (`tracked_sinks`), at the sink's FILE:LINE. No
HTTP here: `validate`, a pre-commit hook, imports it."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path

from reconciler.core.keys import DesiredKey
from reconciler.core.sinks import FileSink

NOT_A_FILE = "not a regular file; secrets go only to a file (0600) or a terminal"
TRACKED = (
    "git would track this file (it is inside a repository and not ignored); "
    "write secrets outside the repository or to an ignored path"
)


def not_a_file(path: Path) -> bool:
    """Only a regular file: /dev/stdout or a pipe would put the secret in a log."""
    return path.exists() and not path.resolve().is_file()


def tracked(path: Path) -> bool:
    """Whether `git add` would pick the file up (no git, or outside a repository: no)."""
    folder = path.resolve().parent
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), "check-ignore", "-q", str(path.resolve())],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 1


def tracked_sinks(keys: Iterable[DesiredKey]) -> list[tuple[DesiredKey, FileSink]]:
    """The file sinks of these keys (those `absent` left out) that git would track: the apply
    would refuse to create such a key. Each file is asked once."""
    asked: dict[Path, bool] = {}
    found = []
    for key in (k for k in keys if not k.absent):
        for sink in (s for s in key.deliver if isinstance(s, FileSink)):
            if sink.target not in asked:
                asked[sink.target] = tracked(sink.target)
            found += [(key, sink)] if asked[sink.target] else []
    return found


def refusal(key: DesiredKey, sink: FileSink) -> str:
    """`keys.yaml:7:9: .env: git would track this file ...` (the key's line when the sink has
    none)."""
    return f"{sink.at or key.location}: {sink.target}: {TRACKED}"
