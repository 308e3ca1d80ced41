"""The ElectronHub API client: one seam for I/O (httpx, with a `transport=` for tests).

- Only the static URLs (the legacy ones put the proxy key in the URL, where logs keep it).
- One error hierarchy (apierrors): HTTP statuses map to it in `wire.decode`, transport
  failures in `transport.transport_error`, as NotSent (never left) or AnswerLost (may have
  been done).
- Requests are paced, bounded by a deadline and retried as far as is safe (`sender`, `retry`).
- Each endpoint's answer is checked against its documented shape here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from reconciler.api.answers import live_key
from reconciler.api.calls import ACCOUNT, CREATE, LIST, LOOKUP, REMOVE, TOGGLE, UPDATE, about, labelled
from reconciler.api.checks import check_api_key, check_base_url
from reconciler.api.errors import BadResponse, NotFound
from reconciler.api.retry import RetryPolicy
from reconciler.api.sender import USER_AGENT, Sender, terminal_notice
from reconciler.api.transport import POOL_SIZE, environment_proxy
from reconciler.api.wire import json_bytes
from reconciler.core.hosts import DEFAULT_BASE_URL
from reconciler.core.keys import LiveKey
from reconciler.core.secrets import ProxyKey

__all__ = [  # where callers have always found them
    "DEFAULT_BASE_URL",
    "POOL_SIZE",
    "USER_AGENT",
    "Client",
    "RetryPolicy",
    "check_api_key",
    "check_base_url",
    "environment_proxy",
    "json_bytes",
    "terminal_notice",
]

_MESSAGE = "the answer is not the documented {'message': ...}"


class Client(Sender):
    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close(failed=exc[0] is not None)

    async def lookup(self, proxy_key: ProxyKey) -> LiveKey:
        data = await self.request("POST", LOOKUP, {"proxy_key": proxy_key.reveal()})
        with about("POST", LOOKUP):
            return live_key(data, proxy_key)

    async def update(self, body: dict[str, Any]) -> None:
        data = await self.request("POST", UPDATE, body)
        if not isinstance(data, dict) or "message" not in data:
            raise labelled(BadResponse(_MESSAGE), "POST", UPDATE)

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """The new key's object, its `key` included: a secret, never to be logged or printed.

        Sent again only if it provably did nothing (NotSent, 429): after a lost answer, a
        second create could make a second key and take its allocation twice.
        """
        data = await self.request("POST", CREATE, body, idempotent=False)
        key = data.get("key") if isinstance(data, dict) else None
        if not isinstance(key, str) or not key.startswith("ek-proxy-"):
            raise labelled(BadResponse("the answer has no new proxy key (ek-proxy-…)"), "POST", CREATE)
        return data  # type: ignore[no-any-return]  # a dict, checked above

    async def toggle(self, proxy_key: ProxyKey) -> bool:
        """Flips is_active; the new state. Never re-sent after it may have been processed."""
        data = await self.request("POST", TOGGLE, {"proxy_key": proxy_key.reveal()}, idempotent=False)
        status = data.get("status") if isinstance(data, dict) else None
        if not isinstance(status, bool):
            raise labelled(BadResponse("the answer has no true/false 'status'"), "POST", TOGGLE)
        return status

    async def remove(self, proxy_key: ProxyKey) -> None:
        """Deletes the key (its unused credit goes back). A 404 after an attempt whose answer
        was lost means that attempt removed it: that is success."""
        try:
            data = await self.request("POST", REMOVE, {"proxy_key": proxy_key.reveal()})
        except NotFound as exc:
            if exc.after_lost_answer:
                return
            raise
        if not isinstance(data, dict) or "message" not in data:
            raise labelled(BadResponse(_MESSAGE), "POST", REMOVE)

    async def balance(self) -> Decimal:
        data = await self.request("GET", ACCOUNT)
        credits = data.get("credits") if isinstance(data, dict) else None
        if isinstance(credits, bool) or not isinstance(credits, (int, Decimal)):
            raise labelled(BadResponse("the answer has no numeric 'credits'"), "GET", ACCOUNT)
        return Decimal(credits)

    async def list_keys(self) -> list[dict[str, Any]]:
        data = await self.request("GET", LIST)
        if not isinstance(data, list) or not all(isinstance(k, dict) for k in data):
            raise labelled(BadResponse("the answer is not a JSON array of keys"), "GET", LIST)
        return data
