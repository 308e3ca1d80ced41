"""`python stop_at_move.py SIGNAL ARGS...`: ehkeys ARGS, stopped by SIGNAL (sent to itself) the
moment a moved key's create has landed in its new account, before its delete in the old one is
sent. That window is a few instructions wide in a real run; a test holds it open here to kill
the run exactly there."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from reconciler.cli.main import entry
from reconciler.engine import moves

stop = signal.Signals[sys.argv.pop(1)]
opened = moves.Gates.wait


async def wait(self: moves.Gates, account: str, change: Any) -> str:
    why = await opened(self, account, change)
    if not why:  # the create landed: the delete goes next
        os.kill(os.getpid(), stop)
    return why


moves.Gates.wait = wait  # type: ignore[method-assign]
sys.argv[0] = "ehkeys"
entry()
