"""The app factory: routes, error handlers, the request log, the store's reader.

``create_app(config)`` builds the whole server; ``extra_routes`` adds
pages or mounts beside the API (they share the reader: ``app.state.reader``).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import h11
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..resources import Limits
from . import view
from .answers import AnswerLimits
from .errors import HANDLERS, on_client_gone
from .limits import Capacity, Lanes, ServerBusy, on_busy
from .reader import StoreReader, Timing
from .routes import routes


@dataclass(frozen=True)
class ServerConfig:
    db: Path
    timing: Timing = field(default_factory=Timing)
    limits: Limits | None = None
    log_requests: bool = True
    capacity: Capacity = field(default_factory=Capacity)
    answers: AnswerLimits = field(default_factory=AnswerLimits)  # cells, the cache's bytes


def create_app(config: ServerConfig, *, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The server's ASGI app over the store ``config.db``."""
    reader = StoreReader(config.db, timing=config.timing, limits=config.limits)
    work = Lanes(config.capacity.workers, config.capacity.queue)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        reader.start()
        try:
            yield
        finally:
            work.shutdown()
            reader.stop()

    app = Starlette(
        routes=[*routes(reader, config.answers), *extra_routes],
        # A client gone while its body was read (or cut off by the header timeout) is no error.
        exception_handlers={**HANDLERS, ServerBusy: on_busy, ClientDisconnect: on_client_gone},
        lifespan=lifespan,
    )
    app.state.reader = reader
    app.state.work = work  # the reports' threads (:func:`.routes.run_cancellable`)
    app.state.config = config
    view.install(
        app, reader, config.answers.max_cells
    )  # the Metrics view: /, sign-in, the session cookie
    app.add_middleware(RequestLog, log=config.log_requests)
    return app


class RequestLog:
    """One line on stderr per request: client, method, path, status, milliseconds
    (``log``: else none); and a response the connection refuses is dropped.

    The server answers a request it cannot parse itself (a malformed body: 400)
    and closes; a response the app sends after that is refused by the
    connection, and is no error of the app's: it is dropped, without a
    traceback, and the line shows the 400 the client got.
    """

    def __init__(self, app: ASGIApp, log: bool = True) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if nothing was sent
        refused = False

        async def sending(message: Message) -> None:
            nonlocal status, refused
            if refused:
                return
            if message["type"] == "http.response.start":
                status = message["status"]
            try:
                await send(message)
            except h11.LocalProtocolError:  # the server answered and closed already
                refused, status = True, 400

        try:
            await self.app(scope, receive, sending)
        finally:
            if self.log:
                self._line(scope, status, started)

    @staticmethod
    def _line(scope: Scope, status: int, started: float) -> None:
        client = scope.get("client") or ("-", 0)
        path = scope.get("path", "")
        took = (time.perf_counter() - started) * 1000
        print(
            f"{client[0]} {scope.get('method', '-')} {_printable(path)} {status} {took:.1f}ms",
            file=sys.stderr,
            flush=True,
        )


def _printable(text: str) -> str:
    """A path as it can go on one log line: no control characters."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)[:200]
