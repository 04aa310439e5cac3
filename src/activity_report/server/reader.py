"""The server's reads of the store, which let the nightly ingest in.

DuckDB lets one process write a file, or many read it. The server opens the
store read-only and shares that connection among the requests of a short
window (``hold`` seconds); then it lets the window's requests finish, closes
the store and waits ``gap`` seconds before it opens it again, so that a
writer waiting for the store (``ingest``, ``users import``, ``tokens``) gets
it. A writer that finds the store held says so by a mark beside it
(:mod:`..store.writer_turn`): the server then keeps the store closed for up
to ``writer_turn`` seconds more, so that however many requests come, the
writer gets in and a writer kept out by someone else does not stop the
server. When idle it closes the store too. Closing detaches the store's file
from the server's DuckDB, which stays: opening attaches the file again,
which costs a few milliseconds where a new DuckDB costs tens. While a writer holds the store, a
request waits, trying again every ``retry`` seconds, for up to
``busy_timeout`` seconds; past that it fails as :data:`.Kind.unavailable`
(HTTP 503 with Retry-After). The first window opened after the writer's
commit sees the new events.

Each request reads through its own cursor (a DuckDB connection of its own
to the shared database), so requests run in parallel threads, and a request
can be interrupted without touching the others.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ActivityReportError, Kind
from ..resources import Limits
from ..store import CATALOG, Store, writer_turn
from . import public

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class Timing:
    hold: float = 1.0  # seconds a window of requests shares one open store
    gap: float = 0.05  # seconds the store stays closed between windows, for writers
    writer_turn: float = 1.0  # seconds it stays closed more for a writer that says it waits
    busy_timeout: float = 5.0  # seconds a request waits for a writer before a 503
    retry: float = 0.02  # seconds between attempts to open a store a writer holds
    request: float | None = 120.0  # seconds a request may run before it is stopped; None: no limit


Signature = tuple[int, ...]

#: A request that waits for a writer gives up this long before its own timeout.
_BEFORE_DEADLINE = 0.25


class StoreReader:
    """Read-only windows on the store at ``path`` (see the module's docstring)."""

    def __init__(
        self, path: Path, *, timing: Timing | None = None, limits: Limits | None = None
    ) -> None:
        self.path = path
        self.timing = timing or Timing()
        self.limits = limits
        self._cond = threading.Condition()
        self._store: Store | None = None  # the open store, while a window lasts
        self._kept: Store | None = None  # the connection kept between windows, detached
        self._opened_at = 0.0
        self._closed_at = 0.0
        self._turn_from: float | None = None  # when a waiting writer's turn began
        self._active = 0
        self._signature: Signature = ()
        self._stop = threading.Event()
        self._janitor: threading.Thread | None = None

    # ------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Close the store in the background when it is idle past its window."""
        self._janitor = threading.Thread(target=self._close_idle, name="store-janitor", daemon=True)
        self._janitor.start()

    def stop(self) -> None:
        self._stop.set()
        if self._janitor is not None:
            self._janitor.join(timeout=5)
        with self._cond:
            self._close()
            if self._kept is not None:
                self._kept.close()
                self._kept = None

    def _close_idle(self) -> None:
        while not self._stop.wait(self.timing.hold / 4):
            with self._cond:
                if self._store is not None and self._active == 0 and self._expired():
                    self._close()

    # ------------------------------------------------------------- reading

    @contextlib.contextmanager
    def cursor(self) -> Iterator[tuple[duckdb.DuckDBPyConnection, Signature]]:
        """A connection of its own on the open store, and the store's signature.

        The signature changes when a writer has changed the store's files:
        answers computed under one signature stay true until it changes.
        """
        store, signature = self._acquire()
        try:
            cursor = store.con.cursor()
        except BaseException:
            self._release()
            raise
        try:
            cursor.execute("SET TimeZone = 'UTC'")
            cursor.execute(f"USE {CATALOG}")
            yield cursor, signature
        finally:
            cursor.close()
            self._release()

    def store(self, cursor: duckdb.DuckDBPyConnection) -> Store:
        """The open store, read through ``cursor`` (one from :meth:`cursor`)."""
        assert self._store is not None, "a cursor holds the store open"
        return self._store.through(cursor)

    def signature(self) -> Signature:
        """The store's signature now, from its files' stat alone (no lock, no DuckDB).

        Equal to the signature of an earlier window, it says that no writer
        has committed since: what was computed then is still true.
        """
        return _signature(self.path)

    def _acquire(self) -> tuple[Store, Signature]:
        deadline = time.monotonic() + self._patience()
        with self._cond:
            while True:
                if self._store is not None and not self._expired():
                    self._active += 1
                    return self._store, self._signature
                if self._store is not None:  # the window is over: let it drain
                    if self._active == 0:
                        self._close()
                    else:
                        self._cond.wait(self.timing.retry)
                    continue
                wait = self._closed_at + self.timing.gap - time.monotonic()
                if wait > 0:  # a writer's turn
                    self._cond.wait(wait)
                    continue
                try:
                    if self._writer_waits():  # its turn: as if it held the store already
                        raise ActivityReportError(public.BUSY, kind=Kind.unavailable)
                    self._open()
                except ActivityReportError as exc:
                    if exc.kind is not Kind.unavailable or time.monotonic() >= deadline:
                        raise
                    self._cond.wait(self.timing.retry)

    def _patience(self) -> float:
        """Seconds a request waits for a writer: the busy timeout, and never so long that
        its own timeout comes first (a busy store is then told as busy, not as slow)."""
        if self.timing.request is None:
            return self.timing.busy_timeout
        return min(self.timing.busy_timeout, max(self.timing.request - _BEFORE_DEADLINE, 0.0))

    def _release(self) -> None:
        with self._cond:
            self._active -= 1
            if self._active == 0 and self._store is not None and self._expired():
                self._close()
            self._cond.notify_all()

    def _writer_waits(self) -> bool:
        """Whether a writer's mark asks for the store, and its turn is not over.

        The turn starts when the mark is first seen; past it a window opens
        again (so a writer kept out by someone else does not stop the
        server), and the next window's end gives the writer a new turn.
        """
        now = time.monotonic()
        if self._turn_from is not None and now - self._turn_from >= self.timing.writer_turn:
            return False
        if not writer_turn.waiting(self.path):
            self._turn_from = None
            return False
        if self._turn_from is None:
            self._turn_from = now
        return True

    def _expired(self) -> bool:
        return time.monotonic() - self._opened_at >= self.timing.hold

    def _open(self) -> None:
        try:
            if self._kept is None:
                self._store = Store.open(self.path, read_only=True, limits=self.limits)
            else:
                self._kept.hold()
                self._store, self._kept = self._kept, None
        except ActivityReportError as exc:  # said to clients: no path, no process id
            raise public.store_error(exc, self.path) from None
        self._opened_at = time.monotonic()
        self._turn_from = None  # a writer still waiting gets a turn when this window ends
        self._signature = _signature(self.path)

    def _close(self) -> None:
        if self._store is not None:
            try:
                self._store.release()
            except BaseException:
                self._store.close()  # a connection that cannot detach is not kept
            else:
                self._kept = self._store
            self._store = None
            self._closed_at = time.monotonic()
            self._cond.notify_all()


def _signature(path: Path) -> Signature:
    """What changes when a writer commits: the store's and its write-ahead log's stat."""
    parts: list[int] = []
    for file in (path, Path(f"{path}.wal")):
        try:
            stat = os.stat(file)
        except OSError:
            parts.extend((0, 0, 0))
            continue
        parts.extend((stat.st_ino, stat.st_size, stat.st_mtime_ns))
    return tuple(parts)
