"""`deliver:`: a key's sinks. The first of these that sets `deliver` gives the key its list, whole:
the key itself, its group's defaults, its account (`accounts.NAME.deliver`), the manifest's
defaults. What the schema cannot say is checked here, each problem at its FILE:LINE: one kind per
sink, `name` only on a file and `timeout` only on a command, a GitHub secret's name, one sink
named twice; and across keys (`clashes`), two keys writing one place. A name left out is the key's
variable (`EH_KEY_PROD_BACKEND`), so `deliver:` in defaults gives every key its own secret.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from reconciler.core.accounts import DEFAULT_KEY_VAR, Account
from reconciler.core.keys import DesiredKey
from reconciler.core.sinks import (
    COMMAND_TIMEOUT,
    GITHUB_TOKEN_VAR,
    NOT_AN_ENV_FILE,
    VAULT_MOUNT,
    CommandSink,
    FileSink,
    GitHubSecretSink,
    Sink,
    VaultSink,
    not_an_env_file,
)
from reconciler.manifest.addresses import variable
from reconciler.manifest.diagnostics import Diagnostic
from reconciler.manifest.keycontext import Given, KeyContext, Path, Source

KINDS = ("file", "command", "github_secret", "vault")
PATTERN_MESSAGES = {
    "repo": "must be OWNER/REPO, as in github.com/OWNER/REPO",
    "name": "must be letters, digits and '_', not starting with a digit (a secret's or variable's name)",
    "token": (
        "must be a reference to the environment variable that holds the token, as ${VAR} "
        "(${DEPLOY_TOKEN}): a token is a secret, never written in the manifest"
    ),
}
"""The messages of the schema's patterns under `deliver:`, by field."""
_VAR = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_DEVICES = ("/dev/", "/proc/", "/sys/")  # never a regular file: the value would go to a stream
_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")  # the schema's, whole (its $ lets a newline by)
_CLIMBS = {"", ".", ".."}  # path parts a URL would resolve away: the request would go elsewhere


def attach(key: DesiredKey, sources: Sequence[Given], context: KeyContext) -> DesiredKey | None:
    """The key with its sinks (from the first source that sets `deliver`, the account's before the
    manifest's defaults, the last of `sources`); None when they are wrong (said)."""
    account = (context.deliveries or {}).get(key.account)
    ordered = (*sources[:-1], *([account] if account else []), *sources[-1:])
    shown = f"{key.account}/{key.address}" if context.accounts is not None else key.address
    for owner, at, given in ordered:
        if "deliver" in given:
            found = read(owner, (*at, "deliver"), given["deliver"], variable(shown))
            return None if found is None else dataclasses.replace(key, deliver=found)
    return key


def read(owner: Source, path: Path, raw: Any, name: str) -> tuple[Sink, ...] | None:
    """A `deliver` list, each sink's names defaulting to `name`; None when any is wrong (said)."""
    if path in owner.bad_paths or not isinstance(raw, list):
        return None
    found: list[Sink] = []
    for index, item in enumerate(raw):
        sink = _sink(owner, (*path, index), item, name)
        if sink is not None and any(s.ident == sink.ident for s in found):
            owner.report((*path, index), f"{sink.describe()} is named twice: deliver to it once")
            sink = None
        found += [sink] if sink is not None else []
    return tuple(found) if len(found) == len(raw) else None


def _bad(owner: Source, path: Path) -> bool:
    """The schema found something wrong at or below `path` (and said so)."""
    return any(bad[: len(path)] == path for bad in owner.bad_paths)


def _sink(owner: Source, at: Path, item: Any, name: str) -> Sink | None:
    if not isinstance(item, dict) or _bad(owner, at):
        return None
    kinds = [kind for kind in KINDS if kind in item]
    if len(kinds) != 1:
        named = " and ".join(kinds) if kinds else "none of them"
        owner.report(at, f"a sink is one of {', '.join(KINDS)}; this one names {named}: one sink each")
        return None
    for extra, only in (("name", "file"), ("timeout", "command")):
        if extra in item and kinds[0] != only:
            owner.report((*at, extra), f"{extra}: is for a {only} sink, not {kinds[0]}")
            return None
    nul = next((where for where, text in _texts(item, at) if "\0" in text), None)
    if nul is not None:
        owner.report(nul, "holds a NUL character (\\0): no path, name or program can")
        return None
    return _made(owner, at, kinds[0], item, name)


def _texts(value: Any, at: Path) -> Iterator[tuple[Path, str]]:
    """Every string of a sink, with its path."""
    if isinstance(value, str):
        yield at, value
    elif isinstance(value, dict):
        for field, inner in value.items():
            yield from _texts(inner, (*at, field))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _texts(inner, (*at, index))


def _made(owner: Source, at: Path, kind: str, item: dict[str, Any], name: str) -> Sink | None:
    if kind == "file":
        return _file(owner, (*at, "file"), item, name)
    if kind == "command":
        timeout = item.get("timeout", COMMAND_TIMEOUT)
        return CommandSink(tuple(str(a) for a in item["command"]), float(Decimal(str(timeout))))
    if kind == "vault":
        return _vault(owner, (*at, "vault"), item["vault"], name)
    return _github(owner, (*at, "github_secret"), item["github_secret"], name)


def _file(owner: Source, at: Path, item: dict[str, Any], name: str) -> FileSink | None:
    path = str(item["file"])
    if path.endswith("/"):
        owner.report(at, f"{path} names a folder: give the file's own path ({path}app.env)")
        return None
    if path.startswith(_DEVICES):
        owner.report(at, f"{path} is not a regular file: a secret goes only to a file (0600), never a stream")
        return None
    if not_an_env_file(path):
        owner.report(at, f"{path} is {NOT_AN_ENV_FILE}")
        return None
    try:
        pathlib.Path(path).expanduser()
    except RuntimeError:
        owner.report(at, f"{path}: {_no_home(path)}")
        return None
    return FileSink(path, str(item.get("name", name)), os.path.dirname(owner.file), owner.location(at))


def _no_home(path: str) -> str:
    """Why a path's `~` or `~USER` names no folder here."""
    user = path[1:].split("/", 1)[0]
    if user:
        return (
            f"~{user} is the home folder of the user {user}, not known on this machine: write the full path"
        )
    return (
        "~ is the home folder, but HOME is not set (and this user has none): set HOME or write the full path"
    )


def _github(owner: Source, at: Path, raw: dict[str, Any], name: str) -> GitHubSecretSink | None:
    secret = str(raw.get("name", name))
    if secret.upper().startswith("GITHUB_"):
        where = (*at, "name") if "name" in raw else at
        owner.report(where, f"{secret}: GitHub refuses secret names that start with GITHUB_")
        return None
    if not _REPO.fullmatch(str(raw["repo"])):
        owner.report((*at, "repo"), f"{PATTERN_MESSAGES['repo']} (got {str(raw['repo'])!r})")
        return None
    for field, parts in (("repo", str(raw["repo"]).split("/")), ("environment", [raw.get("environment")])):
        if set(parts) & {".", ".."}:
            owner.report(
                (*at, field), f"{raw[field]}: . and .. name no {field} (the request would go elsewhere)"
            )
            return None
    match = _VAR.match(str(raw.get("token", "")))
    token = match.group(1) if match else GITHUB_TOKEN_VAR
    return GitHubSecretSink(str(raw["repo"]), secret, raw.get("environment"), token)


def _vault(owner: Source, at: Path, raw: dict[str, Any], name: str) -> VaultSink | None:
    path, mount = str(raw["path"]).strip("/"), str(raw.get("mount", VAULT_MOUNT)).strip("/")
    for field, value in (("path", path), ("mount", mount)):
        if not value:
            owner.report((*at, field), f"{field} names no path (only slashes)")
            return None
        if set(value.split("/")) & _CLIMBS:
            owner.report(
                (*at, field),
                f"{value}: an empty, . or .. part would send the value to another path than the one written",
            )
            return None
    return VaultSink(path, str(raw.get("field", name)), mount)


def clashes(keys: Iterable[DesiredKey], declared: bool) -> list[Diagnostic]:
    """An error on each key that writes where an earlier key writes (a file's variable, a
    secret, a Vault field): one value would overwrite the other. Commands may be shared."""
    first: dict[str, tuple[DesiredKey, Sink]] = {}
    found = []
    for key in (k for k in keys if not k.absent):
        for sink in (s for s in key.deliver if not isinstance(s, CommandSink)):
            other, theirs = first.setdefault(_place(sink), (key, sink))
            if other is not key:
                found.append(_clash(key, other, sink, theirs, declared))
    return found


def _place(sink: Sink) -> str:
    """Where a sink writes, however it is spelled: a file's real path, as the sink resolves it
    (from the manifest's folder, each link followed: app.env, ./app.env, its absolute path and a
    link to it are one file); a GitHub secret without case, as GitHub names them."""
    if isinstance(sink, FileSink):
        return f"file {os.path.realpath(sink.target)}#{sink.name}"
    return sink.ident.upper() if isinstance(sink, GitHubSecretSink) else sink.ident


def account_tokens(keys: Iterable[DesiredKey], accounts: Iterable[Account]) -> list[Diagnostic]:
    """An error on each GitHub secret whose token variable holds an account's key: the key of the
    ElectronHub account would be sent to GitHub as a bearer token."""
    owned = {DEFAULT_KEY_VAR, *(a.key_var for a in accounts if a.key_var)}
    found = []
    for key in keys:
        for sink in key.deliver:
            if isinstance(sink, GitHubSecretSink) and sink.token_var in owned:
                message = (
                    f"{sink.describe()}: its token, ${{{sink.token_var}}}, holds an ElectronHub account key, "
                    "which would be sent to GitHub: name the variable that holds a GitHub token"
                )
                at = key.location
                found.append(Diagnostic(at.file, at.line, at.col, "deliver", message, key_id=key.address))
    return found


def _clash(key: DesiredKey, other: DesiredKey, sink: Sink, theirs: Sink, declared: bool) -> Diagnostic:
    def shown(k: DesiredKey) -> str:
        return f"{k.account}/{k.address}" if declared else k.address

    where, there = _written(sink), _written(theirs)
    also = (
        f" (to {there}: the same {'file' if isinstance(sink, FileSink) else 'secret'})"
        if there != where
        else ""
    )
    message = (
        f"{shown(key)} delivers to {where}, as {shown(other)} at {other.location} does{also}: one value "
        "would overwrite the other; give one of them another name"
    )
    return Diagnostic(key.location.file, key.location.line, key.location.col, "deliver", message)


def _written(sink: Sink) -> str:
    """A sink as the manifest spells it: `file ./app.env#OPENAI_API_KEY`."""
    return sink.describe()
