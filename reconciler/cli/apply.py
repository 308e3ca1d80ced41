"""`ehkeys apply`: plan, check every guard before sending anything, ask, apply, report.

With `--plan FILE` it applies exactly the saved plan: a changed manifest is refused, a
change whose live state moved since is skipped, keys outside the saved plan are left alone.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence

from reconciler.api.errors import RUN_ERRORS
from reconciler.api.inventory import Inventory
from reconciler.apply import record as applyrecord
from reconciler.apply import reviewed
from reconciler.apply.applier import Applier
from reconciler.apply.secretsout import SecretsFile
from reconciler.cli.commands import context, money_option, retry, state_path, step_summary
from reconciler.core.changes import Action, Change
from reconciler.core.errors import Refused, StateError, UsageError
from reconciler.core.heap import frozen_heap
from reconciler.core.keys import DesiredKey
from reconciler.core.outcomes import Outcome, Report, Result
from reconciler.core.plan import Plan
from reconciler.engine import build_plan, desired
from reconciler.render import apply as applyrender
from reconciler.render import plan as render
from reconciler.state import lock as statelock
from reconciler.state import saved_plan as planfile
from reconciler.state import snapshots
from reconciler.state.report_file import ReportFile
from reconciler.state.store import State

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
STOPPED = (
    "ehkeys: apply stopped part-way: writes sent before this may have reached the API "
    "(the journal lists them); run `ehkeys plan` to see where each key is"
)


async def apply(args: argparse.Namespace) -> int:
    """One apply at a time per state: the lock is taken before the state is read and the plan
    made, and held until the last journal line is written (`statelock`)."""
    with statelock.held(state_path(args, args.sandbox), args.lock_timeout):
        return await _apply(args)


async def _apply(args: argparse.Namespace) -> int:
    max_debit = money_option(args.max_debit, "--max-debit")  # a typo fails before any request
    expect_net = money_option(args.expect_net, "--expect-net")
    secrets = SecretsFile(args.secrets_out) if args.secrets_out else None
    report_out = ReportFile(args.report_out) if args.report_out else None
    saved = _reviewed(args)
    loaded, state, target = context(args)
    if saved is not None:
        saved.check_manifest(loaded.digest)  # StalePlan, before any request
    state.check_writable()  # a state that cannot be written: say so before anything is sent
    with frozen_heap():
        async with target.client(args.parallelism, retry(args)) as client:
            plan, account = await build_plan(client, desired(loaded, args.target), state)
            chosen, skipped = _saved(plan, saved) if saved else (plan.to_apply, [])
            plan.subset(chosen).check_guards(max_debit, expect_net, args.allow_mass_delete)
            render.text(plan, sys.stdout)
            snapshot_in_sync(state, plan, account)
            if not chosen and not skipped:
                said = _recorded(state, plan, loaded.keys)
                fold_journal(state)
                return _nothing(plan, saved, report_out, said)
            _approve(args)
            print("\n" + "\n".join(filter(None, [_recorded(state, plan, loaded.keys), "Applying:"])))
            for result in skipped:
                print(applyrender.line(result), flush=True)
            applier = Applier(
                client, state, lambda r: print(applyrender.line(r), flush=True), parallelism=args.parallelism
            )
            if secrets is not None:
                applier.on_created = secrets.add
            try:
                report = await applier.run(chosen, account.keys, plan.balance_before)
            except RUN_ERRORS:
                print(STOPPED, file=sys.stderr, flush=True)
                raise
    applyrecord.protections(state, plan, loaded.keys)  # the keys it created are bound now
    report.state_error = report.state_error or _flushed(state)
    _hand_over(report, args)
    if report.state_error is None:
        fold_journal(state)
    return _finish(report, skipped, plan, saved, report_out)


def fold_journal(state: State) -> None:
    """Once an apply finished, its journal folded into the state file (`State.compact`): it
    keeps only the writes whose outcome never came, so it does not grow with every apply."""
    if not state.journal_path.exists():
        return
    try:
        state.compact()
    except StateError as exc:  # nothing is lost: the journal still holds every record
        print(f"ehkeys: warning: {exc}", file=sys.stderr)


def _recorded(state: State, plan: Plan, keys: Sequence[DesiredKey]) -> str:
    """Bindings of the keys found in sync and every key's protection (`applyrecord`), saved
    before anything is sent; the line that says what was recorded ('' for nothing)."""
    bound = applyrecord.bindings(state, plan)
    applyrecord.protections(state, plan, keys)
    state.flush()
    return applyrecord.said(bound, state)


def _flushed(state: State) -> StateError | None:
    try:
        state.flush()
    except StateError as exc:
        return exc
    return None


def snapshot_in_sync(state: State, plan: Plan, account: Inventory) -> None:
    """Every managed key the plan leaves as it is, as this apply read it: so that drift's
    "since the last apply" covers every managed key. A snapshot that did not change is kept
    as it is (its time too): an apply with nothing to do then rewrites no state."""
    live = {k.fingerprint: k for k in account.keys}
    for change in plan.changes:
        key = live.get(change.target.fingerprint) if change.target else None
        in_sync = change.action is Action.NO_OP and key is not None
        if in_sync and key and not snapshots.unchanged(state.snapshots.get(key.fingerprint), key):
            state.remember(key.fingerprint, snapshots.taken(key))


def _reviewed(args: argparse.Namespace) -> planfile.SavedPlan | None:
    """The saved plan (`--plan`), checked whole and against `--expect-digest` before any request."""
    expected = _digest_option(args.expect_digest)
    if args.plan is None:
        if expected is not None:
            raise UsageError("--expect-digest checks a saved plan: pass it with --plan FILE")
        return None
    saved = planfile.load(args.plan)
    if expected is not None and saved.digest != expected:
        raise Refused(
            f"{args.plan} has digest {saved.digest}, not the reviewed {expected}: it is not the plan "
            "that was reviewed; nothing was sent"
        )
    return saved


def _digest_option(text: str | None) -> str | None:
    if text is None:
        return None
    if not DIGEST.fullmatch(text.strip().lower()):
        raise UsageError(
            f"--expect-digest {text!r}: expected sha256: and 64 hex digits, as plan --out prints"
        )
    return text.strip().lower()


def _saved(plan: Plan, saved: planfile.SavedPlan) -> tuple[list[Change], list[Result]]:
    """The saved plan's changes that did not move; the rest are skipped, with why."""
    chosen: list[Change] = []
    skipped: list[Result] = []
    current = {c.address: c for c in plan.changes}
    for change in plan.to_apply:
        if not saved.holds(change):
            continue  # not part of the saved plan
        if saved.unmoved(change):
            saved.check_shown(change)  # Refused: never send what the plan does not show
            chosen.append(change)
        else:
            skipped.append(_skip(change, saved, "its live state moved"))
    for address in sorted(saved.changes.keys() - {c.address for c in plan.to_apply}):
        skipped.append(_no_longer(current.get(address), saved, address))
    return chosen, skipped


def _no_longer(now: Change | None, saved: planfile.SavedPlan, address: str) -> Result:
    """A reviewed change with nothing left to do: the key is as planned (an earlier run, a
    re-run of this one, or a hand made it so), or it cannot be planned now."""
    reviewed = saved.reviewed(address)
    if now is not None and now.action is Action.ERROR:
        return Result(
            reviewed, Outcome.SKIPPED, f"changed since plan (it cannot be planned now: {now.error})"
        )
    moved = applyrender.what_moved(saved.live(address), now.live if now else None)
    return Result(reviewed, Outcome.IN_SYNC, "nothing left to do" + (f" ({moved})" if moved else ""))


def _skip(change: Change, saved: planfile.SavedPlan, why: str) -> Result:
    moved = applyrender.what_moved(saved.live(change.address), change.live)
    if not moved and change.action.changes_something:
        moved = "its operations differ (the state's record of it changed)"
    detail = f"{why}: {moved}" if moved else why
    return Result(change, Outcome.SKIPPED, f"changed since plan ({detail})")


def _approve(args: argparse.Namespace) -> None:
    if args.auto_approve or args.plan:
        return
    if not sys.stdin.isatty():
        raise Refused("not a terminal: pass --auto-approve to apply without a prompt; nothing was sent")
    print("\nApply these changes? Only 'yes' will be accepted: ", end="", flush=True)
    if sys.stdin.readline().strip() != "yes":
        raise Refused("apply cancelled; nothing was sent")


def _hand_over(report: Report, args: argparse.Namespace) -> None:
    """Where a created key's value is: the secrets file, else only the account (reveal)."""
    created = [r.change.address for r in report.results if r.change.action is Action.CREATE and r.key]
    if not created:
        return
    if args.secrets_out:
        print(f"\nThe new keys' values ({', '.join(created)}) were appended to {args.secrets_out} (0600).")
    else:
        manifest = " ".join(args.manifests)
        print(
            f"\nThe new keys' values are in the account only: "
            f"`ehkeys reveal {manifest} {created[0]}` prints one."
        )


def _nothing(
    plan: Plan, saved: planfile.SavedPlan | None, report_out: ReportFile | None, recorded: str = ""
) -> int:
    errors = plan.count(Action.ERROR) + len(plan.problems)
    print("\nNothing to apply" + (f": {errors} error(s) above." if errors else "."))
    if recorded:
        print(recorded)
    if report_out is not None:
        report = Report(balance_before=plan.balance_before, balance_after=plan.balance_before)
        review = reviewed.compare(saved, report) if saved else None
        report_out.write(lambda out: applyrender.markdown(report, out, review))
    return 1 if plan.has_errors else 0


def _finish(
    report: Report,
    skipped: list[Result],
    plan: Plan,
    saved: planfile.SavedPlan | None,
    report_out: ReportFile | None,
) -> int:
    errors = [Result(c, Outcome.FAILED, c.error or "") for c in plan.changes if c.action is Action.ERROR]
    report.results[:0] = skipped
    report.results.extend(errors)
    review = reviewed.compare(saved, report) if saved else None
    print("\n" + "\n".join(applyrender.totals(report) + (review.lines() if review else [])))
    step_summary(lambda out: applyrender.markdown(report, out, review))
    if report_out is not None:
        report_out.write(lambda out: applyrender.markdown(report, out, review))
    if report.state_error is not None:
        raise report.state_error  # after the summary: what was applied is known, and journalled
    return report.exit_code
