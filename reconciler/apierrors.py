"""The API's errors as ours: one hierarchy, HTTP statuses mapped in one place.

Messages are scrubbed of anything key-shaped; `retryable` says what the client may retry.
"""

from __future__ import annotations

from reconciler.errors import EhkeysError
from reconciler.model import scrub

MAX_BODY = 4 * 1024 * 1024


class ApiError(EhkeysError):
    """An answer or a failure from the API. `status` is None when no HTTP answer came."""

    status: int | None = None
    retryable = False
    wait: float | None = None  # seconds the server asked us to wait (Retry-After, reset)

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(scrub(message))
        self.message = scrub(message)
        if status is not None:
            self.status = status


class AuthError(ApiError):
    """401: the account API key is missing, malformed or unknown."""


class NotYours(ApiError):
    """403: the proxy key belongs to another account."""


class NotFound(ApiError):
    """404: no proxy key with that value exists."""


class InvalidRequest(ApiError):
    """400 or 422: the service rejected the request's content."""


class InsufficientBalance(ApiError):
    """402: the account's credits cannot cover the allocation."""


class RateLimited(ApiError):
    """429: too many requests."""

    retryable = True


class ServerError(ApiError):
    """5xx from the service."""

    retryable = True


class BadResponse(ApiError):
    """An answer that is not the documented JSON (an edge challenge page, a wrong shape)."""

    retryable = True


class TooLarge(BadResponse):
    """An answer over MAX_BODY bytes: refused without reading the rest."""

    retryable = False


class NetworkError(ApiError):
    """No answer: connection refused or dropped, or a timeout."""

    retryable = True


class NotSent(NetworkError):
    """The request provably never left (connection refused): safe to send again."""


class AnswerLost(NetworkError):
    """The request left but no answer came: the service may have acted on it."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: InvalidRequest,
    401: AuthError,
    402: InsufficientBalance,
    403: NotYours,
    404: NotFound,
    422: InvalidRequest,
    429: RateLimited,
}


def error_for_status(status: int, message: str) -> ApiError:
    """The one place where HTTP statuses become our errors."""
    kind = _BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)
    return kind(f"HTTP {status}: {message}", status)
