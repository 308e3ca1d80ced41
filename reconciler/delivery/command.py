"""The `command` sink, the universal adapter (`gh secret set`, `vault kv patch`, `aws
secretsmanager put-secret-value --secret-string file:///dev/stdin`, `op item edit`, ...).

The command gets the value on its standard input (no newline after it) and nowhere else: not
in its arguments (any process on the machine may read those), not in its environment. It gets
the key's address, name, account and variable in EHKEYS_ADDRESS, EHKEYS_NAME, EHKEYS_ACCOUNT
and EHKEYS_VARIABLE, and the caller's environment less the account keys (`hidden`). It fails
when it exits non-zero or outlives its timeout; its standard error, scrubbed of secrets, says why.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection, Mapping

from reconciler.core.secrets import ProxyKey, scrub
from reconciler.core.sinks import CommandSink, Recipient
from reconciler.delivery.errors import DeliveryError

SAID = 400  # characters of its standard error a failure quotes (the end of it)


def environment(base: Mapping[str, str], recipient: Recipient, hidden: Collection[str]) -> dict[str, str]:
    """What the command's environment holds: never the value, nor an account key."""
    kept = {k: v for k, v in base.items() if k not in hidden and not k.startswith("EHKEYS_")}
    return {
        **kept,
        "EHKEYS_ADDRESS": recipient.address,
        "EHKEYS_NAME": recipient.name,
        "EHKEYS_ACCOUNT": recipient.account,
        "EHKEYS_VARIABLE": recipient.variable,
    }


async def deliver(
    sink: CommandSink, value: ProxyKey, recipient: Recipient, env: Mapping[str, str], hidden: Collection[str]
) -> None:
    process = await _started(sink, environment(env, recipient, hidden))
    try:
        _, err = await asyncio.wait_for(process.communicate(value.reveal().encode()), sink.timeout)
    except asyncio.TimeoutError:
        await _stopped(process)
        raise DeliveryError(f"{sink.argv[0]} did not finish within {sink.timeout:g} s: stopped") from None
    except BaseException:
        await _stopped(process)
        raise
    if process.returncode != 0:
        text = _said(err.decode("utf-8", "replace"), value)
        raise DeliveryError(f"{sink.argv[0]} exited {process.returncode}" + (f": {text}" if text else ""))


async def _started(sink: CommandSink, env: dict[str, str]) -> asyncio.subprocess.Process:
    try:
        return await asyncio.create_subprocess_exec(
            *sink.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,  # what it prints could echo the value: not shown
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
    except FileNotFoundError:
        raise DeliveryError(f"cannot run {sink.argv[0]}: no such command") from None
    except PermissionError:
        raise DeliveryError(f"cannot run {sink.argv[0]}: not executable") from None
    except OSError as exc:
        raise DeliveryError(f"cannot run {sink.argv[0]}: {exc.strerror}") from None


async def _stopped(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    with contextlib.suppress(Exception):
        await process.wait()


def _said(text: str, value: ProxyKey) -> str:
    """The end of what it wrote to standard error, the value and anything like a key hidden."""
    shown = scrub(text.replace(value.reveal(), value.display)).strip()
    shown = " ".join(shown.split())
    return shown if len(shown) <= SAID else "…" + shown[-SAID:]
