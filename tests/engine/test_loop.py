"""The engine's way into asyncio (`engine.loop.run`): a command's result handed back whole and
never formatted on the way, its errors raised as they were; a stop taken where no task of the
command stands (the loop starting or closing, the command unwinding) without cutting asyncio or
the command short."""

from __future__ import annotations

import asyncio
import gc
import signal
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from reconciler.cli.stops import first_stops
from reconciler.engine import loop, stopping


class Plan:
    """A command's result: formatting it costs as much as the plan is large."""

    formatted = 0

    def __repr__(self) -> str:
        Plan.formatted += 1
        return "Plan(...500 changes...)"


async def planned() -> Plan:
    return Plan()


async def refused() -> Plan:
    raise ValueError("refused: nothing was sent")


def test_a_commands_result_is_handed_back_without_being_formatted() -> None:
    """asyncio.run formats its main task's result twice when the task ends (its Ctrl-C handler
    looked up through signal.getsignal): ~12 ms of a 500-key apply."""
    Plan.formatted = 0
    assert isinstance(loop.run(planned()), Plan)
    assert Plan.formatted == 0


def test_a_commands_error_is_raised_as_it_was() -> None:
    with pytest.raises(ValueError, match="refused: nothing was sent"):
        loop.run(refused())


# --- a stop (`stopping.interrupt`, as SIGTERM's handler calls it) where no task stands to take it ---


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """SIGTERM as `ehkeys` takes it (`cli.main`): once, then ignored."""
    with first_stops([signal.SIGTERM], stopping.interrupt):
        yield


def test_a_stop_while_the_loop_closes_lets_asyncio_close_it_and_is_then_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The command's task has ended; asyncio's shutdown runs. Raised there, KeyboardInterrupt cut
    that shutdown short (a process: 'Task was destroyed but it is pending!' on stderr)."""
    real = asyncio.BaseEventLoop.shutdown_asyncgens
    closed: list[bool] = []

    async def closing(self: asyncio.BaseEventLoop) -> None:
        signal.raise_signal(signal.SIGTERM)
        await real(self)
        closed.append(True)

    monkeypatch.setattr(asyncio.BaseEventLoop, "shutdown_asyncgens", closing)
    with stop_on_sigterm(), pytest.raises(KeyboardInterrupt):
        loop.run(planned())
    assert closed == [True]


def test_a_stop_while_the_loop_starts_keeps_the_command_from_beginning_and_warns_of_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The loop is made, the command's task not begun. Raised there, KeyboardInterrupt left the
    command's coroutine unawaited ('RuntimeWarning: coroutine ... was never awaited')."""
    real = asyncio.BaseEventLoop.create_task
    began: list[bool] = []

    def creating(self: asyncio.BaseEventLoop, coro: Any, **options: Any) -> Any:
        task = real(self, coro, **options)
        if not began:
            began.append(False)
            signal.raise_signal(signal.SIGTERM)
        return task

    async def command() -> None:
        began.append(True)

    monkeypatch.setattr(asyncio.BaseEventLoop, "create_task", creating)
    gc.collect()  # what earlier tests left is no warning of this one
    with warnings.catch_warnings(record=True) as warned, stop_on_sigterm():
        warnings.simplefilter("always")
        with pytest.raises(KeyboardInterrupt):
            loop.run(command())
        gc.collect()
    assert began == [False]
    assert [str(w.message) for w in warned if issubclass(w.category, RuntimeWarning)] == []


def test_ctrl_c_while_a_stop_unwinds_the_command_never_cuts_it_short() -> None:
    """SIGTERM (`timeout`, a closed terminal), then Ctrl-C while the command unwinds (a sink's
    process stopped, the journal flushed): asyncio's handler cancelled it again, cutting that
    short. A second Ctrl-C still forces the stop, as asyncio's does."""
    unwound: list[bool] = []

    async def command() -> None:
        try:
            signal.raise_signal(signal.SIGTERM)
            await asyncio.sleep(10)
        finally:
            signal.raise_signal(signal.SIGINT)
            await asyncio.sleep(0.05)
            unwound.append(True)

    with stop_on_sigterm(), pytest.raises(KeyboardInterrupt):
        loop.run(command())
    assert unwound == [True]
