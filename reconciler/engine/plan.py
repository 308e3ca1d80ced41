"""`plan`: read the account (two requests), plan against the manifest and the state; saved
for a reviewed apply when asked."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from reconciler.api import inventory
from reconciler.api.client import Client
from reconciler.api.inventory import Inventory
from reconciler.core.exitcodes import ExitCode
from reconciler.core.heap import frozen_heap
from reconciler.core.plan import Plan
from reconciler.engine.console import Console
from reconciler.engine.settings import PlanSettings, Workspace
from reconciler.engine.workspace import desired, open_workspace
from reconciler.manifest.load import Manifest
from reconciler.planning import planner
from reconciler.planning.planner import Desired, Recorded
from reconciler.state import saved_plan as planfile
from reconciler.state import snapshots
from reconciler.state.store import State


@dataclass(frozen=True)
class Planned:
    plan: Plan
    manifest: Manifest

    @property
    def manifest_digest(self) -> str:
        """Worked out when asked (a saved plan records it): a 2,000-key digest is ~50 ms."""
        return self.manifest.digest

    def exit_code(self, detailed: bool = False) -> ExitCode:
        """1 a key in error; with `detailed` (--detailed-exitcode) 2 when there are changes."""
        if self.plan.has_errors:
            return ExitCode.ERROR
        return ExitCode.CHANGES if detailed and self.plan.has_changes else ExitCode.OK


def make(settings: PlanSettings, console: Console) -> Planned:
    """The plan; `settings.out`, where the caller will `save` it, is checked before any request."""
    if settings.out:
        planfile.check_path(settings.out, list(settings.workspace.manifests))
    plan, manifest = asyncio.run(plan_of(settings.workspace, console))
    return Planned(plan, manifest)


def save(planned: Planned, path: str) -> str:
    """The plan saved for `apply --plan`, with its manifest's digest; the file's own digest."""
    return planfile.save(planned.plan, path, planned.manifest_digest)


async def plan_of(workspace: Workspace, console: Console) -> tuple[Plan, Manifest]:
    """The workspace's plan, and its manifest."""
    opened = open_workspace(workspace, console)
    with frozen_heap():
        async with opened.target.client() as client:
            wanted = desired(opened.manifest, workspace.targets)
            plan, _ = await build_plan(client, wanted, opened.state)
    return plan, opened.manifest


async def build_plan(client: Client, wanted: Desired, state: State) -> tuple[Plan, Inventory]:
    """Read the account (two requests) and plan against it."""
    account = await inventory.read(client, wanted.keys)
    values = snapshots.recorded_values(state.records, state.snapshots, account.keys)
    recorded = Recorded(state.bindings, values, frozenset(state.pending_creates), state.protected)
    plan = planner.make_plan(wanted, account, recorded, int(time.time()))
    plan.requests = client.sent
    return plan, account
