"""The `vault` sink: one field of a HashiCorp Vault KV v2 secret, over its HTTP API with httpx
(already ehkeys' client: no extra library to install, so no `ehkeys[vault]` extra).

Only `field` is written: a JSON merge patch (`PATCH /v1/{mount}/data/{path}`, Content-Type
application/merge-patch+json) keeps the secret's other fields. A secret that does not exist yet
(404) is created with `POST` and `cas: 0`, which Vault refuses if someone made it meanwhile:
then nothing is overwritten, and the next delivery patches it. Where Vault requires
check-and-set (`cas_required`, on the mount or the secret: a write without `options.cas` is
refused, 400), the secret's current version is read and the patch sent again naming it, as KV
v2's API asks: Vault refuses it if the secret changed in between. VAULT_ADDR and VAULT_TOKEN say
where and as whom (VAULT_NAMESPACE too, on Vault Enterprise), as for the `vault` command.

Before an apply makes a key, `writable` asks Vault what the token may do on each sink's path
(`POST /v1/sys/capabilities-self`), then what is mounted there (`vaultmounts`), so a token that
may not write it, or a mount that is not KV version 2, refuses the apply before the create's
debit, as a GitHub token is tried on the repository's public key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import quote

import httpx

from reconciler.core.secrets import ProxyKey
from reconciler.core.sinks import VaultSink
from reconciler.delivery import vaultmounts
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
ASK_TRIES = 3  # asking the token's capabilities changes nothing: it may be sent again
CAPABILITIES = "/v1/sys/capabilities-self"
NEEDED = ("patch", "create")
"""The capabilities a token needs on MOUNT/data/PATH, asked before a key is made; `root` (a root
token) has them all. Every delivery begins with an HTTP PATCH (a merge patch), which Vault
authorises with `patch` alone: `update` means a whole overwrite and lets no PATCH through. A
secret that does not exist yet is then made by a POST, which Vault's existence check
authorises with `create` (`update` only once it exists). Whether it will exist when the value
goes cannot be known beforehand without `read`, which the sink needs nowhere else, and may
change by then (deleted by hand, a new path): so both are needed, and `create` on a path whose
secret exists grants nothing more."""
WHY = {"patch": "each delivery is a merge patch", "create": "the first makes the secret"}
STANDBY = "a standby node redirects to the active one: set VAULT_ADDR to it"
REFUSALS = (401, 403)  # Vault's answer to the token itself: unknown, expired or revoked
CAS_REQUIRED = "check-and-set parameter required for this call"  # KV v2's 400 to a write without cas
CAS_MISMATCH = "check-and-set parameter did not match the current version"


def preflight(sink: VaultSink, env: Mapping[str, str]) -> str:
    """Why this sink cannot be written ('' when it may be), before anything is sent."""
    missing = [name for name in ("VAULT_ADDR", "VAULT_TOKEN") if not env.get(name)]
    if missing:
        return f"{sink.describe()}: {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set"
    problem = address_problem(env["VAULT_ADDR"], "VAULT_ADDR") or unusable(
        env, "VAULT_TOKEN", "VAULT_NAMESPACE"
    )
    return f"{sink.describe()}: {problem}" if problem else ""


async def writable(sinks: Sequence[VaultSink], env: Mapping[str, str]) -> dict[VaultSink, str]:
    """Why Vault refuses each sink ('' when it does not), before any key is made: the token's
    capabilities on each sink's MOUNT/data/PATH (NEEDED) and on MOUNT/, in one request for the
    environment's Vault, namespace and token, each path asked once; then, of the sinks that pass, what is
    mounted at each MOUNT (`vaultmounts`: one request per mount). A sink `preflight` stops is
    not asked (it says why itself). A Vault that cannot be reached now, or whose answer is not
    one, refuses nothing: the delivery tries again, and stays owed if it fails (as for GitHub)."""
    asked = [sink for sink in sinks if not preflight(sink, env)]
    paths = list(dict.fromkeys([*(_acl_path(s) for s in asked), *(f"{s.mount}/" for s in asked)]))
    answer = await _capabilities(paths, env) if paths else None  # a mount's own path: see vaultmounts
    found = {sink: _refusal(sink, answer, env) if sink in asked else "" for sink in sinks}
    patching = {_acl_path(s): s for s in asked if found[s] and answer and _patches_only(answer, _acl_path(s))}
    for path in await _not_missing(list(patching.values()), env):
        found.update({s: "" for s in asked if _acl_path(s) == path})
    found.update(await _mounted([s for s in asked if not found[s]], answer, env))
    return found


async def _mounted(
    sinks: Sequence[VaultSink], answer: Answer | None, env: Mapping[str, str]
) -> dict[VaultSink, str]:
    """Why each sink's mount cannot take its writes (`vaultmounts`), asked of a Vault that
    answered the capabilities (one that did not is not asked again: nothing is known)."""
    if not sinks or answer is None or answer.status_code != 200:
        return {}
    held = {s.mount: _granted(answer, f"{s.mount}/") or ["deny"] for s in sinks}
    try:
        async with _client(env) as http:
            return await vaultmounts.problems(http, sinks, held, env.get("VAULT_NAMESPACE", ""))
    except DeliveryError:
        return {}


def _patches_only(answer: Answer, path: str) -> bool:
    """The token may patch and read there, not create: enough once the secret exists (a
    least-privilege policy that updates secrets made by someone else)."""
    held = _granted(answer, path) or []
    return "patch" in held and "read" in held and "create" not in held


async def _not_missing(sinks: Sequence[VaultSink], env: Mapping[str, str]) -> list[str]:
    """The paths of these sinks whose secret is not known to be missing (a read each): it
    exists, and a patch is all it needs; or Vault did not say (no answer, a 5xx), and as for a
    Vault that cannot be reached, nothing is refused. Only a 404 keeps the refusal."""
    if not sinks:
        return []
    async with _client(env) as http:
        return [_acl_path(s) for s in sinks if await _status(http, s) != 404]


async def _status(http: httpx.AsyncClient, sink: VaultSink) -> int | None:
    try:
        return (await request(http, "GET", _data(sink), ASK_TRIES)).status_code
    except DeliveryError:
        return None  # not reached: Vault did not say


async def _capabilities(paths: list[str], env: Mapping[str, str]) -> Answer | None:
    try:
        async with _client(env) as http:
            return await request(http, "POST", CAPABILITIES, ASK_TRIES, json={"paths": paths})
    except DeliveryError:
        return None  # not reached: nothing known against the token


def _refusal(sink: VaultSink, answer: Answer | None, env: Mapping[str, str]) -> str:
    """Why the token may not write the sink's path, from Vault's answer ('' when nothing says so)."""
    path = _acl_path(sink)
    where = path + (f" (namespace {env['VAULT_NAMESPACE']})" if env.get("VAULT_NAMESPACE") else "")
    if answer is not None and answer.status_code in REFUSALS:
        return (
            f"{sink.describe()}: POST {answer.path}: {status(answer)}: Vault refused the token in "
            f"VAULT_TOKEN (unknown to this Vault or namespace, expired or revoked): it may not write {where}"
        )
    if answer is not None and 300 <= answer.status_code < 400:  # as a delivery would be answered
        return f"{sink.describe()}: POST {answer.path}: {status(answer)}: {STANDBY}"
    held = _granted(answer, path) if answer is not None and answer.status_code == 200 else None
    missing = [] if held is None or "root" in held else [c for c in NEEDED if c not in held]
    if not missing:
        return ""
    given = ", ".join(held) if held and held != ["deny"] else "none"
    return (
        f"{sink.describe()}: the token in VAULT_TOKEN may not write {where}: its policies lack the "
        f"{' and '.join(missing)} capabilit{'ies' if len(missing) > 1 else 'y'} there (Vault gives it "
        f"{given}); a delivery needs " + " and ".join(f"{c} ({WHY[c]})" for c in NEEDED)
    )


def _granted(answer: Answer, path: str) -> list[str] | None:
    """The capabilities Vault's answer gives on `path` (under `data`, or at the top as its
    documentation's sample shows), None when it is not Vault's answer."""
    try:
        body = answer.json()
    except ValueError:
        return None
    for part in (body.get("data"), body) if isinstance(body, dict) else ():
        found = part.get(path) if isinstance(part, dict) else None
        if isinstance(found, list) and all(isinstance(c, str) for c in found):
            return found
    return None


def _acl_path(sink: VaultSink) -> str:
    """The path Vault's policies name for the sink's secret (KV v2: MOUNT/data/PATH)."""
    return f"{sink.mount}/data/{sink.path}"


def _data(sink: VaultSink) -> str:
    """The URL path of the sink's secret (KV v2)."""
    return f"/v1/{quote(sink.mount)}/data/{quote(sink.path)}"


def _client(env: Mapping[str, str]) -> httpx.AsyncClient:
    """Vault's client: at VAULT_ADDR, as VAULT_TOKEN (in VAULT_NAMESPACE)."""
    return client(env["VAULT_ADDR"], _headers(env), "VAULT_ADDR")


def _headers(env: Mapping[str, str]) -> dict[str, str]:
    headers = {"X-Vault-Token": env["VAULT_TOKEN"]}
    if env.get("VAULT_NAMESPACE"):
        headers["X-Vault-Namespace"] = env["VAULT_NAMESPACE"]
    return headers


async def deliver(sink: VaultSink, value: ProxyKey, env: Mapping[str, str]) -> None:
    problem = preflight(sink, env)
    if problem:
        raise DeliveryError(problem)
    async with _client(env) as http:
        method, answer = await _write(http, sink, {sink.field: value.reveal()})
    _check(sink, method, answer)


async def _write(http: httpx.AsyncClient, sink: VaultSink, data: dict[str, str]) -> tuple[str, Answer]:
    """The merge patch (it may be sent again: the same field), sent again naming the secret's
    current version where Vault requires check-and-set (once: a second would meet its own
    write); a secret not there is created with cas 0 (once: never over one made meanwhile)."""
    path = _data(sink)
    patched = await _patch(http, path, {"data": data}, PATCH_TRIES)
    if patched.status_code == 400 and CAS_REQUIRED in said(patched):
        version = await _version(http, sink)
        if version is not None:
            return "PATCH", await _patch(http, path, {"data": data, "options": {"cas": version}}, 1)
        # no live version: made anew below, as a secret not there is
    elif patched.status_code != 404:
        return "PATCH", patched
    return "POST", await request(http, "POST", path, json={"data": data, "options": {"cas": 0}})


async def _patch(http: httpx.AsyncClient, path: str, body: dict[str, object], tries: int) -> Answer:
    return await request(http, "PATCH", path, tries, json=body, headers={"Content-Type": MERGE_PATCH})


async def _version(http: httpx.AsyncClient, sink: VaultSink) -> int | None:
    """The secret's current version (`data.metadata.version` of a read), which a write must
    name under check-and-set; None when it has no live one (then made with cas 0, which Vault
    refuses if a deleted version is still there)."""
    read = await request(http, "GET", _data(sink), ASK_TRIES)
    if read.status_code == 404:
        return None
    try:
        version = read.json()["data"]["metadata"]["version"]
    except (ValueError, TypeError, KeyError):
        version = None
    if read.status_code == 200 and isinstance(version, int):
        return version
    raise DeliveryError(_unread(sink, read))


def _unread(sink: VaultSink, read: Answer) -> str:
    head = f"{sink.describe()}: GET {read.path}: {status(read)}"
    if 300 <= read.status_code < 400:
        return f"{head}: {STANDBY}"
    why = (
        f" and the token in VAULT_TOKEN may not read it: its policy needs read on {_acl_path(sink)} too"
        if read.status_code in REFUSALS
        else " but it could not be read"
    )
    return (
        f"{head}: Vault requires check-and-set on this secret (cas_required, on it or its mount), so a "
        f"write names its current version, read first,{why}"
    )


def _check(sink: VaultSink, method: str, answer: Answer) -> None:
    code = answer.status_code
    head = f"{sink.describe()}: {method} {answer.path}: {status(answer)}"
    if code == 200 and _written(answer):
        return
    if code == 200:
        raise DeliveryError(
            f"{head}, but not Vault's answer (no version written): is VAULT_ADDR Vault's address?"
        )
    raise DeliveryError(f"{head}: {why}" if (why := _failed(sink, method, answer)) else head)


def _failed(sink: VaultSink, method: str, answer: Answer) -> str:
    """What a write's failure means, and what to do ('' when there is nothing to add)."""
    code = answer.status_code
    if 300 <= code < 400:
        return STANDBY
    if code in (401, 403):
        needs = "patch" if method == "PATCH" else "create (update where the secret's metadata exists)"
        where = _acl_path(sink)
        return (
            f"the token in VAULT_TOKEN may not write it (its policy needs the {needs} capability on {where})"
        )
    if code == 400 and method == "PATCH" and CAS_MISMATCH in said(answer):
        return (
            "the secret changed between the read of its version and the patch (nothing was overwritten): "
            "the next apply, or `ehkeys deliver`, delivers it again"
        )
    if method == "POST" and code == 400:
        return (
            "the secret exists but could not be patched (its latest version deleted or destroyed, or made "
            "meanwhile): undelete it, or write it once by hand"
        )
    if code == 404:
        return f"no KV v2 engine is mounted at {sink.mount}/"
    if code == 405:
        return f"{sink.mount}/ is a KV version 1 mount (no patch), or Vault is older than 1.9"
    return ""


def _written(answer: Answer) -> bool:
    """Vault's answer to a KV v2 write: the version it made (`{"data": {"version": 4, ...}}`)."""
    try:
        data = answer.json().get("data")
    except (ValueError, AttributeError):
        return False
    return isinstance(data, dict) and isinstance(data.get("version"), int)
