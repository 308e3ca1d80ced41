"""The `command` sink, the universal adapter (`gh secret set`, `vault kv patch`, `aws
secretsmanager put-secret-value --secret-string file:///dev/stdin`, `op item edit`, ...).

The command gets the value on its standard input (no newline after it) and nowhere else: not
in its arguments (any process on the machine may read those), not in its environment. It gets
the key's address, name, account and variable in EHKEYS_ADDRESS, EHKEYS_NAME, EHKEYS_ACCOUNT
and EHKEYS_VARIABLE, and the caller's environment less its secrets (`environment`). It fails
when it exits non-zero, is killed, outlives its timeout, or exits without reading the value
(`true`, or a command that takes its value from an argument: it wrote something else); its
standard error, scrubbed of secrets, says why.

It runs in a process group of its own: at its timeout, or when ehkeys is interrupted, the whole
group is killed (a `sh -c` and what it started, which would otherwise keep running and hold
its standard error open). Only the end of its standard error is kept (`KEPT` bytes).
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import fcntl
import logging
import os
import re
import signal
import termios
from collections.abc import AsyncIterator, Collection, Mapping

from reconciler.core.secrets import ProxyKey, no_core_dumps, scrub, spelled
from reconciler.core.sinks import CommandSink, Recipient, program_missing
from reconciler.delivery.errors import DeliveryError

log = logging.getLogger("ehkeys")
SAID = 400  # characters of its standard error a failure quotes (the end of it)
KEPT = 64 * 1024  # bytes of its standard error kept (the end of it): what it writes may be endless
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_?KEY|PRIVATE", re.IGNORECASE)
PROXY_PREFIX = "ek-proxy-"  # a variable whose value holds it holds a proxy key: never passed on
# An account key (another manifest's) in a variable: in one named like a secret (EH_PROD_API_KEY,
# ALL_SECRETS: `toJSON(secrets)`), `ek-` and 8 or more key characters anywhere; in any other,
# a token as keys are made, `ek-` and 24 or more letters and digits, no dash (in a URL's
# credentials, a header). Never a name or a path: `EKS_CLUSTER=ek-production-eu-west-1`,
# `PATH=/opt/ek-internal-tooling/bin`, a branch `ek-1234-fix` stay.
_NAMED_KEY = re.compile(r"(?<![A-Za-z0-9])ek-[A-Za-z0-9_-]{8,}")
_KEY = re.compile(r"(?<![A-Za-z0-9/._-])ek-[A-Za-z0-9]{24,}(?![A-Za-z0-9_-])")
WITHHELD = "(its standard error is not shown: it spells the key's value, in some encoding)"
GRACE = 2.0  # seconds its standard error is read for once it exited (a child it left may hold it)


def environment(base: Mapping[str, str], recipient: Recipient, hidden: Collection[str]) -> dict[str, str]:
    """What the command's environment holds: never the value, nor another secret: not the
    `hidden` variables (the account keys, what the manifest's proxy keys are read from), nor
    EHKEYS_* (EHKEYS_PROXY_KEYS), nor any variable holding a proxy key or an account key (another
    manifest's: roots of one repository share a job's secrets), whatever its name."""
    kept = {k: v for k, v in base.items() if k not in hidden and not k.startswith("EHKEYS_")}
    for name in [k for k, v in kept.items() if _a_key(k, v)]:
        log.debug("command sink: %s left out of its environment (its value holds an ElectronHub key)", name)
        del kept[name]
    return {
        **kept,
        "EHKEYS_ADDRESS": recipient.address,
        "EHKEYS_NAME": recipient.name,
        "EHKEYS_ACCOUNT": recipient.account,
        "EHKEYS_VARIABLE": recipient.variable,
    }


def preflight(sink: CommandSink, env: Mapping[str, str]) -> str:
    """Why this command cannot be run ('' when it may be), before anything is sent: its program
    not found (on PATH, for a bare name) or not executable."""
    problem = program_missing(sink.argv[0], env.get("PATH", os.defpath))
    return f"{sink.describe()}: {problem}" if problem else ""


async def deliver(
    sink: CommandSink, value: ProxyKey, recipient: Recipient, env: Mapping[str, str], hidden: Collection[str]
) -> None:
    no_core_dumps()  # the command's memory holds the value: a crash of it dumps none of it
    stdin = _loaded(value)  # the read end: kept open here to tell, at the end, what was left unread
    try:
        async with _standard_error() as (write_end, stream):
            try:
                process = await _started(sink, environment(env, recipient, hidden), stdin, write_end)
            finally:
                os.close(write_end)  # the command's own copy is the one left: its end of file
            err = await _finished(sink, process, stream)
        unread = _unread(stdin)
    finally:
        os.close(stdin)
    said = _said(err.decode("utf-8", "replace"), value, env)
    if process.returncode != 0:
        raise DeliveryError(_ended(sink, process.returncode or 0) + (f": {said}" if said else ""))
    if unread:
        raise DeliveryError(
            f"{sink.argv[0]} exited 0 without reading the value from its standard input "
            f"({unread} of its {len(value.reveal())} characters left): it cannot have written it"
        )


@contextlib.asynccontextmanager
async def _standard_error() -> AsyncIterator[tuple[int, asyncio.StreamReader]]:
    """A pipe for the command's standard error: the end to give it, and a stream of what it
    writes, closed on the way out (a child it left behind may hold the other end for ever)."""
    read_end, write_end = os.pipe()
    stream = asyncio.StreamReader()
    try:
        transport, _ = await asyncio.get_running_loop().connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(stream), os.fdopen(read_end, "rb", buffering=0)
        )
    except BaseException:
        os.close(write_end)
        raise
    try:
        yield write_end, stream
    finally:
        transport.close()


def _loaded(value: ProxyKey) -> int:
    """A pipe holding the value, its write end closed (the command reads it, then end of file)."""
    read_end, write_end = os.pipe()
    try:
        os.set_blocking(write_end, False)  # a key is far smaller than a pipe's buffer: never waits
        os.write(write_end, value.reveal().encode())
    except OSError:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    return read_end


def _unread(stdin: int) -> int:
    """Bytes of the value still in the pipe once the command exited."""
    count = array.array("i", [0])
    with contextlib.suppress(OSError):
        fcntl.ioctl(stdin, termios.FIONREAD, count)
    return count[0]


async def _started(
    sink: CommandSink, env: dict[str, str], stdin: int, stderr: int
) -> asyncio.subprocess.Process:
    try:
        return await asyncio.create_subprocess_exec(
            *sink.argv,
            stdin=stdin,
            stdout=asyncio.subprocess.DEVNULL,  # what it prints could echo the value: not shown
            stderr=stderr,
            env=env,
            start_new_session=True,  # its own process group: stopped whole (`_stopped`)
        )
    except FileNotFoundError:
        raise DeliveryError(f"cannot run {sink.argv[0]}: no such command") from None
    except PermissionError:
        raise DeliveryError(f"cannot run {sink.argv[0]}: not executable") from None
    except OSError as exc:
        raise DeliveryError(f"cannot run {sink.argv[0]}: {exc.strerror}") from None


async def _finished(
    sink: CommandSink, process: asyncio.subprocess.Process, stream: asyncio.StreamReader
) -> bytes:
    """The end of its standard error, once it exited within its timeout; else it is stopped."""
    reader = asyncio.ensure_future(_tail(stream))
    try:
        await _exited(process, sink.timeout)
    except asyncio.TimeoutError:
        await _stopped(process, reader)
        raise DeliveryError(f"{sink.argv[0]} did not finish within {sink.timeout:g} s: stopped") from None
    except BaseException:  # interrupted (Ctrl-C): the command goes too
        await _stopped(process, reader)
        raise
    try:
        return await asyncio.wait_for(asyncio.shield(reader), GRACE)
    except asyncio.TimeoutError:  # a child it left behind holds its standard error: not waited for
        reader.cancel()
        return b""


async def _exited(process: asyncio.subprocess.Process, seconds: float) -> None:
    """`process` waited for, TimeoutError after `seconds`: asyncio.wait_for, less its flaw before
    Python 3.12, which dropped a cancel (a stop) that came as the process exited; the run then
    went on, delivering and sending after the stop."""
    waited = asyncio.ensure_future(process.wait())
    try:
        done, _ = await asyncio.wait({waited}, timeout=seconds)
    finally:
        waited.cancel()  # done: nothing; else never left waiting
    if not done:
        raise asyncio.TimeoutError


async def _tail(stream: asyncio.StreamReader) -> bytes:
    kept, cut = bytearray(), False
    while chunk := await stream.read(KEPT):
        kept += chunk
        if len(kept) > KEPT:
            del kept[:-KEPT]
            cut = True
    return bytes(kept[SAID:] if cut else kept)  # a value cut at the start would show in part: dropped


async def _stopped(process: asyncio.subprocess.Process, reader: asyncio.Future[bytes]) -> None:
    """Its whole process group killed, and waited for (not for ever)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    reader.cancel()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(process.wait(), GRACE)


def _ended(sink: CommandSink, code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"{sink.argv[0]} was killed by {signal.Signals(-code).name}"
    return f"{sink.argv[0]} exited {code}"


def _a_key(name: str, value: str) -> bool:
    if PROXY_PREFIX in value.lower():
        return True
    return (_NAMED_KEY if _SECRET_NAME.search(name) else _KEY).search(value) is not None


def _said(text: str, value: ProxyKey, env: Mapping[str, str]) -> str:
    """The end of what it wrote to standard error, the value (in any case; and any part of it
    `scrub` hides: its body without `ek-`, a piece of it), anything like a key, and the value of
    any variable named like a secret (GITHUB_TOKEN, VAULT_TOKEN, ...) hidden: a failure's
    message goes to the PR comment and the report, which nothing masks."""
    shown = re.sub(re.escape(value.reveal()), lambda _: value.display, text, flags=re.IGNORECASE)
    for name, secret in env.items():
        if _SECRET_NAME.search(name) and len(secret) >= 8:
            shown = shown.replace(secret, "…")
    shown = " ".join(scrub(shown, [value.reveal()]).split())
    if spelled(shown, value.reveal()):  # a dump scrub cannot cut: none of it is shown
        return WITHHELD
    return shown if len(shown) <= SAID else "…" + shown[-SAID:]
