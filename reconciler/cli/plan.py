"""`ehkeys plan` (the engine's plans, printed; saved with --out) and `ehkeys show` (a saved plan
printed as plan printed it; offline: no manifest, no API key, no request)."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from reconciler.cli import settings
from reconciler.core.exitcodes import ExitCode
from reconciler.core.plans import Plans
from reconciler.core.printable import printable
from reconciler.core.secrets import scrub
from reconciler.engine import plan as engine_plan
from reconciler.render import plans as render
from reconciler.render.console import Log
from reconciler.render.summary import step_summary
from reconciler.state import saved_plan as planfile


def run(args: argparse.Namespace) -> ExitCode:
    asked = settings.plan(args)
    planned = engine_plan.make(asked, Log(asked.workspace.manifests))
    emit(planned.plans, args.format, sys.stdout)
    if asked.out:
        digest = engine_plan.save(planned, asked.out)
        print(f"Saved the plan to {asked.out} ({digest})", file=sys.stderr)
    step_summary(lambda out: render.markdown(planned.plans, out, "ehkeys plan"))
    return planned.exit_code(detailed=args.detailed_exitcode)


def show(args: argparse.Namespace) -> ExitCode:
    saved = planfile.load(args.plan_file)
    made, digest = _inert(saved.created_at), _inert(saved.manifest_digest)  # as the file says: edited?
    print(
        f"Saved plan {_inert(args.plan_file)} ({saved.digest}), made {made} "
        f"from the manifest with digest sha256:{digest}",  # as every digest is said
        file=sys.stderr,
    )
    emit(saved.plans, args.format, sys.stdout)
    return ExitCode.OK


def _inert(text: str) -> str:
    return printable(scrub(text))


def emit(plans: Plans, fmt: str, stream: TextIO, title: str = "ehkeys plan") -> None:
    if fmt == "markdown":
        render.markdown(plans, stream, title)
    else:
        render.RENDERERS[fmt](plans, stream)
