"""A faithful local ElectronHub proxy-key API, in-process (tests, `--sandbox`) or served."""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import signal
import socket
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from reconciler.core.accounts import DEFAULT
from reconciler.core.errors import ConfigError
from reconciler.sandbox import accounts, envfile
from reconciler.sandbox import seed as seeds
from reconciler.sandbox.app import create_app
from reconciler.sandbox.gate import DropConnection, Gate
from reconciler.sandbox.seed import Clock, Faults, RateLimit, Seed
from reconciler.sandbox.store import Store

__all__ = ["Clock", "Faults", "RateLimit", "Sandbox", "SandboxTransport", "Seed", "listen", "serve"]

BASE_URL = "http://127.0.0.1/v1"


@dataclass
class Sandbox:
    """A store filled from a seed (only when new) and the app in front of it."""

    store: Store
    app: Gate
    seed: Seed
    filled: bool = False  # filled from `seed` when opened (new or reset); else an earlier seed's

    @classmethod
    def open(
        cls,
        db: str | Path = ":memory:",
        seed: Seed | None = None,
        *,
        reset: bool = False,
        rate: RateLimit | None = None,
        faults: Faults | None = None,
    ) -> Sandbox:
        seed = seed or seeds.load()
        if rate or faults:
            seed = replace(seed, rate_limit=rate or seed.rate_limit, faults=faults or seed.faults)
        store = _store(db)
        filled = reset or store.is_empty
        if reset:
            store.reset(seed)
        elif filled:
            store.load_seed(seed)
        own = {a["api_key"]: a["rate_limit"] for a in seed.accounts if a["rate_limit"]}
        return cls(
            store,
            create_app(store, seed.rate_limit, seed.faults, clock_start=seed.clock.start, own_rates=own),
            seed,
            filled,
        )

    @property
    def api_key(self) -> str:
        """The key of the account a manifest without `accounts:` is served by (`DEFAULT`)."""
        account = accounts.seeded(self.seed, DEFAULT)
        assert account is not None  # DEFAULT: the first account at least
        return str(account["api_key"])

    def api_key_for(self, account: str) -> str:
        """The API key of the sandbox account serving a manifest's account named `account`:
        the seed's account of that name, else one made on its first use and kept in the database
        (see `reconciler.sandbox.accounts`). `DEFAULT` is served as `api_key` is."""
        return accounts.api_key_for(self.store, self.seed, account)

    def transport(self) -> SandboxTransport:
        return SandboxTransport(self.app)


def _store(db: str | Path) -> Store:
    """The database, or a message naming the path (never a traceback)."""
    try:
        if str(db) != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        return Store(str(db))
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(f"sandbox database {db}: cannot open it ({exc})") from exc


class SandboxTransport(httpx.AsyncBaseTransport):
    """httpx's ASGITransport, with the sandbox's dropped connection as a real network error."""

    def __init__(self, app: Gate) -> None:
        self.inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self.inner.handle_async_request(request)
        except DropConnection as exc:
            message = "Server disconnected without sending a complete response"
            raise httpx.RemoteProtocolError(message, request=request) from exc


class _QuietDrops(logging.Filter):
    """Injected drops are the point of the fault: do not log them as crashes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DropConnection))


def serve(
    sandbox: Sandbox, sock: socket.socket, announce: bool = True, exports: Sequence[tuple[str, str]] = ()
) -> None:
    """Serve `sandbox` on `sock` (from `listen`, bound before the database is opened: a port in
    use leaves no file behind) until Ctrl-C, which is the normal way to stop: it returns.
    `exports`: (variable, key) of the manifest's accounts and the seed's keys' variables, for
    its variables' file besides its base URL and its own key (never printed: `envfile`)."""
    import uvicorn

    host, port = sock.getsockname()[:2]
    logging.getLogger("uvicorn.error").addFilter(_QuietDrops())
    # The app says its own Date, on the sandbox's clock (a seed's clock.start): not uvicorn's.
    config = uvicorn.Config(sandbox.app, log_level="warning", access_log=False, date_header=False)
    server = uvicorn.Server(config)
    with (
        _ctrl_c_stops(server),
        _announced(sandbox, host, port, exports) if announce else contextlib.nullcontext(),
    ):
        server.run(sockets=[sock])


@contextlib.contextmanager
def _ctrl_c_stops(server: Any) -> Iterator[None]:
    """Ctrl-C (and SIGTERM: `docker stop`, `timeout`, a service manager; SIGHUP: the terminal it
    runs in closed) asks `server` to stop, whenever it comes: before uvicorn takes the signal over
    (a KeyboardInterrupt then would cut the event loop's start and exit 130), while it has it,
    and when uvicorn raises it again once stopped (SIGTERM's default then ended the process
    before its database was closed, leaving its -wal and -shm files; SIGHUP's, the variables
    file and its keys too). Stopping so is the normal end: exit 0. A signal ignored at start
    (`nohup`) stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stops = [signal.SIGINT]
    for each in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(each) is signal.SIG_DFL:  # one ignored at start stays ignored
            stops.append(each)
    previous = {each: signal.signal(each, lambda *_: setattr(server, "should_exit", True)) for each in stops}
    try:
        yield
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}/v1" if ":" in host else f"http://{host}:{port}/v1"


@contextlib.contextmanager
def _announced(sandbox: Sandbox, host: str, port: int, exports: Sequence[tuple[str, str]]) -> Iterator[None]:
    """Its URL said, and its variables in a file (`envfile`) for as long as it is served: the
    base URL, the manifest's accounts' keys, the seed's keys' variables, its own key last."""
    print(f"ElectronHub sandbox on {_url(host, port)}  (Ctrl-C to stop)", flush=True)
    local = _client_host(host)
    if local is None:
        print(
            "ehkeys sends plain http only to a loopback host: to use this sandbox from this machine, "
            "serve it on 127.0.0.1 (the default) or 0.0.0.0",
            flush=True,
        )
    lines = [*([("ELECTRONHUB_BASE_URL", _url(local, port))] if local else []), *exports]
    lines.append(("ELECTRONHUB_API_KEY", sandbox.api_key))
    with envfile.exported(sandbox.store.path, lines) as path:
        print("\n".join(envfile.loading(path, lines)), flush=True)
        yield


def _client_host(host: str) -> str | None:
    """Where ehkeys on this machine reaches a sandbox listening on `host` (an address): ehkeys
    sends plain http only to a loopback host (the account key would cross the network in clear),
    so a wildcard is announced as the loopback address; a LAN address has none (None)."""
    address = ipaddress.ip_address(host.split("%")[0])
    if address.is_loopback:
        return host
    if address.is_unspecified:
        return "::1" if address.version == 6 else "127.0.0.1"
    return None


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or a ConfigError that says what is wrong."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, OverflowError, UnicodeError):
        raise ConfigError(f"--host {host!r}: not a name or address this machine can listen on") from None
    # With its protocol named (TCP), asyncio turns Nagle off on each connection it accepts, as
    # it does for a socket it binds itself: else an answer's body waited ~40 ms for the ACK of
    # its headers (delayed ACK), on every request.
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ConfigError(_bind_problem(host, port, exc)) from None
    return sock


def _bind_problem(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is in use: pick another with --port (0 takes a free one)"
    if exc.errno == errno.EACCES:
        return f"port {port} on {host} is not allowed (ports below 1024 need privileges): use --port"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"--host {host!r}: not an address of this machine"
    return f"cannot listen on {host} port {port}: {exc.strerror or exc}"
