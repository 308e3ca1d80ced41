"""A DriftReport as text (a terminal, a log), Markdown (the drift issue, the job summary) and
JSON (`schemas/drift.schema.json`). Each shows the groups in one order, health warnings last.

The Markdown embeds `<!-- ehkeys-drift-digest: HEX -->`, the report's digest of its stable
findings, so that whoever keeps the drift issue can leave it alone when nothing changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TextIO

from reconciler.core.changes import Change, FieldChange
from reconciler.core.jsonvalue import to_json_value
from reconciler.core.keys import LiveKey
from reconciler.core.money import money
from reconciler.core.printable import printable
from reconciler.core.secrets import scrub
from reconciler.drift.report import (
    ChangedOutside,
    DriftReport,
    ElsewhereKey,
    FieldDrift,
    NotApplied,
    UnmanagedKey,
)
from reconciler.render import drift_words as words
from reconciler.render.plan import DRIFT_MARKER
from reconciler.render.plan import escape as md  # one escaping for every Markdown table cell
from reconciler.render.view import show, shown_pair

DIGEST = "<!-- ehkeys-drift-digest: {} -->"
TABLE_ROWS = 100  # per Markdown table: an issue body stops at 65,536 characters
FORMAT_VERSION = 1
GROUP_COLUMNS = (
    "Group",
    "Keys",
    "With drift",
    "Changed outside",
    "Not applied",
    "Never applied",
    "Health warnings",
)

Write = Callable[[str], Any]


def title(change: Change) -> str:
    name = printable(scrub(change.name))
    return f"{name} (a new key)" if change.new else f"{name} ({change.key})"


def planned(fc: FieldChange, created: bool = False) -> str:
    """One field a plan change sets, on one line: `field: before -> after` (sets as +/-)."""
    if created:
        return f"{fc.field}: {show(fc.field, fc.after)}"
    if isinstance(fc.after, frozenset) and isinstance(fc.before, frozenset):
        return f"{fc.field}: " + ", ".join([f"+{m}" for m in fc.added] + [f"-{m}" for m in fc.removed])
    return f"{fc.field}: {' -> '.join(shown_pair(fc.field, fc.before, fc.after))}"


def _lines(change: Change) -> list[str]:
    return [planned(fc, created=change.action.label == "create") for fc in change.fields]


# --- text -------------------------------------------------------------------------------------


def text(found: DriftReport, stream: TextIO) -> None:
    w = stream.write
    w(words.headline(found) + "\n")
    if found.by_group:
        w(
            f"\nBy group ({len(found.by_group)}):\n"
            + "".join(f"  {words.group_line(g)}\n" for g in found.by_group)
        )
    if found.changed_outside:
        w(f"\nChanged outside ehkeys since the last apply ({len(found.changed_outside)}):\n")
        for moved in found.changed_outside:
            _text_moved(moved, w)
    if found.not_applied:
        w(f"\nManifest not applied yet ({len(found.not_applied)}):\n")
        for item in found.not_applied:
            _text_not_applied(item, w)
    if found.unmanaged:
        w(f"\nUnmanaged keys ({len(found.unmanaged)}; in the account, not in the manifest):\n")
        w("".join(f"  ? {_unmanaged_line(u)}\n" for u in found.unmanaged))
    if found.others_unread:
        w(f"  ({printable(words.unread(found.others_unread))})\n")
    if found.never_applied:
        w(f"\nWrite-only values never applied ({len(found.never_applied)}; the next apply sends them):\n")
        w("".join(f"  ~ {title(c)}: {'; '.join(_lines(c))}\n" for c in found.never_applied))
    if found.errors:
        w("\nErrors:\n" + "".join(f"  ! {printable(e)}\n" for e in found.errors))
    if found.health:
        w(f"\nHealth warnings ({len(found.health)}; drift does not fail on these):\n")
        w("".join(f"  warning: {words.who(h)}: {h.message}\n" for h in found.health))
    if found.elsewhere:
        w(f"\n{words.ELSEWHERE} ({len(found.elsewhere)}; {words.NOT_DRIFT}):\n")
        w("".join(f"  = {_elsewhere_line(e)}\n" for e in found.elsewhere))


def _text_moved(moved: ChangedOutside, w: Write) -> None:
    name = printable(scrub(moved.name))
    since = f" (snapshot of {moved.recorded_at})" if moved.recorded_at else ""
    if moved.deleted:
        w(f"  - {name}: deleted outside ehkeys{since}; next apply: {moved.deleted}\n")
        return
    w(f"  ~ {name} ({moved.key}){since}:\n")
    for f in moved.fields:
        w(f"      {printable(words.moved(f))}   [next apply: {words.next_apply(f)}]\n")
    for fc in moved.also:
        w(f"      the next apply also sets {printable(planned(fc))}\n")


def _text_not_applied(item: NotApplied, w: Write) -> None:
    change = item.change
    w(f"  {change.action.value} {title(change)}: {change.action.label}\n")
    if change.reason:
        w(f"      # {printable(change.reason)}\n")
    for line in _lines(change):
        w(f"      {printable(line)}\n")
    if item.no_snapshot:
        w("      (no verified apply recorded for this key)\n")


def _unmanaged_line(u: UnmanagedKey) -> str:
    k = u.live
    state = "active" if k.is_active else "inactive"
    seen = "NEW since the last drift run" if u.new else f"first seen {u.first_seen}"
    text = (
        f"{printable(scrub(k.name))} ({k.proxy_key.display}): {money(k.allocated_ammount)} allocated, {state}"
    )
    return f"{text}; {seen}" + (f"; {printable(u.note)}" if u.note else "")


def _elsewhere_line(e: ElsewhereKey) -> str:
    k = e.live
    state = "active" if k.is_active else "inactive"
    text = (
        f"{printable(scrub(k.name))} ({k.proxy_key.display}): {money(k.allocated_ammount)} allocated, {state}"
    )
    return f"{text}; {printable(e.note)}"


# --- markdown ---------------------------------------------------------------------------------


def markdown(found: DriftReport, stream: TextIO) -> None:
    headline = md(words.headline(found).removeprefix("Drift: "))
    stream.write(f"{DRIFT_MARKER}\n### ehkeys drift: {headline}\n{DIGEST.format(words.digest(found))}\n\n")
    markdown_body(found, stream)


def markdown_body(found: DriftReport, stream: TextIO) -> None:
    """The report's tables (one account's section, where the manifest declares accounts)."""
    w = stream.write
    if found.by_group:
        rows = [(md(g.name), *(str(n) for n in list(g.data().values()))) for g in found.by_group]
        _table(w, f"By group ({len(found.by_group)})", rows, GROUP_COLUMNS)
    if found.changed_outside:
        rows = [row for moved in found.changed_outside for row in _md_moved(moved)]
        _table(
            w,
            f"Changed outside ehkeys since the last apply ({len(found.changed_outside)})",
            rows,
            ("Key", "Field", "Change", "Next apply"),
        )
    if found.not_applied:
        rows = [_md_not_applied(item) for item in found.not_applied]
        _table(w, f"Manifest not applied yet ({len(found.not_applied)})", rows, ("Key", "Action", "Changes"))
    if found.unmanaged:
        rows = [_md_unmanaged(u) for u in found.unmanaged]
        _table(w, f"Unmanaged keys ({len(found.unmanaged)})", rows, ("Key", "Allocated", "Seen", "Note"))
    if found.others_unread:
        w(f"> **Note:** {md(words.unread(found.others_unread))}\n\n")
    if found.never_applied:
        rows = [(_md_key(c), md("; ".join(_lines(c)))) for c in found.never_applied]
        _table(w, f"Write-only values never applied ({len(found.never_applied)})", rows, ("Key", "Changes"))
    for error in found.errors:
        w(f"> **Error:** {md(error)}\n\n")
    if found.health:
        rows = [(_md_who(h.name, h.key), h.kind, md(h.message)) for h in found.health]
        _table(w, f"Health warnings ({len(found.health)}; not drift)", rows, ("Key", "Kind", "Warning"))
    if found.elsewhere:
        rows = [_md_elsewhere(e) for e in found.elsewhere]
        heading = f"{words.ELSEWHERE} ({len(found.elsewhere)}; {words.NOT_DRIFT})"
        _table(w, heading, rows, ("Key", "Allocated", "Managed by", "Note"))


def _table(w: Write, heading: str, rows: list[tuple[str, ...]], columns: tuple[str, ...]) -> None:
    w(f"#### {heading}\n\n| {' | '.join(columns)} |\n|{'---|' * len(columns)}\n")
    w("".join(f"| {' | '.join(r)} |\n" for r in rows[:TABLE_ROWS]))
    if len(rows) > TABLE_ROWS:
        w(f"\n… and {len(rows) - TABLE_ROWS} more rows (`ehkeys drift` shows them all)\n")
    w("\n")


def _md_who(name: str, key: str) -> str:
    return f"{md(name)} (`{key}`)" if key else "the account"


def _md_key(change: Change) -> str:
    return f"{md(change.name)} (new key)" if change.new else _md_who(change.name, change.key)


def _md_moved(moved: ChangedOutside) -> list[tuple[str, ...]]:
    who = _md_who(moved.name, moved.key if not moved.deleted else "")
    if moved.deleted:
        return [(md(moved.name), "", "deleted outside ehkeys", md(moved.deleted))]
    rows: list[tuple[str, ...]] = [
        (who, f.field, md(_change_of(f)), md(words.next_apply(f))) for f in moved.fields
    ]
    rows += [
        (who, fc.field, md(planned(fc).split(": ", 1)[1]), "sets it (the manifest changed)")
        for fc in moved.also
    ]
    return rows


def _change_of(f: FieldDrift) -> str:
    return words.moved(f).split(": ", 1)[1].replace(" -> ", " → ")


def _md_not_applied(item: NotApplied) -> tuple[str, ...]:
    change = item.change
    action = change.action.label + (" (no verified apply recorded)" if item.no_snapshot else "")
    return (_md_key(change), md(action), md("; ".join(_lines(change))).replace(" -&gt; ", " → "))


def _md_unmanaged(u: UnmanagedKey) -> tuple[str, ...]:
    seen = "**new** since the last drift run" if u.new else f"since {u.first_seen}"
    return (_md_who(u.live.name, u.live.proxy_key.display), money(u.live.allocated_ammount), seen, md(u.note))


def _md_elsewhere(e: ElsewhereKey) -> tuple[str, ...]:
    k = e.live
    return (_md_who(k.name, k.proxy_key.display), money(k.allocated_ammount), md(e.managed_by), md(e.note))


# --- json -------------------------------------------------------------------------------------


def data(found: DriftReport) -> dict[str, Any]:
    """The documented shape (schemas/drift.schema.json)."""
    return {
        "format_version": FORMAT_VERSION,
        "in_sync": not found.drifted and not found.errors,
        "headline": words.headline(found),
        "digest": words.digest(found),
        "groups": {
            "changed_outside": [_json_moved(m) for m in found.changed_outside],
            "not_applied": [
                {**_json_change(n.change), "no_snapshot": n.no_snapshot} for n in found.not_applied
            ],
            "unmanaged": [_json_unmanaged(u) for u in found.unmanaged],
            "never_applied": [_json_change(c) for c in found.never_applied],
        },
        "health": [vars(h).copy() for h in found.health],
        "errors": list(found.errors),
        **({"by_group": {g.name: g.data() for g in found.by_group}} if found.by_group else {}),
        **({"managed_elsewhere": [_json_elsewhere(e) for e in found.elsewhere]} if found.elsewhere else {}),
        **({"others_unread": found.others_unread} if found.others_unread else {}),
    }


def as_json(found: DriftReport, stream: TextIO) -> None:
    stream.write(json.dumps(data(found), indent=2, ensure_ascii=False) + "\n")


def _json_moved(m: ChangedOutside) -> dict[str, Any]:
    return {
        "address": m.address,
        "name": m.name,
        "key": m.key,
        "recorded_at": m.recorded_at or None,
        "deleted": m.deleted or None,
        "fields": [
            {
                "field": f.field,
                "before": f.before,
                "after": f.after,
                "added": f.added,
                "removed": f.removed,
                "next_apply": words.next_apply(f),
            }
            for f in m.fields
        ],
        "also": {fc.field: fc.data() for fc in m.also},
    }


def _json_change(c: Change) -> dict[str, Any]:
    data = c.data()
    return {k: data[k] for k in ("address", "name", "key", "action", "reason", "changes", "credit")}


def _json_live(k: LiveKey) -> dict[str, Any]:
    """A live key no manifest key of this root binds, as both lists of them write it."""
    return {
        "name": k.name,
        "key": k.proxy_key.display,
        "fingerprint": k.fingerprint,
        "allocated_ammount": to_json_value(k.allocated_ammount),
        "is_active": k.is_active,
    }


def _json_unmanaged(u: UnmanagedKey) -> dict[str, Any]:
    return {**_json_live(u.live), "new": u.new, "first_seen": u.first_seen, "note": u.note or None}


def _json_elsewhere(e: ElsewhereKey) -> dict[str, Any]:
    return {**_json_live(e.live), "managed_by": e.managed_by, "note": e.note}


RENDERERS: dict[str, Callable[[DriftReport, TextIO], None]] = {
    "text": text,
    "markdown": markdown,
    "json": as_json,
}
