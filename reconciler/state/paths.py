"""Where ehkeys keeps what it remembers of a manifest: `.ehkeys/` beside it, a folder per manifest.

`team-a.yaml` keeps its state in `.ehkeys/team-a/state.json` (its journal and
`drift-seen.json` beside it), its sandbox runs in `.ehkeys/team-a/sandbox/`, and the
in-process sandbox's account in `.ehkeys/sandbox.db`: all beside the manifest, wherever
ehkeys runs from, so two manifests of one folder share the sandbox account but never a
state. A directory manifest `keys/` keeps them in `keys/.ehkeys/keys/`. With several
manifests the first one names the state. Every function here is the one place that says
so: the commands, the import and the GitOps state branch all go through it.

Earlier versions kept one state for every manifest of a folder, `.ehkeys/state.json`
(sandbox runs `.ehkeys/sandbox/state.json`): `legacy_state` names it, `statemigrate` moves it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from reconciler.core.errors import StateError
from reconciler.core.pathnames import refusal, shown, undecodable

FOLDER = ".ehkeys"
STATE_FILE = "state.json"
JOURNAL_FILE = "journal.jsonl"  # beside each state: the writes sent, replayed over it
SEEN_FILE = "drift-seen.json"  # beside each state: the unmanaged keys drift has reported
STATE_LOCK = ".state.lock"  # beside each state: held while it is rewritten
SANDBOX = "sandbox"
SANDBOX_DB = Path(FOLDER) / "sandbox.db"  # relative to the manifest's folder (an absolute one is kept)


def owner(manifests: Sequence[str]) -> Path:
    """The manifest whose state it is: the first one given (the working directory if none)."""
    return Path(manifests[0]) if manifests else Path(".")


def base(manifests: Sequence[str]) -> Path:
    """The folder that holds `.ehkeys/`: the manifest's own folder, or a directory manifest itself."""
    first = owner(manifests)
    return first if first.is_dir() else first.parent


def stem(manifests: Sequence[str]) -> str:
    """The state folder's name: the file's name less its extension, or the directory's name;
    `sandbox_` for a manifest named `sandbox` (or `sandbox.db`), whose folder would be the
    earlier versions' sandbox state or the sandbox's account."""
    first = owner(manifests)
    name = first.resolve().name if first.is_dir() else first.stem
    return name + "_" if name in (SANDBOX, SANDBOX_DB.name) else name


def default_state(manifests: Sequence[str], sandbox: bool, account: str | None = None) -> Path:
    """`<base>/.ehkeys/<stem>/state.json`; a sandbox run's in `<stem>/sandbox/`, so that a trial
    never teaches the real account's plan anything. An `account` a manifest declares has its
    own, `<stem>/<account>/state.json` (`<stem>/<account>/sandbox/`)."""
    folder = base(manifests) / FOLDER / stem(manifests)
    folder = folder / (account + "_" if account == SANDBOX else account) if account else folder
    path = (folder / SANDBOX if sandbox else folder) / STATE_FILE
    if undecodable(str(path)):  # a folder's own name (`ehkeys plan .` in it), or where its link leads
        what = f"the state of {shown(str(owner(manifests)))} would be kept in {shown(str(path))}, whose name"
        raise StateError(
            refusal(what, "rename the manifest's folder, or give the state's place with --state")
        )
    return path


def account_states(manifests: Sequence[str], sandbox: bool) -> dict[str, Path]:
    """The states kept for accounts of this manifest (`default_state` of each), by account name:
    also those of accounts it no longer declares."""
    folder = base(manifests) / FOLDER / stem(manifests)
    found: dict[str, Path] = {}
    for sub in sorted(folder.iterdir()) if folder.is_dir() else ():
        if sub.is_dir() and sub.name != SANDBOX:
            name = SANDBOX if sub.name == SANDBOX + "_" else sub.name
            path = default_state(manifests, sandbox, name)
            if path.is_file():
                found[name] = path
    return found


def legacy_state(manifests: Sequence[str], sandbox: bool) -> Path:
    """Where earlier versions kept the state of every manifest of this folder."""
    folder = base(manifests) / FOLDER
    return (folder / SANDBOX if sandbox else folder) / STATE_FILE


def recorded_name(state: Path, manifest: Path) -> str:
    """How a state file names its manifest: the path from the state's folder (POSIX), so that
    it holds wherever the checkout is."""
    relative = Path(os.path.relpath(manifest.resolve(), state.parent.resolve())).as_posix()
    if undecodable(relative):  # a folder above the manifest, from a --state elsewhere
        what = f"{shown(str(state))} would name its manifest {shown(relative)} (the path from it), whose name"
        raise StateError(
            refusal(what, "keep the state beside the manifest (drop --state), or rename the folder")
        )
    return relative


def recorded_path(state: Path, recorded: str) -> Path:
    """The manifest a state file names, as a path from the working directory where it can be."""
    absolute = (state.parent / recorded).resolve()
    try:
        return Path(os.path.relpath(absolute))
    except ValueError:  # another drive
        return absolute


def same_manifest(state: Path, recorded: str, manifest: Path) -> bool:
    return (state.parent / recorded).resolve() == manifest.resolve()


def owned_by(path: Path, recorded: str | None, manifest: Path | None) -> str | None:
    """The manifest the state at `path` names from now on; StateError when it is another's."""
    if manifest is None:
        return recorded
    if recorded is not None and not same_manifest(path, recorded, manifest):
        raise StateError(
            f"{path} is the state of the manifest {recorded_path(path, recorded)}, not of {manifest}: "
            f"it binds that manifest's ids to its live keys, which {manifest} would take over. Give "
            f"{manifest} its own state: given with --state, drop it (each manifest has its own, in "
            ".ehkeys/<its name>/ beside it) or pass a new path; found where ehkeys keeps it (a manifest "
            "renamed or copied?), move it to the manifest it names, or name the manifest back"
        )
    return recorded_name(path, manifest)


def account_of(path: Path, recorded: str | None, account: str | None) -> str | None:
    """The account the state at `path` is of from now on; StateError when it is another's."""
    if account is not None and recorded is not None and recorded != account:
        raise StateError(
            f"{path} is the state of the account {recorded!r}, not of {account!r}: it binds that "
            f"account's keys. Give {account!r} its own state: drop --state (each account has its "
            "own, in .ehkeys/<manifest>/<account>/ beside the manifest), or pass --state with a new path"
        )
    return account or recorded
