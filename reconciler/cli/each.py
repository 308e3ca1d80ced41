"""Several manifests on one command line, each run on its own (`manifest.layout`): the
pre-commit case `keys.prod.yaml keys.staging.yaml`, where the same id in both is no duplicate.
A file of a directory manifest stands for the whole of it. Each manifest's output follows a
`# <manifest>` heading; one manifest's error (its key missing, its state unreadable) is its own,
and the others go on; the exit code is the worst of theirs."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from reconciler.api import unsettled
from reconciler.core.errors import EhkeysError, UsageError
from reconciler.core.exitcodes import ExitCode
from reconciler.core.hosts import run_url, same_api
from reconciler.core.pathnames import shown
from reconciler.core.secrets import scrub
from reconciler.manifest import layout, load

ONE_ONLY = {"out": "--out", "plan": "--plan", "state": "--state", "report_out": "--report-out"}
"""Options that name one file of one manifest's run."""
ONE_RUN = {"max_debit": "--max-debit", "expect_net": "--expect-net"}
"""Guards over one apply's credits: each manifest's apply sees only its own, so held to each
they would let the command debit one limit per manifest."""

SEVERITY = (ExitCode.ERROR, ExitCode.INCOMPLETE, ExitCode.POLICY, ExitCode.CHANGES)


def run(
    args: argparse.Namespace, one: Callable[[argparse.Namespace], ExitCode], deletes: bool = False
) -> ExitCode:
    """`one` for each manifest the arguments name; `deletes`: the command may delete keys (apply)."""
    groups = layout.manifests(args.manifests)
    if len(groups) <= 1:  # a file of a directory manifest: the whole of it, its state the root's
        return one(_for(args, groups[0]) if groups else args)
    _refuse_one_file_options(args, len(groups))
    if deletes:
        _refuse_prune_across(groups, run_url(args.base_url, os.environ))
    codes = []
    for inputs in groups:
        print(f"# {' '.join(shown(i) for i in inputs)}", flush=True)
        codes.append(_one(one, _for(args, inputs)))
        print(flush=True)
    return next((code for code in SEVERITY if code in codes), ExitCode.OK)


def _one(one: Callable[[argparse.Namespace], ExitCode], args: argparse.Namespace) -> ExitCode:
    """One manifest's run; its error is its own (said as main says it), the others go on."""
    try:
        return one(args)
    except EhkeysError as exc:
        print(f"ehkeys: error: {scrub(str(exc))}", file=sys.stderr)
        for line in unsettled.lines():
            print(f"ehkeys: {scrub(line)}", file=sys.stderr)
        return exc.exit_code


def only(args: argparse.Namespace, command: str) -> argparse.Namespace:
    """The arguments of a command that reads one manifest (a file of a directory manifest: the
    whole of it); several are refused."""
    groups = layout.manifests(args.manifests)
    if len(groups) > 1:
        raise UsageError(f"{command} reads one manifest; the command line names {len(groups)}")
    return _for(args, groups[0]) if groups else args


def _for(args: argparse.Namespace, inputs: tuple[str, ...]) -> argparse.Namespace:
    return argparse.Namespace(**{**vars(args), "manifests": list(inputs)})


def _refuse_one_file_options(args: argparse.Namespace, manifests: int) -> None:
    for name, flag in ONE_ONLY.items():
        if getattr(args, name, None):
            raise UsageError(
                f"{flag} names one file, but the command line names {manifests} manifests "
                "(files of no common directory manifest): run one manifest at a time"
            )
    for name, flag in ONE_RUN.items():
        if getattr(args, name, None) is not None:
            raise UsageError(
                f"{flag} holds for one apply, but the command line names {manifests} manifests "
                "(files of no common directory manifest), each applied on its own: each would be held "
                "to it apart, and the command could debit it once per manifest. Run one manifest at "
                "a time, each with its own limit, or put them in a folder with an ehkeys.yaml (one "
                "manifest, one apply)"
            )
    if getattr(args, "format", None) == "json":  # a document each, one after the other: no JSON
        raise UsageError(
            f"--format json prints one document, but the command line names {manifests} manifests "
            "(files of no common directory manifest): run one manifest at a time"
        )


def _refuse_prune_across(groups: list[tuple[str, ...]], run_url: str) -> None:
    """Two manifests on one account (the same key variable) where one prunes, applied in one run:
    the pruning one spares the keys another manifest's state binds, but not those of one never
    applied yet (no state binds them), which this run may be about to adopt. Earlier versions
    planned them as one manifest. A plan, drift or usage deletes nothing: they run."""
    seen: dict[tuple[str, str | None], tuple[str, bool]] = {}
    for inputs in groups:
        loaded = load.load(inputs, offline=True).manifest
        for account in loaded.accounts if loaded else ():
            where = (account.key_var, same_api(account.base_url or run_url))  # one API, however spelt
            other, pruned = seen.setdefault(where, (inputs[0], account.prune))
            if other != inputs[0] and (pruned or account.prune):
                raise UsageError(
                    f"{other} and {inputs[0]} are two manifests of one account (${account.key_var}), "
                    "and prune: true in one may delete keys the other is about to adopt. Apply each on "
                    "a command line of its own, the one without prune first (a pruning manifest spares "
                    "the keys another manifest's state binds), or put them in a folder with an "
                    "ehkeys.yaml (a directory manifest), or give each its own account"
                )
