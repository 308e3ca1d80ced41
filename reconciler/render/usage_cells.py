"""What every format of the usage view shows of a key and of a roll-up: one set of cells, so
text, Markdown and the drift issue cannot disagree."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from reconciler.core.money import ZERO, money
from reconciler.core.printable import printable
from reconciler.core.secrets import scrub
from reconciler.core.times import iso
from reconciler.core.usage import KeyUsage, Rollup, UsageView

NONE = "-"
WINDOWS = "Windows are the manifest's limit_type (the API never reports them)."
UNMANAGED = "? unmanaged: in the account, not in the manifest."
ELSEWHERE = "= managed by the manifest root named (its state binds it; its drift watches it)."
HEADERS = ("Key", "Allocated", "Used", "Used %", "Active", "Window", "Expires", "Last used")
YES, NO = "yes", "no"  # the Active column: the key's live is_active


@dataclass(frozen=True)
class Cells:
    """One key's row, as text and Markdown show it."""

    key: str
    allocated: str
    used: str
    percent: str
    active: str
    window: str
    expires: str
    last_used: str

    def row(self) -> tuple[str, ...]:
        return (
            self.key,
            self.allocated,
            self.used,
            self.percent,
            self.active,
            self.window,
            self.expires,
            self.last_used,
        )


def day(epoch: int) -> str:
    """The date of a moment (UTC); a moment no date can show stays its number."""
    return iso(epoch).split("T")[0]


def mark(key: KeyUsage) -> str:
    """`? ` before an unmanaged key, `= ` before another manifest root's (as drift lists it)."""
    return "= " if key.managed_by else "? " if key.unmanaged else ""


def shown_name(key: KeyUsage, in_table: bool = False) -> str:
    """Its name and key; its mark first; `inactive` after a disabled one (but in a table, whose
    Active column says it), the other root whose it is after another root's (`managed by
    keys/search`, as the plan says it)."""
    state = "" if key.is_active or in_table else ", inactive"
    whose = f", managed by {printable(key.managed_by)}" if key.managed_by else ""
    return f"{mark(key)}{printable(scrub(key.name))} ({key.key}{state}{whose})"


def share(value: Decimal | None) -> str:
    return NONE if value is None else f"{value}%"


def ago(view: UsageView, key: KeyUsage) -> str:
    """When it was last used: `2026-07-18 (2 days ago)`, or `never (created 2026-06-01)`."""
    idle = key.idle_days(view.now)
    days = "" if idle is None else " (today)" if idle == 0 else f" ({idle} day{'s' * (idle != 1)} ago)"
    if key.last_used is not None:
        return day(key.last_used) + days
    return f"never (created {day(key.created_at)})" if key.created_at is not None else "never"


def cells(view: UsageView, key: KeyUsage) -> Cells:
    return Cells(
        shown_name(key, in_table=True),
        money(key.allocated),
        money(key.used),
        share(key.percent),
        YES if key.is_active else NO,
        key.window or NONE,
        "never" if key.expires_at == -1 else day(key.expires_at),
        ago(view, key),
    )


def legend(view: UsageView) -> str:
    said = [UNMANAGED] if any(k.unmanaged for k in view.keys) else []
    said += [ELSEWHERE] if any(k.managed_by for k in view.keys) else []
    return " ".join((WINDOWS, *said))


def totals(r: Rollup) -> str:
    """`20.50 of 155.00 credits used (13.2%) by 3 keys (1 unmanaged, 1 managed by another root)`."""
    which = [f"{r.unmanaged} unmanaged"] if r.unmanaged else []
    roots = "another root" if r.elsewhere == 1 else "other roots"
    which += [f"{r.elsewhere} managed by {roots}"] if r.elsewhere else []
    keys = f"{r.keys} key{'s' * (r.keys != 1)}" + (f" ({', '.join(which)})" if which else "")
    return f"{money(r.used)} of {money(r.allocated)} credits used ({share(r.percent)}) by {keys}"


def unread(why: str) -> str:
    """Why the keys no manifest key binds are all shown unmanaged: another root's state is unread."""
    return (
        f"another manifest root's state cannot be read ({why}): whether it manages any of the "
        "unmanaged keys cannot be told, so each is shown as unmanaged here"
    )


def unused_title(view: UsageView) -> str:
    days = f"{view.unused_days} day{'s' * (view.unused_days != 1)}"
    return f"Unused for {days} or more ({len(view.unused_keys)})"


def unused_line(view: UsageView, key: KeyUsage) -> str:
    """`[prod] Old (ek-proxy-…0006): last used 2026-01-01 (200 days ago); 20.00 unspent`."""
    where = f"[{key.account}] " if view.declared else ""
    unspent = max(key.allocated - key.used, ZERO)
    seen = ago(view, key)
    when = f"last used {seen}" if key.last_used is not None else seen.replace("never", "never used", 1)
    return f"{where}{shown_name(key)}: {when}; {money(unspent)} unspent"
