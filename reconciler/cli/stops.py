"""Stop signals taken as one Ctrl-C: while a block runs, the first of some signals calls an
action (which raises), and those signals are ignored from then on, so a second one cannot cut
short what the first set going (the writes in flight named, a state pushed); and signals
ignored while a stopped run says its last words (`ignored`)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def first_stops(signals: Iterable[signal.Signals], act: Callable[[], None]) -> Iterator[None]:
    """`act` on the first of `signals` while the block runs, each of them ignored after it; the
    handlers before restored at the end. Only the main thread can set handlers: in another (a
    test's), the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    taken = tuple(signals)

    def stop(number: int, frame: FrameType | None) -> None:
        for each in taken:
            signal.signal(each, signal.SIG_IGN)
        act()

    previous = {each: signal.signal(each, stop) for each in taken}
    try:
        yield
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)


@contextmanager
def ignored(signals: Iterable[signal.Signals], restore: bool = True) -> Iterator[None]:
    """`signals` ignored while the block runs; then as they were (`restore`), or still ignored (the
    process is exiting). Off the main thread: as they are."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {each: signal.signal(each, signal.SIG_IGN) for each in signals}
    try:
        yield
    finally:
        for each, handler in previous.items():
            if restore and handler is not None:
                signal.signal(each, handler)
