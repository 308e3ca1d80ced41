"""The places a key's move leaves holding its old value: a sink's default name (an env file's
variable, a GitHub secret's, a Vault field) is the key's variable, which names the account
(EH_KEY_PROD_BACKEND). After a move the new value goes under another name, and what the old
value reached keeps it, soon a deleted key's: the plan says so, and how to keep the name. A key
moved without sinks leaves the old value wherever it was handed, its key deleted: said too."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from reconciler.core.changes import Action
from reconciler.core.plan import Plan
from reconciler.core.plans import Move
from reconciler.core.sinks import FileSink, GitHubSecretSink, Sink, VaultSink
from reconciler.engine.workspace import Opened
from reconciler.manifest.addresses import variable
from reconciler.planning.deliverynotes import handed_nowhere


def renamed_variables(opened: Sequence[Opened], found: Sequence[Move]) -> dict[str, list[str]]:
    """Notes, by account, of the places a move leaves holding the old key's value: a sink's
    default name (an env file's variable, a GitHub secret's, a Vault field) names the account,
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
            named = [(sink, _named(sink, old)) for sink in key.deliver]
            stale = [(sink, n) for sink, n in named if n is not None and n.before in reached]
            notes.setdefault(move.target, []).extend(_renamed(shown, s, n, old) for s, n in stale)
    return notes


@dataclass(frozen=True)
class _Name:
    field: str  # what the manifest calls it: `name`, or a Vault sink's `field`
    now: str  # the name the sink has now
    before: str  # the sink's ident had it its old default name


def _named(sink: Sink, old: str) -> _Name | None:
    """How the sink is named; None for a sink without a name (a command), or named `old` still."""
    if isinstance(sink, (FileSink, GitHubSecretSink)) and sink.name != old:
        return _Name("name", sink.name, replace(sink, name=old).ident)
    if isinstance(sink, VaultSink) and sink.field != old:
        return _Name("field", sink.field, replace(sink, field=old).ident)
    return None


def _renamed(shown: str, sink: Sink, name: _Name, old: str) -> str:
    keep = f"pin `{name.field}: {old}` on the sink to keep it"
    return (
        f"{shown}: {sink.describe()} gets its value as {name.now}, no longer {old}: what reads {old} "
        f"keeps the old key's value, which this move deletes; {keep}"
    )


def unhanded(opened: Sequence[Opened], plans: Sequence[Plan], found: Sequence[Move]) -> dict[str, list[str]]:
    """Notes, by account, of the keys a plan moves here without sinks: created here, their value
    handed to nobody, while their old key, the one the application holds, is deleted there."""
    by_name, planned = {o.account.name: o for o in opened}, {p.account.name: p for p in plans}
    notes: dict[str, list[str]] = {}
    for move in found:
        target, source, made = by_name.get(move.target), planned.get(move.source), planned.get(move.target)
        if target is None or source is None or made is None:
            continue
        bare = any(k.address == move.address and not k.deliver for k in target.keys)
        created = any(c.action is Action.CREATE for c in made.changes_of(move.address))
        if bare and created and any(c.action is Action.DELETE for c in source.changes_of(move.address)):
            instead = (
                f"keep it in account {move.source} and add it to account {move.target} as well (a "
                "second key of its id), hand that key's value over, then set `absent: true` on the old one"
            )
            shown, old = made.account.address(move.address), f"its old key in account {move.source}"
            notes.setdefault(move.target, []).append(
                handed_nowhere(shown, old, f"account {move.target}", instead)
            )
    return notes
