"""Event files read by DuckDB: the check pass, then the engine's SQL over a view of them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

from ... import directory as directory_mod
from ... import engine, resources, sources
from ...model import UserInfo
from ...orgs import read_orgs_file
from ..protocol import Counted, Diagnostics, Filters
from .connection import connect, owned

if TYPE_CHECKING:
    import duckdb


@dataclass
class FileSource:
    """Events of files, in the DuckDB view ``view`` of ``con``."""

    con: duckdb.DuckDBPyConnection
    view: str
    every_column: bool = False  # CSV rows may have any column wrong; Parquet not
    users_file: str | None = None  # a directory file names the users
    orgs_file: str | None = None  # an organization directory file names the organizations
    has_coverage: bool = True  # some rows may carry an end time or a duration
    #: The view counted, when it may differ from the one checked: the files' rows
    #: with repeats counted by the rule the store keeps; a call, since the view is
    #: ready only once the ids' sort is done (:func:`.sources.counted_view_later`).
    counted: Callable[[], str] | None = None
    #: The files' rows grouped for a cheaper check pass (:class:`.sources.Summary`), if any.
    summary: sources.Summary | None = None
    #: The run it belongs to: a cancelled run's next query does not start.
    context: resources.RunContext | None = None
    _checked: Diagnostics | None = field(default=None, init=False, repr=False)

    def diagnostics(self) -> Diagnostics:
        """The check pass, which also collects what picks the engine's plan and names the users."""
        if self._checked is None:
            self._check()
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
        filters: Filters,
        heartbeat_us: int,
        start_us: int | None = None,
        end_us: int | None = None,
    ) -> tuple[int, int] | None:
        self._check()
        return engine.data_span(
            self.con, self._counted(), filters, heartbeat_us, start_us=start_us, end_us=end_us
        )

    def cells(self, edges_us: Sequence[int], filters: Filters, heartbeat_us: int) -> Counted:
        self._check()
        # Without explicit coverage among the filtered categories, every event
        # covers the heartbeat and the cheaper heartbeat plan is exact.
        checked = self.diagnostics()
        covered = checked.covered_categories if self.has_coverage else ()
        heartbeats_only = None if covered is None else not set(covered) & set(filters.categories)
        # Files the check found free of invalid rows and unknown categories need
        # neither test when every category is asked for.
        every_row = (
            not checked.invalid_rows
            and not checked.unknown_rows
            and set(sources.CATEGORIES) <= set(filters.categories)
        )
        cells = engine.compute(
            self.con,
            self._counted(),
            edges_us,
            filters,
            heartbeat_us,
            heartbeats_only=heartbeats_only,
            user_ids=checked.user_ids,
            checked=every_row,
        )
        return Counted(cells, "events")

    def directory(self) -> dict[str, UserInfo]:
        self._check()
        if self.users_file:
            return directory_mod.index(directory_mod.read_directory_file(self.con, self.users_file))
        return {}

    def org_names(self) -> dict[str, str]:
        """The organization directory file's names, id -> name; none without one."""
        self._check()
        return read_orgs_file(self.con, self.orgs_file) if self.orgs_file else {}

    def refuse_files_without_valid_rows(self, diagnostics: Diagnostics) -> None:
        sources.refuse_files_without_valid_rows(self.con, self.view, diagnostics)

    def unknown_in_range(self, diagnostics: Diagnostics, start_us: int, end_us: int) -> Diagnostics:
        self._check()
        return sources.unknown_in_range(self.con, self.view, diagnostics, start_us, end_us)

    def values_like(self, column: str, values: Sequence[str]) -> set[str]:
        self._check()
        return engine.values_like(self.con, self._counted(), column, values)

    def user_ids(self) -> set[str]:
        self._check()
        return engine.user_ids(self.con, self.view)

    def interrupt(self) -> None:
        """Stop the running query, from another thread; it fails with an error."""
        self.con.interrupt()

    def _counted(self) -> str:
        return self.view if self.counted is None else self.counted()

    def _check(self) -> None:
        if self.context is not None:
            self.context.check()


@contextmanager
def open_files(
    events: Sequence[str],
    *,
    users_file: str | None = None,
    limits: resources.Limits | None = None,
    context: resources.RunContext | None = None,
    stdin: IO[bytes] | None = None,
    reading: sources.Reading | None = None,
    orgs_file: str | None = None,
) -> Iterator[FileSource]:
    """The events of files, globs, directories or ``-`` (the forms of ``--events``).

    ``context`` is the run's (see :class:`.resources.RunContext`): its cancel
    stops the source's queries, which then fail with :class:`.errors.Interrupted`,
    and it removes the copy of a stream. Without one, the source has its own,
    closed with it. ``-`` reads ``stdin`` (default: this process's).
    ``reading`` says which columns hold which field, and how times and
    categories are written (:func:`.sources.parse_reading`); default: the
    canonical columns and ISO 8601 times. ``orgs_file`` names organizations.
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
            yield FileSource(
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
