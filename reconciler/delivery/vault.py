"""The `vault` sink: one field of a HashiCorp Vault KV v2 secret, over its HTTP API with httpx
(already ehkeys' client: no extra library to install, so no `ehkeys[vault]` extra).

Only `field` is written: a JSON merge patch (`PATCH /v1/{mount}/data/{path}`, Content-Type
application/merge-patch+json) keeps the secret's other fields. A secret that does not exist yet
(404) is created with `POST` and `cas: 0`, which Vault refuses if someone made it meanwhile:
then nothing is overwritten, and the next delivery patches it. VAULT_ADDR and VAULT_TOKEN say
where and as whom (VAULT_NAMESPACE too, on Vault Enterprise), as for the `vault` command.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from reconciler.core.secrets import ProxyKey
from reconciler.core.sinks import VaultSink
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

MERGE_PATCH = "application/merge-patch+json"
PATCH_TRIES = 3


def preflight(sink: VaultSink, env: Mapping[str, str]) -> str:
    """Why this sink cannot be written ('' when it may be), before anything is sent."""
    missing = [name for name in ("VAULT_ADDR", "VAULT_TOKEN") if not env.get(name)]
    if missing:
        return f"{sink.describe()}: {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set"
    problem = address_problem(env["VAULT_ADDR"], "VAULT_ADDR") or unusable(
        env, "VAULT_TOKEN", "VAULT_NAMESPACE"
    )
    return f"{sink.describe()}: {problem}" if problem else ""


async def deliver(sink: VaultSink, value: ProxyKey, env: Mapping[str, str]) -> None:
    problem = preflight(sink, env)
    if problem:
        raise DeliveryError(problem)
    headers = {"X-Vault-Token": env["VAULT_TOKEN"]}
    if env.get("VAULT_NAMESPACE"):
        headers["X-Vault-Namespace"] = env["VAULT_NAMESPACE"]
    data = {sink.field: value.reveal()}
    async with client(env["VAULT_ADDR"], headers, "VAULT_ADDR") as http:
        path = f"/v1/{quote(sink.mount)}/data/{quote(sink.path)}"
        patched = await request(
            http, "PATCH", path, PATCH_TRIES, json={"data": data}, headers={"Content-Type": MERGE_PATCH}
        )  # a merge patch of the same field may be sent again; a create with cas 0 may not
        if patched.status_code == 404:
            made = await request(http, "POST", path, json={"data": data, "options": {"cas": 0}})
            _check(sink, "POST", made)
        else:
            _check(sink, "PATCH", patched)


def _check(sink: VaultSink, method: str, answer: Answer) -> None:
    code = answer.status_code
    head = f"{sink.describe()}: {method} {answer.path}: {status(answer)}"
    if code == 200 and _written(answer):
        return
    if code == 200:
        raise DeliveryError(
            f"{head}, but not Vault's answer (no version written): is VAULT_ADDR Vault's address?"
        )
    if 300 <= code < 400:
        raise DeliveryError(f"{head}: a standby node redirects to the active one: set VAULT_ADDR to it")
    if code in (401, 403):
        needs = "patch" if method == "PATCH" else "create"
        raise DeliveryError(
            f"{head}: the token in VAULT_TOKEN may not write it (its policy needs the {needs} capability "
            f"on {sink.mount}/data/{sink.path})"
        )
    if code == 400 and "check-and-set parameter required" in said(answer):
        raise DeliveryError(
            f"{head}: the secret or its mount requires check-and-set (cas_required), which a merge patch "
            f"cannot give without reading the secret: turn it off for this secret (vault kv metadata put "
            f"-cas-required=false -mount={sink.mount} {sink.path}), or deliver to another path"
        )
    if method == "POST" and code == 400:
        raise DeliveryError(
            f"{head}: the secret exists but could not be patched (its latest version deleted or "
            "destroyed, or made meanwhile): undelete it, or write it once by hand"
        )
    if code == 404:
        raise DeliveryError(f"{head}: no KV v2 engine is mounted at {sink.mount}/")
    if code == 405:
        raise DeliveryError(
            f"{head}: {sink.mount}/ is a KV version 1 mount (no patch), or Vault is older than 1.9"
        )
    raise DeliveryError(head)


def _written(answer: Answer) -> bool:
    """Vault's answer to a KV v2 write: the version it made (`{"data": {"version": 4, ...}}`)."""
    try:
        data = answer.json().get("data")
    except (ValueError, AttributeError):
        return False
    return isinstance(data, dict) and isinstance(data.get("version"), int)
