"""Ingest: event files into the store, read, checked and compared before the store is held.

Readers (a server, reports) go on answering from the store until the short
merge at the end. First the run scans the files for what it must know: the
rows per file, the invalid rows (kept in a small temporary table, with the
CSV lines DuckDB could not parse), and the identities that occur more than
once (one sort of 64-bit hashes; the rows behind them, usually none, are kept
and numbered). Then it attaches the store read-only, as readers do, and
copies the rows the store does not hold yet into a temporary table (a last
scan of the files; beyond the memory limit DuckDB spills it to the temporary
folder), and computes the rollup rows they change. Only then does it hold the
store for writing, for the merge, in one transaction: the new events, the
rollups, the rejects and the ``ingests`` rows are copied in. Had another
ingest committed in between, the comparison is made again first. The files
are stat'ed before the first scan and after the last: a file that changed in
between fails the run, and nothing is ingested.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .. import resources, sources
from ..errors import DataError, first_line
from . import rollups
from .results import FileCounts, IngestResult
from .schema import is_interrupt, scope

if TYPE_CHECKING:
    from .core import Store

#: The view ``ingest`` reads the files through (see :func:`sources.load_events`).
INPUT_VIEW = "ingest_input"

#: Called as ``progress(label, done, total)`` while an ingest runs.
Progress = Callable[[str, int, int], None]

#: A row's identity for the in-batch duplicate search (a hash; compared on the real columns).
_KEY = (
    "CASE WHEN event_id IS NOT NULL THEN hash(event_id) "
    "ELSE hash(ts, user_id, category, org, end_us) END"
)


class Ingest:
    """One ingest run into ``store``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.con = store.con
        #: How to read the files' columns, times and categories (set by the caller).
        self.reading = sources.DEFAULT_READING
        #: Valid rows with an id, and without one (from :meth:`_tally`).
        self.with_id = 0
        self.without_id = 0
        #: Whether some rows share an identity (``ingest_repeated`` holds them).
        self.repeated = False
        #: Whether no row of the files is invalid (then no row's problem need be computed).
        self.clean = False
        #: Whether the run reads one file (numbered 1).
        self.single = False
        #: The files' view (:func:`sources.load_events`), registered by :meth:`run`.
        self.loaded: sources.LoadedEvents | None = None
        #: The files of the run, with their size and modification time before it read them.
        self.stamped: list[tuple[sources.EventFile, _Stamp | None]] = []

    def run(
        self, files: Sequence[sources.EventFile], strict: bool, progress: Progress | None
    ) -> IngestResult:
        """The whole run; an interrupt comes out as :class:`KeyboardInterrupt`."""
        try:
            return self._run(files, strict, progress)
        except BaseException as exc:
            if is_interrupt(exc):
                raise KeyboardInterrupt from None
            raise
        finally:
            for table in _TABLES:
                self.con.execute(f"DROP TABLE IF EXISTS temp.main.{table}")

    def _run(
        self, files: Sequence[sources.EventFile], strict: bool, progress: Progress | None
    ) -> IngestResult:
        """Check the files and find repeated rows, then merge them in one transaction.

        The store is attached only for the merge, which reads the files once more.
        """
        con = self.con
        phases = _Phases(progress)
        phases.start(f"checking {_files(len(files))}", 0)
        # Every file's columns are checked before any is read: a missing
        # column in the last file fails the run at once.
        self.stamped = list(zip(files, _stamps(files), strict=True))
        self.single = len(files) == 1
        self.loaded = sources.load_events(con, files, view=INPUT_VIEW, reading=self.reading)
        self._create_tables(files)
        phases.start(f"reading {_files(len(files))}", 20)
        unknown = self._read(files)
        phases.start("finding duplicates", 700)
        diagnostics = self._diagnose(unknown)
        if strict and diagnostics.invalid_rows:
            raise DataError(
                "{invalid} invalid row{s} ({what}); nothing was ingested: fix them, or ingest "
                "without {strict} to keep them in the store's rejects table",
                params=("strict",),
                invalid=diagnostics.invalid_rows,
                s="s" * (diagnostics.invalid_rows != 1),
                what=diagnostics.describe(),
            )
        self._refuse_files_without_valid_rows(diagnostics)
        self._number_copies()
        phases.start("comparing with the store", 760)
        with self.store.peeking():  # readers go on: the store is only read
            offset = self._last_file()
            self._stage()
        phases.start("waiting for the store", 880)
        with self.store.writing(), self.store.atomic(done="the ingest is committed"):
            phases.start("adding new events", 900)
            now = datetime.now(UTC)
            if self._last_file() != offset:  # another ingest committed meanwhile
                offset = self._last_file()
                self._stage()
            # File numbers of this run follow the store's last one.
            con.execute(
                "INSERT INTO events SELECT ts, end_us, user_id, category, org, event_id, "
                "file_no + $offset FROM ingest_new",
                {"offset": offset},
            )
            rollups.apply(con)
            kept = self._insert_rejects(now, offset)
            new_unknown = self._new_unknown(offset)
            counts = self._file_counts(offset)
            con.executemany(
                "INSERT INTO ingests VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    [no, path, c.rows, c.new, c.duplicates, c.rejected, now]
                    for no, path, c in counts
                ],
            )
        phases.done()
        files_counts = tuple(c for _, _, c in counts)
        return IngestResult(self.store.path, files_counts, diagnostics, kept, new_unknown)

    def _create_tables(self, files: Sequence[sources.EventFile]) -> None:
        """The temporary tables of one run; ``ingest_files`` numbers its files from 1.

        ``ingest_problems`` holds the invalid rows, ``ingest_malformed`` the
        CSV lines DuckDB could not parse; the valid rows stay in the files.
        """
        con = self.con
        con.execute(
            """CREATE OR REPLACE TEMP TABLE ingest_problems (
                ts BIGINT, end_us BIGINT, user_id VARCHAR, category VARCHAR, org VARCHAR,
                event_id VARCHAR, problem VARCHAR, source_row BIGINT, file_no BIGINT)"""
        )
        con.execute(
            """CREATE OR REPLACE TEMP TABLE ingest_malformed (
                file_no BIGINT, source_row BIGINT, rank BIGINT, problem VARCHAR, raw VARCHAR)"""
        )
        con.execute(
            """CREATE OR REPLACE TEMP TABLE ingest_files (
                file_no BIGINT, path VARCHAR, stored VARCHAR, display VARCHAR, fmt VARCHAR,
                rows BIGINT)"""
        )
        con.executemany(
            "INSERT INTO ingest_files VALUES (?, ?, ?, ?, ?, 0)",
            [
                [
                    index + 1,
                    file.path,
                    "<stdin>" if file.display == "<stdin>" else os.path.abspath(file.display),
                    file.display,
                    file.fmt,
                ]
                for index, file in enumerate(files)
            ],
        )

    def _read(self, files: Sequence[sources.EventFile]) -> int:
        """Count the rows of every file and keep its invalid ones; returns the unknown rows.

        One aggregate over the files; a second scan only when there are
        invalid rows (to keep them), a third only for invalid CSV rows (to
        number them in their file: the ``{view}_located`` view of
        :func:`sources.load_events` numbers CSV rows across each scan, and a
        row's number in its file is its position less that of the file's
        first row).
        """
        import duckdb

        con = self.con
        source = sources.quote_ident(INPUT_VIEW)
        located = sources.quote_ident(f"{INPUT_VIEW}_located")
        # Reading every column of a CSV file records each line DuckDB cannot
        # parse; Parquet has none, and the extra columns would only cost.
        touched = "count(org) + count(end_us)" if any(f.fmt == "csv" for f in files) else "0"
        try:
            tally = con.execute(
                f"""SELECT t.source_file, f.file_no, t.* EXCLUDE (source_file)
                    FROM (SELECT source_file, count(*),
                                 count(*) FILTER (problem IS NOT NULL),
                                 count(*) FILTER (problem IS NULL AND event_id IS NOT NULL),
                                 count(*) FILTER (problem IS NULL AND event_id IS NULL),
                                 count(*) FILTER (problem IS NULL
                                                  AND NOT list_contains($known, category)),
                                 {touched}
                          FROM {source} GROUP BY source_file) t
                    LEFT JOIN ingest_files f ON f.display = t.source_file""",
                {"known": list(sources.CATEGORIES)},
            ).fetchall()
            invalid = sum(int(row[3]) for row in tally)
            self.clean = not invalid
            if invalid:
                con.execute(
                    f"""INSERT INTO ingest_problems
                        SELECT v.ts, v.end_us, v.user_id, v.category, v.org, v.event_id,
                               v.problem, v.source_row, f.file_no
                        FROM {located} v JOIN ingest_files f ON f.display = v.source_file
                        WHERE v.problem IS NOT NULL"""
                )
        except duckdb.Error as exc:
            if is_interrupt(exc):
                raise
            raise _read_error(exc) from None
        # Every row must be traced to its file (the counts per file depend on it).
        unplaced = sum(int(row[2]) for row in tally if row[1] is None)
        if unplaced:
            raise DataError(
                f"{unplaced} rows could not be traced to their file; nothing was "
                "ingested (a bug in activity-report: please report it with the file names)"
            )
        self.with_id = sum(int(row[4]) for row in tally)
        self.without_id = sum(int(row[5]) for row in tally)
        if tally:
            con.executemany(
                "UPDATE ingest_files SET rows = ? WHERE file_no = ?",
                [[int(row[2]), int(row[1])] for row in tally],
            )
        csv_invalid = con.execute(
            "SELECT count(*) FROM ingest_problems JOIN ingest_files USING (file_no) "
            "WHERE fmt = 'csv'"
        ).fetchall()[0][0]
        if int(csv_invalid):
            con.execute(
                f"""UPDATE ingest_problems
                    SET source_row = ingest_problems.source_row - starts.first_row + 1
                    FROM (SELECT f.file_no, min(v.source_row) AS first_row
                          FROM {located} v JOIN ingest_files f ON f.display = v.source_file
                          WHERE f.fmt = 'csv' AND f.file_no IN (
                              SELECT file_no FROM ingest_problems)
                          GROUP BY f.file_no) starts
                    WHERE ingest_problems.file_no = starts.file_no"""
            )
        self._keep_malformed()
        con.execute(
            """UPDATE ingest_files SET rows = ingest_files.rows + n.malformed
               FROM (SELECT file_no, count(*) AS malformed FROM ingest_malformed GROUP BY file_no) n
               WHERE ingest_files.file_no = n.file_no"""
        )
        return sum(int(row[6]) for row in tally)

    def _keep_malformed(self) -> None:
        """Copy the CSV lines DuckDB could not parse into ``ingest_malformed``.

        :func:`sources.load_events` has the CSV reader set them aside, and
        :func:`sources.reject_lines_sql` lists them as reports count them. A
        line that is not UTF-8 fails the run, as it fails a report: the whole
        file is in another encoding.
        """
        con = self.con
        lines = sources.reject_lines_sql(con, INPUT_VIEW)
        if lines is None:
            return
        placed = f"SELECT l.*, f.file_no FROM ({lines}) l JOIN ingest_files f ON f.path = l.path"
        sources.refuse_not_utf8(con, placed, order="file_no, line")
        con.execute(
            f"""INSERT INTO ingest_malformed
                SELECT file_no, line - 1, row_number() OVER (PARTITION BY file_no ORDER BY line),
                       reason, raw
                FROM ({placed})"""
        )
        # The scan numbered the rows it parsed; each malformed line before a
        # row moves it down one. The j-th malformed line of a file (data row
        # x) comes after x - j parsed rows.
        con.execute(
            """UPDATE ingest_problems SET source_row = source_row + (
                   SELECT count(*) FROM ingest_malformed m
                   WHERE m.file_no = ingest_problems.file_no
                     AND m.source_row - m.rank < ingest_problems.source_row)
               WHERE file_no IN (SELECT file_no FROM ingest_malformed)"""
        )

    def _refuse_files_without_valid_rows(self, diagnostics: sources.Diagnostics) -> None:
        """A file none of whose rows is valid fails the run, as it fails a report.

        A nightly job must not store only rejects and report success.
        """
        rows = self.con.execute(
            """WITH problems AS (
                   SELECT file_no, problem FROM ingest_problems
                   UNION ALL SELECT file_no, problem FROM ingest_malformed),
               bad AS (
                   SELECT f.file_no FROM ingest_files f JOIN problems p USING (file_no)
                   GROUP BY f.file_no, f.rows HAVING f.rows > 0 AND count(*) >= f.rows
                   ORDER BY f.file_no LIMIT 1)
               SELECT f.display, p.problem, count(*) FROM problems p
               JOIN ingest_files f USING (file_no) WHERE file_no IN (SELECT file_no FROM bad)
               GROUP BY ALL ORDER BY count(*) DESC, p.problem"""
        ).fetchall()
        first_bad = (str(rows[0][0]), [(str(p), int(n)) for _, p, n in rows]) if rows else None
        sources.refuse_no_valid_rows(first_bad, diagnostics)

    def _diagnose(self, unknown_rows: int) -> sources.Diagnostics:
        """Invalid rows and unknown categories of the files, as :func:`sources.diagnose` says."""
        con = self.con
        problems = """
            SELECT file_no, source_row, problem FROM ingest_problems
            UNION ALL
            SELECT file_no, source_row, problem FROM ingest_malformed
        """
        reasons = sources.tally(con, f"({problems})", "problem")
        examples = [
            (str(f), None if r is None else int(r), str(p))
            for f, r, p in con.execute(
                f"SELECT f.display, p.source_row, p.problem FROM ({problems}) p "
                "JOIN ingest_files f USING (file_no) "
                "ORDER BY p.file_no, p.source_row LIMIT 3"
            ).fetchall()
        ]
        unknown: list[tuple[str, int]] = []
        if unknown_rows:
            unknown = sources.tally(
                con,
                sources.quote_ident(INPUT_VIEW),
                "category",
                sources.UNKNOWN_CATEGORY,
                {"known": list(sources.CATEGORIES)},
                limit=5,
            )
        total = int(con.execute("SELECT sum(rows) FROM ingest_files").fetchall()[0][0] or 0)
        return sources.Diagnostics(
            total_rows=total,
            invalid_rows=sum(n for _, n in reasons),
            invalid_reasons=reasons,
            invalid_examples=examples,
            unknown_rows=unknown_rows,
            unknown_values=unknown,
        )

    def _number_copies(self) -> None:
        """Apply the duplicate rule among the files, before the store is looked at.

        Of the rows sharing an id only the first is kept (the first file's,
        its first row). Of the id-less rows with the same content, each
        file's copies are numbered 1, 2, ... (``copy``), and the run keeps one
        row per content and copy number: as many copies as the file that held
        the most. Only identities whose hash occurs more than once are looked
        at, and there the real columns decide. Finding them is one NumPy sort
        of 64-bit hashes (faster than a hash aggregate over every row, and than
        DuckDB's window over them, which runs on one thread); usually there
        are none, and the rows stay in the files. Else ``ingest_repeated``
        keeps the rows behind them, numbered, and the other rows still stream
        from the files.
        """
        con = self.con
        self.repeated = False
        if self.with_id + self.without_id < 2:
            return
        source = sources.quote_ident(INPUT_VIEW)
        located = sources.quote_ident(f"{INPUT_VIEW}_located")
        if self.without_id == 0 and self.loaded is not None and self.loaded.id_hashes:
            # Every valid row has an id: the key is its hash, read from the raw
            # ids without the view's other columns. Invalid rows' ids come too;
            # a hash they repeat only sends rows through the exact grouping below.
            keys = sources.read_hashes(con, self.loaded.id_hashes)
        else:
            keys = sources.read_hashes(
                con, f"SELECT {_KEY} AS h FROM {source} WHERE problem IS NULL"
            )
        repeats = sources.repeated_hashes(keys)
        if repeats is None:
            return
        sources.hash_table(con, "ingest_dup_keys", repeats)
        same = """event_id,
            CASE WHEN event_id IS NULL THEN ts END,
            CASE WHEN event_id IS NULL THEN user_id END,
            CASE WHEN event_id IS NULL THEN category END,
            CASE WHEN event_id IS NULL THEN org END,
            CASE WHEN event_id IS NULL THEN end_us END"""
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE ingest_repeated AS
                SELECT ts, end_us, user_id, category, org, event_id, file_no, copy FROM (
                    SELECT *, row_number() OVER (
                        PARTITION BY {same}, copy ORDER BY file_no, source_row) AS seen
                    FROM (
                        SELECT *, row_number() OVER (
                            PARTITION BY {same}, CASE WHEN event_id IS NULL THEN file_no END
                            ORDER BY file_no, source_row) AS copy
                        FROM (
                            SELECT v.ts, v.end_us, v.user_id, v.category, v.org, v.event_id,
                                   v.source_row, f.file_no
                            FROM {located} v JOIN ingest_files f ON f.display = v.source_file
                            WHERE v.problem IS NULL
                              AND {_KEY} IN (SELECT h FROM ingest_dup_keys))))
                WHERE seen = 1 AND (event_id IS NULL OR copy = 1)"""
        )
        self.repeated = True

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

    def _last_file(self) -> int:
        """The number of the store's last ingested file (0 for none)."""
        return int(self.con.execute("SELECT coalesce(max(id), 0) FROM ingests").fetchall()[0][0])

    def _stage(self) -> None:
        """``ingest_new``: the rows to add; and the rollups they change, ready to apply.

        Reads the store (attached read-only, or for writing) and the files a
        last time, and writes to temporary tables only: the merge then copies
        them into the store. A file that changed since the first read fails
        the run here.
        """
        self._stage_new()
        self._check_unchanged()
        columns = "ts, end_us, user_id, category, org"
        rollups.prepare(
            self.con,
            scope("SELECT * FROM ingest_new"),
            # Without --memory-limit, the work spills rather than growing past this.
            None if self.store.memory_limit else rollups.MEMORY_LIMIT,
            events=f"(SELECT {columns} FROM events UNION ALL SELECT {columns} FROM ingest_new)",
        )

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
        if self.with_id:
            new = f"SELECT {merged} FROM ({self._rows('event_id IS NOT NULL')}) b"
            if self._known_ids():
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
        if not parts:  # no valid row
            self.con.execute(
                """CREATE OR REPLACE TEMP TABLE ingest_new (ts BIGINT, end_us BIGINT,
                       user_id VARCHAR, category VARCHAR, org VARCHAR, event_id VARCHAR,
                       file_no BIGINT)"""
            )
            return
        self._guarded("CREATE OR REPLACE TEMP TABLE ingest_new AS " + " UNION ALL ".join(parts))

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

        A semi join, built like :meth:`_known_ids` from the run's rows.
        """
        self._guarded(
            f"""CREATE OR REPLACE TEMP TABLE ingest_known_rows AS
                SELECT e.ts, e.end_us, e.user_id, e.category, e.org FROM events e
                SEMI JOIN (SELECT DISTINCT ts, user_id FROM ({self._rows("event_id IS NULL")})) b
                    ON e.ts = b.ts AND e.user_id = b.user_id
                WHERE e.event_id IS NULL"""
        )
        return int(self.con.execute("SELECT count(*) FROM ingest_known_rows").fetchall()[0][0])

    def _guarded(self, sql: str, params: dict[str, object] | None = None) -> None:
        """Run a statement that reads the files; a failure to read them is a DataError."""
        import duckdb

        try:
            self.con.execute(sql, params).fetchall()
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

    def _new_unknown(self, offset: int) -> list[tuple[str, int]]:
        """The categories of the events this run added that no report counts."""
        rows = self.con.execute(
            "SELECT category, count(*) FROM events WHERE ingest_file > $offset "
            "AND NOT list_contains($known, category) "
            "GROUP BY category ORDER BY count(*) DESC, category",
            {"offset": offset, "known": list(sources.CATEGORIES)},
        ).fetchall()
        return [(str(c), int(n)) for c, n in rows]

    def _insert_rejects(self, now: datetime, offset: int) -> int:
        """Keep the invalid rows; a row already kept by an earlier run is not kept twice.

        Returns how many rows this run added.
        """
        inserted = self.con.execute(
            """INSERT INTO rejects
               SELECT * FROM (
                   SELECT b.file_no + $offset, f.stored, b.source_row, b.problem, $now,
                          b.ts, b.end_us, b.user_id, b.category, b.org, b.event_id,
                          CAST(NULL AS VARCHAR) AS raw
                   FROM ingest_problems b JOIN ingest_files f USING (file_no)
                   UNION ALL
                   SELECT m.file_no + $offset, f.stored, m.source_row, m.problem, $now,
                          NULL, NULL, NULL, NULL, NULL, NULL, m.raw
                   FROM ingest_malformed m JOIN ingest_files f USING (file_no)
               ) n (ingest_file, source_file, source_row, problem, ingested_at,
                    ts, end_us, user_id, category, org, event_id, raw)
               WHERE NOT EXISTS (
                   SELECT 1 FROM rejects r
                   WHERE r.source_file = n.source_file
                     AND r.source_row IS NOT DISTINCT FROM n.source_row
                     AND r.problem = n.problem
                     AND r.ts IS NOT DISTINCT FROM n.ts
                     AND r.end_us IS NOT DISTINCT FROM n.end_us
                     AND r.user_id IS NOT DISTINCT FROM n.user_id
                     AND r.category IS NOT DISTINCT FROM n.category
                     AND r.org IS NOT DISTINCT FROM n.org
                     AND r.event_id IS NOT DISTINCT FROM n.event_id
                     AND r.raw IS NOT DISTINCT FROM n.raw)""",
            {"now": now, "offset": offset},
        ).fetchall()
        return int(inserted[0][0]) if inserted else 0

    def _file_counts(self, offset: int) -> list[tuple[int, str, FileCounts]]:
        """Per file: rows read, new (now in the store), duplicates, rejected.

        The new rows are counted in the store itself; ``ingest_file`` only
        grows, so DuckDB's zone maps skip every row group of earlier runs.
        """
        rows = self.con.execute(
            """WITH added AS (
                   SELECT ingest_file - $offset AS file_no, count(*) AS n FROM events
                   WHERE ingest_file > $offset GROUP BY ingest_file),
               bad AS (
                   SELECT file_no, count(*) AS n FROM (
                       SELECT file_no FROM ingest_problems
                       UNION ALL SELECT file_no FROM ingest_malformed)
                   GROUP BY file_no)
               SELECT f.file_no, f.stored, f.display, f.rows, coalesce(a.n, 0), coalesce(b.n, 0)
               FROM ingest_files f
               LEFT JOIN added a USING (file_no) LEFT JOIN bad b USING (file_no)
               ORDER BY f.file_no""",
            {"offset": offset},
        ).fetchall()
        counts = []
        for no, path, display, total, new, rejected in rows:
            total, new, rejected = int(total), int(new), int(rejected)
            duplicates = total - rejected - new
            counts.append(
                (
                    int(no) + offset,
                    str(path),
                    FileCounts(str(display), total, new, duplicates, rejected),
                )
            )
        return counts

    # ----------------------------------------------------------------- users


#: The temporary tables of a run, dropped when it ends.
_TABLES = (
    "ingest_problems",
    "ingest_malformed",
    "ingest_files",
    "ingest_dup_keys",
    "ingest_repeated",
    "ingest_known_ids",
    "ingest_known_rows",
    "ingest_new",
    *rollups.PREPARED,
)

#: A file's size and modification time, to notice a file that changes during a run.
_Stamp = tuple[int, int]


def _stamps(files: Sequence[sources.EventFile]) -> list[_Stamp | None]:
    """Each file's size and modification time (None if it cannot be stat'ed now)."""
    stamps: list[_Stamp | None] = []
    for file in files:
        try:
            info = os.stat(file.path)
        except OSError:
            stamps.append(None)  # reading it will say what is wrong
            continue
        stamps.append((info.st_size, info.st_mtime_ns))
    return stamps


def _read_error(exc: Exception) -> DataError:
    """A statement that reads the files failed: the disk it wrote to is full, or a file is bad."""
    return resources.disk_full(exc) or DataError(f"cannot read the event files: {first_line(exc)}")


def _files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


class _Phases:
    """Progress of one ingest: ``progress(label, done, total)`` as each phase starts.

    The callback runs in the calling thread, between statements, so it may
    also stop the run (by raising).
    """

    TOTAL = 1000

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress

    def start(self, label: str, done: int) -> None:
        if self.progress is not None:
            self.progress(label, done, self.TOTAL)

    def done(self) -> None:
        self.start("done", self.TOTAL)
