"""From a manifest to a Plan: connect (real account or in-process sandbox), look keys up, plan."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

from reconciler import planner
from reconciler.apierrors import ApiError, AuthError
from reconciler.client import DEFAULT_BASE_URL, Client, RetryPolicy
from reconciler.errors import UsageError
from reconciler.manifest import Manifest
from reconciler.model import DesiredKey, LiveKey
from reconciler.plan import Failure, Plan
from reconciler.state import State

SANDBOX_DB = Path(".ehkeys") / "sandbox.db"
T = TypeVar("T")
R = TypeVar("R")


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

    def client(self, parallelism: int = 8, retry: RetryPolicy | None = None) -> Client:
        return Client(
            self.api_key or "",
            self.base_url,
            transport=self.transport,
            parallelism=parallelism,
            retry=retry,
        )


def select(manifest: Manifest, targets: Sequence[str]) -> list[DesiredKey]:
    """The manifest's keys, or only those named by --target (each must exist)."""
    if not targets:
        return list(manifest.keys)
    names = {k.name for k in manifest.keys}
    unknown = [t for t in targets if t not in names]
    if unknown:
        raise UsageError(f"--target {unknown[0]!r}: no key of that name in the manifest")
    return [k for k in manifest.keys if k.name in targets]


async def bounded(work: Callable[[T], Awaitable[R]], items: Sequence[T], limit: int) -> list[R]:
    """`work` over `items`, at most `limit` at once, results in order.

    A fixed set of workers rather than one task per item: 10,000 waiting tasks cost
    tens of megabytes for nothing.
    """
    results: list[R | None] = [None] * len(items)
    queue = iter(enumerate(items))

    async def worker() -> None:
        for index, item in queue:
            results[index] = await work(item)

    await asyncio.gather(*(worker() for _ in range(max(min(limit, len(items)), 1))))
    return results  # type: ignore[return-value]  # every slot is filled by now


async def fetch_live(client: Client, keys: Sequence[DesiredKey]) -> list[LiveKey | Failure]:
    """Look every key up concurrently; results in manifest order; one key's failure stays its own."""
    progress = _Progress(len(keys))

    async def one(key: DesiredKey) -> LiveKey | Failure:
        try:
            return await client.lookup(key.proxy_key)
        except AuthError:
            raise
        except ApiError as exc:
            return Failure(exc.status, exc.message)
        finally:
            progress.step()

    try:
        return await bounded(one, keys, client.parallelism)
    finally:
        progress.done()


async def build_plan(client: Client, keys: Sequence[DesiredKey], state: State) -> Plan:
    balance, live = await asyncio.gather(client.balance(), fetch_live(client, keys))
    return planner.make_plan(keys, live, state.records, int(time.time()), balance)


class _Progress:
    """A one-line counter on stderr, only on a terminal and only for long plans."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.count = 0
        self.on = total >= 50 and sys.stderr.isatty()

    def step(self) -> None:
        self.count += 1
        if self.on and (self.count % 10 == 0 or self.count == self.total):
            sys.stderr.write(f"\rlooking up keys: {self.count}/{self.total}")
            sys.stderr.flush()

    def done(self) -> None:
        if self.on:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
