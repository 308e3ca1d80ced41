"""The places a key's move leaves holding its old value: a sink's default name (an env file's
variable, a GitHub secret's) is the key's variable, which names the account
(EH_KEY_PROD_BACKEND). After a move the new value goes under another name, and what the old
value reached keeps it, soon a deleted key's: the plan says so, and how to keep the name."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from reconciler.core.plans import Move
from reconciler.core.sinks import FileSink, GitHubSecretSink
from reconciler.engine.workspace import Opened
from reconciler.manifest.addresses import variable


def renamed_variables(opened: Sequence[Opened], found: Sequence[Move]) -> dict[str, list[str]]:
    """Notes, by account, of the places a move leaves holding the old key's value: a sink's
    default name (an env file's variable, a GitHub secret's) names the account, EH_KEY_PROD_BACKEND,
    so after a move the value goes to another name, and the one it reached keeps a deleted key's."""
    by_name = {o.account.name: o for o in opened}
    notes: dict[str, list[str]] = {}
    for move in found:
        source, target = by_name.get(move.source), by_name.get(move.target)
        if source is None or target is None:
            continue
        old = variable(source.account.address(move.address))
        reached = set(source.state.reached.get(move.address, ()))
        shown = target.account.address(move.address)
        for key in (k for k in target.keys if k.address == move.address):
            named = [s for s in key.deliver if isinstance(s, (FileSink, GitHubSecretSink)) and s.name != old]
            stale = [s for s in named if replace(s, name=old).ident in reached]
            notes.setdefault(move.target, []).extend(_renamed(shown, s, old) for s in stale)
    return notes


def _renamed(shown: str, sink: FileSink | GitHubSecretSink, old: str) -> str:
    return (
        f"{shown}: {sink.describe()} gets its value as {sink.name}, no longer {old}: what reads {old} "
        f"keeps the old key's value, which this move deletes; pin `name: {old}` on the sink to keep it"
    )
