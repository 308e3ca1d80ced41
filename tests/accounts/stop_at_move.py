"""`python stop_at_move.py MOMENT SIGNAL ARGS...`: ehkeys ARGS, stopped by SIGNAL (sent to itself)
at MOMENT of a key's move between accounts: `created` (its create landed in the new account, the
delete in the old one not sent yet) or `deleted` (that delete answered, its journal line not yet
written). Each window is a few instructions wide in a real run; this holds it open, so that a
test stops the run exactly there."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from reconciler.api.client import Client
from reconciler.cli.main import entry
from reconciler.engine import moves

moment, stop = sys.argv.pop(1), signal.Signals[sys.argv.pop(1)]
opened, removed = moves.Gates.wait, Client.remove


async def wait(self: moves.Gates, account: str, change: Any) -> str:
    why = await opened(self, account, change)
    if not why and moment == "created":  # the create landed: the delete goes next
        os.kill(os.getpid(), stop)
    return why


async def remove(self: Client, *args: Any) -> Any:
    answer = await removed(self, *args)
    if moment == "deleted":  # answered: its line is written after the wave's list
        os.kill(os.getpid(), stop)
    return answer


moves.Gates.wait = wait  # type: ignore[method-assign]
Client.remove = remove  # type: ignore[method-assign]
sys.argv[0] = "ehkeys"
entry()
