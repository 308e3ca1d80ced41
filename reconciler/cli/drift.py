"""`ehkeys drift`: read the account, plan, and say what drifted, in groups (`drift.py`).

Exit 0 in sync (health warnings allowed), 2 drift, 1 an error. Besides the report it writes
only `drift-seen.json` (the unmanaged keys seen, beside the state), and only when it saw
every key of the account (no --target, the key list available).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from reconciler.cli.commands import context, retry, step_summary
from reconciler.core.heap import frozen_heap
from reconciler.core.keys import DesiredKey
from reconciler.drift import seen as driftseen
from reconciler.drift.report import DriftReport, Options, Past, report
from reconciler.engine import build_plan, desired
from reconciler.render import drift as driftrender


async def drift(args: argparse.Namespace) -> int:
    found, has_errors = await examine(args)
    driftrender.RENDERERS[args.format](found, sys.stdout)
    step_summary(lambda out: driftrender.markdown(found, out))
    if has_errors:
        return 1
    return 2 if found.drifted else 0


async def examine(args: argparse.Namespace) -> tuple[DriftReport, bool]:
    """The drift report, and whether the plan had errors; remembers the unmanaged keys seen."""
    options = Options(int(time.time()), args.expiring_within, args.usage_warning)
    loaded, state, target = context(args)
    with frozen_heap():
        async with target.client(args.parallelism, retry(args)) as client:
            plan, account = await build_plan(client, desired(loaded, args.target), state)
    seen = driftseen.beside(state.path)
    past = Past(state.bindings, state.snapshots, driftseen.load(seen))
    found = report(plan, account.keys, past, managed(loaded.keys), options)
    if account.complete and not args.target:
        driftseen.save(seen, found.unmanaged)
    return found, plan.has_errors


def managed(keys: Sequence[DesiredKey]) -> dict[str, frozenset[str]]:
    """Per address, the fields the manifest sets (is_active too): the others are unmanaged."""
    return {
        k.address: frozenset(k.managed) | ({"is_active"} if k.is_active is not None else set()) for k in keys
    }
