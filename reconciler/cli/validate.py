"""`ehkeys validate`: check manifests offline. It runs as a pre-commit hook, so it starts without
the HTTP stack: `cli.main` runs it before it imports the other commands.

Several inputs are several manifests (`manifest.layout`), each checked on its own: the hook
passes `keys.prod.yaml keys.staging.yaml` together, and the same id in both is no duplicate. A
file of a directory manifest checks the whole directory manifest, so rules across its files
hold. With several manifests the output says which one each problem belongs to."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace

from reconciler.core.exitcodes import ExitCode
from reconciler.core.pathnames import shown
from reconciler.delivery import tracking
from reconciler.manifest import diagnostics, layout, policy
from reconciler.manifest import load as manifest
from reconciler.manifest.diagnostics import Diagnostic
from reconciler.manifest.envvars import checked_environment


@dataclass(frozen=True)
class Checked:
    """One manifest validated: what it is, what was shown of its problems, how many keys."""

    source: layout.Source
    found: list[Diagnostic]
    keys: int

    @property
    def errors(self) -> int:
        return sum(d.is_error for d in self.found)

    @property
    def warnings(self) -> int:
        return sum(d.severity == diagnostics.WARNING for d in self.found)

    @property
    def notices(self) -> int:
        """Shown with --strict only, and never a failure: counted apart from the warnings."""
        return sum(d.severity == diagnostics.NOTICE for d in self.found)

    def summary(self) -> str:
        if self.errors:
            return f"{self.errors} error(s), {self.warnings} warning(s)"
        return f"{self.warnings} warning(s); {self.keys} key(s) valid"


def run(args: argparse.Namespace) -> ExitCode:
    env, problems = checked_environment()  # read once: its problems are said once
    checked = []
    for source in layout.sources(args.manifests):
        result = manifest.load(source.inputs, env=env, offline=True)
        broken = [policy.diagnostic(v) for v in result.violations]  # errors here; plan shows them
        tracked = tracking.diagnostics(result.manifest.keys) if result.manifest else []
        found = _shown([*result.diagnostics, *broken, *tracked, *problems], args.strict)
        problems = []
        checked.append(Checked(source, found, len(result.manifest.keys) if result.manifest else 0))
    if args.format == "json":
        _json(checked)
    else:
        _text(checked, args.format)
    return ExitCode.ERROR if any(c.errors for c in checked) else ExitCode.OK


def _shown(found: list[Diagnostic], strict: bool) -> list[Diagnostic]:
    """Notices only with --strict, which also makes warnings fail (notices never do: a
    variable only CI sets)."""
    if not strict:
        return diagnostics.ordered(set(d for d in found if d.severity != diagnostics.NOTICE))
    return diagnostics.ordered(
        set(replace(d, severity=diagnostics.ERROR) if d.severity == diagnostics.WARNING else d for d in found)
    )


def _text(checked: list[Checked], fmt: str) -> None:
    several = len(checked) > 1
    for each in checked:
        if several and each.found and fmt == "text":
            print(f"# {_named(each.source)}")
        shown = [_titled(d, each.source) for d in each.found] if several and fmt == "github" else each.found
        diagnostics.render(shown, fmt, sys.stdout)
    if fmt != "text":
        return
    for each in checked:
        print(f"{_named(each.source)}: {each.summary()}" if several else each.summary(), file=sys.stderr)


def _named(source: layout.Source) -> str:
    """How output names a manifest: its file, or its folder and settings file."""
    if source.settings is not None:
        return f"{source.shown} (directory manifest, {shown(source.settings)})"
    return source.shown


def _titled(found: Diagnostic, source: layout.Source) -> Diagnostic:
    """A GitHub annotation of several manifests says its manifest in its message."""
    return replace(found, message=f"{found.message} [manifest {source.shown}]")


def _json(checked: list[Checked]) -> None:
    """As `diagnostics.render` prints it, each problem naming its manifest, and a row a manifest;
    each count is of the problems of that severity (`--strict`: its notices are no warnings)."""
    rows = [{**d.data(), "manifest": c.source.shown} for c in checked for d in c.found]
    errors = sum(c.errors for c in checked)
    payload = {
        "valid": errors == 0,
        "errors": errors,
        "warnings": sum(c.warnings for c in checked),
        "notices": sum(c.notices for c in checked),
        "diagnostics": rows,
        "manifests": [
            {
                "manifest": c.source.shown,
                "settings": c.source.settings and shown(c.source.settings),
                "valid": c.errors == 0,
                "errors": c.errors,
                "warnings": c.warnings,
                "notices": c.notices,
                "keys": c.keys,
            }
            for c in checked
        ],
    }
    sys.stdout.write(json.dumps(payload, indent=2) + "\n")
