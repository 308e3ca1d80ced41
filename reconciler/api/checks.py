"""What the client refuses before any request: an account key that cannot work, a base URL
that is not https (plain http only to a loopback host)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from reconciler.api.loopback import is_loopback
from reconciler.core.errors import ConfigError
from reconciler.core.secrets import redact

DEFAULT_BASE_URL = "https://api.electronhub.ai/v1"
_KEY_TEXT = re.compile(r"[!-~]+")  # printable ASCII without spaces: what a header can carry


def check_api_key(api_key: str | None) -> str:
    """Refuse, before any request, a key that cannot work (and say why, never echoing it)."""
    key = (api_key or "").strip()
    if not key:
        raise ConfigError("ELECTRONHUB_API_KEY is not set (or use --sandbox to try the tool)")
    if not _KEY_TEXT.fullmatch(key):
        raise ConfigError(
            "ELECTRONHUB_API_KEY contains characters no API key has (a space, a line break, a "
            "control or non-ASCII character): copy the key again"
        )
    if key.startswith("ek-proxy-"):
        raise ConfigError(
            f"ELECTRONHUB_API_KEY holds a proxy key ({redact(key)}): management calls need the "
            "account API key (ek-…), and the API rejects proxy keys"
        )
    if key.startswith("eyJ") and key.count(".") == 2:
        raise ConfigError("ELECTRONHUB_API_KEY looks like a JWT: the API accepts only API keys (ek-…)")
    if not key.startswith("ek-"):
        raise ConfigError("ELECTRONHUB_API_KEY does not look like an account API key (ek-…)")
    return key


def check_base_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url.rstrip("/")
    if parts.scheme == "http" and is_loopback(parts.hostname):
        return url.rstrip("/")
    raise ConfigError(f"base URL {url!r}: use https:// (plain http:// is allowed only to a loopback host)")
