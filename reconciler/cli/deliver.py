"""`ehkeys deliver`: keys' current values to their sinks again, a line per sink delivered or not
(never a value); 3 when any failed."""

from __future__ import annotations

import argparse

from reconciler.cli import settings
from reconciler.core.exitcodes import ExitCode
from reconciler.engine import deliver as engine_deliver
from reconciler.render import apply as applyrender
from reconciler.render.console import Log


def run(args: argparse.Namespace) -> ExitCode:
    asked = settings.deliver(args)
    done = engine_deliver.run(asked, Log(asked.workspace.manifests))
    print("\n".join(applyrender.delivered(done)))
    return ExitCode.OK if all(d.ok for d in done) else ExitCode.INCOMPLETE
