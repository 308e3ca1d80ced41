"""Ctrl-C and failing runs as a user meets them: a real process, one SIGINT, the last words."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from reconciler.concurrency import bounded


def test_a_failing_item_cancels_the_others_and_leaves_no_task_behind() -> None:
    """bounded() over many keys: one failure (a 401) must not leave the others running, to fail
    later unheard or to be destroyed pending when the loop closes."""

    async def work(item: int) -> int:
        if item == 0:
            await asyncio.sleep(0.01)
            raise PermissionError("HTTP 401")
        await asyncio.Event().wait()  # a request that would not end soon
        return item

    async def run() -> list[asyncio.Task[Any]]:
        with pytest.raises(PermissionError):
            await bounded(work, list(range(6)), 6)
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    assert asyncio.run(run()) == []
