"""The `github_secret` sink: a GitHub Actions secret of a repository, or of one of its
environments, as GitHub's REST API takes one: the repository's (or environment's) public key
read, the value sealed with it (libsodium's sealed box, PyNaCl), then `PUT` with its `key_id`.

The token is read from the sink's `token: ${VAR}`, else GITHUB_TOKEN; the API from
GITHUB_API_URL (as Actions sets it on GitHub Enterprise), else https://api.github.com. A
workflow's own GITHUB_TOKEN cannot write secrets: the token must be a fine-grained one (or a
GitHub App's) with the "Secrets" repository permission (and "Environments" for an environment's
secret), or a classic one with `repo`; a 401, 403 or 404 says so.
"""

from __future__ import annotations

from base64 import b64decode, b64encode
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from urllib.parse import quote

import httpx

from reconciler.core.secrets import ProxyKey
from reconciler.core.sinks import GitHubSecretSink
from reconciler.delivery.errors import (
    Answer,
    DeliveryError,
    address_problem,
    client,
    request,
    said,
    status,
    unusable,
)

API = "https://api.github.com"
VERSION = "2022-11-28"
TRIES = 3  # reading the key and writing the secret may both be sent again (a gateway's 502)


def preflight(sink: GitHubSecretSink, env: Mapping[str, str]) -> str:
    """Why this sink cannot be written ('' when it may be), before anything is sent."""
    if not env.get(sink.token_var):
        return (
            f"{sink.describe()}: {sink.token_var} is not set; it must hold a token that may write the "
            f"repository's secrets ({_permission(sink)})"
        )
    problem = address_problem(_api(env), "GITHUB_API_URL") or unusable(env, sink.token_var)
    return f"{sink.describe()}: {problem}" if problem else ""


REFUSALS = (301, 401, 403, 404)  # GitHub's answers that no later try changes


async def writable(sinks: Sequence[GitHubSecretSink], env: Mapping[str, str]) -> dict[GitHubSecretSink, str]:
    """Why GitHub refuses each sink's token ('' when it does not), before any key is made: the
    public key its secret would be sealed with, read with its token, once per repository (or
    environment) and token. A GitHub that cannot be reached now refuses nothing: the delivery
    tries again, and stays owed if it fails."""
    said: dict[tuple[str, str | None, str], str] = {}
    for sink in sinks:
        place = (sink.repo, sink.environment, sink.token_var)
        if place not in said:
            said[place] = await _refusal(sink, env)
    return {sink: said[(sink.repo, sink.environment, sink.token_var)] for sink in sinks}


async def _refusal(sink: GitHubSecretSink, env: Mapping[str, str]) -> str:
    if preflight(sink, env):
        return ""  # said by `preflight`, without a request
    try:
        async with client(_api(env), _headers(sink, env), "GITHUB_API_URL") as http:
            answer = await request(http, "GET", f"{_secrets(sink)}/public-key", TRIES)
    except DeliveryError:
        return ""
    if answer.status_code not in REFUSALS or _rate_limited(answer):
        return ""  # a rate limit says nothing of the token: the delivery tries, and stays owed
    return _refused(sink, "GET", answer)


async def deliver(sink: GitHubSecretSink, value: ProxyKey, env: Mapping[str, str]) -> None:
    problem = preflight(sink, env)
    if problem:
        raise DeliveryError(problem)
    async with client(_api(env), _headers(sink, env), "GITHUB_API_URL") as http:
        key_id, public = await _public_key(http, sink)
        body = {"encrypted_value": _sealed(public, value), "key_id": key_id}
        answer = await request(http, "PUT", f"{_secrets(sink)}/{quote(sink.name, safe='')}", TRIES, json=body)
        if answer.status_code not in (201, 204):
            raise DeliveryError(_refused(sink, "PUT", answer))


def _headers(sink: GitHubSecretSink, env: Mapping[str, str]) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {env[sink.token_var]}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": VERSION,
    }


def _api(env: Mapping[str, str]) -> str:
    return env.get("GITHUB_API_URL") or API


def _secrets(sink: GitHubSecretSink) -> str:
    """The path of the sink's secrets, each part quoted: a `#`, `?`, `/` or space in a name the
    manifest did not check would send the request to another path."""
    owner, _, name = sink.repo.partition("/")
    repo = f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}"
    if sink.environment is None:
        return f"{repo}/actions/secrets"
    return f"{repo}/environments/{quote(sink.environment, safe='')}/secrets"


async def _public_key(http: httpx.AsyncClient, sink: GitHubSecretSink) -> tuple[str, bytes]:
    # PyNaCl imported by the runs that seal a value, and only by them: libsodium's bindings
    # were ~4 ms of every apply's start-up, with a github_secret sink or not
    from nacl.exceptions import CryptoError
    from nacl.public import PublicKey

    answer = await request(http, "GET", f"{_secrets(sink)}/public-key", TRIES)
    if answer.status_code != 200:
        raise DeliveryError(_refused(sink, "GET", answer))
    try:
        body = answer.json()
        key_id, key = str(body["key_id"]), b64decode(body["key"], validate=True)
        PublicKey(key)
    except (ValueError, KeyError, TypeError, CryptoError):
        raise DeliveryError(f"{sink.describe()}: GitHub's public key answer is not one") from None
    return key_id, key


def _sealed(public: bytes, value: ProxyKey) -> str:
    """The value sealed for the repository: only GitHub, holding the private key, can open it."""
    from nacl.public import PublicKey, SealedBox  # as in `_public_key`

    return b64encode(SealedBox(PublicKey(public)).encrypt(value.reveal().encode())).decode()


def _permission(sink: GitHubSecretSink) -> str:
    environments = ' and "Environments"' if sink.environment else ""
    return (
        f'a fine-grained or GitHub App token with the "Secrets"{environments} repository permission, '
        "read and write, or a classic token with the repo scope; a workflow's own GITHUB_TOKEN cannot"
    )


def _refused(sink: GitHubSecretSink, method: str, answer: Answer) -> str:
    """What GitHub's refusal means for this sink: which token, which permission, which name."""
    head = f"{sink.describe()}: {method} {answer.path}: {status(answer)}"
    code = answer.status_code
    limited = _rate_limited(answer)
    if limited:
        return (
            f"{head}: {limited}, which says nothing of the token in {sink.token_var}: deliver again after it"
        )
    if code == 401:
        return f"{head}: GitHub refused the token in {sink.token_var} (expired or revoked?)"
    if code == 403:
        needs = _permission(sink)
        return f"{head}: the token in {sink.token_var} may not write {sink.repo}'s secrets; it needs {needs}"
    if code == 301:
        return f"{head}: GitHub moved {sink.repo} (renamed or transferred?): write its new name"
    if code == 404:
        where = f"{sink.repo} or its environment {sink.environment!r}" if sink.environment else sink.repo
        return (
            f"{head}: {where} does not exist, or the token in {sink.token_var} cannot see it "
            "(GitHub answers 404 to a token without access): check the name and the token's repository access"
        )
    return head


def _rate_limited(answer: Answer) -> str:
    """What GitHub's rate limit says of a 403 or 429 ('' when it is not one): its primary limit
    spent (`x-ratelimit-remaining: 0`, until `x-ratelimit-reset`), or a secondary limit (a
    `retry-after`, or its message), as GitHub's documentation tells them apart from a refusal."""
    if answer.status_code not in (403, 429):
        return ""
    headers = answer.headers
    if headers.get("x-ratelimit-remaining") == "0":
        until = _moment(headers.get("x-ratelimit-reset", ""))
        return "GitHub's rate limit for this token is spent" + (f" until {until}" if until else "")
    after = headers.get("retry-after", "")
    if after or "rate limit" in said(answer).lower():
        return "GitHub's secondary rate limit" + (f" (it asks to wait {after} s)" if after.isdigit() else "")
    return ""


def _moment(epoch: str) -> str:
    """`x-ratelimit-reset` (epoch seconds) as a UTC time; '' for one that is none (a hostile or
    broken answer's year 10,000 and beyond included)."""
    try:
        return f"{datetime.fromtimestamp(int(epoch), timezone.utc):%Y-%m-%d %H:%M:%S} UTC"
    except (ValueError, OverflowError, OSError):
        return ""
