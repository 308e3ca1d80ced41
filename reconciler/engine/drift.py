"""`drift`: read the account, plan, and say what drifted, in groups (`drift.report`).

Besides the report it writes only `drift-seen.json` (the unmanaged keys seen, beside the
state), and only when it saw every key of the account (no --target, the key list available).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.core.exitcodes import ExitCode
from reconciler.core.heap import frozen_heap
from reconciler.core.keys import DesiredKey
from reconciler.drift import seen as driftseen
from reconciler.drift.report import DriftReport, Options, Past, report
from reconciler.engine.console import Console
from reconciler.engine.plan import build_plan
from reconciler.engine.settings import DriftSettings
from reconciler.engine.workspace import desired, open_workspace


@dataclass(frozen=True)
class Drifted:
    report: DriftReport
    has_errors: bool  # the plan had errors: the check itself is not complete

    @property
    def exit_code(self) -> ExitCode:
        """0 in sync (health warnings allowed), 2 drift, 1 an error."""
        if self.has_errors:
            return ExitCode.ERROR
        return ExitCode.DRIFT if self.report.drifted else ExitCode.OK


def examine(settings: DriftSettings, console: Console) -> Drifted:
    """The drift report; remembers the unmanaged keys seen."""
    return asyncio.run(_examine(settings, console))


async def _examine(settings: DriftSettings, console: Console) -> Drifted:
    limits, targets = settings.limits, settings.workspace.targets
    options = Options(int(time.time()), limits.expiring_within, limits.usage_warning)
    opened = open_workspace(settings.workspace, console)
    with frozen_heap():
        async with opened.target.client() as client:
            plan, account = await build_plan(client, desired(opened.manifest, targets), opened.state)
    seen = driftseen.beside(opened.state.path)
    past = Past(opened.state.bindings, opened.state.snapshots, driftseen.load(seen))
    found = report(plan, account.keys, past, managed(opened.manifest.keys), options)
    if account.complete and not targets:
        driftseen.save(seen, found.unmanaged)
    return Drifted(found, plan.has_errors)


def managed(keys: Sequence[DesiredKey]) -> dict[str, frozenset[str]]:
    """Per address, the fields the manifest sets (is_active too): the others are unmanaged."""
    return {
        k.address: frozenset(k.managed) | ({"is_active"} if k.is_active is not None else set()) for k in keys
    }
