"""`apply`: plan each account, check every guard before sending anything, ask once, apply the
accounts in parallel, report.

With a saved plan it applies exactly that plan (`saved`): a changed manifest is refused, a
change whose live state moved since is skipped, keys outside the saved plan are left alone.
A manifest that declares accounts applies each on its own: an account refused by its guards,
or that cannot be read or fails part-way, never stops or rolls back another; the exit code
says whether any failed. Without accounts, any of these stops the run, as it always did.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.api.client import Client
from reconciler.api.errors import RUN_ERRORS
from reconciler.apply.secretsout import SecretsFile
from reconciler.core.accounts import Account
from reconciler.core.errors import Refused, UsageError
from reconciler.core.exitcodes import ExitCode
from reconciler.core.heap import frozen_heap
from reconciler.core.plan import Plan, check_spend
from reconciler.core.plans import Move, Plans
from reconciler.engine import handover, loop, moves, stopping
from reconciler.engine.applied import Applied
from reconciler.engine.apply_account import AccountApply
from reconciler.engine.console import ApplyConsole
from reconciler.engine.plan import ACCOUNT_ERRORS
from reconciler.engine.saved import check_parts, reviewed_plan
from reconciler.engine.settings import ApplySettings
from reconciler.engine.stopreport import Sending
from reconciler.engine.workspace import accounts_of, forgotten, load_manifest, open_each, state_path
from reconciler.manifest.load import Manifest
from reconciler.render import apply as applyrender
from reconciler.state import lock as statelock
from reconciler.state import saved_where
from reconciler.state.report_file import ReportFile
from reconciler.state.saved_plan import SavedPlans

__all__ = ["Applied", "AppliedRun", "run"]

TARGETED_PLAN = (
    "--target cannot be used with --plan: a saved plan is applied as it was reviewed, whole (its "
    "debits count on its refunds); plan the keys you want (`ehkeys plan ... --target ID --out "
    "plan.json`) and apply that file"
)


@dataclass(frozen=True)
class AppliedRun:
    """Every account's apply, in the manifest's order."""

    each: tuple[Applied, ...]
    moves: tuple[Move, ...] = ()

    @property
    def plans(self) -> Plans:
        return Plans(tuple(a.plan for a in self.each), self.moves)

    @property
    def exit_code(self) -> ExitCode:
        """The worst of the accounts': 1 an error or refusal, else 3 something incomplete, else 0."""
        codes = {a.exit_code for a in self.each}
        for code in (ExitCode.ERROR, ExitCode.INCOMPLETE):
            if code in codes:
                return code
        return ExitCode.OK

    @property
    def only(self) -> Applied:
        (applied,) = self.each
        return applied


def run(settings: ApplySettings, console: ApplyConsole) -> AppliedRun:
    """One apply at a time per state: each account's lock is taken before its state is read
    and its plan made, and held until its last journal line is written (`statelock`)."""
    sending = Sending(console)
    try:
        return loop.run(_run(settings, console, sending))
    except BaseException as exc:
        sending.stopped(exc)  # once it began sending: what it did before, in the report
        raise


async def _run(settings: ApplySettings, console: ApplyConsole, sending: Sending) -> AppliedRun:
    """Every file checked before the first request: the secrets and report files, the saved
    plan (whole, its digest, its manifest's), each state writable."""
    if settings.saved_plan and settings.workspace.targets:
        raise UsageError(TARGETED_PLAN)
    secrets = SecretsFile(settings.secrets_out) if settings.secrets_out else None
    saved = reviewed_plan(settings.saved_plan, settings.expect_digest)
    loaded = load_manifest(settings.workspace.manifests, console, settings.workspace.connection)
    for warning in forgotten(loaded, settings.workspace):
        console.warning(warning)
    accounts = _accounts(loaded, settings, saved)
    report_out = _report_file(settings, accounts)
    with _locks([state_path(settings.workspace, a) for a in accounts], settings.lock_timeout):
        units = [
            AccountApply(
                settings,
                console.scoped(one.account),
                one,
                saved.section(one.account.name) if saved else None,
                secrets,
            )
            for one in open_each(loaded, accounts, settings.workspace)
        ]
        found = moves.find([unit.opened for unit in units], settings.workspace)
        for unit in units:
            unit.opened.state.check_writable()  # say so before anything is sent
            unit.moves = found
        sending.units, sending.report_out = units, report_out
        applied = await _Run(settings, console, loaded, saved).apply(units)
        sending.units = ()  # ended: reported below, as every run that ends
    _report(applied, console, report_out)
    for one in applied.each:  # written after the report: what was applied is known, and journalled
        if one.report.state_error is not None:
            raise one.report.state_error
    return applied


def _report(applied: AppliedRun, console: ApplyConsole, report_out: ReportFile | None) -> None:
    """The run's closing line over several accounts, then its report: the file, the job summary."""
    parts = [(a.plan.account, a.report, a.review, a.stopped) for a in applied.each]
    closing = applyrender.overall(parts)
    if closing:
        console.ended(closing)
    if report_out is not None:
        report_out.write(lambda out: applyrender.markdown_all(parts, out, closing=closing))
    if any(a.report.results or a.stopped for a in applied.each):
        console.reported(lambda out: applyrender.markdown_all(parts, out, closing=closing))


def _report_file(settings: ApplySettings, accounts: Sequence[Account]) -> ReportFile | None:
    """--report-out, checked: never over the run's states and what is kept beside them."""
    if not settings.report_out:
        return None
    states = [state_path(settings.workspace, a) for a in accounts]
    return ReportFile(settings.report_out, states, settings.secrets_out)


def _accounts(loaded: Manifest, settings: ApplySettings, saved: SavedPlans | None) -> list[Account]:
    """The accounts the run applies: those it covers, and with a saved plan (checked against
    the manifest first) those it has a part for."""
    if saved is None:
        return list(accounts_of(loaded, settings.workspace))
    saved.check_manifest(loaded.digest)  # StalePlan, before any request
    check_parts(saved, loaded)
    accounts = [a for a in accounts_of(loaded, settings.workspace) if saved.section(a.name)]
    if not accounts:
        raise Refused(
            f"{saved.path} has no part for the accounts this run covers (it holds "
            f"{', '.join(saved.sections)}): nothing to apply; nothing was sent"
        )
    return accounts


@contextlib.contextmanager
def _locks(paths: Sequence[Path], timeout: float) -> Iterator[None]:
    """Every account's lock, taken in one order so two runs never wait on each other."""
    with contextlib.ExitStack() as stack:
        for path in sorted(set(paths)):
            with stopping.waiting():  # another run's: a stop ends the wait at once, nothing being sent
                stack.enter_context(statelock.held(path, timeout))
        yield


@dataclass(frozen=True)
class _Run:
    settings: ApplySettings
    console: ApplyConsole
    manifest: Manifest
    saved: SavedPlans | None

    @property
    def declared(self) -> bool:
        return any(a.declared for a in self.manifest.accounts)

    async def apply(self, units: list[AccountApply]) -> AppliedRun:
        with frozen_heap():
            async with contextlib.AsyncExitStack() as stack:
                clients = [await self.client(stack, unit) for unit in units]
                pairs = list(zip(units, clients, strict=True))
                stopped = self.hold(units, await asyncio.gather(*(self.prepare(u, c) for u, c in pairs)))
                ready = [pair for pair, why in zip(pairs, stopped, strict=True) if not why]
                self.check_total([u.plan for u, _ in ready if u.plan is not None])
                work = any(unit.has_work for unit, _ in ready)
                if work:  # before the plan: one nobody can approve is not printed for nothing
                    self.console.approvable()
                self.show(units, stopped)
                if work:
                    self.console.approve()
                chosen = {u.opened.account.name: u.chosen for u, _ in ready}
                plans = {u.opened.account.name: u.plan for u in units if u.plan is not None}
                owed = {
                    u.opened.account.name: moves.undelivered(u.opened.state, u.opened.keys) for u in units
                }
                gates = moves.Gates(units[0].moves if units else (), chosen, plans, owed)
                states = {u.opened.account.name: u.opened.state for u, _ in ready}
                gates.begin(states, chosen, {u.opened.account.name: u.opened.keys for u in units})
                for unit, why in zip(units, stopped, strict=True):
                    if why:  # an account refused here opens no gate later: each one waiting on it shuts
                        gates.landed(unit.opened.account.name, [])
                        unit.applied = unit.stopped(why, others=bool(ready))
                await asyncio.gather(*(self.send(u, c, gates) for u, c in ready))
        return AppliedRun(tuple(u.applied for u in units if u.applied), units[0].moves if units else ())

    def hold(self, units: list[AccountApply], stopped: Sequence[str]) -> list[str]:
        """Each move whole or not at all (`moves.hold`): an account whose plan it changed is held
        to its guards again, and one refused so holds back its side of other moves in turn."""
        why = list(stopped)
        found = units[0].moves if units else ()
        cut = moves.cut([u.opened for u in units], found, self.settings.workspace)
        while True:
            refused = {u.opened.account.name: w for u, w in zip(units, why, strict=True) if w}
            changed = moves.hold([u.plan for u in units if u.plan is not None], found, refused, cut)
            if not changed:
                return why
            for index, unit in enumerate(units):
                if unit.opened.account.name in changed and not why[index]:
                    why[index] = unit.recheck()

    def show(self, units: list[AccountApply], stopped: Sequence[str]) -> None:
        """Every account's plan, and why any is left out (the others go on)."""
        moved = units[0].moves if units else ()
        plans = [u.plan for u in units if u.plan is not None]
        handover.add_notes([u.opened for u in units], plans, moved, self.settings.workspace.throwaway_runner)
        self.console.planned(Plans(tuple(u.shown for u in units), moved))
        others = ", the other accounts go on" if not all(stopped) else ""  # some account is left
        for unit, why in zip(units, stopped, strict=True):
            if why:
                self.console.refused(
                    f"account {unit.opened.account.name}: {why}; it is left as it is{others}"
                )

    async def client(self, stack: contextlib.AsyncExitStack, unit: AccountApply) -> Client | None:
        """The account's client; None when it cannot be made (its key missing) and others go on."""
        try:
            return await stack.enter_async_context(unit.opened.target.client())
        except ACCOUNT_ERRORS as exc:
            if not self.declared:
                raise
            unit.failure = str(exc)
            return None

    async def prepare(self, unit: AccountApply, client: Client | None) -> str:
        """'' when the account is planned within its guards, else why it is left out."""
        if client is None:
            return unit.failure
        try:
            if unit.saved is not None:  # the reviewed plan's part is for this very account
                saved_where.check(unit.saved, unit.opened.account, unit.opened.target.endpoint)
            await unit.prepare(client, solo=not self.declared)
        except (*ACCOUNT_ERRORS, Refused) as exc:
            if not self.declared:
                raise
            unit.failure = str(exc)
            return unit.failure
        return ""

    def check_total(self, plans: list[Plan]) -> None:
        """--max-debit and --expect-net hold for the run: with accounts, over all of them."""
        if not self.declared:
            return  # held by the one account's own guards
        guards = self.settings.guards
        total = Plans(tuple(plans))
        check_spend(total.total("account_debit"), total.total("net"), guards.max_debit, guards.expect_net)

    async def send(self, unit: AccountApply, client: Client | None, gates: moves.Gates) -> None:
        """The account's apply (`unit.applied`), also one cut off: the run stops only when the
        manifest declares no accounts."""
        assert client is not None
        try:
            unit.applied = await unit.send(client, gates)
        except RUN_ERRORS as exc:
            if not self.declared:
                raise
            client.writes.abandon()  # its writes never seen through: named in its report, and at exit
            unit.applied = unit.cut_off(str(exc))
