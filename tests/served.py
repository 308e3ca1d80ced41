"""Fakes served for real: an ASGI app (the fake GitHub, the fake Vault, a sandbox) on a free
loopback port, by uvicorn in a thread.

A uvicorn server takes ~0.15 s to stop (its 0.1 s tick, then 0.1 s for open connections to
close); stopped after every test that served a fake, that was ~7 s of the inner test loop. So a
server, once started, is kept for the whole run and serves whichever app the test in hand gives
it; between tests it answers 503."""

from __future__ import annotations

import atexit
import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send


class _Slot:
    """An ASGI app handing each request to the app it holds now."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self.app or PlainTextResponse("no test is serving here", status_code=503)
        await app(scope, receive, send)


class _Served:
    def __init__(self) -> None:
        self.slot = _Slot()
        config = uvicorn.Config(self.slot, host="127.0.0.1", port=0, log_level="error", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}"


_idle: list[_Served] = []
_every: list[_Served] = []


@contextlib.contextmanager
def serving(*apps: Any) -> Iterator[list[str]]:
    """Each of `apps` on a loopback port of its own while the block runs; yields their URLs."""
    taken = [_idle.pop() if _idle else _start() for _ in apps]
    deadline = time.monotonic() + 10
    while not all(served.server.started for served in taken) and time.monotonic() < deadline:
        time.sleep(0.01)
    if not all(served.server.started for served in taken):
        _idle.extend(s for s in taken if s.server.started)
        raise RuntimeError(
            "a fake server did not start in 10 s on a loopback port (uvicorn's error is above)"
        )
    for served, app in zip(taken, apps, strict=True):
        served.slot.app = app
    try:
        yield [served.url for served in taken]
    finally:
        for served in taken:
            served.slot.app = None
        _idle.extend(taken)


def _start() -> _Served:
    served = _Served()
    _every.append(served)
    return served


@atexit.register
def _stop_all() -> None:
    for served in _every:
        served.server.should_exit = True
    for served in _every:
        served.thread.join(5)
