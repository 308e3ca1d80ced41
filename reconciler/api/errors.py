"""The API's errors as ours: one hierarchy, HTTP statuses mapped in one place.

    ApiError                     an answer or a failure from the API
    ├── AuthError                401: the account API key is wrong (stops the run)
    ├── NotYours                 403: the proxy key belongs to another account
    ├── NotFound                 404
    ├── InvalidRequest           400 or 422
    ├── InsufficientBalance      402
    ├── RateLimited              429 (retried: the service answers it before doing anything)
    ├── ServerError              5xx (retried only when idempotent: it may have been processed)
    ├── BadResponse              not the documented JSON (retried only when idempotent)
    │   └── TooLarge             over MAX_BODY (never retried)
    └── NetworkError             no HTTP answer
        ├── NotSent              the request never left: connection refused, connect or pool
        │   │                    timeout (retried, even when not idempotent)
        │   ├── OutOfTime        its deadline came first, or a rate-limit wait would pass it
        │   └── Unreachable      the API left several attempts in a row unanswered: the client
        │                        sends nothing more (stops the run)
        └── AnswerLost           sent, answer lost (read timeout, dropped connection): the
                                 request may or may not have been processed

As httpx's own exceptions, NotSent and AnswerLost tell a caller whether a write can have taken
effect. `str(error)` names the request (`GET /user/me: HTTP 404: ...`, static paths only);
`error.message` is the API's part alone. Messages are scrubbed of anything key-shaped;
`retryable` says what the client may retry.
"""

from __future__ import annotations

from reconciler.core.errors import EhkeysError
from reconciler.core.secrets import scrub

MAX_BODY = 4 * 1024 * 1024


class ApiError(EhkeysError):
    """An answer or a failure from the API. `status` is None when no HTTP answer came."""

    status: int | None = None
    retryable = False
    wait: float | None = None  # seconds the server asked us to wait (Retry-After, reset)
    request: str | None = None  # "POST /auth/proxy/update": what failed, never a key
    hint: str = ""  # what the user can do about it
    attempts = 1  # attempts sent; more than one is said in str()
    says_attempts = True
    after_lost_answer = False  # an earlier attempt may have been processed, unanswered

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(scrub(message))
        self.message = scrub(message)
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        text = f"{self.request}: {self.message}" if self.request else self.message
        if self.attempts > 1 and self.says_attempts:
            text += f" (after {self.attempts} attempts)"
        return f"{text}; {self.hint}" if self.hint else text


class AuthError(ApiError):
    """401: the account API key is missing, malformed or unknown."""

    hint = "check ELECTRONHUB_API_KEY (the account's API key, ek-…)"


class NotYours(ApiError):
    """403: the proxy key belongs to another account."""


class NotFound(ApiError):
    """404: no proxy key with that value exists (or no such path)."""


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
    """The request never reached the API: retrying it is always safe."""


class OutOfTime(NotSent):
    """The request's deadline came, or a rate-limit wait would pass it, before it was sent."""

    retryable = False


class Unreachable(NotSent):
    """The API has not answered several attempts in a row: nothing more is sent this run."""

    retryable = False
    says_attempts = False  # the message counts the client's unanswered attempts


class NothingListens(Unreachable):
    """A loopback URL refused the connection: no server there (a sandbox not started), so no
    retry can help and none waits."""


class AnswerLost(NetworkError):
    """The request was sent and its answer lost: it may or may not have been processed."""


RUN_ERRORS = (AuthError, Unreachable)
"""Errors about the whole run rather than one key: a command stops on them."""

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
