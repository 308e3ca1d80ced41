"""The connections: httpx transports (pooled, through the environment's proxy, TLS only for
https), and a transport's failure said as ours: NotSent when the request cannot have left,
AnswerLost when it may have been processed."""

from __future__ import annotations

import ssl
import urllib.request
from urllib.parse import urlsplit

import httpx

from reconciler.api.errors import AnswerLost, NetworkError, NothingListens, NotSent
from reconciler.api.loopback import nothing_listens
from reconciler.core.hosts import is_loopback

POOL_SIZE = 8  # connections per httpx pool; see pools
SILENCE = (httpx.ConnectTimeout, httpx.ReadTimeout, httpx.WriteTimeout)
NEVER_LEFT = (httpx.ConnectError, httpx.ProxyError, httpx.UnsupportedProtocol, httpx.LocalProtocolError)


def pools(base_url: str, parallelism: int) -> list[httpx.AsyncBaseTransport]:
    """Connection pools for `parallelism` requests at once, through the environment's proxy.

    Transports, not httpx.AsyncClient: the client's per-request work (URL merging, cookie
    jars, hooks) is a third of the CPU of a lookup, and none of it is needed here.
    httpcore's pool does work per pooled connection on every request, so one pool of 32
    connections costs several times the CPU of four pools of 8 (bench scenario 1): shard it.
    """
    shards = -(-parallelism // POOL_SIZE)
    tls = _tls_context(base_url)  # one context (and CA bundle load) for every pool
    limits = httpx.Limits(max_connections=-(-parallelism // shards))
    proxy = environment_proxy(base_url)
    return [httpx.AsyncHTTPTransport(verify=tls, limits=limits, proxy=proxy) for _ in range(shards)]


def _tls_context(base_url: str) -> ssl.SSLContext:
    if base_url.startswith("https://"):
        return httpx.create_ssl_context()  # verifying, with the CA bundle (~17 ms to load)
    # Plain http, which check_base_url allows only to a loopback host: TLS is never used, so
    # the context loads no CA bundle and, verifying by default, would trust nothing.
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def environment_proxy(url: str) -> str | None:
    """The proxy HTTPS_PROXY / HTTP_PROXY / ALL_PROXY name for `url`, unless NO_PROXY
    exempts it (on macOS and Windows, also the system's settings): as httpx and curl do."""
    host = urlsplit(url).hostname or ""
    if is_loopback(host) or urllib.request.proxy_bypass(host):
        return None
    proxies = urllib.request.getproxies()
    proxy = proxies.get(urlsplit(url).scheme) or proxies.get("all")
    if not proxy:
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def transport_error(exc: httpx.TransportError, limit: float, base_url: str) -> NetworkError:
    """httpx's failure as ours: NotSent when the request cannot have left, else AnswerLost;
    a refused loopback connection stops the run at once (nothing listens there)."""
    if isinstance(exc, httpx.ConnectError) and (nobody := nothing_listens(exc, base_url)):
        return NothingListens(nobody)
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, httpx.ConnectTimeout):
        return NotSent(f"the request never reached the API: no connection within {secs(limit)} s (timed out)")
    if isinstance(exc, httpx.PoolTimeout):
        return NotSent(f"the request was not sent: no connection free within {secs(limit)} s (timed out)")
    if isinstance(exc, httpx.TimeoutException):
        return AnswerLost(f"no answer from the API within {secs(limit)} s (timed out)")
    if isinstance(exc, NEVER_LEFT):
        return NotSent(f"the request never reached the API ({detail})")
    return AnswerLost(f"no answer from the API: the connection failed before the answer ({detail})")


def secs(seconds: float) -> str:
    return f"{seconds:.0f}" if seconds >= 10 else f"{seconds:.2g}"
