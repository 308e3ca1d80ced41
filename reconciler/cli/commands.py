"""The commands that talk to the API: plan, drift, import, reveal (apply is in applycmd).

Each returns an exit code; errors are raised and become messages in `cli.main`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TextIO

from reconciler.api.client import RetryPolicy
from reconciler.core.errors import EhkeysError, UsageError
from reconciler.core.heap import frozen_heap
from reconciler.core.keys import LiveKey
from reconciler.core.plan import Plan
from reconciler.engine import Target, build_plan, desired
from reconciler.manifest import diagnostics, schemafile
from reconciler.manifest import load as manifest
from reconciler.render import plan as render
from reconciler.state import migrate as statemigrate
from reconciler.state import paths as statepaths
from reconciler.state import saved_plan as planfile
from reconciler.state import snapshots
from reconciler.state.store import State


class ManifestInvalid(EhkeysError):
    """The manifest has errors (already printed)."""


def load_manifest(paths: list[str]) -> manifest.Manifest:
    result = manifest.load(paths)
    diagnostics.render(result.diagnostics, "text", sys.stderr)
    if result.manifest is None:
        raise ManifestInvalid(f"the manifest has {len(result.errors)} error(s); nothing was sent")
    return result.manifest


def money_option(text: str | None, flag: str) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise UsageError(f"{flag} {text!r}: expected an amount of credits, like 25 or 12.50") from None
    if not value.is_finite():
        raise UsageError(f"{flag} {text!r}: expected a finite amount")
    return value


def context(args: argparse.Namespace) -> tuple[manifest.Manifest, State, Target]:
    """The manifest, its state (a sandbox run keeps its own), and where the API is."""
    loaded = load_manifest(args.manifests)
    target = sandboxed(args, args.manifests)
    path = state_path(args, target.is_sandbox)
    if not args.state:
        statemigrate.adopt_legacy(args.manifests, target.is_sandbox)
    if args.sandbox and args.sandbox_reset and not args.state:
        _start_over(path)  # the sandbox starts afresh: so does what ehkeys remembered of it
    return loaded, State(path, statepaths.owner(args.manifests)), target


def sandboxed(args: argparse.Namespace, manifests: list[str]) -> Target:
    """Where the API is: with --sandbox, the in-process one whose account is beside `manifests`."""
    return Target.from_options(
        args.sandbox, args.sandbox_reset, args.base_url, args.sandbox_seed, manifests=manifests
    )


def _start_over(state: Path) -> None:
    for name in (state.name, "journal.jsonl", "drift-seen.json"):
        (state.parent / name).unlink(missing_ok=True)


def state_path(args: argparse.Namespace, sandbox: bool) -> Path:
    """`--state`, else the manifest's own (`statepaths.default_state`: `.ehkeys/<name>/state.json`
    beside it; the sandbox's in `.ehkeys/<name>/sandbox/`, so a trial on the sandbox never
    teaches the real account's plan anything)."""
    if args.state:
        return Path(args.state)
    return statepaths.default_state(args.manifests, sandbox)


def retry(args: argparse.Namespace) -> RetryPolicy:
    return RetryPolicy(attempts=args.max_attempts, timeout=args.timeout)


async def make_plan(args: argparse.Namespace) -> tuple[Plan, manifest.Manifest]:
    loaded, state, target = context(args)
    with frozen_heap():
        async with target.client(args.parallelism, retry(args)) as client:
            plan, _ = await build_plan(client, desired(loaded, args.target), state)
    return plan, loaded


def emit(plan: Plan, fmt: str, stream: TextIO, title: str = "ehkeys plan") -> None:
    if fmt == "markdown":
        render.markdown(plan, stream, title)
    else:
        render.RENDERERS[fmt](plan, stream)


def step_summary(write: Callable[[TextIO], object]) -> None:
    """Append to the GitHub job summary when running in Actions (a bad path is a warning)."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as handle:
            write(handle)
    except OSError as exc:
        print(f"ehkeys: warning: GITHUB_STEP_SUMMARY {path}: cannot write ({exc.strerror})", file=sys.stderr)


def plan_command(args: argparse.Namespace) -> int:
    if args.out:
        planfile.check_path(args.out, args.manifests)
    plan, loaded = asyncio.run(make_plan(args))
    emit(plan, args.format, sys.stdout)
    if args.out:
        digest = planfile.save(plan, args.out, loaded.digest)
        print(f"Saved the plan to {args.out} ({digest})", file=sys.stderr)
    step_summary(lambda out: render.markdown(plan, out, "ehkeys plan"))
    if plan.has_errors:
        return 1
    return 2 if args.detailed_exitcode and plan.has_changes else 0


def show_command(args: argparse.Namespace) -> int:
    """A saved plan as `ehkeys plan` showed it; offline: no manifest, no API key, no request."""
    saved = planfile.load(args.plan_file)
    print(
        f"Saved plan {args.plan_file} ({saved.digest}), made {saved.created_at} "
        f"from the manifest with digest {saved.manifest_digest}",
        file=sys.stderr,
    )
    emit(saved.plan, args.format, sys.stdout)
    return 0


def drift_command(args: argparse.Namespace) -> int:
    from reconciler.cli.drift import drift

    return asyncio.run(drift(args))


def import_command(args: argparse.Namespace) -> int:
    from reconciler.planning import importer

    if not args.key_env and not args.all:
        raise UsageError("name the keys with --key-env VAR (repeatable), or pass --all")
    target = sandboxed(args, [args.out] if args.out else [])

    if args.out and Path(args.out).exists():
        raise UsageError(f"--out {args.out}: the file exists; import writes a new manifest")

    async def run() -> tuple[str, dict[str, LiveKey]]:
        async with target.client(args.parallelism, retry(args)) as client:
            if args.all:
                return await importer.from_account(client)
            return await importer.from_env(client, args.key_env), {}

    text, bound = asyncio.run(run())
    if not args.out:
        sys.stdout.write(text)
        return 0
    _write_import(args.out, text, bound, target.is_sandbox)
    return 0


def _write_import(path: str, text: str, bound: dict[str, LiveKey], sandbox: bool) -> None:
    """The manifest, and each id's binding in the state beside it (two keys of one name need it),
    with a snapshot of each key as read: drift reports what changes after the import."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--out {path}: cannot write ({exc.strerror})") from exc
    schemafile.write_beside(Path(path))
    state = State(statepaths.default_state([path], sandbox), Path(path))
    for address, key in bound.items():
        state.bind(address, key.fingerprint)
        state.remember(key.fingerprint, snapshots.taken(key))
    state.flush()
    plural = "binding" if len(bound) == 1 else "bindings"
    print(
        f"wrote {path} ({len(bound) or 'its'} keys); recorded {len(bound)} {plural} in {state.path}",
        file=sys.stderr,
    )


def reveal_command(args: argparse.Namespace) -> int:
    from reconciler.apply.secretsout import reveal

    return asyncio.run(reveal(args))


def apply_command(args: argparse.Namespace) -> int:
    from reconciler.cli.apply import apply

    return asyncio.run(apply(args))


def github_plan(args: argparse.Namespace) -> int:
    from reconciler.gitops.jobs import plan_job

    return plan_job(args)


def github_comment(args: argparse.Namespace) -> int:
    from reconciler.gitops.jobs import comment_job

    return comment_job(args)


def github_apply(args: argparse.Namespace) -> int:
    from reconciler.gitops.jobs import apply_job

    return apply_job(args)


def github_drift(args: argparse.Namespace) -> int:
    from reconciler.gitops.jobs import drift_job

    return drift_job(args)
