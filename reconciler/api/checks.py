"""What the client refuses before any request: an account key that cannot work, a base URL
that is not https (plain http only to a loopback host)."""

from __future__ import annotations

import re

import httpx

from reconciler.core.accounts import DEFAULT_KEY_VAR
from reconciler.core.errors import ConfigError
from reconciler.core.hosts import shown_url, url_problem
from reconciler.core.secrets import redact

_KEY_TEXT = re.compile(r"[!-~]+")  # printable ASCII without spaces: what a header can carry


def check_api_key(api_key: str | None, var: str = DEFAULT_KEY_VAR) -> str:
    """Refuse, before any request, a key that cannot work (and say why, never echoing it);
    `var` names where it came from."""
    key = (api_key or "").strip()
    if not key:
        raise ConfigError(f"{var} is not set (or use --sandbox to try the tool)")
    if not _KEY_TEXT.fullmatch(key):
        raise ConfigError(
            f"{var} contains characters no API key has (a space, a line break, a "
            "control or non-ASCII character): copy the key again"
        )
    if key.startswith("ek-proxy-"):
        raise ConfigError(
            f"{var} holds a proxy key ({redact(key)}): management calls need the "
            "account API key (ek-…), and the API rejects proxy keys"
        )
    if key.startswith("eyJ") and key.count(".") == 2:
        raise ConfigError(f"{var} looks like a JWT: the API accepts only API keys (ek-…)")
    if not key.startswith("ek-"):
        raise ConfigError(f"{var} does not look like an account API key (ek-…)")
    return key


def check_base_url(url: str) -> str:
    problem = url_problem(url) or _unsendable(url)
    if problem:
        raise ConfigError(f"base URL {shown_url(url)}: {problem}")
    return url.rstrip("/")


def _unsendable(url: str) -> str:
    """Why httpx cannot send to `url` ('' when it can): a host IDNA refuses (`xn--`)."""
    try:
        httpx.Request("GET", url)
    except (httpx.InvalidURL, ValueError) as exc:
        return f"not a URL ({exc})"
    return ""
