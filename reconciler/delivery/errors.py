"""A delivery that failed, and the HTTP both API sinks (GitHub, Vault) share: one client per
delivery, plain http only to a loopback host, every failure a `DeliveryError` naming the call."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx

from reconciler import __version__
from reconciler.core.secrets import scrub

TIMEOUT = 20.0  # seconds per request, its answer read whole
MAX_BODY = 1024 * 1024  # bytes of an answer read: a public key or an error is a few hundred


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


@dataclass(frozen=True)
class Answer:
    """An answer as far as it was read: its status, headers and body (at most MAX_BODY bytes)."""

    status_code: int
    headers: httpx.Headers
    content: bytes
    path: str  # the request's path, for messages

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


async def request(http: httpx.AsyncClient, method: str, path: str, **sent: Any) -> Answer:
    """The answer, whatever its status, read within TIMEOUT in all (a server that trickles its
    answer is given up) and up to MAX_BODY bytes; a request that got neither is a DeliveryError."""
    where = f"{method} {http.base_url}{path}"
    try:
        with anyio.fail_after(TIMEOUT):
            return await _exchange(http, http.build_request(method, path, **sent), where)
    except TimeoutError:
        raise DeliveryError(f"{where}: no whole answer within {TIMEOUT:g} s; given up") from None
    except httpx.HTTPError as exc:
        why = scrub(str(exc)) or type(exc).__name__
        raise DeliveryError(f"{where}: no answer ({why})") from None


async def _exchange(http: httpx.AsyncClient, sent: httpx.Request, where: str) -> Answer:
    answer = await http.send(sent, stream=True)
    try:
        body = bytearray()
        async for chunk in answer.aiter_bytes():
            body += chunk
            if len(body) > MAX_BODY:
                raise DeliveryError(
                    f"{where}: HTTP {answer.status_code}, an answer over {MAX_BODY:,} bytes; not read"
                )
        return Answer(answer.status_code, answer.headers, bytes(body), sent.url.path)
    finally:
        await answer.aclose()


def said(answer: Answer) -> str:
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


def status(answer: Answer) -> str:
    """`HTTP 403: Resource not accessible by integration`; a redirect's target (never followed:
    the token goes to the address it was given for, and nowhere else)."""
    if 300 <= answer.status_code < 400:
        target = scrub(answer.headers.get("location", "")) or "nowhere said"
        return (
            f"HTTP {answer.status_code}: a redirect to {target}, not followed (the token goes nowhere else)"
        )
    text = said(answer)
    return f"HTTP {answer.status_code}" + (f": {text}" if text else "")
