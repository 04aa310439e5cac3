"""Reading a store: the helpers of :class:`.core.Store` that answer from it.

Each attaches the store for as long as it reads (see :meth:`.core.Store.open`),
unless it is attached already.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, TypeVar, cast

from .. import sources
from ..backends.protocol import Filters
from ..model import CellColumns, UserInfo
from . import edges as edges_mod
from . import info as info_mod
from . import minute_runs, rollup_answers, rollups
from .opening import CATALOG, _literal

if TYPE_CHECKING:
    import duckdb

#: The view reports read (the columns of :data:`sources.VIEW`).
EVENTS_VIEW = "store_events"
T = TypeVar("T")


class Reading:
    """The reading helpers of :class:`.core.Store` (a mixin: the store opens and attaches)."""

    if TYPE_CHECKING:
        con: duckdb.DuckDBPyConnection
        attached: bool
        applied: tuple[str, ...]
        read_only: bool
        memo: dict[str, object]

        def _attach(self) -> None: ...

        def _detach(self) -> None: ...

        def _reading(self) -> AbstractContextManager[None]: ...

    def held(self, name: str, read: Callable[[], T]) -> T:
        """``read()``, once while a read-only store is held: no writer changes it meanwhile.

        A server's every report reads the directories and the store's counts;
        its stores are read-only and held for a second or so at a time. A
        store that writes reads again every time.
        """
        if not (self.read_only and self.attached):
            return read()
        if name not in self.memo:  # two threads may both read it: the same value
            self.memo[name] = read()
        return cast(T, self.memo[name])

    def users(self) -> dict[str, UserInfo]:
        """The user directory held by the store, by id."""
        return dict(self.held("users", self._read_users))

    def _read_users(self) -> dict[str, UserInfo]:
        with self._reading():
            rows = self.con.execute(
                "SELECT id, name, username, roles, avatar_hash FROM users ORDER BY id"
            ).fetchall()
        return {
            str(uid): UserInfo(
                id=str(uid),
                name=name,
                username=username,
                roles=tuple(str(r) for r in roles or ()),
                avatar_hash=avatar,
            )
            for uid, name, username, roles, avatar in rows
        }

    # ----------------------------------------------------------------- reading

    def hold(self) -> None:
        """Attach the store until it is closed, unless it is attached already."""
        if not self.attached:
            self._attach()

    def release(self) -> None:
        """Detach the store's file, keeping the connection: another process may then
        write the file, and :meth:`hold` attaches it again (its writes seen) without
        the cost of a new DuckDB. What was read while held is forgotten."""
        self.memo.clear()
        self._detach()

    @property
    def has_runs(self) -> bool:
        """Whether the store has the table of runs of minutes (:mod:`.minute_runs`)."""
        return minute_runs.STEP in self.applied

    def events_view(
        self,
        name: str = EVENTS_VIEW,
        lo: int | None = None,
        hi: int | None = None,
        whole_runs: bool = False,
    ) -> str:
        """Register the temporary view ``name`` with the columns of :data:`sources.VIEW`.

        Stored events are all valid (invalid ones are in ``rejects``), so
        ``problem``, ``source_file`` and ``source_row`` are NULL. The view reads
        the attached store, so a writer's store stays held until it is closed.
        It holds the events table's rows and the minutes of the runs
        (:mod:`.minute_runs`); with ``lo`` or ``hi``, only the minutes of the runs
        that overlap ``[lo, hi)``: for a reader of the events that meet that range;
        with ``whole_runs``, each run as one row: for a reader of distinct users or
        organizations only.
        """
        self.hold()
        events = minute_runs.events_sql(self.has_runs, lo, hi, f"{CATALOG}.main.", whole_runs)
        self.con.execute(
            f"""CREATE OR REPLACE TEMP VIEW {sources.quote_ident(name)} AS
                SELECT ts, end_us, user_id, category, org, event_id,
                       CAST(NULL AS VARCHAR) AS problem,
                       CAST(NULL AS VARCHAR) AS source_file,
                       CAST(NULL AS BIGINT) AS source_row
                FROM {events}"""
        )
        return name

    def rollup_cells(
        self, edges: Sequence[int], filters: Filters, heartbeat_us: int
    ) -> CellColumns | None:
        """The report's cells from the rollups, or None when they cannot answer it exactly.

        Buckets off the slot edges take their whole slots from the rollups and
        the slots an edge cuts from the events (:mod:`.edges`).
        """
        if rollups.STEP not in self.applied:
            return None  # an older store, read before its upgrade
        if not rollup_answers.answerable((), filters, heartbeat_us):
            return None
        if rollup_answers.answerable(edges, filters, heartbeat_us):
            with self._reading():
                return rollup_answers.cells(self.con, edges, filters)
        pieces = edges_mod.plan(edges)
        if pieces is None:
            return None
        known = self._rollups_count_every_event()  # so every stored category is known
        runs, spans = self._stored_kinds()
        with self._reading():
            return edges_mod.cells(self.con, pieces, filters, known=known, runs=runs, spans=spans)

    def rollup_active_users(
        self, start: int, end: int, filters: Filters, heartbeat_us: int
    ) -> int | None:
        """The users active in ``[start, end)`` from the rollups (a bound off slot edges:
        :func:`.edges.active_users`), or None when they cannot tell."""
        if rollups.STEP not in self.applied:
            return None
        if not rollup_answers.answerable((), filters, heartbeat_us):
            return None
        with self._reading():
            return edges_mod.active_users(self.con, start, end, filters)

    def rollup_orgs_like(self, values: Sequence[str]) -> set[str] | None:
        """The organizations equal to one of ``values`` but for case, from the rollups,
        or None unless they count every stored event (so know every organization)."""
        if rollups.STEP not in self.applied:
            return None
        if not self._rollups_count_every_event():
            return None
        with self._reading():
            rows = self.con.execute(
                "SELECT DISTINCT org FROM rollups_daily "
                "WHERE org IS NOT NULL AND list_contains($values, lower(org))",
                {"values": sorted({v.lower() for v in values})},
            ).fetchall()
        return {str(org) for (org,) in rows}

    def rollup_span(
        self, filters: Filters, heartbeat_us: int
    ) -> tuple[bool, tuple[int, int] | None]:
        """``(True, span)`` from the rollups (as :func:`.engine.data_span`), else ``(False, None)``.

        Only for a range taken from the data (no bound given).
        """
        if rollups.STEP not in self.applied:
            return False, None
        if not rollup_answers.answerable((), filters, heartbeat_us):
            return False, None
        with self._reading():
            return True, rollup_answers.span(self.con, filters, self.has_runs)

    def diagnostics(self) -> sources.Diagnostics:
        """What a report tells about the stored events: the unknown categories.

        Stored events are all valid (invalid rows are kept in ``rejects``).
        """
        return self.held("diagnostics", self._read_diagnostics)

    def _read_diagnostics(self) -> sources.Diagnostics:
        known = ", ".join(_literal(c) for c in sources.CATEGORIES)
        with self._reading():
            total = minute_runs.total(self.con, self.has_runs)
            if self._rollups_count_every_event():
                return sources.Diagnostics.of(total)
            # Literals, not a bound list: DuckDB then skips row groups by their statistics.
            unknown = [
                (str(c), n)
                for c, n in minute_runs.tally(
                    self.con, self.has_runs, "category", f"category NOT IN ({known})"
                )
            ]
        return sources.Diagnostics.of(total, unknown=unknown)

    def _rollups_count_every_event(self) -> bool:
        """Whether the rollups count every stored event (so know every category and org)."""

        def read() -> bool:
            if rollups.STEP not in self.applied:
                return False
            with self._reading():
                total = minute_runs.total(self.con, self.has_runs)
                return rollup_answers.counted(self.con) == total

        return self.held("rollups_count_every_event", read)

    def users_at_most(self) -> int | None:
        """How many users the stored events have at most, or None when unknown cheaply:
        the users the rollups number, when they count every stored event (so number
        the user of each)."""

        def read() -> int | None:
            if not self._rollups_count_every_event():
                return None
            with self._reading():
                return int(self.con.execute("SELECT count(*) FROM rollup_users").fetchall()[0][0])

        return self.held("users_at_most", read)

    def _stored_kinds(self) -> tuple[bool, bool]:
        """Whether the store holds runs of minutes (rows, not only their table), and
        whether some stored event has an end: the reads near a cut slot skip what is not."""

        def read() -> tuple[bool, bool]:
            with self._reading():
                runs = self.has_runs and bool(
                    self.con.execute(f"SELECT EXISTS (FROM {minute_runs.TABLE})").fetchall()[0][0]
                )
                spans = self.con.execute(
                    "SELECT EXISTS (FROM events WHERE end_us IS NOT NULL)"
                ).fetchall()[0][0]
            return runs, bool(spans)

        return self.held("stored_kinds", read)

    def extent(self) -> tuple[int, int | None]:
        """How many events the store holds, and the latest one's time (µs), if any."""
        with self._reading():
            return info_mod.extent(self.con, self.has_runs)

    def organizations(self) -> list[str]:
        """The organization ids of the stored events, sorted."""
        with self._reading():
            return info_mod.organizations(self.con, self.has_runs)
