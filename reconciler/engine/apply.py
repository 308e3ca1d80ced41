"""`apply`: plan, check every guard before sending anything, ask, apply, report.

With a saved plan it applies exactly that plan (`saved`): a changed manifest is refused, a
change whose live state moved since is skipped, keys outside the saved plan are left alone.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from reconciler.api.client import Client
from reconciler.api.errors import RUN_ERRORS
from reconciler.api.inventory import Inventory
from reconciler.apply import record as applyrecord
from reconciler.apply import reviewed
from reconciler.apply.applier import Applier
from reconciler.apply.reviewed import Review
from reconciler.apply.secretsout import SecretsFile
from reconciler.core.changes import Action, Change
from reconciler.core.exitcodes import ExitCode
from reconciler.core.heap import frozen_heap
from reconciler.core.outcomes import Outcome, Report, Result
from reconciler.core.plan import Plan
from reconciler.engine.console import ApplyConsole
from reconciler.engine.plan import build_plan
from reconciler.engine.records import flushed, fold_journal, recorded, snapshot_in_sync
from reconciler.engine.saved import reviewed_plan, still_planned
from reconciler.engine.settings import ApplySettings
from reconciler.engine.workspace import Opened, desired, open_workspace, state_path
from reconciler.render import apply as applyrender
from reconciler.state import lock as statelock
from reconciler.state.report_file import ReportFile
from reconciler.state.saved_plan import SavedPlan


@dataclass(frozen=True)
class Applied:
    plan: Plan
    report: Report  # empty when there was nothing to apply
    review: Review | None  # against the saved plan, when one was applied
    exit_code: ExitCode


def run(settings: ApplySettings, console: ApplyConsole) -> Applied:
    """One apply at a time per state: the lock is taken before the state is read and the plan
    made, and held until the last journal line is written (`statelock`)."""
    return asyncio.run(_locked(settings, console))


async def _locked(settings: ApplySettings, console: ApplyConsole) -> Applied:
    with statelock.held(state_path(settings.workspace), settings.lock_timeout):
        return await _Apply.start(settings, console)


@dataclass(frozen=True)
class _Apply:
    settings: ApplySettings
    console: ApplyConsole
    opened: Opened
    saved: SavedPlan | None
    secrets: SecretsFile | None
    report_out: ReportFile | None

    @classmethod
    async def start(cls, settings: ApplySettings, console: ApplyConsole) -> Applied:
        """Every file checked before the first request: the secrets and report files, the saved
        plan (whole, its digest, its manifest's), the state writable."""
        secrets = SecretsFile(settings.secrets_out) if settings.secrets_out else None
        report_out = ReportFile(settings.report_out) if settings.report_out else None
        saved = reviewed_plan(settings.saved_plan, settings.expect_digest)
        opened = open_workspace(settings.workspace, console)
        if saved is not None:
            saved.check_manifest(opened.manifest.digest)  # StalePlan, before any request
        opened.state.check_writable()  # a state that cannot be written: say so before anything is sent
        with frozen_heap():
            async with opened.target.client() as client:
                return await cls(settings, console, opened, saved, secrets, report_out).plan(client)

    async def plan(self, client: Client) -> Applied:
        state, guards = self.opened.state, self.settings.guards
        plan, account = await build_plan(
            client, desired(self.opened.manifest, self.settings.workspace.targets), state
        )
        chosen, skipped = still_planned(plan, self.saved) if self.saved else (plan.to_apply, [])
        plan.subset(chosen).check_guards(guards.max_debit, guards.expect_net, guards.allow_mass_delete)
        self.console.planned(plan)
        snapshot_in_sync(state, plan, account)
        if not chosen and not skipped:
            return self.nothing(plan)
        report = await self.send(client, plan, account, chosen, skipped)
        return self.finish(report, skipped, plan)

    async def send(
        self, client: Client, plan: Plan, account: Inventory, chosen: list[Change], skipped: list[Result]
    ) -> Report:
        self.console.approve()
        self.console.applying(recorded(self.opened.state, plan, self.opened.manifest.keys), skipped)
        parallelism = self.settings.workspace.connection.parallelism
        applier = Applier(client, self.opened.state, self.console.landed, parallelism=parallelism)
        if self.secrets is not None:
            applier.on_created = self.secrets.add
        try:
            return await applier.run(chosen, account.keys, plan.balance_before)
        except RUN_ERRORS:
            self.console.stopped()
            raise

    def nothing(self, plan: Plan) -> Applied:
        said = recorded(self.opened.state, plan, self.opened.manifest.keys)
        fold_journal(self.opened.state, self.console)
        self.console.nothing(plan, said)
        report = Report(balance_before=plan.balance_before, balance_after=plan.balance_before)
        review = reviewed.compare(self.saved, report) if self.saved else None
        self.write_report(report, review)
        return Applied(plan, report, review, ExitCode.ERROR if plan.has_errors else ExitCode.OK)

    def finish(self, report: Report, skipped: list[Result], plan: Plan) -> Applied:
        """Protections and the state saved, the created keys handed over, the report; a state
        that could not be written is raised after it: what was applied is known, and journalled."""
        state = self.opened.state
        applyrecord.protections(state, plan, self.opened.manifest.keys)  # the keys it created are bound now
        report.state_error = report.state_error or flushed(state)
        self.console.handed_over(
            [r.change.address for r in report.results if r.change.action is Action.CREATE and r.key]
        )
        if report.state_error is None:
            fold_journal(state, self.console)
        errors = [Result(c, Outcome.FAILED, c.error or "") for c in plan.changes if c.action is Action.ERROR]
        report.results[:0] = skipped
        report.results.extend(errors)
        review = reviewed.compare(self.saved, report) if self.saved else None
        self.console.applied(report, review)
        self.write_report(report, review)
        if report.state_error is not None:
            raise report.state_error
        return Applied(plan, report, review, report.exit_code)

    def write_report(self, report: Report, review: Review | None) -> None:
        if self.report_out is not None:
            self.report_out.write(lambda out: applyrender.markdown(report, out, review))
