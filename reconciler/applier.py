"""Apply a plan: send complete, absolute updates, money first, and verify each by lookup.

Keys whose allocation goes down go first (their refunds come back), then those with no
credit change, then those that go up. Updates set targets, so a retried or repeated one
cannot double-charge. After every update the key is looked up again: the answer to an
update can be lost after the server applied it, and only the live state tells.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from reconciler.apierrors import ApiError
from reconciler.client import Client
from reconciler.model import WRITE_ONLY, to_json_value
from reconciler.plan import ZERO, KeyPlan
from reconciler.planner import snapshot
from reconciler.session import bounded
from reconciler.state import SENDING, State

UPDATED, FAILED, SKIPPED = "updated", "failed", "skipped"


@dataclass(frozen=True)
class KeyResult:
    key: KeyPlan
    outcome: str
    message: str = ""


@dataclass
class Report:
    results: list[KeyResult] = field(default_factory=list)
    balance_before: Decimal | None = None
    balance_after: Decimal | None = None

    def count(self, outcome: str) -> int:
        return sum(r.outcome == outcome for r in self.results)

    @property
    def exit_code(self) -> int:
        return 3 if self.count(FAILED) or self.count(SKIPPED) else 0


def expected(body: dict[str, Any]) -> dict[str, Any]:
    """What lookup must report after `body` was applied (write-only fields aside)."""
    return {
        k: to_json_value(v) if not isinstance(v, list) else v for k, v in body.items() if k not in WRITE_ONLY
    }


def waves(updates: Sequence[KeyPlan]) -> list[list[KeyPlan]]:
    """Refunds, then no credit change, then debits: each wave finishes before the next."""
    order: dict[int, list[KeyPlan]] = {-1: [], 0: [], 1: []}
    for key in updates:
        order[int(key.credit.allocation_delta.compare(ZERO))].append(key)
    return [wave for wave in order.values() if wave]


class Applier:
    def __init__(
        self,
        client: Client,
        state: State,
        on_result: Callable[[KeyResult], None],
        parallelism: int = 8,
    ) -> None:
        self.client = client
        self.state = state
        self.on_result = on_result
        self.parallelism = parallelism

    async def run(self, updates: Sequence[KeyPlan], skipped: Sequence[KeyResult] = ()) -> Report:
        report = Report(list(skipped))
        for result in skipped:
            self.on_result(result)
        report.balance_before = await self._balance()
        try:
            for wave in waves(updates):
                report.results.extend(await bounded(self._one, wave, self.parallelism))
        finally:
            self.state.flush()
        report.balance_after = await self._balance()
        return report

    async def _balance(self) -> Decimal | None:
        try:
            return await self.client.balance()
        except ApiError:
            return None

    async def _one(self, key: KeyPlan) -> KeyResult:
        """One key, start to end: journalled, sent, checked by lookup, recorded."""
        assert key.body is not None
        self._journal(key, KeyResult(key, SENDING))
        sent_error: ApiError | None = None
        try:
            await self.client.update({"proxy_key": key.proxy_key.reveal(), **key.body})
        except ApiError as exc:
            sent_error = exc  # the update may still have landed: the lookup tells
        result = await self._verify(key, sent_error)
        self._journal(key, result)  # the durable record first, then the snapshot
        if result.outcome == UPDATED:
            self.state.record(key.fingerprint, key.name, {f: key.body[f] for f in WRITE_ONLY})
        self.on_result(result)
        return result

    async def _verify(self, key: KeyPlan, sent_error: ApiError | None) -> KeyResult:
        assert key.body is not None
        try:
            live = snapshot(await self.client.lookup(key.proxy_key))
        except ApiError as exc:
            why = sent_error or exc
            return KeyResult(key, FAILED, f"{why.message} (and the check by lookup failed)")
        want = expected(key.body)
        if live == want:
            note = " (the answer was lost; the lookup confirms it)" if sent_error else ""
            return KeyResult(key, UPDATED, note)
        if sent_error is not None:
            return KeyResult(key, FAILED, sent_error.message)
        wrong = sorted(f for f in want if live.get(f) != want[f])
        return KeyResult(key, FAILED, f"after the update, lookup reports other {', '.join(wrong)}")

    def _journal(self, key: KeyPlan, result: KeyResult) -> None:
        self.state.journal(
            {
                "fingerprint": key.fingerprint,
                "key": key.key,
                "name": key.name,
                "before": {c.field: c.data()["before"] for c in key.changes},
                "after": {c.field: c.data()["after"] for c in key.changes},
                "limit_type": key.body["limit_type"] if key.body else None,
                "credit": key.credit.data(),
                "result": result.outcome,
                "message": result.message,
            }
        )
