"""The sandbox against the service's own OpenAPI document, by schemathesis.

Every `/auth/proxy*` and `/user/me` operation of tests/api-docs/openapi.json runs against the
sandbox's ASGI app in-process, with the demo account's key; schemathesis's checks hold every
answer to the document (status documented, body valid against its schema, auth enforced,
schema-valid input accepted, invalid input refused).

Where the document and the proxy-key pages disagree, the sandbox follows the pages. Each such
disagreement is one named entry below, with the page that says otherwise; the test applies it
to its copy of the document and to nothing else.
"""

from __future__ import annotations

import copy
import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import unsupported_method

from reconciler.sandbox import Sandbox, seeds
from reconciler.sandbox.app import create_app
from reconciler.sandbox.gate import Gate

from ..helpers import ROOT

pytestmark = pytest.mark.slow  # schemathesis over the service's OpenAPI document

DOCS = ROOT / "tests" / "api-docs"
DEMO_KEY = "ek-sandbox-demo-key"  # the demo seed's account key
DOCS_TIME = 1704067200  # the docs' examples are written on 2024-01-01 (their created_at)
MAX_EPOCH = 2**63 - 1
Spec = dict[str, Any]


@dataclass(frozen=True)
class Discrepancy:
    """Where the openapi document says otherwise than the pages, which the sandbox follows."""

    name: str
    reason: str
    patch: Callable[[Spec], None]


def _set(schemas: tuple[str, ...], field: str, **rules: Any) -> Callable[[Spec], None]:
    """A patch: `rules` on `field` of each of the named component schemas."""

    def patch(spec: Spec) -> None:
        for name in schemas:
            spec["components"]["schemas"][name]["properties"][field].update(rules)

    return patch


ERROR_ENVELOPE = {  # errors.mdx, "Error Response Format"
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string", "minLength": 1},
                "type": {"type": "string"},
                "param": {"type": "string", "nullable": True},
                "code": {"type": "integer", "nullable": True},
            },
        }
    },
}
# The error statuses each page documents, for each operation. 422: the starting pages' status
# for a missing field or a proxy_key outside 1..256 (proxy-update.txt, proxy-lookup.txt),
# which the sandbox keeps; 402: errors.mdx and rate-limits.mdx (Insufficient Balance), for
# the two operations that take credits; 429 (rate-limits.mdx) on every one.
PAGE_STATUSES = {
    ("get", "/auth/proxy"): {401: "proxy-keys.mdx", 403: "proxy-keys.mdx"},
    ("post", "/auth/proxy/create"): {
        400: "proxy-create.mdx",
        401: "proxy-create.mdx",
        402: "errors.mdx",
        403: "proxy-create.mdx",
        422: "proxy-update.txt",
    },
    ("post", "/auth/proxy/lookup"): {400: "proxy-lookup.mdx", 422: "proxy-lookup.txt"},
    ("post", "/auth/proxy/update"): {400: "proxy-update.mdx", 402: "errors.mdx", 422: "proxy-update.txt"},
    ("post", "/auth/proxy/toggle"): {400: "proxy-toggle.mdx", 422: "proxy-lookup.txt"},
    ("post", "/auth/proxy/remove"): {400: "proxy-delete.mdx", 422: "proxy-lookup.txt"},
    ("delete", "/auth/proxy/delete"): {401: "proxy-delete-all.mdx", 403: "proxy-delete-all.mdx"},
    ("get", "/user/me"): {401: "errors.mdx"},
}
REQUESTS = ("CreateProxyKeyRequest", "UpdateProxyKeyRequest")


def _error_statuses(spec: Spec) -> None:
    for (method, path), statuses in PAGE_STATUSES.items():
        responses = spec["paths"][path][method]["responses"]
        for status in [*statuses, 429]:
            responses.setdefault(str(status), {"description": "as the pages document it"})
        for status, response in responses.items():
            if not status.startswith("2"):
                response["content"] = {"application/json": {"schema": ERROR_ENVELOPE}}


def _future_or_never(spec: Spec) -> None:
    future = {"type": "integer", "minimum": DOCS_TIME + 1, "maximum": MAX_EPOCH}
    never = {"type": "integer", "enum": [-1]}
    spec["components"]["schemas"]["CreateProxyKeyRequest"]["properties"]["expires_at"] = {
        "oneOf": [never, future]
    }


DISCREPANCIES = [
    Discrepancy(
        "error statuses and envelope",
        "each page lists its error statuses (400, 401, 402, 403, 422, 429) and errors.mdx their "
        "envelope; the document lists 401/403/404 on four operations, without a body",
        _error_statuses,
    ),
    Discrepancy(
        "last_used of a new key",
        'proxy-create.mdx answers "last_used": null for a key never used; the document says integer',
        _set(("ProxyKey",), "last_used", nullable=True),
    ),
    Discrepancy(
        "credits are money",
        "usage.mdx: credits remaining, in dollars to the cent (faq.md: $0.25 a week on Free); "
        "the document says integer",
        _set(("UsageResponse",), "credits", type="number"),
    ),
    Discrepancy(
        "a name has a character",
        "the pages' human-readable name (max 25); the sandbox refuses an empty one, the document "
        "sets no minimum",
        _set(REQUESTS, "name", minLength=1),
    ),
    Discrepancy(
        "a new allocation is positive",
        "proxy-create.mdx: 'must be positive'; the document allows 0",
        _set(("CreateProxyKeyRequest",), "allocated_ammount", exclusiveMinimum=True),
    ),
    Discrepancy(
        "the per-key cap",
        "proxy-create.mdx: 'cannot exceed $10,000'; proxy-update.mdx: 'your tier's per-key cap "
        "(default $10,000)'; the document has no maximum",
        _set(REQUESTS, "allocated_ammount", maximum=10000),
    ),
    Discrepancy(
        "a new key's expiry",
        "proxy-create.mdx: 'must be in the future. Use -1 for keys that never expire'; the "
        "document takes any integer",
        _future_or_never,
    ),
    Discrepancy(
        "an update's expiry",
        "proxy-update.mdx: 'seconds since Unix epoch. Use -1 for no expiration' (and what SQLite "
        "holds); the document takes any integer",
        _set(("UpdateProxyKeyRequest",), "expires_at", minimum=-1, maximum=MAX_EPOCH),
    ),
    Discrepancy(
        "IP whitelist entries",
        "proxy-create.mdx: 'must be valid IPv4/IPv6 addresses or CIDR notation'; the document "
        "takes any string",
        _set(REQUESTS, "ip_whitelist", items={"type": "string", "format": "ip-or-cidr"}),
    ),
]
# Requests the document would have answered 405 and the pages route elsewhere.
LEGACY_LOOKUP = (
    "GET /auth/proxy/<anything> is the legacy lookup GET /auth/proxy/{proxy_key} (proxy-lookup.mdx, "
    "CHANGELOG 2026-05-23): GET /auth/proxy/create looks up a key called 'create': 404, not 405"
)
# Operations of the document the sandbox does not serve.
NOT_SERVED = {
    "POST /auth/proxy/validate": "on no page: it checks a proxy key's own access to a model, a call "
    "made with the proxy key, not a management call; ehkeys never makes it",
}


def _spec() -> Spec:
    spec: Spec = copy.deepcopy(json.loads((DOCS / "openapi.json").read_text()))
    for discrepancy in DISCREPANCIES:
        discrepancy.patch(spec)
    return spec


def _addresses() -> st.SearchStrategy[str]:
    hosts = st.ip_addresses().map(str)
    nets = st.tuples(st.ip_addresses(), st.integers(0, 128)).map(
        lambda t: str(ipaddress.ip_network(f"{t[0]}/{min(t[1], t[0].max_prefixlen)}", strict=False))
    )
    return st.one_of(hosts, nets)


schemathesis.openapi.format("ip-or-cidr", _addresses())
CONFIG = schemathesis.Config.from_dict(
    {"generation": {"max-examples": 25, "deterministic": True}, "seed": 20260707}
)


class PerOperation:
    """The ASGI app schemathesis calls: the demo seed, one sandbox per operation (delete-all
    must not empty lookup's account), its clock stopped at the docs' time (so that "in the
    future" is exactly what the schema says), with credits that no generated allocation
    exhausts, and no rate limit."""

    def __init__(self) -> None:
        self.apps: dict[str, Gate] = {}
        self.current: Gate | None = None

    def use(self, label: str) -> None:
        if label not in self.apps:
            demo = seeds.load()
            rich = {**demo.accounts[0], "balance": demo.accounts[0]["balance"] * 10**6}
            box = Sandbox.open(":memory:", seeds.Seed([rich, *demo.accounts[1:]], demo.keys))
            self.apps[label] = create_app(box.store, seeds.RateLimit(requests=10**9), clock=lambda: DOCS_TIME)
        self.current = self.apps[label]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.current is not None
        await self.current(scope, receive, send)


APP = PerOperation()
SCHEMA = (
    schemathesis.openapi.from_dict(_spec(), config=CONFIG)
    .include(path_regex=r"^/(auth/proxy|user/me)")
    .exclude(path=[op.split()[1] for op in NOT_SERVED])
)
SCHEMA.app = APP


@SCHEMA.parametrize()
def test_the_sandbox_conforms_to_the_openapi_document(case: schemathesis.Case) -> None:
    APP.use(case.operation.label)
    shadowed = case.method.upper() == "GET" and case.operation.path.startswith("/auth/proxy/")
    excluded = [unsupported_method] if shadowed else []  # LEGACY_LOOKUP
    case.call_and_validate(headers={"Authorization": f"Bearer {DEMO_KEY}"}, excluded_checks=excluded)


def test_every_discrepancy_names_its_reason() -> None:
    assert len({d.name for d in DISCREPANCIES}) == len(DISCREPANCIES)
    assert all(d.reason and d.patch for d in DISCREPANCIES)
    served = {f"{op.method.upper()} {op.path}" for op in (r.ok() for r in SCHEMA.get_all_operations())}
    assert served == {f"{m.upper()} {p}" for m, p in PAGE_STATUSES}
    assert not served & set(NOT_SERVED)
