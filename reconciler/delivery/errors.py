"""A delivery that failed, and the HTTP both API sinks (GitHub, Vault) share: one client per
delivery, plain http only to a loopback host, every failure a `DeliveryError` naming the call."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from reconciler import __version__
from reconciler.core.secrets import scrub

TIMEOUT = 20.0  # seconds per request


class DeliveryError(Exception):
    """One sink could not be written; `message` says why (never the value)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def client(base: str, headers: Mapping[str, str], what: str) -> httpx.AsyncClient:
    """A client for `base`: https, or plain http to a loopback host only (a token and a key
    would cross the network in clear); `what` names the setting in messages (VAULT_ADDR)."""
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError(f"{what} {base!r} is not an http:// or https:// URL")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise DeliveryError(f"{what} {base!r}: plain http only to this machine (127.0.0.1); use https")
    agent = {"User-Agent": f"ehkeys/{__version__}"}
    return httpx.AsyncClient(base_url=base.rstrip("/"), headers={**agent, **headers}, timeout=TIMEOUT)


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def request(http: httpx.AsyncClient, method: str, path: str, **sent: Any) -> httpx.Response:
    """The answer, whatever its status; a request that got none is a DeliveryError."""
    try:
        return await http.request(method, path, **sent)
    except httpx.HTTPError as exc:
        why = scrub(str(exc)) or type(exc).__name__
        raise DeliveryError(f"{method} {http.base_url}{path}: no answer ({why})") from None


def said(answer: httpx.Response) -> str:
    """What an error answer says: GitHub's `message`, Vault's `errors`, else its first words."""
    try:
        body = answer.json()
    except ValueError:
        return scrub(answer.text[:200].strip())
    if isinstance(body, dict) and body.get("message"):
        return scrub(str(body["message"]))
    if isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
        return scrub("; ".join(str(e) for e in body["errors"]))
    return ""


def status(answer: httpx.Response) -> str:
    """`HTTP 403: Resource not accessible by integration`."""
    text = said(answer)
    return f"HTTP {answer.status_code}" + (f": {text}" if text else "")
