"""Secret stores that answer badly, served for real: GitHub's rate limits (a 403 or 429 that says
nothing of the token), an answer that quotes the value back. What a failure says is what
happened and what to do, never the value, and a limit never refuses an apply as a bad token."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from starlette.responses import JSONResponse, Response

from reconciler.core.secrets import ProxyKey
from reconciler.core.sinks import GitHubSecretSink, Recipient
from reconciler.delivery import send
from reconciler.delivery.errors import DeliveryError

from .. import fakegithub
from ..fakegithub import FakeGitHub
from ..reliability_log import record

VALUE = ProxyKey("ek-proxy-delivered-0123456789abcdef")
WHO = Recipient("prod/api", "API", "prod", "EH_KEY_PROD_API")
SINK = GitHubSecretSink("acme/api", "EH_KEY", None, "DEPLOY_TOKEN")
KEY = "GET /repos/acme/api/actions/secrets/public-key"
PUT = "PUT /repos/acme/api/actions/secrets/EH_KEY"
PERMISSION = "may not write acme/api's secrets"


@pytest.fixture
def github() -> Iterator[tuple[FakeGitHub, dict[str, str]]]:
    fake = FakeGitHub()
    with fakegithub.serve(fake) as url:
        yield fake, {"GITHUB_API_URL": url, "DEPLOY_TOKEN": fakegithub.TOKEN}


def _failure(env: dict[str, str]) -> str:
    with pytest.raises(DeliveryError) as caught:
        asyncio.run(send.deliver(SINK, VALUE, WHO, env))
    return caught.value.message


def _limited(status: int, message: str, headers: dict[str, str]) -> Response:
    return JSONResponse(
        {"message": message, "documentation_url": "https://docs.github.com/"}, status, headers
    )


PRIMARY = {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1893456000"}


@pytest.mark.parametrize(
    ("call", "answer", "said"),
    [
        (
            KEY,
            _limited(403, "API rate limit exceeded for user ID 1.", PRIMARY),
            "spent until 2030-01-01 00:00:00 UTC",
        ),
        (PUT, _limited(429, "API rate limit exceeded for user ID 1.", PRIMARY), "spent until 2030-01-01"),
        (KEY, _limited(403, "You have exceeded a secondary rate limit.", {"retry-after": "60"}), "wait 60 s"),
        (
            PUT,
            _limited(403, "You have exceeded a secondary rate limit.", {}),
            "GitHub's secondary rate limit",
        ),
    ],
    ids=["primary-403", "primary-429", "secondary-retry-after", "secondary-message"],
)
def test_a_rate_limit_is_said_as_one_and_refuses_no_apply(
    github: tuple[FakeGitHub, dict[str, str]], call: str, answer: Response, said: str
) -> None:
    """GitHub answers a spent rate limit 403: it was read as a token without the Secrets
    permission, which refused the apply (asked before the create) and sent the user to change
    a token that was fine."""
    fake, env = github
    fake.faults[call] = answer
    refused = asyncio.run(send.refused([SINK], env))
    assert not refused.get(SINK), refused  # as a GitHub that cannot be reached: nothing known
    message = _failure(env)
    assert said in message and "which says nothing of the token in DEPLOY_TOKEN: deliver again" in message
    assert PERMISSION not in message and not fake.secrets
    refusal = "Resource not accessible by personal access token"
    fake.faults = {KEY: _limited(403, refusal, {"x-ratelimit-remaining": "4999"})}  # a refusal still
    assert PERMISSION in asyncio.run(send.refused([SINK], env))[SINK] and PERMISSION in _failure(env)
    record(
        "delivery",
        f"GitHub's rate limit ({answer.status_code}) on {call.split()[0]}",
        1,
        "said as one, no apply refused",
    )


@pytest.mark.parametrize("reset", ["99999999999999999999", "253402300800", "soon"])
def test_a_rate_limit_reset_that_is_no_time_is_left_out_never_an_internal_error(
    github: tuple[FakeGitHub, dict[str, str]], reset: str
) -> None:
    """`x-ratelimit-reset` past the year 9999 (a hostile or broken answer) was read as a time,
    and the error of reading it stopped the run as an internal error."""
    fake, env = github
    fake.faults[PUT] = _limited(403, "API rate limit exceeded.", {**PRIMARY, "x-ratelimit-reset": reset})
    message = _failure(env)
    assert "GitHub's rate limit for this token is spent, which says nothing of the token" in message, message


def test_an_answer_quoting_the_value_without_its_prefix_never_shows_it(
    github: tuple[FakeGitHub, dict[str, str]],
) -> None:
    """A proxy in front of GitHub echoing the request: the sink's error held the value's body."""
    fake, env = github
    body = VALUE.reveal().removeprefix("ek-proxy-")
    fake.faults[PUT] = Response(f'{{"message": "rejected value {body} for EH_KEY"}}', 400)
    message = _failure(env)
    assert body[:8] not in message and body[-8:] not in message and "HTTP 400: rejected value" in message
    record("secret", "a store's error quoting the value without its prefix", 1, "hidden")
