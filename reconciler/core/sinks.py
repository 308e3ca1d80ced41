"""Where a key's value goes once it exists: its sinks (`deliver:` in the manifest), and what a
delivery did. Values only: what a sink names, never a key's value. `reconciler.delivery` does
the writing; `describe()` is how a plan and a report name a sink (`github_secret acme/api:EH_KEY`),
`ident` how the journal and the state know it again (the same sink, run after run). Two sinks of
one key never describe alike: each says what its ident says, a command's words shortened. Neither
holds a secret a command's words or a file's or Vault path name (`scrub`): an ident holding one
is as shown, with a digest of it.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.core.secrets import scrub

if TYPE_CHECKING:
    from reconciler.core.keys import Location

COMMAND_TIMEOUT = 60.0  # seconds a command sink may take, unless it says otherwise
COMMAND_SHOWN = 72  # characters of a command's words a plan or a report shows; past them, `…`
GITHUB_TOKEN_VAR = "GITHUB_TOKEN"
VAULT_MOUNT = "secret"
NOT_AN_ENV_FILE = (
    "a YAML or JSON file (a manifest, a state, a plan), or one ehkeys keeps beside a state (a "
    "journal, a lock, the sandbox's database): a NAME=value line would break it and put the secret "
    "where it is kept or committed; write secrets to an env file, like app.env"
)


def not_an_env_file(path: Path | str) -> bool:
    """A file `NAME=value` lines must never go into: the manifest itself (outside a repository
    git tracks nothing, so only its name says so), a state, a saved plan, a journal (its lines of
    writes sent, which a replay reads), a lock, the sandbox's database."""
    return Path(path).suffix.lower() in (".yaml", ".yml", ".json", ".jsonl", ".lock", ".db")


@dataclass(frozen=True)
class FileSink:
    """An env file of `NAME=value` lines, 0600: `name`'s line is replaced, others kept."""

    path: str  # as the manifest writes it
    name: str  # the variable (default: the key's, EH_KEY_<ADDRESS>)
    folder: str = ""  # the manifest file's folder: a relative path is from there
    at: Location | None = field(default=None, compare=False)  # where the manifest writes it

    @property
    def target(self) -> Path:
        path = Path(self.path).expanduser()
        return path if path.is_absolute() or not self.folder else Path(self.folder) / path

    def describe(self) -> str:
        """`file app.env#OPENAI_API_KEY` (one file may take two variables), anything key- or
        token-shaped in its path redacted, as a command's words are."""
        return f"file {scrub(self.path)}#{self.name}"  # the variable's name is no secret

    @property
    def ident(self) -> str:
        return _ident("file", f"{self.path}#{self.name}")  # as written: the same in every checkout


@dataclass(frozen=True)
class CommandSink:
    """A command run with the value on its standard input, never in argv or its environment."""

    argv: tuple[str, ...]
    timeout: float = COMMAND_TIMEOUT

    def describe(self) -> str:
        """`command gh secret set EH_KEY --repo acme/api`: its words as the manifest writes them
        (a `${VAR}` in them is a word ehkeys never expands, so no variable's value), on one line,
        anything key-shaped redacted, and past COMMAND_SHOWN characters shortened in the middle
        with `…`: its program's start and its end (where a target is often named) stay."""
        words = " ".join(scrub(shlex.join(self.argv)).split())
        if len(words) > COMMAND_SHOWN:
            head = (COMMAND_SHOWN - 1) * 2 // 3
            words = words[:head] + "…" + words[head - COMMAND_SHOWN + 1 :]
        return f"command {words}"

    @property
    def ident(self) -> str:
        return _ident("command", shlex.join(self.argv))


_SCRUBBED = ("command", "file", "vault")  # the kinds whose ident is written by `_ident`


def _ident(kind: str, words: str) -> str:
    """How the journal and the state (pushed to the state branch) know a command, file or Vault
    sink: its words (a command's, a file's path and variable, a Vault secret's mount, path and
    field); words holding a secret (a token, a key: what `scrub` hides) as shown, with a digest
    of the whole words, which tells two such sinks apart and says nothing of the secret."""
    shown = scrub(words)
    if shown == words:
        return f"{kind} {words}"
    return f"{kind} {shown} #{hashlib.sha256(words.encode()).hexdigest()[:16]}"


def known_as(ident: str) -> str:
    """A sink's ident as this version writes it: a command's words, a file's or a Vault path
    holding a secret, which an earlier ehkeys recorded whole in the state and journal, become
    the sink's `ident`; any other is as it was."""
    kind, _, words = ident.partition(" ")
    return _ident(kind, words) if kind in _SCRUBBED and words else ident


def program_missing(program: str, path: str) -> str:
    """Why a command sink's `program` (its argv[0]) cannot be run ('' when it can): a bare name
    looked up on `path` (a PATH's value), else the file itself. The sink refuses it before
    anything is sent, and `validate --strict` notices it."""
    if shutil.which(program, path=path) is not None:
        return ""
    if os.sep in program:
        return f"{program} does not exist or is not executable"
    return f"{program} is not a command on PATH"


@dataclass(frozen=True)
class GitHubSecretSink:
    """A GitHub Actions secret of a repository, or of one of its environments."""

    repo: str  # OWNER/REPO
    name: str
    environment: str | None = None
    token_var: str = GITHUB_TOKEN_VAR  # the variable holding a token that may write it

    def describe(self) -> str:
        where = f" (environment {self.environment})" if self.environment else ""
        return f"github_secret {self.repo}:{self.name}{where}"

    @property
    def ident(self) -> str:
        return self.describe()


@dataclass(frozen=True)
class VaultSink:
    """One field of a HashiCorp Vault KV v2 secret (its other fields kept)."""

    path: str
    field: str
    mount: str = VAULT_MOUNT

    def describe(self) -> str:
        """`vault secret/apps/api#key`, anything key- or token-shaped in it redacted."""
        return f"vault {scrub(f'{self.mount}/{self.path}')}#{scrub(self.field)}"

    @property
    def ident(self) -> str:
        return _ident("vault", f"{self.mount}/{self.path}#{self.field}")


Sink = FileSink | CommandSink | GitHubSecretSink | VaultSink


@dataclass(frozen=True)
class Recipient:
    """Whose value a sink gets: the key's address as shown (`prod/backend`), its name, its
    account, and its variable (`EH_KEY_PROD_BACKEND`). Never its value."""

    address: str
    name: str
    account: str
    variable: str


@dataclass(frozen=True)
class Delivered:
    """One sink's delivery of one key: done, or why not (never the value)."""

    address: str  # as shown
    sink: str  # `describe()`
    ok: bool
    message: str = ""
    warning: str = ""  # delivered, but where it may not last (a file on a runner thrown away)

    def line(self) -> str:
        """`prod/backend → github_secret acme/api:EH_KEY: delivered`, or why it failed; delivered
        where it may not last, `delivered, but ...` why."""
        said = "delivered" if self.ok else f"failed: {self.message}"
        but = f", but {self.warning}" if self.ok and self.warning else ""
        return f"{self.address} → {self.sink}: {said}{but}"


@dataclass(frozen=True)
class DeliveryOutcome:
    """Every sink of one key, each on its own."""

    address: str
    results: tuple[Delivered, ...] = ()

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def failed(self) -> tuple[Delivered, ...]:
        return tuple(r for r in self.results if not r.ok)
