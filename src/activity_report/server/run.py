"""Run the server in this process: uvicorn, one line per request, clean stop on signals."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import signal
import socket
import sys

import uvicorn

from ..errors import DataError, InvalidValue
from ..store import Store
from ..store.schema import refills_rollups
from .app import ServerConfig, create_app
from .limits import connection_cap, fd_limit, guarded_protocol, quiet_accept_errors


def serve(
    config: ServerConfig, *, host: str, port: int, forwarded_allow_ips: str | None = None
) -> None:
    """Serve until SIGTERM or SIGINT; uvicorn stops accepting, finishes requests, returns.

    The store must exist (it is opened once here, so that a bad --db fails at
    once rather than at the first request), and the port must be free: it is
    bound before the server says it serves. Proxy headers (X-Forwarded-For,
    X-Forwarded-Proto) are believed only from the addresses in
    ``forwarded_allow_ips``; without it, from no one.
    """
    trusted = forwarded_ips(forwarded_allow_ips)
    with Store.open(config.db, read_only=True, limits=config.limits) as store:
        # A reader never upgrades: say why the answers are slower than they will be.
        if refills_rollups(store.pending):
            print(
                f"activity-report: note: {config.db} was written by an older release: "
                "reports are answered from its events, more slowly, until the next "
                "`activity-report ingest` into it upgrades it",
                file=sys.stderr,
            )
    capacity = config.capacity
    files = fd_limit()
    max_connections = connection_cap(capacity.max_connections, files)
    if max_connections < capacity.max_connections:
        print(
            f"activity-report: note: at most {max_connections} connections, not "
            f"{capacity.max_connections}: the process may open only {files} files "
            "(raise `ulimit -n` for more)",
            file=sys.stderr,
        )
    listener = bind(host, port)
    bound_port = listener.getsockname()[1]
    server = _Server(
        uvicorn.Config(
            create_app(config),
            access_log=False,  # the app logs one line per request itself
            log_level="warning",
            lifespan="on",
            server_header=False,
            timeout_graceful_shutdown=10,
            http=guarded_protocol(capacity, max_connections),
            proxy_headers=trusted is not None,
            forwarded_allow_ips=trusted,
        ),
        files,
    )
    shown = f"[{host}]" if ":" in host else host
    print(f"activity-report: serving {config.db} on http://{shown}:{bound_port}", file=sys.stderr)
    # A client that closes its connection early is an error on its socket, never the end
    # of the process (which a pipeline's SIGPIPE would be).
    pipe = signal.signal(signal.SIGPIPE, signal.SIG_IGN) if hasattr(signal, "SIGPIPE") else None
    # uvicorn stops gracefully on SIGTERM, then raises it again for the handler it found:
    # this one lets the command end normally (exit 0) rather than die of the signal.
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        server.run(sockets=[listener])
    finally:
        signal.signal(signal.SIGTERM, previous)
        if pipe is not None:
            signal.signal(signal.SIGPIPE, pipe)
        listener.close()
    print("activity-report: stopped", file=sys.stderr)


class _Server(uvicorn.Server):
    """uvicorn's server, whose loop logs running out of descriptors once, not per accept."""

    def __init__(self, config: uvicorn.Config, files: int | None) -> None:
        super().__init__(config)
        self._files = files

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        quiet_accept_errors(asyncio.get_running_loop(), self._files)
        await super().serve(sockets)


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, or one line saying why not and what to change."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise DataError(
            f"cannot listen on {host!r}: {exc.strerror}; give an address of this machine "
            "with --host (127.0.0.1, or 0.0.0.0 for every interface)"
        ) from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise DataError(
                f"port {port} on {host} is in use; stop the program that listens there, "
                "or choose another port with --port"
            ) from None
        if exc.errno == errno.EACCES:
            raise DataError(
                f"not allowed to listen on port {port} on {host} (ports below 1024 need "
                "privileges); choose another port with --port"
            ) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise DataError(
                f"cannot listen on {host}: it is not an address of this machine; "
                "give one with --host (127.0.0.1, or 0.0.0.0 for every interface)"
            ) from None
        raise DataError(f"cannot listen on port {port} on {host}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def forwarded_ips(text: str | None) -> str | None:
    """The proxies whose X-Forwarded-* headers are believed, checked; None: no one's."""
    if text is None or not text.strip():
        return None
    if text.strip() == "*":
        return "*"
    items = [item.strip() for item in text.split(",") if item.strip()]
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise InvalidValue(
                "forwarded_allow_ips",
                item,
                "an IP address or network of the proxy in front of this server, such as "
                "10.0.0.5 or 10.0.0.0/24, several separated by commas, or * for any",
            ) from None
    return ",".join(items)
