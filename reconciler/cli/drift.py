"""`ehkeys drift`: the engine's drift report, printed. Exit 0 in sync (health warnings
allowed), 2 drift, 1 an error."""

from __future__ import annotations

import argparse
import sys

from reconciler.cli import settings
from reconciler.core.exitcodes import ExitCode
from reconciler.engine import drift as engine_drift
from reconciler.render import drifts as driftrender
from reconciler.render.console import Log
from reconciler.render.summary import step_summary


def run(args: argparse.Namespace) -> ExitCode:
    asked = settings.drift(args)
    drifted = engine_drift.examine(asked, Log(asked.workspace.manifests))
    driftrender.RENDERERS[args.format](drifted.reports, sys.stdout)
    step_summary(lambda out: driftrender.markdown(drifted.reports, out))
    return drifted.exit_code
