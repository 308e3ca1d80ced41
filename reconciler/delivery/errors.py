"""A delivery that failed, and the HTTP both API sinks (GitHub, Vault) share: one client per
delivery, plain http only to a loopback host, every failure a `DeliveryError` naming the call."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx

from reconciler import __version__
from reconciler.core.hosts import is_loopback
from reconciler.core.secrets import scrub

TIMEOUT = 20.0  # seconds per request, its answer read whole
MAX_BODY = 1024 * 1024  # bytes of an answer read: a public key or an error is a few hundred
SAID = 200  # characters of an error answer quoted
GATEWAY = (502, 503, 504)  # a gateway's answer: the request may be tried again
BACKOFF = (1.0, 3.0)  # seconds before the second and the third try
_HEADER = re.compile(r"[\x21-\x7e]+")  # what a token in a request header may hold
_SECRET_HEADERS = ("authorization", "x-vault-token")


class DeliveryError(Exception):
    """One sink could not be written; `message` says why (never the value)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def client(base: str, headers: Mapping[str, str], what: str) -> httpx.AsyncClient:
    """A client for `base` (`address_problem` says which it refuses); `what` names the setting
    in messages (VAULT_ADDR)."""
    problem = address_problem(base, what)
    if problem:
        raise DeliveryError(problem)
    agent = {"User-Agent": f"ehkeys/{__version__}"}
    return httpx.AsyncClient(base_url=base.rstrip("/"), headers={**agent, **headers}, timeout=TIMEOUT)


def address_problem(base: str, what: str) -> str:
    """Why `base` cannot be used ('' when it can): https, or plain http to a loopback host only (a
    token and a key would cross the network in clear), and a URL at all. Shown without any user
    and password it holds."""
    parts, shown = urlsplit(base), bare(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{what} {shown!r} is not an http:// or https:// URL"
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return f"{what} {shown!r}: plain http only to this machine (127.0.0.1); use https"
    try:
        httpx.URL(base)
    except httpx.InvalidURL:
        return f"{what} {shown!r} is not a URL (a space or a newline in it?)"
    return ""


def bare(url: str) -> str:
    """`url` without the user and password it may hold (https://user:pass@host/: https://host/)."""
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def unusable(env: Mapping[str, str], *names: str) -> str:
    """Why the first of these variables that is set cannot go in a request header ('' when
    each can): a newline, a space or a letter beyond ASCII in it. Its value is never shown."""
    for name in names:
        if env.get(name) and not _HEADER.fullmatch(env[name]):
            return (
                f"{name} holds a character no token has (a newline, a space, or one beyond ASCII): "
                "check how it is set (its value is not shown)"
            )
    return ""


@dataclass(frozen=True)
class Answer:
    """An answer as far as it was read: its status, headers and body (at most MAX_BODY bytes)."""

    status_code: int
    headers: httpx.Headers
    content: bytes
    path: str  # the request's path, for messages
    tokens: tuple[str, ...] = ()  # what the request carried as its token: never quoted from the body

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body decoded; ValueError when it is not JSON, or nested deeper than json parses."""
        try:
            return json.loads(self.content)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


async def request(http: httpx.AsyncClient, method: str, path: str, tries: int = 1, **sent: Any) -> Answer:
    """The answer, whatever its status, read within TIMEOUT in all (a server that trickles its
    answer is given up) and up to MAX_BODY bytes; a request that got neither is a DeliveryError.
    Up to `tries` times (a request that may be sent again): a gateway's 502, 503 or 504, or a
    connection that failed, is tried again after BACKOFF."""
    for attempt in range(tries):
        if attempt:
            await anyio.sleep(BACKOFF[min(attempt, len(BACKOFF)) - 1])
        last = attempt == tries - 1
        try:
            answer = await _once(http, method, path, sent)
        except _Unreached as exc:
            if last:
                raise exc.error from None
            continue
        if last or answer.status_code not in GATEWAY:
            return answer
    raise AssertionError("tries must be at least 1")


class _Unreached(Exception):
    """No answer came, and the request may be sent again (`error` says why, if it is not)."""

    def __init__(self, error: DeliveryError) -> None:
        super().__init__(error.message)
        self.error = error


async def _once(http: httpx.AsyncClient, method: str, path: str, sent: dict[str, Any]) -> Answer:
    where = f"{method} {bare(str(http.base_url))}{path}"
    try:
        with anyio.fail_after(TIMEOUT):
            return await _exchange(http, http.build_request(method, path, **sent), where)
    except TimeoutError:
        raise DeliveryError(f"{where}: no whole answer within {TIMEOUT:g} s; given up") from None
    except (httpx.ConnectError, httpx.RemoteProtocolError) as exc:
        raise _Unreached(DeliveryError(f"{where}: no answer ({_why(exc, http.headers)})")) from None
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{where}: no answer ({_why(exc, http.headers)})") from None


def _why(exc: Exception, headers: httpx.Headers) -> str:
    """What went wrong, without the token the request carried (httpx may quote a header)."""
    return scrub(_hidden(str(exc), _tokens(headers))) or type(exc).__name__


def _tokens(headers: httpx.Headers) -> tuple[str, ...]:
    """The secrets a request's headers carry: each token header whole, and without its scheme."""
    values = [headers.get(name, "") for name in _SECRET_HEADERS]
    return tuple(filter(None, (part for value in values for part in (value, value.partition(" ")[2]))))


def _hidden(text: str, tokens: tuple[str, ...]) -> str:
    for secret in tokens:
        text = text.replace(secret, "…")
    return text


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
        return Answer(answer.status_code, answer.headers, bytes(body), sent.url.path, _tokens(sent.headers))
    finally:
        await answer.aclose()


def said(answer: Answer) -> str:
    """What an error answer says: GitHub's `message`, Vault's `errors`, else its text; on one
    line, at most SAID characters, anything like a key hidden."""
    try:
        body = answer.json()
    except ValueError:
        body = answer.text
    if isinstance(body, dict) and body.get("message"):
        text = str(body["message"])
    elif isinstance(body, dict) and isinstance(body.get("errors"), list):
        text = "; ".join(str(e) for e in body["errors"])
    else:
        text = body if isinstance(body, str) else ""
    text = " ".join(scrub(_hidden(text, answer.tokens)).split())  # a proxy may echo the request
    return text if len(text) <= SAID else text[:SAID] + "…"


def status(answer: Answer) -> str:
    """`HTTP 403: Resource not accessible by integration`; a redirect's target (never followed:
    the token goes to the address it was given for, and nowhere else)."""
    if 300 <= answer.status_code < 400:
        target = scrub(_hidden(answer.headers.get("location", ""), answer.tokens)) or "nowhere said"
        return (
            f"HTTP {answer.status_code}: a redirect to {target}, not followed (the token goes nowhere else)"
        )
    text = said(answer)
    return f"HTTP {answer.status_code}" + (f": {text}" if text else "")
