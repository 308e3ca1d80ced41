"""`plan`: read each account (two requests each, in parallel), plan against the manifest and
the account's state; saved for a reviewed apply when asked."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from reconciler.api import inventory
from reconciler.api.client import Client
from reconciler.api.errors import ApiError
from reconciler.api.inventory import Inventory
from reconciler.core.changes import Action, Change
from reconciler.core.errors import ConfigError
from reconciler.core.exitcodes import ExitCode
from reconciler.core.heap import frozen_heap
from reconciler.core.keys import DesiredKey, LiveKey
from reconciler.core.plan import Plan
from reconciler.core.plans import Move, Plans
from reconciler.core.rotation import Rotating
from reconciler.delivery import send, tracking
from reconciler.engine import handover, loop, moves
from reconciler.engine.console import Console
from reconciler.engine.settings import PlanSettings, Workspace
from reconciler.engine.workspace import Opened, desired, open_accounts
from reconciler.manifest.load import Manifest
from reconciler.planning import doubts, keyplan, planner
from reconciler.planning.deliverynotes import owed_notes, unreached_notes
from reconciler.planning.doubts import Doubt, refusal
from reconciler.planning.planner import Desired, Recorded
from reconciler.planning.pruning import OtherStates
from reconciler.state import saved_plan as planfile
from reconciler.state import snapshots
from reconciler.state.deliveries import unreached
from reconciler.state.store import State

ACCOUNT_ERRORS = (ApiError, ConfigError)
"""What stops one account of several (its key missing or refused, its API unreachable): that
account's plan says so, the others go on."""


@dataclass(frozen=True)
class Planned:
    plans: Plans
    manifest: Manifest

    @property
    def manifest_digest(self) -> str:
        """Worked out when asked (a saved plan records it): a 2,000-key digest is ~50 ms."""
        return self.manifest.digest

    def exit_code(self, detailed: bool = False) -> ExitCode:
        """1 a key in error; 4 the policy or a budget broken; with `detailed` (--detailed-exitcode)
        2 when there are changes."""
        if self.plans.has_errors:
            return ExitCode.ERROR
        if self.plans.violations:
            return ExitCode.POLICY
        return ExitCode.CHANGES if detailed and self.plans.has_changes else ExitCode.OK


def make(settings: PlanSettings, console: Console) -> Planned:
    """The plans; `settings.out`, where the caller will `save` them, is checked before any request."""
    if settings.out:
        planfile.check_path(settings.out, list(settings.workspace.manifests))
    plans, manifest = loop.run(plans_of(settings.workspace, console))
    return Planned(plans, manifest)


def save(planned: Planned, path: str) -> str:
    """The plans saved for `apply --plan`, with their manifest's digest; the file's own digest."""
    return planfile.save(planned.plans, path, planned.manifest_digest)


async def plans_of(workspace: Workspace, console: Console) -> tuple[Plans, Manifest]:
    """The plan of each account the run covers, and the manifest."""
    opened = open_accounts(workspace, console)
    found = moves.find(opened, workspace)
    with frozen_heap():
        plans = await asyncio.gather(*(plan_account(one, workspace.targets, found) for one in opened))
    moves.hold(plans, found, cut=moves.cut(opened, found, workspace))
    handover.add_notes(opened, plans, found, workspace.throwaway_runner)
    for plan in plans:
        plan.notes.extend(plan.refused_later)
    return Plans(tuple(plans), found), opened[0].manifest


async def plan_account(opened: Opened, targets: Sequence[str], found: Sequence[Move] = ()) -> Plan:
    """One account's plan; with several accounts, one that cannot be read is a plan in error."""
    wanted = desired(opened.manifest, targets, opened.account.name, found)
    try:
        async with opened.target.client() as client:
            plan, _ = await build_plan(client, wanted, opened.state, opened.others)
    except ACCOUNT_ERRORS as exc:
        if not opened.account.declared:
            raise
        return unreadable(opened, exc)
    plan.account, plan.endpoint = opened.account, opened.target.endpoint
    plan.notes.extend(owed_notes(opened.state, opened.keys, opened.account))
    plan.notes.extend(unreached_notes(opened.state, opened.keys, opened.account, plan))
    changes, plan.changes = plan.changes, refused_files(plan.changes, opened.keys)
    if any(a is not b for a, b in zip(changes, plan.changes, strict=True)):
        plan.recount()
    plan.changes = unusable_sinks(plan.changes, opened.keys, os.environ)
    return plan


def refused_files(changes: Sequence[Change], keys: Sequence[DesiredKey]) -> list[Change]:
    """Each create whose file sink git would track (or cannot say it would not), in error at the
    sink's FILE:LINE: the apply would refuse it (a pull request's plan fails, not the apply after
    its merge)."""
    creates = {c.address for c in changes if c.action is Action.CREATE}
    refused: dict[str, str] = {}
    for key, sink, why in tracking.tracked_sinks(k for k in keys if k.address in creates):
        said = tracking.refusal(key, sink, why)
        refused.setdefault(key.address, f"{said}; the apply refuses to create the key")
    return [keyplan.held(c, refused[c.address]) if c.address in refused else c for c in changes]


_MADE = {Action.CREATE: "create", Action.ROTATE: "rotate"}  # the changes that make a key with a new value


def unusable_sinks(
    changes: Sequence[Change], keys: Sequence[DesiredKey], env: Mapping[str, str]
) -> list[Change]:
    """Each create or rotation with a sink that cannot be used where this plan runs (a token or
    VAULT_ADDR not set, a command not on PATH: the apply's offline checks, `send.preflight`),
    warned at the key's FILE:LINE: an apply run so refuses to make the key. A warning, not an
    error: a pull request's plan job may lack the tokens only the apply job is given. Offline:
    nothing is asked of GitHub or Vault."""
    made = {c.address: c.action for c in changes if c.action in _MADE}
    said: dict[str, list[str]] = {}
    for key in (k for k in keys if k.address in made and not k.absent):
        verb = _MADE[made[key.address]]
        for problem in filter(None, (send.preflight(sink, env) for sink in key.deliver)):
            said.setdefault(key.address, []).append(
                f"{key.location}: {problem}: an apply run so refuses to {verb} the key (a warning, not an "
                "error: a plan job may lack what only the apply job is given)"
            )
    return [replace(c, warnings=(*c.warnings, *said[c.address])) if c.address in said else c for c in changes]


def unreadable(opened: Opened, exc: Exception) -> Plan:
    """The plan of an account that could not be read: nothing to do there, and why."""
    why = f"the account could not be read: {exc}; nothing was planned for it"
    return Plan(changes=[], problems=[why], account=opened.account, endpoint=opened.target.endpoint)


async def build_plan(
    client: Client, wanted: Desired, state: State, others: OtherStates | None = None
) -> tuple[Plan, Inventory]:
    """Read the account (two requests) and plan against it; `others`: where the other manifest
    roots' states are, read only when a key would be pruned (their keys never are)."""
    account = await inventory.read(client, wanted.keys)
    bound = foreign_list(wanted, state, account)
    doubts = doubted(wanted.keys, state, account.keys, others) if account.complete else []
    if bound:
        plan = _foreign(client, state, account, bound)
    elif doubts:  # a state read from the checkout that the account contradicts: never a guess
        why = refusal(state.path, doubts)
        plan = Plan([], balance_before=account.balance, problems=[why], account_keys=account.count)
    else:
        forgotten = snapshots.forgotten(state.records, state.snapshots, account.keys)
        values = snapshots.recorded_values(state.records, forgotten)
        sinks = {k.address: [s.ident for s in k.deliver] for k in wanted.keys}
        rotations = {
            a: Rotating.from_data(_delivered(r, state, a, sinks)) for a, r in state.rotations.items()
        }
        pending = frozenset(state.pending_creates)
        recorded = Recorded(state.bindings, values, pending, state.protected, rotations, forgotten)
        recorded = replace(recorded, unverified=state.unverified)
        recorded = replace(recorded, others=others.read) if others is not None else recorded
        plan = planner.make_plan(wanted, account, recorded, int(time.time()))
    plan.requests = client.sent
    return plan, account


def doubted(
    keys: Sequence[DesiredKey], state: State, live: Sequence[LiveKey], others: OtherStates | None
) -> list[Doubt]:
    """The bindings of a state no verified apply stands behind that the account contradicts
    (`planning.doubts`); none for any other state. A key another root's state binds is that
    root's, no rival: those states are read only when a binding is doubted."""
    if not state.unverified:
        return []
    known = {*state.bindings.values(), *(str(r["predecessor"]) for r in state.rotations.values())}
    known |= {str(m["key"]) for m in state.moves.values()}
    found = doubts.doubted(keys, live, state.bindings, known)
    if found and others is not None:
        found = doubts.doubted(keys, live, state.bindings, known | set(others.read().owners))
    return found


def _delivered(
    record: dict[str, object], state: State, address: str, sinks: dict[str, list[str]]
) -> dict[str, object]:
    """A rotation's successor is delivered once its sinks owe nothing and each sink its key has
    now got its value (`ehkeys deliver` may have made what its apply could not)."""
    owed = state.deliveries.get(address) or unreached(state.reached, address, sinks.get(address, ()))
    return {**record, "delivered": bool(record.get("delivered")) or not owed}


def foreign_list(wanted: Desired, state: State, account: Inventory) -> int:
    """How many keys the state binds to the manifest's keys when the account's list holds none
    of them but holds others: the account key is likely another account's. 0 otherwise. A
    rotation's predecessor counts as one of them: its successor deleted by hand leaves it."""
    addresses = {k.address for k in wanted.keys if not k.absent and k.address in state.bindings}
    bound = {state.bindings[a] for a in addresses}
    bound |= {str(r["predecessor"]) for a, r in state.rotations.items() if a in addresses}  # not moved away
    live = {k.fingerprint for k in account.keys}
    return len(bound) if bound and account.complete and live and not bound & live else 0


def _foreign(client: Client, state: State, account: Inventory, bound: int) -> Plan:
    """A plan of nothing, in error: never 'every key deleted outside ehkeys, create them all'."""
    whose = client.sandbox or f"the account whose key is in ${client.key_var}"
    why = (
        f"none of the {bound} key(s) the state binds is in the key list of {whose} ({account.count} "
        f"other key(s)): {_asked(client)} Nothing was planned. If those keys are truly gone from "
        f"this account, move its state aside ({state.path}) and plan again"
    )
    return Plan([], balance_before=account.balance, problems=[why], account_keys=account.count)


def _asked(client: Client) -> str:
    """What may have put another account's keys before the state: a sandbox started over or
    filled from another seed since (a sandbox run reads no variable), or another account's key."""
    if client.sandbox:
        return (
            "was the sandbox started over (--sandbox-reset, or its database removed) or filled from "
            "another seed (--sandbox-seed) since the state was written?"
        )
    return f"is {client.key_var} the key of another account?"
