"""Ingest, second part: the files compared with the store, and the rollups they change.

With the store attached (read-only, or for writing), :class:`Staging`
writes to temporary tables only: the merge (:mod:`.ingest`) then copies
them into the store.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from .. import resources, sources
from ..errors import DataError, first_line
from . import minute_runs, rollups
from .opening import _literal
from .scanning import _KEY, INPUT_VIEW, Scan, _read_error, _stamps
from .schema import is_interrupt, scope

#: The database an ingest stages its new rows in: a file beside the run's spill folder.
STAGE = "ingest_stage"


class Staging(Scan):
    """The comparison of a run's rows with the store (the scan is :class:`.scanning.Scan`)."""

    #: The table of the rows to add (:meth:`_stage`): in :data:`STAGE`, or a temporary table.
    new = "temp.main.ingest_new"
    #: The file of :data:`STAGE` while it is attached.
    stage_file: str | None = None
    #: Whether :attr:`new` is a view of the files (a first ingest: see :meth:`_stage`).
    streamed = False

    def _rows(self, where: str) -> str:
        """SQL: the valid rows to merge that match ``where``, with ``file_no`` and ``copy``.

        They stream from the files, but for those of a repeated identity,
        which come numbered from ``ingest_repeated``.
        """
        columns = "ts, end_us, user_id, category, org, event_id"
        source = sources.quote_ident(INPUT_VIEW)
        if self.single:  # the common case: no join per row to number the file
            rows = f"SELECT {columns}, 1 AS file_no, 1 AS copy FROM {source} v"
        else:
            rows = f"""SELECT {", ".join("v." + c for c in columns.split(", "))}, f.file_no,
                       1 AS copy
                FROM {source} v JOIN ingest_files f ON f.display = v.source_file"""
        # Without invalid rows, no row's problem is computed (the view's checks).
        rows += f" WHERE ({where})" if self.clean else f" WHERE v.problem IS NULL AND ({where})"
        if self.repeated:
            rows += f""" AND {_KEY} NOT IN (SELECT h FROM ingest_dup_keys)
            UNION ALL
            SELECT {columns}, file_no, copy FROM ingest_repeated WHERE {where}"""
        return rows

    def _stage(self, on_disk: bool = True) -> None:
        """``ingest_new``: the rows to add; and the rollups they change, ready to apply.

        Reads the store (attached read-only, or for writing) and the files a
        last time, and writes to temporary tables and the stage only: the
        merge then copies them into the store. A file that changed since the
        first read fails the run here.

        ``on_disk``: the rows go to :data:`STAGE`, a DuckDB file of the run's
        own, written compressed as they stream from the files: a bulk load
        of any size is staged in bounded memory (a temporary table would hold
        it all in memory, or spill it uncompressed). Into a store without
        events (a first ingest) nothing is compared and nothing staged:
        ``ingest_new`` is a view of the files' valid rows, and the merge
        streams them into the store, then computes their rollups from it
        (there is nothing for readers to read meanwhile). Else (staging
        again, inside the merge's transaction, which may write to the store
        only) a temporary table.
        """
        self._drop_new()
        self.streamed = on_disk and self._empty_store()
        if self.streamed:
            self.new = "temp.main.ingest_new"
        elif on_disk:
            self._attach_stage()
            self.new = f"{STAGE}.main.ingest_new"
        else:
            self.new = "temp.main.ingest_new"
        self._stage_new()
        self._check_unchanged()
        if self.streamed:
            return  # the merge computes the rollups from the stored events (see prepare_streamed)
        columns = "ts, end_us, user_id, category, org"
        runs = self.store.has_runs and bool(
            self.con.execute(f"SELECT EXISTS (SELECT 1 FROM {minute_runs.TABLE})").fetchall()[0][0]
        )
        with self._reading_files():  # a view of the files, when streamed
            rollups.prepare(
                self.con,
                scope(f"SELECT * FROM {self.new}"),
                None,  # the run's memory limit (see Ingest.run)
                events=f"(SELECT {columns} FROM events UNION ALL SELECT {columns} FROM {self.new})",
                runs=f"SELECT * FROM {minute_runs.TABLE}" if runs else None,
            )

    def prepare_streamed(self) -> None:
        """The rollups of a first ingest, once its rows are in the store (in the merge).

        The store held no event, so every stored event is new: they are read
        from the store's columns, a cheaper read than the files once more
        (whose times and categories are parsed again at every read).
        """
        rollups.prepare(self.con, scope("SELECT ts, end_us, user_id FROM events"), None)

    def _drop_new(self) -> None:
        """Drop ``ingest_new`` of the temporary catalog, a view or a table."""
        views = self.con.execute(
            "SELECT count(*) FROM duckdb_views() "
            "WHERE database_name = 'temp' AND view_name = 'ingest_new'"
        ).fetchall()[0][0]
        kind = "VIEW" if views else "TABLE"
        self.con.execute(f"DROP {kind} IF EXISTS temp.main.ingest_new")

    def _attach_stage(self) -> None:
        """Attach :data:`STAGE`: a new file beside the connection's spill folder."""
        if self.stage_file is not None:
            return
        folder = str(self.con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0])
        path = os.path.abspath(folder.rstrip("/\\") or ".") + "-ingest.duckdb"
        for leftover in (path, path + ".wal"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(leftover)
        self.store.context.add_temp(path)
        self.store.context.add_temp(path + ".wal")
        import duckdb

        try:
            self.con.execute(f"ATTACH {_literal(path)} AS {STAGE}")
        except duckdb.Error as exc:
            raise resources.disk_full(exc) or DataError(
                "{path}: cannot create the ingest's staging file ({why}); give {temp_dir} "
                "a folder it may write to",
                params=("temp_dir",),
                path=path,
                why=first_line(exc),
            ) from None
        self.stage_file = path

    def _detach_stage(self) -> None:
        """Detach :data:`STAGE` and remove its file."""
        if self.stage_file is None:
            return
        path, self.stage_file = self.stage_file, None
        with contextlib.suppress(Exception):
            self.con.execute(f"DETACH {STAGE}")
        for leftover in (path, path + ".wal"):
            with contextlib.suppress(OSError):
                os.remove(leftover)

    def _stage_new(self) -> None:
        """``ingest_new``: the valid rows the store does not hold yet, with their file number.

        An id is new when no stored event has it. An id-less row numbered
        ``copy`` is new when the store holds fewer than ``copy`` events with
        its content. The run's rows are compared only with the stored events
        that can equal one of them (:meth:`_known_ids`, :meth:`_known_rows`),
        never with the whole store: a hash table over every stored id would
        grow with the store (gigabytes at a hundred million events), while
        the matches of a nightly file are usually none.
        """
        same_content = """e.ts = b.ts AND e.user_id = b.user_id AND e.category = b.category
                       AND e.org IS NOT DISTINCT FROM b.org
                       AND e.end_us IS NOT DISTINCT FROM b.end_us"""
        merged = "ts, end_us, user_id, category, org, event_id, file_no"
        parts = []
        # When the store holds none of the run's rows (a new store, most
        # nights), no row need be looked up.
        known_ids = self._known_ids() if self.with_id else 0
        # A re-ingest: the store holds every id of the run, and nothing is
        # compared (the comparison's hash table would hold every one of them).
        # The store holds an id once, so as many stored matches as the run's
        # distinct ids are all of them; the run's ids are distinct without
        # repeated rows.
        all_known = not self.repeated and known_ids == self.with_id
        if self.with_id and not all_known:
            new = f"SELECT {merged} FROM ({self._rows('event_id IS NOT NULL')}) b"
            if known_ids:
                new += """ WHERE NOT EXISTS (
                    SELECT 1 FROM ingest_known_ids e WHERE e.event_id = b.event_id)"""
            parts.append(new)
        if self.without_id:
            new = f"SELECT {merged} FROM ({self._rows('event_id IS NULL AND copy = 1')}) b"
            if self._known_rows():
                new += f" WHERE NOT EXISTS (SELECT 1 FROM ingest_known_rows e WHERE {same_content})"
            parts.append(new)
            if self.repeated:
                parts.append(
                    f"""SELECT {merged} FROM ingest_repeated b
                        WHERE event_id IS NULL AND copy > 1 AND copy > (
                            SELECT count(*) FROM ingest_known_rows e WHERE {same_content})"""
                )
        if not parts:  # no valid row, or none new
            self.con.execute(
                f"""{self._create_new()} (ts BIGINT, end_us BIGINT,
                       user_id VARCHAR, category VARCHAR, org VARCHAR, event_id VARCHAR,
                       file_no BIGINT)"""
            )
            return
        self._guarded(f"{self._create_new(self.streamed)} AS " + " UNION ALL ".join(parts))

    def _create_new(self, view: bool = False) -> str:
        """SQL: the start of the statement that creates :attr:`new` (``view``: as a view)."""
        if view:
            return "CREATE OR REPLACE TEMP VIEW ingest_new"
        if self.new.startswith("temp."):
            return "CREATE OR REPLACE TEMP TABLE ingest_new"
        return f"CREATE OR REPLACE TABLE {self.new}"

    def _empty_store(self) -> bool:
        """Whether the store holds no event (then an ingest has nothing to compare with)."""
        sql = "SELECT EXISTS (SELECT 1 FROM events)"
        if self.store.has_runs:
            sql += f" OR EXISTS (SELECT 1 FROM {minute_runs.TABLE})"
        return not self.con.execute(sql).fetchall()[0][0]

    def _known_ids(self) -> int:
        """``ingest_known_ids``: the stored ids that rows of the run carry; returns how many.

        A semi join whose hash table holds the run's ids while the stored
        ids stream past it, so its memory follows the run, not the store. An
        id that comes back months later is found like any other: every stored
        id is looked at (one column of the store).
        """
        self._guarded(
            f"""CREATE OR REPLACE TEMP TABLE ingest_known_ids AS
                SELECT e.event_id FROM events e
                WHERE e.event_id IN (SELECT event_id FROM ({self._rows("event_id IS NOT NULL")}))"""
        )
        return int(self.con.execute("SELECT count(*) FROM ingest_known_ids").fetchall()[0][0])

    def _known_rows(self) -> int:
        """``ingest_known_rows``: the stored id-less events at the time and user of an id-less
        row of the run, one row per stored event (copies count); returns how many.

        A semi join, built like :meth:`_known_ids` from the run's rows. The
        stored runs' minutes are events too (:mod:`.minute_runs`): those of the
        runs over the times of the run's id-less rows are listed.
        """
        stored = "events"
        if self.store.has_runs and self.idless_span is not None:
            lo, hi = self.idless_span
            stored = minute_runs.events_sql(True, lo, hi + 1)
        self._guarded(
            f"""CREATE OR REPLACE TEMP TABLE ingest_known_rows AS
                SELECT e.ts, e.end_us, e.user_id, e.category, e.org FROM {stored} e
                SEMI JOIN (SELECT DISTINCT ts, user_id FROM ({self._rows("event_id IS NULL")})) b
                    ON e.ts = b.ts AND e.user_id = b.user_id
                WHERE e.event_id IS NULL"""
        )
        return int(self.con.execute("SELECT count(*) FROM ingest_known_rows").fetchall()[0][0])

    def _guarded(self, sql: str, params: dict[str, object] | None = None) -> None:
        """Run a statement that reads the files; a failure to read them is a DataError."""
        with self._reading_files():
            self.con.execute(sql, params).fetchall()

    @contextlib.contextmanager
    def _reading_files(self) -> Iterator[None]:
        """Statements that read the files: a failure to read them is a DataError."""
        import duckdb

        try:
            yield
        except duckdb.Error as exc:
            if is_interrupt(exc):
                raise
            self._check_unchanged()
            raise _read_error(exc) from None

    def _check_unchanged(self) -> None:
        """Fail the run if a file changed since it was first read (the counts would disagree)."""
        for file, stamp in self.stamped:
            if _stamps([file])[0] != stamp:
                raise DataError(
                    f"{file.display}: the file changed while it was being ingested; nothing "
                    "was ingested: ingest it again once whatever writes it has finished"
                )
