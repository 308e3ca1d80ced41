"""From a manifest to a Plan: connect (a real account or the in-process sandbox), read, plan."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from reconciler.api import inventory
from reconciler.api.client import DEFAULT_BASE_URL, Client, RetryPolicy
from reconciler.api.inventory import Inventory
from reconciler.core.errors import UsageError
from reconciler.core.model import DesiredKey
from reconciler.core.plan import Plan
from reconciler.manifest.load import Manifest
from reconciler.planning import planner
from reconciler.planning.planner import Desired, Recorded
from reconciler.state import paths as statepaths
from reconciler.state import snapshots
from reconciler.state.store import State

SANDBOX_DB = statepaths.SANDBOX_DB  # beside the manifest, as its state is (an absolute path is kept)


@dataclass(frozen=True)
class Target:
    """Where the API is: a base URL and key, and for the sandbox an in-process transport."""

    api_key: str | None
    base_url: str
    transport: httpx.AsyncBaseTransport | None = None

    @classmethod
    def from_options(
        cls,
        sandbox: bool,
        reset: bool = False,
        base_url: str | None = None,
        seed: str | None = None,
        manifests: Sequence[str] = (),
    ) -> Target:
        """`manifests`: whose run it is; the in-process sandbox's account is beside them."""
        if sandbox:
            from reconciler.sandbox import BASE_URL, Sandbox, seeds

            db = statepaths.base(manifests) / SANDBOX_DB
            box = Sandbox.open(db, seeds.load(seed), reset=reset)
            return cls(box.api_key, BASE_URL, box.transport())
        url = base_url or os.environ.get("ELECTRONHUB_BASE_URL") or DEFAULT_BASE_URL
        return cls(os.environ.get("ELECTRONHUB_API_KEY"), url)

    @property
    def is_sandbox(self) -> bool:
        return self.transport is not None

    def client(self, parallelism: int = 8, retry: RetryPolicy | None = None) -> Client:
        return Client(
            self.api_key or "",
            self.base_url,
            transport=self.transport,
            parallelism=parallelism,
            retry=retry,
        )


def desired(manifest: Manifest, targets: Sequence[str]) -> Desired:
    """The manifest's keys, or only those named by --target (an address or a name; each must exist)."""
    chosen = frozenset(k.address for k in select(manifest.keys, targets)) if targets else frozenset()
    return Desired(manifest.keys, manifest.prune, manifest.ignore, manifest.key_cap, chosen)


def select(keys: Sequence[DesiredKey], targets: Sequence[str]) -> list[DesiredKey]:
    """The keys each target names: an id, else a name; one that could be two keys is refused."""
    if not targets:
        return list(keys)
    chosen: dict[str, DesiredKey] = {}
    for target in targets:
        matches = {k.address: k for k in keys if target in (k.address, k.name)}
        if not matches:
            raise UsageError(f"--target {target!r}: no key with that id or name in the manifest")
        if len(matches) > 1:
            raise UsageError(
                f"--target {target!r}: the id or name of {len(matches)} keys; name one by its id"
            )
        chosen.update(matches)
    return [k for k in keys if k.address in chosen]


async def build_plan(client: Client, wanted: Desired, state: State) -> tuple[Plan, Inventory]:
    """Read the account (two requests) and plan against it."""
    account = await inventory.read(client, wanted.keys)
    values = snapshots.recorded_values(state.records, state.snapshots, account.keys)
    recorded = Recorded(state.bindings, values, frozenset(state.pending_creates), state.protected)
    plan = planner.make_plan(wanted, account, recorded, int(time.time()))
    plan.requests = client.sent
    return plan, account
