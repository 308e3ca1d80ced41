"""`drift`: read each account, plan, and say what drifted, in groups (`drift.report`), and
where each account's credit goes (`usage`, from the same key list: no request more).

Besides the report it writes only `drift-seen.json` (the unmanaged keys seen, beside each
account's state), and only when it saw every key of the account (no --target, the key list
available). An account that cannot be read is an error of its own; the others are checked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reconciler.api.inventory import Inventory
from reconciler.core.accounts import Account
from reconciler.core.exitcodes import ExitCode
from reconciler.core.heap import frozen_heap
from reconciler.core.keys import DesiredKey
from reconciler.core.plan import Plan
from reconciler.core.plans import Move
from reconciler.core.usage import AccountUsage, UsageView
from reconciler.drift import seen as driftseen
from reconciler.drift.health import owed_sinks
from reconciler.drift.report import DriftReport, Options, Past, report
from reconciler.engine import loop, moves
from reconciler.engine.console import Console
from reconciler.engine.plan import ACCOUNT_ERRORS, build_plan, unreadable
from reconciler.engine.settings import DriftSettings
from reconciler.engine.usage import of_opened
from reconciler.engine.workspace import Opened, desired, open_accounts
from reconciler.planning.pruning import Others, Owner


@dataclass(frozen=True)
class AccountDrift:
    account: Account
    report: DriftReport
    has_errors: bool  # the plan had errors: the check itself is not complete
    usage: AccountUsage  # where its credit goes, from the same key list


@dataclass(frozen=True)
class Drifted:
    each: tuple[AccountDrift, ...]
    usage: UsageView  # every account's usage (the drift job shows it beside the report)

    @property
    def report(self) -> DriftReport:
        """The one account's report (a manifest without accounts)."""
        (only,) = self.each
        return only.report

    @property
    def reports(self) -> list[tuple[Account, DriftReport]]:
        """Each account's report, as `render.drifts` shows them."""
        return [(d.account, d.report) for d in self.each]

    @property
    def has_errors(self) -> bool:
        return any(d.has_errors for d in self.each)

    @property
    def drifted(self) -> bool:
        return any(d.report.drifted for d in self.each)

    @property
    def exit_code(self) -> ExitCode:
        """0 in sync (health warnings allowed), 2 drift, 1 an error."""
        if self.has_errors:
            return ExitCode.ERROR
        return ExitCode.DRIFT if self.drifted else ExitCode.OK


def examine(settings: DriftSettings, console: Console) -> Drifted:
    """The drift report of each account; remembers the unmanaged keys seen."""
    return loop.run(_examine(settings, console))


async def _examine(settings: DriftSettings, console: Console) -> Drifted:
    opened = open_accounts(settings.workspace, console)
    moved, now = moves.find(opened, settings.workspace), int(time.time())
    with frozen_heap():
        read = await asyncio.gather(*(_read(one, settings, moved) for one in opened))
    cut = moves.cut(opened, moved, settings.workspace)
    moves.hold([plan for plan, _ in read], moved, cut=cut)  # a move that cannot go ahead whole is an error
    found = tuple(_account(one, settings, now, *got) for one, got in zip(opened, read, strict=True))
    return Drifted(found, UsageView(now, settings.unused_days, tuple(d.usage for d in found)))


async def _read(
    opened: Opened, settings: DriftSettings, moved: Sequence[Move]
) -> tuple[Plan, Inventory | None]:
    """The account's plan and keys; an account that cannot be read, a plan of why (no keys)."""
    wanted = desired(opened.manifest, settings.workspace.targets, opened.account.name, moved)
    try:
        async with opened.target.client() as client:
            plan, inventory = await build_plan(client, wanted, opened.state, opened.others)
        plan.account = opened.account  # whose plan: a move is held by its accounts' names
        return plan, inventory
    except ACCOUNT_ERRORS as exc:
        if not opened.account.declared:
            raise
        return unreadable(opened, exc), None


def _account(
    opened: Opened, settings: DriftSettings, now: int, plan: Plan, account: Inventory | None
) -> AccountDrift:
    if account is None:
        errors = tuple(plan.problems)
        return AccountDrift(
            opened.account, DriftReport(errors=errors), True, AccountUsage(opened.account, error=errors[0])
        )
    limits, targets = settings.limits, settings.workspace.targets
    options = Options(now, limits.expiring_within, limits.usage_warning, account.clock)
    seen = driftseen.beside(opened.state.path)
    owed = owed_sinks(opened.keys, opened.state.deliveries)
    retiring = {a: str(r["predecessor"]) for a, r in opened.state.rotations.items() if r.get("predecessor")}
    past = Past(opened.state.bindings, opened.state.snapshots, driftseen.load(seen), owed, retiring)
    groups = {k.address: k.group for k in opened.keys if k.group}
    found = report(plan, account.keys, past, managed(opened.keys), options, groups)
    if account.complete and not targets:
        driftseen.save(seen, found.unmanaged)
    usage = of_opened(opened, account, targets, _owners(found))
    return AccountDrift(opened.account, found, plan.has_errors, usage)


def _owners(found: DriftReport) -> Callable[[], Others]:
    """Whose the unmanaged keys are, as the plan told them (its reading of the other roots'
    states, none more); a state it could not read the report says, once."""
    owners = {e.live.fingerprint: Owner(e.managed_by, e.note) for e in found.elsewhere}
    return lambda: Others(owners)


def managed(keys: Sequence[DesiredKey]) -> dict[str, frozenset[str]]:
    """Per address, the fields the manifest sets (is_active too): the others are unmanaged."""
    return {
        k.address: frozenset(k.managed) | ({"is_active"} if k.is_active is not None else set()) for k in keys
    }
