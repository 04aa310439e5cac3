"""What one answer may cost the server: its cells, before they are computed; the cache's bytes.

A report's JSON holds a cell per bucket and active user. Before any cell is
computed, :class:`BoundedSource` counts the users active in the range (from
the store's rollups, a few rows per user, where they can tell; else one
aggregate over the events it would read; not at all when every user the
store holds would fit in every bucket) and refuses, with a 400 that says
the size and how to narrow the request, a report that could hold more than
``max_cells`` cells (buckets x users; the real answer holds at most that
many). The answers kept for repeated requests (:class:`Answers`) are bounded
by their bytes, not by their number.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from ..backends.duckdb import StoreSource
from ..backends.protocol import Counted, Filters
from ..errors import ActivityReportError, Kind

DEFAULT_MAX_CELLS = 500_000
DEFAULT_CACHE_MB = 64


@dataclass(frozen=True)
class AnswerLimits:
    """``serve --max-cells`` and ``--answer-cache-mb``."""

    max_cells: int = DEFAULT_MAX_CELLS
    cache_bytes: int = DEFAULT_CACHE_MB * 2**20


class TooManyCells(ActivityReportError):
    """A report larger than the server answers (HTTP 400: narrowed, it is answered)."""

    kind = Kind.usage

    def __init__(self, buckets: int, users: int, limit: int) -> None:
        super().__init__(
            f"the answer could hold {buckets * users:,} cells ({buckets:,} buckets x "
            f"{users:,} active users), more than this server answers ({limit:,}); ask for a "
            "longer interval, a shorter range, or fewer users (org, user or category); "
            "its operator can raise the limit with serve --max-cells"
        )
        self.cells = buckets * users


@dataclass
class BoundedSource(StoreSource):
    """The store's events, refusing before computing them more cells than ``max_cells``."""

    max_cells: int = DEFAULT_MAX_CELLS

    def cells(self, edges_us: Sequence[int], filters: Filters, heartbeat_us: int) -> Counted:
        buckets = len(edges_us) - 1
        if buckets > 0:
            self._check()
            # Every user of the store in every bucket would fit: no need to count them.
            most = self.store.users_at_most()
            if most is None or buckets * most > self.max_cells:
                users = self.active_users(edges_us, filters, heartbeat_us)
                if buckets * users > self.max_cells:
                    raise TooManyCells(buckets, users, self.max_cells)
        return super().cells(edges_us, filters, heartbeat_us)


class Answers:
    """Answer bodies by key, least recently used first out, within ``max_bytes`` in all.

    A body larger than a quarter of the budget is not kept: one answer does
    not empty the cache of the others.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._bodies: OrderedDict[Hashable, bytes] = OrderedDict()
        self._bytes = 0

    @property
    def size(self) -> int:
        """The bytes of the bodies kept now."""
        with self._lock:
            return self._bytes

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            body = self._bodies.get(key)
            if body is not None:
                self._bodies.move_to_end(key)
            return body

    def put(self, key: Hashable, body: bytes) -> None:
        if len(body) > self.max_bytes // 4:
            return
        with self._lock:
            old = self._bodies.pop(key, None)
            if old is not None:
                self._bytes -= len(old)
            self._bodies[key] = body
            self._bytes += len(body)
            while self._bytes > self.max_bytes:
                _, evicted = self._bodies.popitem(last=False)
                self._bytes -= len(evicted)
