"""What one client may cost the server: connections, header time, work in flight.

A server that faces a network must outlive careless and hostile clients:

- **connections**: at most ``max_connections`` open at once, fewer if the
  process may not open that many files (``ulimit -n``); one more is answered
  503 at once and closed, so its descriptor is free again;
- **header time**: a connection whose request (its headers, and its body if
  it has one) is not complete ``header_timeout`` seconds after it opened (or
  after its previous answer) is closed; uvicorn's keep-alive timeout covers
  only idle time between requests, and not a request that never ends;
- **work in flight**: reports run on a pool of ``workers`` threads, with at
  most ``queue`` more waiting; past that a request is answered 503 with
  ``Retry-After`` at once. A small report (at most ``SMALL_REPORT`` buckets)
  has a thread of its own besides, so it never waits behind big ones (and
  small reports alone keep every thread busy: :class:`Lanes`); and
  the cheapest answers (``/healthz``, cached answers) need no thread at all;
- **resource errors** (out of file descriptors, too many connections) are
  logged once per episode, not once per accept.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from ..errors import ActivityReportError, Kind
from .errors import RETRY_AFTER_SECONDS, error_response

T = TypeVar("T")

#: File descriptors kept for the store, its write-ahead log, DuckDB's spill
#: files, the log and the standard streams: a connection never takes these.
RESERVED_FDS = 128


def machine_cpus() -> int:
    """The processors this process may run on (a container's share, not the host's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Capacity:
    """The server's limits; each is a ``serve`` option of the same name."""

    max_connections: int = 1000
    header_timeout: float = 5.0
    workers: int = field(default_factory=machine_cpus)
    queue: int = 32


class ServerBusy(ActivityReportError):
    """Every worker is busy and the queue is full: HTTP 503 with Retry-After."""

    kind = Kind.unavailable

    def __init__(self, workers: int, queue: int) -> None:
        super().__init__(
            "every worker is busy ({running} running, {waiting} waiting: the server's limit); "
            "try again in a few seconds (the operator can raise serve's --workers and --queue)",
            running=workers,
            waiting=queue,
        )


async def on_busy(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServerBusy)
    detail = exc.render(lambda name: name)
    return error_response(
        503,
        "The server is busy; try again shortly.",
        detail,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


#: Buckets of a small report: it may take the small reports' own thread.
SMALL_REPORT = 2_000


@dataclass
class _Item:
    future: Future[Any]
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    small: bool


class Lanes:
    """The reports' threads: ``workers`` for any report, and one more for small ones.

    A report waits in one queue, in order of arrival; any of the ``workers``
    threads takes the oldest report waiting, and the small reports' thread
    takes the oldest small report (its cost, in buckets, known and at most
    :data:`SMALL_REPORT`). So a flood of big reports never makes a small one
    wait for them, and small reports alone keep every thread busy.

    At most ``workers + queue`` big reports (or of unknown cost) are admitted
    at once, and ``1 + workers + 2 * queue`` in all; past that a request is
    refused with :class:`ServerBusy`. A request counts from its admission until
    its thread is done with it, also when its client was answered earlier (a
    timeout, a client gone): the pool never promises more than the machine does.
    """

    def __init__(self, workers: int, queue: int) -> None:
        self.workers, self.queue = workers, queue
        self._cond = threading.Condition()
        self._waiting: deque[_Item] = deque()
        self._big = 0  # big reports admitted, running or waiting
        self._admitted = 0  # all reports admitted
        self._threads: list[threading.Thread] = []
        self._stopped = False

    def submit(self, cost: int | None, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``fn(*args)`` on a worker; :class:`ServerBusy` when the queue is full."""
        small = cost is not None and cost <= SMALL_REPORT
        future: Future[T] = Future()
        with self._cond:
            if self._stopped:
                raise RuntimeError("the server is stopping")
            if (not small and self._big >= self.workers + self.queue) or (
                self._admitted >= 1 + self.workers + 2 * self.queue
            ):
                raise ServerBusy(self.workers, self.queue)
            self._admitted += 1
            self._big += not small
            self._waiting.append(_Item(future, fn, args, small))
            self._start_threads()
            self._cond.notify_all()
        return future

    @property
    def admitted(self) -> int:
        """Requests running or waiting now."""
        with self._cond:
            return self._admitted

    def shutdown(self) -> None:
        """Stop taking work; drop what waits (its requests were answered at shutdown)."""
        with self._cond:
            self._stopped = True
            dropped = list(self._waiting)
            self._waiting.clear()
            self._cond.notify_all()
        for item in dropped:
            item.future.cancel()
            self._done(item)

    def _start_threads(self) -> None:
        if self._threads:
            return
        for number in range(self.workers + 1):
            thread = threading.Thread(
                target=self._work,
                args=(number == self.workers,),
                name=f"report-{'small' if number == self.workers else number}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def _take(self, small_only: bool) -> _Item | None:
        with self._cond:
            while True:
                if self._stopped:
                    return None
                for item in self._waiting:
                    if item.small or not small_only:
                        self._waiting.remove(item)
                        return item
                self._cond.wait()

    def _work(self, small_only: bool) -> None:
        while (item := self._take(small_only)) is not None:
            try:
                if item.future.set_running_or_notify_cancel():
                    try:
                        result = item.fn(*item.args)
                    except BaseException as exc:
                        item.future.set_exception(exc)
                    else:
                        item.future.set_result(result)
            finally:
                self._done(item)
            del item

    def _done(self, item: _Item) -> None:
        with self._cond:
            self._admitted -= 1
            self._big -= not item.small


class Episode:
    """Say something once when a condition begins, again only after it has ended.

    A resource error seen at every accept (thousands a second under attack)
    is one line in the log, not a flood.
    """

    def __init__(self, message: str, *, quiet: float = 60.0) -> None:
        self.message, self.quiet = message, quiet
        self._said_at: float | None = None

    def happened(self, **values: object) -> None:
        now = time.monotonic()
        if self._said_at is not None and now - self._said_at < self.quiet:
            return
        self._said_at = now
        print(f"activity-report: {self.message.format(**values)}", file=sys.stderr, flush=True)

    def ended(self) -> None:
        self._said_at = None


def fd_limit() -> int | None:
    """Files this process may open (the soft ``ulimit -n``), after raising it to the hard one."""
    try:
        import resource
    except ImportError:  # not Unix
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or hard > soft):
        wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    return None if soft == resource.RLIM_INFINITY else int(soft)


def connection_cap(wanted: int, files: int | None) -> int:
    """``wanted`` connections, or as many as ``files`` descriptors allow beside the store's."""
    if files is None:
        return wanted
    return max(1, min(wanted, files - RESERVED_FDS))


# --------------------------------------------------------------------------- connections

_BUSY_BODY = (
    b'{"message":"The server has too many connections open; try again shortly.",'
    b'"detail":"too many connections"}'
)
_BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: application/json\r\n"
    b"Retry-After: " + str(RETRY_AFTER_SECONDS).encode() + b"\r\n"
    b"Connection: close\r\n"
    b"Content-Length: " + str(len(_BUSY_BODY)).encode() + b"\r\n\r\n" + _BUSY_BODY
)


def guarded_protocol(capacity: Capacity, max_connections: int) -> type[Any]:
    """uvicorn's h11 protocol with a header timeout and a cap on open connections."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    crowded = Episode(
        "warning: {count} connections open, the limit (--max-connections {limit}); "
        "new ones are answered 503 until some close"
    )

    class GuardedProtocol(H11Protocol):
        """Closes a connection whose request does not come whole in time; refuses extra ones."""

        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                crowded.happened(count=len(self.connections), limit=max_connections)
                transport.write(_BUSY_RESPONSE)
                transport.close()
                return
            if len(self.connections) <= max_connections // 2:
                crowded.ended()
            self._wait_for_headers()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._received():
                self._stop_waiting()  # the request is in: the request timeout takes over
            elif not self._in_request():
                self._wait_for_headers()  # the next request's first bytes

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_waiting()
            super().connection_lost(exc)

        def _in_request(self) -> bool:
            return self.cycle is not None and not self.cycle.response_complete

        def _received(self) -> bool:
            """The request in progress has come whole: its headers and its body."""
            return self._in_request() and self.conn.their_state is h11.DONE

        def _wait_for_headers(self) -> None:
            if self._header_timer is None and not self.transport.is_closing():
                self._header_timer = self.loop.call_later(
                    capacity.header_timeout, self._headers_too_late
                )

        def _stop_waiting(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_late(self) -> None:
            self._header_timer = None
            if not self._received() and not self.transport.is_closing():
                self.transport.close()  # a request it runs sees its client gone

    return GuardedProtocol


def quiet_accept_errors(loop: asyncio.AbstractEventLoop, files: int | None) -> None:
    """Log running out of file descriptors once per episode, not a traceback per accept.

    asyncio pauses accepting for a second and tries again: the server lives on.
    """
    exhausted = Episode(
        "error: out of file descriptors (the process may open {files}); new connections "
        "wait until some close; raise `ulimit -n` or lower serve's --max-connections"
    )

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if str(context.get("message", "")).startswith("socket.accept() out of system resource"):
            exhausted.happened(files=files if files is not None else "unknown")
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(handle)
