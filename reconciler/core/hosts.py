"""Loopback hosts: the one place plain http may go (the sandbox, a fake served for a test),
for the API's base URL and the delivery sinks' addresses alike."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from reconciler.core.errors import ConfigError
from reconciler.core.pathnames import quoted, undecodable

PLAIN_HTTP = "use https:// (plain http:// is allowed only to a loopback host)"
BASE_URL_VAR = "ELECTRONHUB_BASE_URL"
DEFAULT_BASE_URL = "https://api.electronhub.ai/v1"  # the API's, when neither manifest nor run names one


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


def url_problem(url: str) -> str:
    """Why the API may not be called at `url` ('' when it may): https to a host, or plain http
    to a loopback one, with a port that is a number from 1 to 65535."""
    if undecodable(url):  # an environment variable's bytes: the command line refuses them itself
        return "not UTF-8, as a URL is: write it again"
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is no number from 0 to 65535
    except ValueError as exc:
        return f"not a URL ({exc})"
    if port == 0:  # what `ehkeys sandbox --port 0` is given, never where it listens
        return "port 0 names no server: use the URL `ehkeys sandbox` prints"
    if parts.scheme == "https" and parts.hostname:
        return ""
    if parts.scheme == "http" and is_loopback(parts.hostname):
        return ""
    return PLAIN_HTTP


def redacted_url(url: str) -> str:
    """`url` as a message or a suggested command shows it: a password in it as `…`
    (`https://user:…@proxy/v1`), the rest as written; a URL that cannot be read, as it is."""
    try:
        parts = urlsplit(url)
    except ValueError:
        scheme, sep, rest = url.partition("://")
        return url if "@" not in rest else f"{scheme}{sep}…@{rest.rpartition('@')[2]}"
    if parts.password is None:
        return url
    user, _, host = parts.netloc.rpartition("@")
    return parts._replace(netloc=f"{user.partition(':')[0]}:…@{host}").geturl()


def shown_url(url: str) -> str:
    """`url` quoted for a message: its password as `…`, bytes that are not UTF-8 as `\\xNN`."""
    return quoted(redacted_url(url))


def run_url(given: str | None, env: Mapping[str, str]) -> str:
    """The API a run asks where its account names none: --base-url, $ELECTRONHUB_BASE_URL (from
    `env`), or the service's own. A variable that is not UTF-8 is refused here, naming it."""
    found = env.get(BASE_URL_VAR)
    if not given and found and undecodable(found):
        raise ConfigError(f"{BASE_URL_VAR} {shown_url(found)} is not UTF-8, as a URL is: set it again")
    return given or found or DEFAULT_BASE_URL


def same_api(url: str) -> str:
    """`url` as one API's address, whatever its spelling, with no credentials in it: scheme and
    host in lower case, no `user:password@`, no default port, no trailing slash (a saved plan
    records it, and compares by it). One that cannot be read (the plan of an account it left
    unread says why): as written, but for its password."""
    try:
        parts = urlsplit(url)
        given = parts.port
    except ValueError:
        return redacted_url(url)
    host = (parts.hostname or "").lower()
    default = {"https": 443, "http": 80}.get(parts.scheme.lower())
    port = "" if given in (None, default) else f":{given}"
    host = f"[{host}]" if ":" in host else host
    return urlunsplit((parts.scheme.lower(), host + port, parts.path.rstrip("/"), parts.query, ""))
