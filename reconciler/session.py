"""From a manifest to a Plan: connect (a real account or the in-process sandbox), read, plan."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from reconciler import inventory, planner
from reconciler.client import DEFAULT_BASE_URL, Client, RetryPolicy
from reconciler.errors import UsageError
from reconciler.inventory import Inventory
from reconciler.manifest import Manifest
from reconciler.model import DesiredKey
from reconciler.plan import Plan
from reconciler.planner import Desired, Recorded
from reconciler.state import State

SANDBOX_DB = Path(".ehkeys") / "sandbox.db"


@dataclass(frozen=True)
class Target:
    """Where the API is: a base URL and key, and for the sandbox an in-process transport."""

    api_key: str | None
    base_url: str
    transport: httpx.AsyncBaseTransport | None = None

    @classmethod
    def from_options(
        cls, sandbox: bool, reset: bool = False, base_url: str | None = None, seed: str | None = None
    ) -> Target:
        if sandbox:
            from reconciler.sandbox import BASE_URL, Sandbox, seeds

            box = Sandbox.open(SANDBOX_DB, seeds.load(seed), reset=reset)
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
    keys = select(manifest.keys, targets)
    return Desired(keys, manifest.prune, manifest.ignore, manifest.key_cap, targeted=bool(targets))


def select(keys: Sequence[DesiredKey], targets: Sequence[str]) -> list[DesiredKey]:
    if not targets:
        return list(keys)
    known = {k.address for k in keys} | {k.name for k in keys}
    unknown = [t for t in targets if t not in known]
    if unknown:
        raise UsageError(f"--target {unknown[0]!r}: no key with that id or name in the manifest")
    return [k for k in keys if k.address in targets or k.name in targets]


async def build_plan(client: Client, wanted: Desired, state: State) -> tuple[Plan, Inventory]:
    """Read the account (two requests) and plan against it."""
    account = await inventory.read(client, wanted.keys)
    recorded = Recorded(state.bindings, state.records)
    plan = planner.make_plan(wanted, account, recorded, int(time.time()))
    plan.requests = client.sent
    return plan, account
