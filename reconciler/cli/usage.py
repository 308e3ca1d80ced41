"""`ehkeys usage`: the engine's usage view, printed (also to the job summary, in Markdown).
Exit 0 shown, 1 an account that could not be read (the others are shown) or an error."""

from __future__ import annotations

import argparse
import sys

from reconciler.cli import settings
from reconciler.core.exitcodes import ExitCode
from reconciler.engine import usage as engine_usage
from reconciler.render import usage as render
from reconciler.render.console import Log
from reconciler.render.summary import step_summary


def run(args: argparse.Namespace) -> ExitCode:
    asked = settings.usage(args)
    view = engine_usage.view(asked, Log(asked.workspace.manifests))
    render.RENDERERS[args.format](view, sys.stdout)
    step_summary(lambda out: render.RENDERERS["markdown"](view, out))
    return ExitCode.ERROR if any(a.error for a in view.accounts) else ExitCode.OK
