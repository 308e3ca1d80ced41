"""`ehkeys rotate MANIFEST ADDRESS...`: rotate those keys now, whatever their schedule, as
`apply` applies (the same guards, the same question, the same report), and nothing else.

Each key gets a successor with its settings (a debit now), delivered, then its predecessor is
kept for the overlap (the manifest's `rotate.overlap`, or `--overlap`; none set: 0) and deleted
by the first plan after it; with an overlap of 0, in this run, once the successor is delivered.
In a manifest without `accounts:` an address is the bare id (`svc`); with them, `prod/svc`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from reconciler.core.durations import Duration
from reconciler.core.errors import UsageError
from reconciler.core.keys import DesiredKey
from reconciler.engine import apply
from reconciler.engine.apply import AppliedRun
from reconciler.engine.console import ApplyConsole
from reconciler.engine.settings import ApplySettings, Rotate, Workspace
from reconciler.engine.workspace import accounts_of, select
from reconciler.manifest import load


def settings(base: ApplySettings, addresses: Sequence[str], overlap: Duration | None) -> ApplySettings:
    """The apply of `addresses` only, each rotated now (`check`ed first)."""
    workspace = replace(base.workspace, targets=tuple(addresses))
    check(workspace, overlap)
    return replace(base, workspace=workspace, rotate=Rotate(now=True, overlap=overlap, only=True))


def check(workspace: Workspace, overlap: Duration | None) -> None:
    """A target the manifest does not hold is a usage error (before anything is read), as is a
    key it asks to delete or pins by its value, an overlap its schedule would outlast, or a key
    of an account --account leaves out."""
    loaded = load.load(workspace.manifests, offline=True).manifest
    if loaded is not None:  # else the apply says what is wrong with the manifest
        for key in select(loaded.keys, workspace.targets, option="rotate "):
            _check(key, overlap)
        accounts_of(loaded, workspace)


def _check(key: DesiredKey, overlap: Duration | None) -> None:
    """A key this rotation cannot take, refused naming it (`ehkeys rotate`, `github rotate --now`)."""
    if key.absent:
        raise UsageError(f"rotate {key.address!r}: the manifest deletes it (absent: true)")
    if key.proxy_key is not None:
        raise UsageError(
            f"rotate {key.address!r}: the manifest pins it by proxy_key, which the new "
            "value would never match; drop proxy_key first (ehkeys then tracks it by state and name)"
        )
    if overlap is not None and key.rotate is not None and overlap >= key.rotate.every:
        raise UsageError(  # as the manifest refuses rotate.overlap: the successor would stop rotating
            f"rotate {key.address!r}: --overlap {overlap} is not shorter than its rotate.every "
            f"{key.rotate.every}: its successor would fall due before the old key retires, and no "
            "rotation starts while one is under way"
        )


def run(
    base: ApplySettings, addresses: Sequence[str], overlap: Duration | None, console: ApplyConsole
) -> AppliedRun:
    return apply.run(settings(base, addresses, overlap), console)
