"""The store's events: answered from its 15-minute rollups when they line up, else by SQL.

Stored rows are valid (invalid ones are kept apart at ingest), so the
diagnostics are the store's own counts: no check pass.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ... import directory as directory_mod
from ... import engine, resources, sources
from ...model import UserInfo
from ...orgs import read_orgs_file
from ..protocol import CellTable, Counted, Diagnostics, Filters
from .connection import owned

if TYPE_CHECKING:
    from ...store import Store

#: The view of the events near one range (see :meth:`StoreSource.near`).
NEAR_VIEW = "store_events_near"
#: The view of the events with each run of minutes as one row (see ``_whole_runs``).
KINDS_VIEW = "store_events_kinds"


@dataclass
class StoreSource:
    """The events of ``store`` (opened, or read through a server's cursor)."""

    store: Store
    users_file: str | None = None  # a directory file, else the store's directory
    orgs_file: str | None = None  # an organization directory file, else the store's
    #: The run it belongs to: a cancelled run's next query does not start.
    context: resources.RunContext | None = None
    _checked: Diagnostics | None = field(default=None, init=False, repr=False)
    _view: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.store.hold()  # for the source's life, as its view would hold it

    @property
    def view(self) -> str:
        """The events as :data:`sources.VIEW`, registered on first use: a report the
        rollups answer needs none (a server's every request would make it anew)."""
        if self._view is None:
            self._view = self.store.events_view()
        return self._view

    def near(self, lo: int | None, hi: int | None) -> str:
        """The events as :data:`sources.VIEW`, complete for a reader of those that meet
        ``[lo, hi)`` (a bound None: open): a store's runs of minutes are listed only
        where they overlap it (see :mod:`...store.minute_runs`)."""
        if not self.store.has_runs or (lo is None and hi is None):
            return self.view
        return self.store.events_view(NEAR_VIEW, lo, hi)

    def diagnostics(self) -> Diagnostics:
        """The store's counts: its unknown categories, cheap when the rollups hold every event."""
        if self._checked is None:
            self._check()
            self._checked = self.store.diagnostics()
        return self._checked

    def span(
        self,
        filters: Filters,
        heartbeat_us: int,
        start_us: int | None = None,
        end_us: int | None = None,
    ) -> tuple[int, int] | None:
        self._check()
        if start_us is None and end_us is None:
            answered, span = self.store.rollup_span(filters, heartbeat_us)
            if answered:
                return span
        return engine.data_span(
            self.store.con,
            self.near(start_us, end_us),
            filters,
            heartbeat_us,
            start_us=start_us,
            end_us=end_us,
        )

    def cells(self, edges_us: Sequence[int], filters: Filters, heartbeat_us: int) -> Counted:
        self._check()
        rolled = self.store.rollup_cells(list(edges_us), filters, heartbeat_us)
        if rolled is not None:
            return Counted(CellTable(rolled), "rollups")
        view = self.near(edges_us[0], edges_us[-1])
        cells = engine.compute(self.store.con, view, edges_us, filters, heartbeat_us)
        return Counted(cells, "events")

    def active_users(self, edges_us: Sequence[int], filters: Filters, heartbeat_us: int) -> int:
        """How many users have an event that touches ``[edges_us[0], edges_us[-1])``.

        Counted as the report counts: an event covers its span, or the heartbeat.
        The rollups tell it without reading the events, exactly for a range on
        slot edges, else with the users active only in the parts of its edge
        slots outside it (a bound: :func:`.store.edges.active_users`).
        """
        self._check()
        rolled = self.store.rollup_active_users(edges_us[0], edges_us[-1], filters, heartbeat_us)
        if rolled is not None:
            return rolled
        where, params = engine.filter_sql(filters)
        params.update(start=edges_us[0], end=edges_us[-1], heartbeat=heartbeat_us)
        row = self.store.con.execute(
            f"""SELECT count(DISTINCT user_id) FROM {self.near(edges_us[0], edges_us[-1])}
                WHERE {where} AND ts < $end
                  AND (coalesce(end_us, ts + $heartbeat) > $start OR ts >= $start)""",
            params,
        ).fetchall()[0]
        return int(row[0])

    def directory(self) -> dict[str, UserInfo]:
        self._check()
        if self.users_file:
            con = self.store.con
            return directory_mod.index(directory_mod.read_directory_file(con, self.users_file))
        return self.store.users()

    def org_names(self) -> dict[str, str]:
        """The organization directory, id -> name: the file's, else the store's."""
        self._check()
        if self.orgs_file:
            return read_orgs_file(self.store.con, self.orgs_file)
        return self.store.orgs()

    def refuse_files_without_valid_rows(self, diagnostics: Diagnostics) -> None:
        """Nothing to refuse: stored rows are valid."""

    def unknown_in_range(self, diagnostics: Diagnostics, start_us: int, end_us: int) -> Diagnostics:
        self._check()
        view = self.near(start_us, end_us)
        return sources.unknown_in_range(self.store.con, view, diagnostics, start_us, end_us)

    def values_like(self, column: str, values: Sequence[str]) -> set[str]:
        self._check()
        if column == "org":
            found = self.store.rollup_orgs_like(values)
            if found is not None:
                return found
        return engine.values_like(self.store.con, self._whole_runs(), column, values)

    def user_ids(self) -> set[str]:
        self._check()
        return engine.user_ids(self.store.con, self._whole_runs())

    def _whole_runs(self) -> str:
        """The events with each run of minutes as one row: the same users and organizations
        as :attr:`view`, without listing every minute."""
        if not self.store.has_runs:
            return self.view
        return self.store.events_view(KINDS_VIEW, whole_runs=True)

    def interrupt(self) -> None:
        """Stop the running query, from another thread; it fails with an error."""
        self.store.con.interrupt()

    def _check(self) -> None:
        if self.context is not None:
            self.context.check()


@contextmanager
def open_store(
    path: str | os.PathLike[str],
    *,
    users_file: str | None = None,
    limits: resources.Limits | None = None,
    context: resources.RunContext | None = None,
    orgs_file: str | None = None,
) -> Iterator[StoreSource]:
    """The events of the store at ``path``, opened read-only; its directory names users.

    ``context`` as for :func:`.files.open_files`.
    """
    from ...store import Store  # a report on files has no use for the store's modules

    with (
        owned(context) as run,
        run.stops(),
        Store.open(path, read_only=True, limits=limits, context=run) as store,
    ):
        yield StoreSource(store, users_file=users_file, orgs_file=orgs_file, context=run)
