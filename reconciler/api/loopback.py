"""Loopback hosts (`core.hosts`): where a refused connection means that
nothing listens (a sandbox not started), not a network that may come back: no retry waits."""

from __future__ import annotations

from urllib.parse import urlsplit

from reconciler.core.hosts import is_loopback


def nothing_listens(exc: BaseException, base_url: str) -> str | None:
    """What to say when `exc` is a refused connection to a loopback `base_url`; else None."""
    parts = urlsplit(base_url)
    if not is_loopback(parts.hostname) or not _refused(exc):
        return None
    where = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"nothing listens on {where}:{port}: is `ehkeys sandbox` running?"


def _refused(exc: BaseException) -> bool:
    """A ConnectionRefusedError anywhere in the chain (httpx wraps httpcore wraps anyio's)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ConnectionRefusedError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
