"""What is mounted where a `vault` sink writes, asked before an apply makes a key. The sink writes
KV version 2's API (a merge patch of `MOUNT/data/PATH`), which no policy can make work on a path
no engine is mounted at, on a KV version 1 mount (no patch; `data/...` an ordinary key) or on
another engine: `sys/capabilities-self` answers from policies alone, and lets all three through.

Vault is asked as the `vault kv` command asks it (`kvPreflightVersionRequest`): `GET
/v1/sys/internal/ui/mounts/MOUNT`, once per mount, which a token may call for a mount its policies
grant something under. Vault answers (`pathInternalUIMountRead`) the mount holding the path (its
longest mounted prefix): `path` (the mount's own, with its namespace before it where that is not
the request's), `type` and `options.version` ("2" for KV v2) under `data`. It answers 403 both
where no mount holds the path (so that the endpoint lists no mounts to a guesser) and where the
token's policies reach the mount only through `+` wildcards. Vault describes a mount to any token
whose capabilities on the mount's own path (`MOUNT/`, asked with the others of
`sys/capabilities-self`) are not `deny` (`hasMountAccess`: a root token's, or a policy's `MOUNT/*`
or `*`): to such a token Vault's own 403 (naming its preflight check) means that no mount is
there, where the mount is of the request's namespace; any other 403 (a proxy's, a child
namespace's, to another token) proves nothing, and is warned of, never refused. Nor is anything
refused on no answer, a 5xx, a 404 (a Vault without the endpoint) or an answer that is not
Vault's (no `data` envelope, a `path` that is no mount's, a version Vault would not write).

KV v2's check-and-set (`cas_required`, on the mount's config or a secret's metadata) is not asked:
the delivery honours it, reading the secret's current version to name it (`vault._write`). What
could tell beforehand that a token that may not read the secret will meet it (`GET MOUNT/config`,
`GET MOUNT/metadata/PATH`) needs `read` there, which such a token rarely has: a request per mount
for a 403; and even a yes proves nothing of a secret not there yet (made with cas 0)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from reconciler.core.sinks import VaultSink
from reconciler.delivery.errors import Answer, DeliveryError, request

log = logging.getLogger("ehkeys")
UI_MOUNTS = "/v1/sys/internal/ui/mounts/"
TRIES = 3  # a question changes nothing: it may be sent again
KV = ("kv", "generic")  # KV's type, and its name before Vault 0.8: without version "2", KV v1
SEE = "vault secrets list -detailed shows each mount"
_KIND = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")  # an engine's type as Vault names them: kv, kv-v2, pki


@dataclass(frozen=True)
class Engine:
    """Vault's answer of the mount holding a path."""

    path: str | None  # "secret/" (its namespace's path before it, where not the request's); None: unsaid
    type: str
    version: str  # options.version: "2" for KV v2; "" when none

    def named(self, mount: str) -> str:
        return (
            f"{self.path or mount + '/'} ({self.type}{', version ' + self.version if self.version else ''})"
        )


async def problems(
    http: httpx.AsyncClient, sinks: Sequence[VaultSink], held: Mapping[str, list[str]], namespace: str
) -> dict[VaultSink, str]:
    """Why each sink's mount cannot take its writes ('' when nothing proves it), one question per
    mount; `held`: the token's capabilities on each MOUNT/, as `sys/capabilities-self` answered."""
    found: dict[VaultSink, str] = {}
    for mount in dict.fromkeys(sink.mount for sink in sinks):
        group = [sink for sink in sinks if sink.mount == mount]
        why = await _problem(http, mount, group, held.get(mount, ["deny"]), namespace)
        found.update({sink: f"{sink.describe()}: {why}" if why else "" for sink in group})
    return found


async def _problem(
    http: httpx.AsyncClient,
    mount: str,
    group: Sequence[VaultSink],
    held: list[str],
    namespace: str,
) -> str:
    at = f"{mount}/" + (f" (namespace {namespace})" if namespace else "")
    answer = await _ask(http, UI_MOUNTS + quote(mount))
    engine = _engine(answer) if answer is not None and answer.status_code == 200 else None
    if engine is not None:
        return _wrong(mount, at, group[0], engine)
    if answer is None or answer.status_code != 403:
        return ""  # no answer, a 5xx, a Vault without the endpoint: nothing known
    if _proves_absence(answer, mount, namespace) and any(c != "deny" for c in held):
        return _missing(mount, at, answer, held)  # Vault would describe a mount there
    _unsaid(group, at, answer)
    return ""


def _proves_absence(answer: Answer, mount: str, namespace: str) -> bool:
    """Vault's own 403 of this endpoint (a proxy's or a WAF's blocking `sys/internal` proves
    nothing), about a mount of the request's own namespace: Vault checks the token's access to a
    child namespace's mount at a path it spells wrongly (its namespace written twice, before
    1.4.2 left out), so there a 403 proves nothing either."""
    if namespace or "/" in mount:
        return False
    try:
        body = answer.json()
    except ValueError:
        return False
    errors = body.get("errors") if isinstance(body, dict) else None
    said = errors if isinstance(errors, list) else []
    return any(isinstance(e, str) and "preflight capability check returned 403" in e for e in said)


def _unsaid(group: Sequence[VaultSink], at: str, answer: Answer) -> None:
    """A 403 to a token that is not root: no proof, warned of."""
    log.warning(
        "%s: Vault would not say what is mounted at %s (GET %s: HTTP 403): it answers so where nothing is "
        "mounted, and where the token's policies reach the mount only through + wildcards; not refused, "
        "but unless %s/ is a KV version 2 mount the delivery will fail after the key is made (%s)",
        ", ".join(sink.describe() for sink in group),
        at,
        answer.path,
        group[0].mount,
        SEE,
    )


async def _ask(http: httpx.AsyncClient, path: str) -> Answer | None:
    try:
        return await request(http, "GET", path, TRIES)
    except DeliveryError:
        return None  # not reached: nothing known


def _body(answer: Answer) -> dict[str, object]:
    """The answer's `data`, as Vault wraps every answer; {} when it is not Vault's envelope."""
    try:
        body = answer.json()
    except ValueError:
        return {}
    data = body.get("data") if isinstance(body, dict) else None
    return data if isinstance(data, dict) else {}


def _engine(answer: Answer) -> Engine | None:
    """The mount Vault's answer describes; None when it is not Vault's (no `data`, no `type`, a
    `path` that is no mount's, options that are no object, a version Vault would not write)."""
    data = _body(answer)
    kind, path, options = data.get("type"), data.get("path"), data.get("options")
    if options is not None and not isinstance(options, dict):
        return None
    version = options.get("version") if options else None
    if not isinstance(kind, str) or not _KIND.fullmatch(kind) or version not in (None, "", "1", "2"):
        return None
    if path is not None and not (isinstance(path, str) and path.endswith("/") and path != "/"):
        return None
    return Engine(path, kind, version or "")


def _wrong(mount: str, at: str, sink: VaultSink, engine: Engine) -> str:
    """Why the mount Vault described cannot take the sink's writes ('' when it can)."""
    want = mount + "/"
    if engine.path is not None and engine.path != want and not engine.path.endswith("/" + want):
        rest = want.removeprefix(engine.path) if want.startswith(engine.path) else ""
        fix = (
            f"set the sink's mount: {engine.path.rstrip('/')} and path: {rest}{sink.path}"
            if rest
            else f"set the sink's mount: to a KV version 2 mount ({SEE})"
        )
        inside = f"that path is inside the mount {engine.named(mount)}"
        return f"no secrets engine is mounted at {at}: {inside}; {fix}"
    if engine.version == "2":
        return ""
    if engine.type in KV:
        return (
            f"{at} is a KV version 1 mount, and the sink writes KV version 2's API (a merge patch of "
            f"{mount}/data/{sink.path}): deliver to a KV version 2 mount, or upgrade this one (vault kv "
            f"enable-versioning {want}: its other readers and writers then use {want}data/ paths too)"
        )
    return (
        f"{at} is a {engine.type} secrets engine, not KV version 2, which the sink writes "
        f"({mount}/data/{sink.path}): set the sink's mount: to a KV version 2 mount "
        f"({SEE}'s type and version)"
    )


def _missing(mount: str, at: str, answer: Answer, held: list[str]) -> str:
    return (
        f"no secrets engine is mounted at {at}: Vault would not describe it (GET {answer.path}: HTTP 403), "
        f"as it does every mount to a token whose policies grant something on the mount's path, as this "
        f"one's do on {mount}/ ({', '.join(held)}); enable a KV version 2 engine there (vault secrets "
        f"enable -path={mount} kv-v2), or set the sink's mount: to one"
    )
