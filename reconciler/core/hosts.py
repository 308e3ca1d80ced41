"""Loopback hosts: the one place plain http may go (the sandbox, a fake served for a test),
for the API's base URL and the delivery sinks' addresses alike."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str | None) -> bool:
    """localhost, 127.0.0.0/8 or ::1 (as urlsplit gives them: no brackets)."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
