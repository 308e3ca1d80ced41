"""The API's paths, and one request through all its attempts: what it is, what it is about
(redacted), whether it may have reached the API."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from reconciler.api.errors import ApiError
from reconciler.core.secrets import redact

LOOKUP, UPDATE, CREATE = "/auth/proxy/lookup", "/auth/proxy/update", "/auth/proxy/create"
TOGGLE, REMOVE, LIST, ACCOUNT = "/auth/proxy/toggle", "/auth/proxy/remove", "/auth/proxy", "/user/me"
READS = (LOOKUP,)  # POSTs that change nothing
ACCOUNT_PATHS = (ACCOUNT, LIST, CREATE)  # paths about no one key: a 404 there is a wrong URL


@dataclass(eq=False)
class Call:
    """One request through all its attempts."""

    method: str
    path: str
    payload: bytes | None
    idempotent: bool
    deadline: float  # time.monotonic()
    label: str  # the name, and the key it is about (redacted)
    attempts: int = 0
    sent: int = 0  # attempts that went out
    reached: bool = False  # an attempt may have reached the API
    unsettled: bool = False  # an attempt that may have been processed went unanswered

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def write(self) -> bool:
        return self.method != "GET" and self.path not in READS

    def annotate(self, error: ApiError) -> None:
        error.request = error.request or self.name
        error.attempts = max(self.sent, 1)
        error.after_lost_answer = self.unsettled


def label(method: str, path: str, body: Any) -> str:
    """`POST /auth/proxy/update (ek-proxy-…abcd)`: the request and what it is about, no secret."""
    name = f"{method} {path}"
    about = body if isinstance(body, dict) else {}
    if isinstance(about.get("proxy_key"), str):
        return f"{name} ({redact(about['proxy_key'])})"
    if isinstance(about.get("name"), str):
        return f"{name} (name {about['name']!r})"
    return name


def labelled(error: ApiError, method: str, path: str) -> ApiError:
    error.request = f"{method} {path}"
    return error


@contextlib.contextmanager
def about(method: str, path: str) -> Iterator[None]:
    """Errors raised while reading an answer name the request."""
    try:
        yield
    except ApiError as exc:
        raise labelled(exc, method, path) from None
