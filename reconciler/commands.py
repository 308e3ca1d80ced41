"""The commands that talk to the API: plan, drift, apply. Each returns an exit code."""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TextIO

from reconciler import diagnostics, manifest, planfile, render
from reconciler.applier import FAILED, SKIPPED, UPDATED, Applier, KeyResult, Report
from reconciler.client import RetryPolicy
from reconciler.errors import EhkeysError, Refused, UsageError
from reconciler.model import frozen_heap
from reconciler.plan import Plan
from reconciler.session import Target, build_plan, select
from reconciler.state import State, default_path


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


def _context(args: argparse.Namespace) -> tuple[manifest.Manifest, State, Target]:
    loaded = load_manifest(args.manifests)
    state = State(Path(args.state) if args.state else default_path(args.manifests))
    target = Target.from_options(args.sandbox, args.sandbox_reset, args.base_url, args.sandbox_seed)
    return loaded, state, target


async def _plan(args: argparse.Namespace) -> tuple[Plan, manifest.Manifest]:
    loaded, state, target = _context(args)
    keys = select(loaded, args.target)
    with frozen_heap():
        async with target.client(args.parallelism, _retry(args)) as client:
            plan = await build_plan(client, keys, state)
    return plan, loaded


def _retry(args: argparse.Namespace) -> RetryPolicy:
    return RetryPolicy(attempts=args.max_attempts, timeout=args.timeout)


def emit(plan: Plan, fmt: str, stream: TextIO, title: str = "ehkeys plan") -> None:
    if fmt == "markdown":
        render.markdown(plan, stream, title)
    else:
        render.RENDERERS[fmt](plan, stream)


def step_summary(plan: Plan, title: str) -> None:
    """Append the markdown to the GitHub job summary when running in Actions."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            render.markdown(plan, handle, title)


def plan_command(args: argparse.Namespace) -> int:
    plan, loaded = asyncio.run(_plan(args))
    emit(plan, args.format, sys.stdout)
    if args.out:
        planfile.save(plan, args.out, loaded.digest)
    step_summary(plan, "ehkeys plan")
    if plan.has_errors:
        return 1
    return 2 if args.detailed_exitcode and plan.has_changes else 0


def drift_command(args: argparse.Namespace) -> int:
    plan, _ = asyncio.run(_plan(args))
    drifted = plan.updates
    if args.format == "json":
        render.as_json(plan, sys.stdout)
    else:
        fields = sorted({f for k in drifted for f in k.changed_fields})
        head = (
            f"Drift: {len(drifted)} of {len(plan.keys)} keys differ from the manifest ({', '.join(fields)})"
            if drifted
            else f"In sync: {plan.count('no-op')} of {len(plan.keys)} keys match the manifest."
        )
        out = io.StringIO()
        emit(plan, args.format, out, "ehkeys drift")
        sys.stdout.write(f"{head}\n\n{out.getvalue()}")
    step_summary(plan, "ehkeys drift")
    if plan.has_errors:
        return 1
    return 2 if drifted else 0


# --- apply ------------------------------------------------------------------------------------


def _filter_saved(plan: Plan, path: str, digest: str) -> tuple[list[KeyResult], list[str]]:
    """Keep only the keys of the saved plan that did not move; the rest are skipped."""
    saved = planfile.load(path)
    if saved.manifest_digest != digest:
        raise Refused(f"{path} was made from another version of the manifest: plan again")
    skipped, keep = [], []
    for key in plan.updates:
        if saved.matches(key.fingerprint, key.live, key.body):
            keep.append(key.fingerprint)
        else:
            skipped.append(KeyResult(key, SKIPPED, "changed since plan"))
    return skipped, keep


def _approved(args: argparse.Namespace) -> bool:
    if args.auto_approve or args.plan:
        return True
    if not sys.stdin.isatty():
        raise Refused("not a terminal: pass --auto-approve to apply without a prompt; nothing was sent")
    print("\nApply these changes? Only 'yes' will be accepted: ", end="", flush=True)
    return sys.stdin.readline().strip() == "yes"


def _print_result(result: KeyResult) -> None:
    mark = {UPDATED: "✓", FAILED: "✗", SKIPPED: "-"}[result.outcome]
    text = f"  {mark} {result.key.name} ({result.key.key}): {result.outcome}"
    print(text + (f": {result.message}" if result.message.strip() else ""), flush=True)


async def _apply(args: argparse.Namespace) -> int:
    max_debit = money_option(args.max_debit, "--max-debit")  # a typo fails before any request
    expect_net = money_option(args.expect_net, "--expect-net")
    loaded, state, target = _context(args)
    keys = select(loaded, args.target)
    with frozen_heap():
        async with target.client(args.parallelism, _retry(args)) as client:
            plan = await build_plan(client, keys, state)
            skipped, keep = _filter_saved(plan, args.plan, loaded.digest) if args.plan else ([], None)
            updates = [k for k in plan.updates if keep is None or k.fingerprint in keep]
            applied = Plan(updates, plan.balance_before)
            applied.check_guards(max_debit, expect_net)
            render.text(plan, sys.stdout)
            if not updates and not skipped:
                print("\nNothing to apply: the live keys match the manifest.")
                return 1 if plan.has_errors else 0
            if not _approved(args):
                print("Apply cancelled; nothing was sent.")
                return 1
            print("\nApplying:")
            report = await Applier(client, state, _print_result, args.parallelism).run(updates, skipped)
    errors = [KeyResult(k, FAILED, k.error.message) for k in plan.keys if k.error]
    report.results.extend(errors)
    totals = _report_totals(report)
    print("\n" + "\n".join(totals))
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        rows = [(r.key, r.outcome, r.message) for r in report.results]
        with open(path, "a", encoding="utf-8") as handle:
            render.apply_markdown(rows, " ".join(totals), handle)
    return report.exit_code


def _report_totals(report: Report) -> list[str]:
    lines = [
        f"Apply complete: {report.count(UPDATED)} updated, {report.count(FAILED)} failed, "
        f"{report.count(SKIPPED)} skipped (changed since plan)."
    ]
    before, after = report.balance_before, report.balance_after
    if before is not None and after is not None:
        moved = render.money(after - before, sign=True)
        lines.append(f"Credits moved: {moved} (balance {render.money(before)} -> {render.money(after)})")
    return lines


def apply_command(args: argparse.Namespace) -> int:
    return asyncio.run(_apply(args))


def import_command(args: argparse.Namespace) -> int:
    from reconciler import importer

    if not args.key_env and not args.all:
        raise UsageError("name the keys with --key-env VAR (repeatable), or pass --all")
    target = Target.from_options(args.sandbox, args.sandbox_reset, args.base_url, args.sandbox_seed)

    async def run() -> str:
        async with target.client(args.parallelism, _retry(args)) as client:
            if args.all:
                return await importer.from_account(client)
            return await importer.from_env(client, args.key_env)

    sys.stdout.write(asyncio.run(run()))
    return 0


def github_command(args: argparse.Namespace) -> int:
    from reconciler.github import GitHub

    try:
        body = Path(args.file).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{args.file}: cannot read ({exc.strerror})") from exc
    hub = GitHub.from_env()
    if args.action == "comment":
        print(f"plan comment {hub.upsert_comment(args.pr, body)}")
    else:
        print(f"drift issue: {hub.sync_drift_issue(body, args.status == 'drift')}")
    return 0
