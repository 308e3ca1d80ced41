"""One account's apply: plan it, hold it to its guards, then (once the run is approved) send
its changes and record what happened. `engine.apply` runs one of these per account."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from reconciler.api import unsettled
from reconciler.api.client import Client
from reconciler.api.errors import RUN_ERRORS
from reconciler.api.inventory import Inventory
from reconciler.apply import record as applyrecord
from reconciler.apply import retire, reviewed
from reconciler.apply.applier import Applier, refunds_missed
from reconciler.apply.deliveries import Delivery, Owed, hidden
from reconciler.apply.secretsout import SecretsFile
from reconciler.core.accounts import Account
from reconciler.core.changes import Action, Change
from reconciler.core.errors import Refused
from reconciler.core.exitcodes import ExitCode
from reconciler.core.keys import DesiredKey
from reconciler.core.outcomes import Outcome, Report, Result
from reconciler.core.plan import Plan
from reconciler.core.plans import Move
from reconciler.core.secrets import ProxyKey
from reconciler.core.sinks import Delivered
from reconciler.engine.applied import Applied, part_way, unplanned
from reconciler.engine.console import ApplyConsole
from reconciler.engine.moves import Gates
from reconciler.engine.plan import build_plan
from reconciler.engine.records import fold_journal, recorded, saved, snapshot_in_sync
from reconciler.engine.saved import still_planned, unsent_refunds
from reconciler.engine.settings import ApplySettings
from reconciler.engine.workspace import Opened, desired
from reconciler.planning.deliverynotes import owed_notes, unreached_notes
from reconciler.render import apply as applyrender
from reconciler.state.saved_plan import SavedPlan

_MADE = (Action.CREATE, Action.ROTATE)  # the changes that make a key with a new value


def check_account_debit(plan: Plan, account: Account) -> None:
    """The account's own `max_debit` (its manifest setting, not --max-debit), named so."""
    over = replace(plan, account=account).over_max_debit
    if over:
        raise Refused(f"{over}; nothing was sent")


@dataclass
class AccountApply:
    settings: ApplySettings
    console: ApplyConsole
    opened: Opened
    saved: SavedPlan | None  # the account's part of the saved plan; None: a fresh plan
    secrets: SecretsFile | None
    plan: Plan | None = None
    inventory: Inventory | None = None
    chosen: tuple[Change, ...] = ()
    skipped: tuple[Result, ...] = ()
    failure: str = ""  # why the account's client could not be made (its key missing)
    moves: tuple[Move, ...] = ()  # keys the manifest moved between the run's accounts
    solo: bool = True  # the run's only account: --max-debit and --expect-net held here
    owed: Owed | None = None  # the values this apply delivers (made by `prepare`)
    heard: list[Result] | None = None  # once `send` began: each result as it landed (`part_way`)
    applied: Applied | None = None  # what the account's apply came to (`engine.apply`)

    async def prepare(self, client: Client, solo: bool = True) -> None:
        """Plan the account and hold it to its own guards (Refused before anything is sent).
        `solo`: the run's only account, held to --max-debit and --expect-net here (several
        accounts are held to them together, `engine.apply`)."""
        state = self.opened.state
        account = self.opened.account.name
        wanted = desired(self.opened.manifest, self.settings.workspace.targets, account, self.moves)
        rotate = self.settings.rotate
        wanted = retire.asked(wanted, rotate.now, rotate.overlap, rotate.only)
        plan, self.inventory = await build_plan(client, wanted, state, self.opened.others)
        plan = retire.only(plan, wanted.rotate_now) if rotate.only else plan
        plan.account = self.opened.account
        plan.notes.extend(owed_notes(state, self.opened.keys, self.opened.account))
        plan.notes.extend(unreached_notes(state, self.opened.keys, self.opened.account, plan))
        self.plan = plan
        manifest = self.opened.manifest
        secrets = hidden(manifest.accounts, os.environ, manifest.secret_vars)
        runner = self.settings.workspace.throwaway_runner
        delivery = Delivery(state, self.opened.account, os.environ, secrets, throwaway_runner=runner)
        self.owed = Owed(delivery, self.opened.keys)
        self.check_reviewed(plan)
        chosen, skipped = still_planned(plan, self.saved) if self.saved else (plan.to_apply, [])
        self.chosen, self.skipped = tuple(chosen), tuple(skipped)
        self.solo = solo
        self.check()
        self.refuse_sinks(await self._owed().delivery.refused(self.created()))
        snapshot_in_sync(state, plan, self.inventory)

    def check(self) -> None:
        """The chosen changes (less those the plan now holds in error: a move that cannot go
        ahead whole) held to the account's guards; Refused when they fail one."""
        plan, guards = self._planned()[0], self.settings.guards
        errors = {c.address for c in plan.changes if c.action is Action.ERROR}
        self.chosen = tuple(c for c in self.chosen if c.address not in errors)
        subset = plan.subset(list(self.chosen))
        max_debit, expect_net = (guards.max_debit, guards.expect_net) if self.solo else (None, None)
        subset.check_guards(max_debit, expect_net, guards.allow_mass_delete)
        check_account_debit(subset, self.opened.account)
        self.check_sinks()

    def check_sinks(self) -> None:
        """The sinks of the keys this apply creates, where they can be checked before anything is
        sent (a file git would track, a token not set): Refused, rather than a key whose value
        cannot be handed over. `prepare` then asks their services (`Delivery.refused`: GitHub,
        Vault)."""
        self.refuse_sinks(self._owed().delivery.preflight(self.created()))

    def created(self) -> list[DesiredKey]:
        """The manifest's keys this apply gives a new value: creates, and rotations' successors."""
        created = {c.address for c in self.chosen if c.action in _MADE}
        return [k for k in self.opened.keys if k.address in created]

    @staticmethod
    def refuse_sinks(problems: Sequence[str]) -> None:
        if problems:  # every one: fixing the first alone would meet the next on the next run
            raise Refused(
                f"a new key's value could not be delivered: {'; '.join(problems)}; nothing was sent"
            )

    def recheck(self) -> str:
        """`check` again once a move held some of the plan's changes: '' or why it is refused."""
        try:
            self.check()
        except Refused as exc:
            return str(exc)
        return ""

    def check_reviewed(self, plan: Plan) -> None:
        """A saved plan that could not plan this account (its key refused then) reviewed none of
        its changes: with changes now, it is refused (Refused), never applied as "nothing"."""
        if self.saved is None or self.saved.changes or not self.saved.plan.problems or not plan.to_apply:
            return
        raise Refused(
            f"the reviewed plan has no plan of this account ({self.saved.plan.problems[0]}), and its "
            f"{len(plan.to_apply)} change(s) now were never reviewed: plan again; nothing was sent to it"
        )

    @property
    def has_work(self) -> bool:
        return bool(self.chosen or self.skipped)

    async def send(self, client: Client, gates: Gates | None = None) -> Applied:
        """The approved changes sent, recorded and reported; nothing to send: the bindings.
        `gates`: the deletes of keys moved away wait for their creates in the other account and
        their deliveries, which this account makes before its own moved-away deletes: its
        creates and deliveries open the gates others wait on (`moves.Gates`)."""
        name, plan = self.opened.account.name, self._planned()[0]
        gates, self.heard = gates or Gates((), {}, {}, {}), []
        try:
            if not self.has_work:
                delivered = await self._owed().run(plan)
                gates.landed(name, [], self.opened.state.deliveries)  # a moved key's value, delivered again
                return self.nothing(plan, delivered)
            said = recorded(self.opened.state, plan, self.opened.keys, self._planned()[1])
            self.console.applying(said, self.skipped)
            self._owed().announce(self.chosen)  # owed before any create (a successor's too) is sent
            later, late = gates.later(name, self.chosen), retire.held(self.chosen)
            held = gates.counting_on(name, self.chosen, later)
            first = [c for c in self.chosen if c not in later and c not in late and c not in held]
            retire.begin(self.opened.state, plan, first)
            missed = unsent_refunds(self.saved, plan, self.chosen, self.skipped) if self.saved else []
            report = await self._run(client, first, plan.balance_before, missed)
            report.deliveries = await self._owed().run(plan)  # before a moved key's old one goes
            gates.landed(name, report.results, self.opened.state.deliveries)
            if later:
                await self._moved_away(client, report, later, gates)
            if held:
                await self._after_moves(client, report, held, missed)
            await self._retired(client, report, late)
        except RUN_ERRORS:
            self.console.stopped()
            raise
        finally:
            gates.landed(name, [])  # a create never sent opens no gate
        return self.finish(report, plan)

    async def _run(
        self, client: Client, changes: list[Change], balance: Decimal | None, missed: Sequence[Result] = ()
    ) -> Report:
        """`missed`: the reviewed refunds not sent (`unsent_refunds`): the debits counted on them."""
        parallelism = self.settings.workspace.connection.parallelism
        applier = Applier(client, self.opened.state, self._landed, parallelism=parallelism)
        applier.on_created = self._created
        return await applier.run(changes, self._planned()[1].keys, balance, missed)

    async def _retired(self, client: Client, report: Report, late: list[Change]) -> None:
        """The retirements of rotations whose successor is created and delivered (its sinks
        owe nothing: `deliveries`); the others skipped, their old keys kept (`retire`)."""
        state = self.opened.state
        retire.abandon(state, report.results)
        retire.delivered(state, self.opened.keys)
        go, skipped = retire.ready(state, late)
        if go:
            more = await self._run(client, go, report.balance_after)
            report.results.extend(more.results)
            report.balance_after = more.balance_after
        for result in skipped:
            self._landed(result)
            report.results.append(result)

    def _landed(self, result: Result) -> None:
        """A result said as it lands, and kept: a run that stops part-way reports it."""
        if self.heard is not None:
            self.heard.append(result)
        self.console.landed(result)

    def _created(self, change: Change, key: ProxyKey) -> None:
        """A created key's value, for its sinks and `--secrets-out`."""
        self._owed().created(change, key)
        if self.secrets is not None and (why := self.secrets.add(change, key, self.opened.account)):
            self.console.warning(why)  # the key is made all the same: the apply goes on, its end says so

    def _owed(self) -> Owed:
        assert self.owed is not None, "deliver before prepare"
        return self.owed

    async def _moved_away(self, client: Client, report: Report, later: list[Change], gates: Gates) -> None:
        """The deletes of keys moved to another account, once their creates there landed and
        their values reached the sinks; the others are skipped, their keys kept here (never
        lost). A key mid-rotation has two: the bound one goes after the one it rotated from, so
        that a refusal leaves the address bound (and its move recorded) to the key still here."""
        why = {c.address: await gates.wait(self.opened.account.name, c) for c in later}
        bound = self.opened.state.bindings
        last = {id(c) for c in later if c.target and bound.get(c.address) == c.target.fingerprint}
        sent: set[int] = set()
        for step in ([c for c in later if id(c) not in last], [c for c in later if id(c) in last]):
            go = [c for c in step if not why[c.address]]  # the bound key after the one it rotated from
            if go:
                more = await self._run(client, go, report.balance_after)
                report.results.extend(more.results)
                report.balance_after, sent = more.balance_after, sent | {id(c) for c in go}
                for result in (r for r in more.results if not r.outcome.done):
                    why[result.change.address] = "the key it rotated from here is not deleted yet"
        for change in (c for c in later if id(c) not in sent):
            message = f"not deleted: {why[change.address]}; the key stays here (plan again)"
            result = Result(change, Outcome.SKIPPED, message)
            self._landed(result)
            report.results.append(result)

    async def _after_moves(
        self, client: Client, report: Report, held: list[Change], missed: Sequence[Result]
    ) -> None:
        """The debits that counted on this account's refunds, its moved-away deletes among them,
        once those are sent: skipped, as after any refund that missed, where one did not land (or
        a reviewed one was not sent: `missed`); their new keys' values delivered."""
        more = await self._run(client, held, report.balance_after, [*missed, *refunds_missed(report.results)])
        report.results.extend(more.results)
        report.balance_after = more.balance_after
        report.deliveries += await self._owed().run(self._planned()[0])

    def _planned(self) -> tuple[Plan, Inventory]:
        assert self.plan is not None and self.inventory is not None, "send before prepare"
        return self.plan, self.inventory

    def nothing(self, plan: Plan, delivered: list[Delivered]) -> Applied:
        """No change to send; the deliveries owed from earlier runs made (`delivered`)."""
        said = recorded(self.opened.state, plan, self.opened.keys, self._planned()[1])
        fold_journal(self.opened.state, self.console)
        self.console.nothing(plan, "\n".join(filter(None, [said, *applyrender.delivered(delivered)])))
        report = Report(balance_before=plan.balance_before, balance_after=plan.balance_before)
        report.results.extend(unplanned(plan))  # why nothing was sent to a key, in the report too
        report.deliveries = delivered
        review = reviewed.compare(self.saved, report) if self.saved else None
        code = ExitCode.ERROR if plan.has_errors else report.exit_code
        return Applied(plan, report, review, code)

    def finish(self, report: Report, plan: Plan) -> Applied:
        """Protections and the state saved, the created keys handed over, the report; a state
        that could not be written is raised after it: what was applied is known, and journalled."""
        state = self.opened.state
        applyrecord.protections(state, plan, self.opened.keys)  # the keys it created are bound now
        report.state_error = report.state_error or saved(state, self.console)
        for result in (left := unplanned(plan, self.skipped)):  # named with why: nothing sent for them
            self.console.landed(result)
        written, unwritten = self._handed_over(report)
        self.console.handed_over(written, unwritten)
        report.results = [*self.skipped, *report.results, *left]
        review = reviewed.compare(self.saved, report) if self.saved else None
        self.console.applied(report, review)
        return Applied(plan, report, review, ExitCode.INCOMPLETE if unwritten else report.exit_code)

    def _handed_over(self, report: Report) -> tuple[list[str], list[str]]:
        """The created keys whose value only the account holds (their sinks say where the others
        went), or every created key when --secrets-out has them all; and those it could not take."""
        delivered = {k.address for k in self.opened.keys if k.deliver and self.secrets is None}
        made = [r.change.address for r in report.results if r.change.action in _MADE and r.key]
        shown = [self.opened.account.address(a) for a in made if a not in delivered]
        return self.secrets.took(shown) if self.secrets is not None else (shown, [])

    @property
    def shown(self) -> Plan:
        """The plan to show: an account whose plan could not be made shows why."""
        if self.plan is not None:
            return self.plan
        return Plan(changes=[], problems=[self.failure or "not planned"], account=self.opened.account)

    def stopped(self, why: str, others: bool) -> Applied:
        """This account not applied (refused, or unreadable); `others`: other accounts went on."""
        return self._left(f"Not applied: {why}." + (" The other accounts went on." if others else ""))

    def cut_off(self, why: str) -> Applied:
        """This account's apply stopped part-way (its key revoked, the API gone): others go on.
        Its client's writes never seen through (`unsettled`, handed over) are named in its report."""
        self.console.warning(f"account {self.opened.account.name}: stopped part-way: {why}")
        return self.part_way(why, unsettled.pending(self.opened.account.name))

    def part_way(self, why: str, unchecked: Sequence[str] = ()) -> Applied:
        """This account's apply stopped part-way (`why`): the results known by then, as they
        landed (`heard`), the deliveries made, and `unchecked`: the writes it never saw through;
        the balance after is not read."""
        plan = self.shown
        report = Report(balance_before=plan.balance_before)
        if self.plan is not None:
            report.results = [*self.skipped, *(self.heard or []), *unplanned(self.plan, self.skipped)]
        report.deliveries = list(self.owed.made) if self.owed else []
        sentence = part_way(why, bool(report.results or report.deliveries), unchecked)
        return Applied(plan, report, None, ExitCode.ERROR, stopped=sentence)

    def _left(self, sentence: str) -> Applied:
        plan = self.shown
        report = Report(balance_before=plan.balance_before, balance_after=plan.balance_before)
        return Applied(plan, report, None, ExitCode.ERROR, stopped=sentence)
