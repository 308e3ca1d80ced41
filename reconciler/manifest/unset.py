"""The variables a manifest names for secrets that plan, apply and deliver read, but that are
not set: an account's key (`accounts.prod.api_key: ${EH_PROD_API_KEY}`), a GitHub secret
sink's token (`token: ${DEPLOY_TOKEN}`), and those a Vault sink reads (VAULT_ADDR and
VAULT_TOKEN, named by the sink itself); and a command sink's program that is not there.
`validate` needs no secret, so each is a notice (`validate --strict` shows them; never a
failure, as a proxy key's unset variable is): a developer's machine need not hold what CI sets.
A notice names the variable, never a value."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from typing import Any

from reconciler.core.sinks import program_missing
from reconciler.manifest.diagnostics import NOTICE, Diagnostic, key_id, path_text
from reconciler.manifest.fileload import FileLoader

_VAR = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
Path = tuple[Any, ...]


def notices(loaders: list[FileLoader], env: Mapping[str, str]) -> list[Diagnostic]:
    """A notice at each reference to a variable that is not set (or is empty), and at each
    command sink whose program is not there."""
    found = []
    for loader in loaders:
        for path, message in (*_unset(loader.data, env), *_commands(loader.data, env)):
            if path in loader.bad_paths:
                continue
            where, named = loader.location(path), key_id(loader.data, path)
            found.append(
                Diagnostic(loader.file, where.line, where.col, path_text(path), message, NOTICE, named)
            )
    return found


def _unset(data: dict[str, Any], env: Mapping[str, str]) -> Iterator[tuple[Path, str]]:
    for path, name, need in (*_named(data), *_vault(data)):
        if not env.get(name):
            yield path, f"environment variable {name} {'is empty' if name in env else 'is not set'}: {need}"


def _commands(data: dict[str, Any], env: Mapping[str, str]) -> Iterator[tuple[Path, str]]:
    """Each command sink whose program is not there (not on PATH, or not executable), as the
    sink finds it before anything is sent."""
    for at in _deliver_lists(data):
        sinks = _at(data, at)
        for index in range(len(sinks) if isinstance(sinks, list) else 0):
            argv = _at(data, (*at, index, "command"))
            program = argv[0] if isinstance(argv, list) and argv else None
            if isinstance(program, str) and program and "\0" not in program:
                problem = program_missing(program, env.get("PATH", os.defpath))
                if problem:
                    yield (*at, index, "command"), f"{problem}: apply and deliver need it to run this sink"


def _named(data: dict[str, Any]) -> Iterator[tuple[Path, str, str]]:
    """Each `${VAR}` a secret's field names: where, the variable, what needs it."""
    for path, need in _references(data):
        text = _at(data, path)
        variable = _VAR.match(text) if isinstance(text, str) else None
        if variable is not None:
            yield path, variable[1], need


def _vault(data: dict[str, Any]) -> Iterator[tuple[Path, str, str]]:
    """The variables each Vault sink reads, at the sink (no field of the manifest names them)."""
    for at in _deliver_lists(data):
        sinks = _at(data, at)
        for index in range(len(sinks) if isinstance(sinks, list) else 0):
            if isinstance(_at(data, (*at, index, "vault")), dict):
                for name in ("VAULT_ADDR", "VAULT_TOKEN"):
                    yield (*at, index, "vault"), name, "apply and deliver need it to write this secret"


def _references(data: dict[str, Any]) -> Iterator[tuple[Path, str]]:
    """Where a file may name a secret's variable, and what needs it."""
    accounts = data.get("accounts")
    for name in accounts if isinstance(accounts, dict) else ():
        yield ("accounts", name, "api_key"), f"plan and apply need it (the key of account {name})"
    for at in _deliver_lists(data):
        sinks = _at(data, at)
        for index in range(len(sinks) if isinstance(sinks, list) else 0):
            yield (*at, index, "github_secret", "token"), "apply and deliver need it to write this secret"


def _deliver_lists(data: dict[str, Any]) -> Iterator[Path]:
    """Every place a `deliver:` list may be: the defaults, each account's, each group's
    defaults, each key's."""
    yield ("defaults", "deliver")
    for section, inner in (("accounts", ()), ("groups", ("defaults",))):
        named = data.get(section)
        yield from ((section, name, *inner, "deliver") for name in (named if isinstance(named, dict) else ()))
    keys = data.get("keys")
    yield from (("keys", index, "deliver") for index in range(len(keys) if isinstance(keys, list) else 0))


def _at(data: Any, path: Path) -> Any:
    """The value at `path`, or None where there is none."""
    for part in path:
        if isinstance(data, dict) and not isinstance(part, int):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return None
    return data
