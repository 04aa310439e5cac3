"""Where a report's events come from: the seam between the report and its data.

:func:`.reporting.run` asks an :class:`EventSource` four things: what is wrong
with the rows (diagnostics), the span of the matching events, the counts per
bucket and user (cells), and the user directory. It opens and closes nothing:
the caller opens a source (:func:`open_files`, :func:`open_store`), runs
reports over it and closes it. :class:`DuckDBSource` answers with the
DuckDB engine (:mod:`.engine`) over event files or the store.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Protocol

from . import directory as directory_mod
from . import engine, resources, sources
from .model import UserInfo

if TYPE_CHECKING:
    import duckdb

    from .store import Store


class EventSource(Protocol):
    """What a report needs to know about its events."""

    def diagnostics(self) -> sources.Diagnostics:
        """Counts of the invalid rows and of the unknown categories."""
        ...

    def span(
        self,
        filters: engine.Filters,
        heartbeat_us: int,
        start_us: int | None = None,
        end_us: int | None = None,
    ) -> tuple[int, int] | None:
        """The earliest event and the latest covered moment of the matching events."""
        ...

    def cells(
        self, edges_us: Sequence[int], filters: engine.Filters, heartbeat_us: int
    ) -> Sequence[engine.Cell]:
        """Events and active time per bucket and user."""
        ...

    def directory(self) -> dict[str, UserInfo]:
        """The users who may appear in the report, by id."""
        ...

    def refuse_files_without_valid_rows(self, diagnostics: sources.Diagnostics) -> None:
        """Raise a DataError naming a file none of whose rows is valid."""
        ...

    def unknown_in_range(
        self, diagnostics: sources.Diagnostics, start_us: int, end_us: int
    ) -> sources.Diagnostics:
        """``diagnostics`` with only the unknown categories of events in ``[start, end)``."""
        ...

    def values_like(self, column: str, values: Sequence[str]) -> set[str]:
        """The values of ``column`` (org, user_id) equal to one of ``values``, ignoring case."""
        ...


@dataclass
class DuckDBSource:
    """Events in a DuckDB view of ``con``: event files, or the store's events table."""

    con: duckdb.DuckDBPyConnection
    view: str
    every_column: bool = False  # CSV rows may have any column wrong; Parquet and the store not
    users_file: str | None = None  # a directory file, else the store's directory
    orgs_file: str | None = None  # an organization directory file, else the store's
    store: Store | None = None
    has_coverage: bool = True  # some rows may carry an end time or a duration
    #: The view counted, when it may differ from the one checked: the files' rows
    #: with repeats counted by the rule the store keeps; a call, since the view is
    #: ready only once the ids' sort is done (:func:`.sources.counted_view_later`).
    counted: Callable[[], str] | None = None
    #: The files' rows grouped for a cheaper check pass (:class:`.sources.Summary`), if any.
    summary: sources.Summary | None = None
    #: The store's precomputed answer, when the request lines up with it (else None).
    rollup: Callable[[list[int], engine.Filters, int], list[engine.Cell] | None] | None = None
    #: What answered the last :meth:`cells`: ``events`` or ``rollups``.
    answered_by: str = "events"
    #: The run it belongs to: a cancelled run's next query does not start.
    context: resources.RunContext | None = None
    _checked: sources.Diagnostics | None = field(default=None, init=False, repr=False)

    def diagnostics(self) -> sources.Diagnostics:
        """Of files, the check pass, which also collects what picks the engine's plan and
        names the users; of the store, its own counts (stored rows are valid: no pass).
        """
        if self._checked is None:
            self._check()
            if self.store is not None:
                self._checked = self.store.diagnostics()
            else:
                self._checked = sources.diagnose(
                    self.con,
                    self.view,
                    every_column=self.every_column,
                    covered=self.has_coverage,
                    users=True,
                    summary=self.summary,
                )
        return self._checked

    def span(
        self,
        filters: engine.Filters,
        heartbeat_us: int,
        start_us: int | None = None,
        end_us: int | None = None,
    ) -> tuple[int, int] | None:
        self._check()
        if self.rollup is not None and self.store is not None and start_us is end_us is None:
            answered, span = self.store.rollup_span(filters, heartbeat_us)
            if answered:
                return span
        return engine.data_span(
            self.con,
            self._counted(),
            filters,
            heartbeat_us,
            start_us=start_us,
            end_us=end_us,
        )

    def cells(
        self, edges_us: Sequence[int], filters: engine.Filters, heartbeat_us: int
    ) -> Sequence[engine.Cell]:
        self._check()
        if self.rollup is not None:
            cells = self.rollup(list(edges_us), filters, heartbeat_us)
            if cells is not None:
                self.answered_by = "rollups"
                return cells
        self.answered_by = "events"
        # Without explicit coverage among the filtered categories, every event
        # covers the heartbeat and the cheaper heartbeat plan is exact.
        checked = self.diagnostics()
        covered = checked.covered_categories if self.has_coverage else ()
        heartbeats_only = None if covered is None else not set(covered) & set(filters.categories)
        # Files the check found free of invalid rows and unknown categories need
        # neither test when every category is asked for.
        every_row = (
            self.store is None
            and not checked.invalid_rows
            and not checked.unknown_rows
            and set(sources.CATEGORIES) <= set(filters.categories)
        )
        return engine.compute(
            self.con,
            self._counted(),
            edges_us,
            filters,
            heartbeat_us,
            heartbeats_only=heartbeats_only,
            user_ids=checked.user_ids,
            checked=every_row,
        )

    def directory(self) -> dict[str, UserInfo]:
        self._check()
        if self.users_file:
            return directory_mod.index(directory_mod.read_directory_file(self.con, self.users_file))
        return self.store.users() if self.store is not None else {}

    def org_names(self) -> dict[str, str]:
        """The organization directory, id -> name: the file's, else the store's."""
        self._check()
        if self.orgs_file:
            from .orgs import read_orgs_file

            return read_orgs_file(self.con, self.orgs_file)
        return self.store.orgs() if self.store is not None else {}

    def refuse_files_without_valid_rows(self, diagnostics: sources.Diagnostics) -> None:
        sources.refuse_files_without_valid_rows(self.con, self.view, diagnostics)

    def unknown_in_range(
        self, diagnostics: sources.Diagnostics, start_us: int, end_us: int
    ) -> sources.Diagnostics:
        self._check()
        return sources.unknown_in_range(self.con, self.view, diagnostics, start_us, end_us)

    def values_like(self, column: str, values: Sequence[str]) -> set[str]:
        self._check()
        return engine.values_like(self.con, self._counted(), column, values)

    def interrupt(self) -> None:
        """Stop the running query, from another thread; it fails with an error."""
        self.con.interrupt()

    def _counted(self) -> str:
        return self.view if self.counted is None else self.counted()

    def _check(self) -> None:
        if self.context is not None:
            self.context.check()


def connect(
    memory_limit: str | None = None,
    temp_dir: str | None = None,
    *,
    context: resources.RunContext | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection set up for reports.

    UTC session time zone: text timestamps without an offset are UTC.
    No progress bar: DuckDB draws it on stdout, which carries only the report.
    Memory is bounded by ``memory_limit``; what does not fit spills to
    ``temp_dir`` (see :mod:`.resources`), and ``context``'s cancel interrupts
    its queries.
    """
    con = resources.connect(limits=resources.Limits(memory_limit, temp_dir), context=context)
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")
    return con


@contextlib.contextmanager
def owned(context: resources.RunContext | None) -> Iterator[resources.RunContext]:
    """``context``, or a private one closed (its temporary files removed) when the block ends."""
    if context is not None:
        yield context
        return
    with resources.RunContext() as private:
        yield private


@contextlib.contextmanager
def open_files(
    events: Sequence[str],
    *,
    users_file: str | None = None,
    limits: resources.Limits | None = None,
    context: resources.RunContext | None = None,
    stdin: IO[bytes] | None = None,
    reading: sources.Reading | None = None,
    orgs_file: str | None = None,
) -> Iterator[DuckDBSource]:
    """The events of files, globs, directories or ``-`` (the forms of ``--events``).

    ``reading`` says which columns hold which field, and how times and
    categories are written (:func:`.sources.parse_reading`); default: the
    canonical columns and ISO 8601 times.

    ``context`` is the run's (see :class:`.resources.RunContext`): its cancel
    stops the source's queries, which then fail with :class:`.errors.Interrupted`,
    and it removes the copy of a stream. Without one, the source has its own,
    closed with it. ``-`` reads ``stdin`` (default: this process's).
    """
    limits = limits or resources.Limits()
    with owned(context) as run, run.stops():
        con = connect(limits.memory_limit, limits.temp_dir, context=run)
        try:
            loaded = sources.load_events(
                con,
                sources.expand_paths(events, stdin=stdin, context=run),
                reading=reading or sources.DEFAULT_READING,
            )
            has_csv = any(file.fmt == "csv" for file in loaded.files)
            yield DuckDBSource(
                con,
                loaded.view,
                every_column=has_csv,
                users_file=users_file,
                orgs_file=orgs_file,
                has_coverage=loaded.has_coverage,
                counted=sources.counted_view_later(con, loaded),
                summary=loaded.summary,
                context=run,
            )
        finally:
            con.close()


@contextlib.contextmanager
def open_store(
    path: str | os.PathLike[str],
    *,
    users_file: str | None = None,
    limits: resources.Limits | None = None,
    context: resources.RunContext | None = None,
    orgs_file: str | None = None,
) -> Iterator[DuckDBSource]:
    """The events of the store at ``path``, opened read-only; its directory names users.

    ``context`` as for :func:`open_files`.
    """
    from .store import Store  # a report on files has no use for the store's modules

    with (
        owned(context) as run,
        run.stops(),
        Store.open(path, read_only=True, limits=limits, context=run) as store,
    ):
        yield DuckDBSource(
            store.con,
            store.events_view(),
            users_file=users_file,
            orgs_file=orgs_file,
            store=store,
            rollup=store.rollup_cells,
            context=run,
        )
