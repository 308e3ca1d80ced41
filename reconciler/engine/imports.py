"""`import`: a manifest for keys that already exist (onboarding), and with an output file the
state beside it, so that the first plan binds every key."""

from __future__ import annotations

import shlex
from pathlib import Path

from reconciler.core.errors import UsageError
from reconciler.core.keys import LiveKey
from reconciler.engine import loop
from reconciler.engine.console import Console
from reconciler.engine.settings import ImportSettings
from reconciler.engine.target import Target
from reconciler.manifest import schemafile
from reconciler.planning import importer
from reconciler.state import files, snapshots
from reconciler.state import paths as statepaths
from reconciler.state.store import State

EXISTS = (
    "the file exists; import writes a new manifest: name another file (then merge its keys by "
    "hand), or run `ehkeys plan` on this one: it lists the keys it lacks"
)


def run(settings: ImportSettings, console: Console) -> str:
    """The manifest's text; with `settings.out` it is written there (and the state beside it)."""
    if not settings.key_envs and not settings.every_key:
        raise UsageError("name the keys with --key-env VAR (repeatable), or pass --all")
    out, account = settings.out, importer.account_of(settings.account)
    if out and (Path(out).exists() or Path(out).is_symlink()):
        raise UsageError(f"--out {out}: {EXISTS}")
    if out:  # before the sandbox opens beside it: a refused --out leaves nothing behind
        schemafile.check_beside(Path(out))
    target = Target.of(settings.connection, [out] if out else [], account)
    text, bound = loop.run(_read(settings, target))
    if out:
        _write(out, text, bound, target, console)
        if target.is_sandbox:  # a sandbox of its own, beside the new manifest: said, not a surprise
            console.notice(_sandbox_read(out, settings.connection.sandbox_seed))
    else:
        console.notice(schemafile.UNNAMED)
    return text


async def _read(settings: ImportSettings, target: Target) -> tuple[str, dict[str, LiveKey]]:
    header = importer.header(target.account, schema=bool(settings.out))
    async with target.client() as client:
        if settings.every_key:
            return await importer.from_account(client, header)
        return await importer.from_env(client, settings.key_envs, header), {}


def _write(path: str, text: str, bound: dict[str, LiveKey], target: Target, console: Console) -> None:
    """The manifest, and each id's binding in the state beside it (two keys of one name need it),
    with a snapshot of each key as read: drift reports what changes after the import."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {path}: cannot write ({exc.strerror})") from exc
    schemafile.write_beside(Path(path))  # first: the manifest's modeline names it
    account = target.account.name if target.account.declared else None
    state = State(statepaths.default_state([path], target.is_sandbox, account), Path(path), account)
    for address, key in bound.items():
        state.bind(address, key.fingerprint)
        state.remember(key.fingerprint, snapshots.taken(key))
    state.flush()  # before the manifest: a manifest is never left without its keys' bindings
    try:
        files.create_new(Path(path), text)  # whole or not at all, never over a file or a link
    except FileExistsError as exc:
        raise UsageError(f"--out {path}: {EXISTS}") from exc
    except OSError as exc:
        raise UsageError(f"--out {path}: cannot write ({exc.strerror}); no manifest was written") from exc
    console.notice(f"wrote {path}; {_recorded(bound, state.path)}")


def _recorded(bound: dict[str, LiveKey], path: Path) -> str:
    """What the state beside the manifest holds now (none: the account had no keys to bind)."""
    if not bound:
        return "the account has no keys: no state was written (the first apply writes it)"
    plural = "key's binding" if len(bound) == 1 else "keys' bindings"
    return f"recorded its {len(bound)} {plural} in {path}"


def _sandbox_read(path: str, seed: str | None) -> str:
    """Which sandbox import read, and how plan reads the same account: with the seed given, which
    says whose account serves the manifest (without it, the bundled seed's would)."""
    box = statepaths.base([path]) / statepaths.SANDBOX_DB
    how = shlex.join(["plan", "--sandbox", "--sandbox-seed", seed]) if seed else "plan --sandbox"
    return f"read the sandbox {box}, beside the manifest, where {how} reads it"
