"""Ingest: event files into the store, read and checked before the store is held.

A run copies every file into temporary tables of the store's in-memory
connection (one scan), numbers the copies of repeated rows, and only then
attaches the store's file for the merge: new events, rejects, the ``ingests``
rows and the rollups, in one transaction.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .. import sources
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
            for table in ("ingest_batch", "ingest_malformed", "ingest_files"):
                self.con.execute(f"DROP TABLE IF EXISTS temp.main.{table}")

    def _run(
        self, files: Sequence[sources.EventFile], strict: bool, progress: Progress | None
    ) -> IngestResult:
        """Read and check the files into temporary tables, then merge them in one transaction.

        Only the merge holds the store: the files are read before it is attached.
        """
        con = self.con
        phases = _Phases(progress)
        phases.start(f"checking {_files(len(files))}", 0)
        # Every file's columns are checked before any is read: a missing
        # column in the last file fails the run at once.
        sources.load_events(con, files, view=INPUT_VIEW)
        self._create_batch(files)
        phases.start(f"reading {_files(len(files))}", 20)
        self._read_batch()
        phases.start("finding duplicates", 700)
        diagnostics = self._diagnose()
        if strict and diagnostics.invalid_rows:
            raise DataError(
                f"{diagnostics.invalid_rows} invalid row{'s' * (diagnostics.invalid_rows != 1)} "
                f"({diagnostics.describe()}); "
                "nothing was ingested: fix them, or ingest without --strict to keep them in "
                "the store's rejects table"
            )
        self._number_copies()
        phases.start("waiting for the store", 780)
        with self.store.writing(), self.store.atomic(done="the ingest is committed"):
            phases.start("adding new events", 800)
            # File numbers of this run follow the store's last one.
            offset = int(con.execute("SELECT coalesce(max(id), 0) FROM ingests").fetchall()[0][0])
            now = datetime.now(UTC)
            self._insert_new(offset)
            phases.start("updating rollups", 900)
            rollups.refresh(con, scope(f"SELECT * FROM events WHERE ingest_file > {int(offset)}"))
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

    def _create_batch(self, files: Sequence[sources.EventFile]) -> None:
        """The temporary tables of one run; ``ingest_files`` numbers its files from 1.

        ``copy`` numbers the rows of one event content within one file (see
        :meth:`_number_copies`).
        """
        con = self.con
        con.execute(
            """CREATE OR REPLACE TEMP TABLE ingest_batch (
                ts BIGINT, end_us BIGINT, user_id VARCHAR, category VARCHAR, org VARCHAR,
                event_id VARCHAR, problem VARCHAR, source_row BIGINT, file_no BIGINT,
                copy BIGINT)"""
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

    def _read_batch(self) -> None:
        """One pass over every file into ``ingest_batch``, then the row counts.

        The ``{view}_located`` view of :func:`sources.load_events` numbers CSV
        rows across each scan; a row's number in its file is its position less
        that of the file's first row, and it is worked out only for invalid
        rows (the only ones whose number is kept).
        """
        import duckdb

        con = self.con
        located = sources.quote_ident(f"{INPUT_VIEW}_located")
        try:
            con.execute(
                f"""INSERT INTO ingest_batch
                    SELECT v.ts, v.end_us, v.user_id, v.category, v.org, v.event_id, v.problem,
                           v.source_row, f.file_no, 1
                    FROM {located} v LEFT JOIN ingest_files f ON f.display = v.source_file"""
            ).fetchall()
        except duckdb.Error as exc:
            if is_interrupt(exc):
                raise
            raise DataError(f"cannot read the event files: {first_line(exc)}") from None
        # Every row must be traced to its file (the counts per file depend on it).
        unplaced = con.execute("SELECT count(*) FROM ingest_batch WHERE file_no IS NULL").fetchall()
        if int(unplaced[0][0]):
            raise DataError(
                f"{unplaced[0][0]} rows could not be traced to their file; nothing was "
                "ingested (a bug in activity-report: please report it with the file names)"
            )
        con.execute(
            """UPDATE ingest_batch SET source_row = ingest_batch.source_row - starts.first_row + 1
               FROM (SELECT b.file_no, min(b.source_row) AS first_row
                     FROM ingest_batch b JOIN ingest_files f USING (file_no)
                     WHERE f.fmt = 'csv' AND b.file_no IN (
                         SELECT file_no FROM ingest_batch WHERE problem IS NOT NULL)
                     GROUP BY b.file_no) starts
               WHERE ingest_batch.file_no = starts.file_no
                 AND ingest_batch.problem IS NOT NULL"""
        )
        self._keep_malformed()
        con.execute(
            """UPDATE ingest_files SET rows = n.rows
               FROM (SELECT file_no, count(*) AS rows FROM (
                         SELECT file_no FROM ingest_batch
                         UNION ALL SELECT file_no FROM ingest_malformed)
                     GROUP BY file_no) n
               WHERE ingest_files.file_no = n.file_no"""
        )

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
            """UPDATE ingest_batch SET source_row = source_row + (
                   SELECT count(*) FROM ingest_malformed m
                   WHERE m.file_no = ingest_batch.file_no
                     AND m.source_row - m.rank < ingest_batch.source_row)
               WHERE problem IS NOT NULL
                 AND file_no IN (SELECT file_no FROM ingest_malformed)"""
        )

    def _diagnose(self) -> sources.Diagnostics:
        """Invalid rows and unknown categories of the batch, as :func:`sources.diagnose` says."""
        con = self.con
        problems = """
            SELECT b.file_no, b.source_row, b.problem FROM ingest_batch b
            WHERE b.problem IS NOT NULL
            UNION ALL
            SELECT file_no, source_row, problem FROM ingest_malformed
        """
        reasons = [
            (str(p), int(n))
            for p, n in con.execute(
                f"SELECT problem, count(*) FROM ({problems}) GROUP BY problem "
                "ORDER BY count(*) DESC, problem"
            ).fetchall()
        ]
        examples = [
            (str(f), None if r is None else int(r), str(p))
            for f, r, p in con.execute(
                f"SELECT f.display, p.source_row, p.problem FROM ({problems}) p "
                "JOIN ingest_files f USING (file_no) "
                "ORDER BY p.file_no, p.source_row LIMIT 3"
            ).fetchall()
        ]
        known = {"known": list(sources.CATEGORIES)}
        unknown = [
            (str(c), int(n))
            for c, n in con.execute(
                "SELECT category, count(*) FROM ingest_batch "
                "WHERE problem IS NULL AND NOT list_contains($known, category) "
                "GROUP BY category ORDER BY count(*) DESC, category",
                known,
            ).fetchall()
        ]
        total = int(con.execute("SELECT sum(rows) FROM ingest_files").fetchall()[0][0] or 0)
        return sources.Diagnostics(
            total_rows=total,
            invalid_rows=sum(n for _, n in reasons),
            invalid_reasons=reasons,
            invalid_examples=examples,
            unknown_rows=sum(n for _, n in unknown),
            unknown_values=unknown[:5],
        )

    def _number_copies(self) -> None:
        """Apply the duplicate rule inside the batch, before the store is looked at.

        Of the rows sharing an id only the first is kept. Of the id-less rows
        with the same content, each file's copies are numbered 1, 2, ...
        (``copy``), and the batch keeps one row per content and copy number:
        as many copies as the file that held the most. Only keys that occur
        more than once are looked at, and there the real columns decide;
        usually there are none and this is one aggregate.
        """
        con = self.con
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE ingest_dup_keys AS
                SELECT {_KEY} AS key FROM ingest_batch WHERE problem IS NULL
                GROUP BY key HAVING count(*) > 1"""
        )
        if int(con.execute("SELECT count(*) FROM ingest_dup_keys").fetchall()[0][0]):
            same = """event_id,
                CASE WHEN event_id IS NULL THEN ts END,
                CASE WHEN event_id IS NULL THEN user_id END,
                CASE WHEN event_id IS NULL THEN category END,
                CASE WHEN event_id IS NULL THEN org END,
                CASE WHEN event_id IS NULL THEN end_us END"""
            repeated = f"problem IS NULL AND {_KEY} IN (SELECT key FROM ingest_dup_keys)"
            # The batch is built again (an UPDATE or DELETE by rowid here is far slower).
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE ingest_numbered AS
                    SELECT * FROM ingest_batch WHERE NOT ({repeated}) OR problem IS NOT NULL
                    UNION ALL
                    SELECT * EXCLUDE (seen, rid) FROM (
                        SELECT *, row_number() OVER (
                            PARTITION BY {same}, copy ORDER BY file_no, rid) AS seen
                        FROM (
                            SELECT * EXCLUDE (copy), rowid AS rid, row_number() OVER (
                                PARTITION BY {same},
                                    CASE WHEN event_id IS NULL THEN file_no END
                                ORDER BY rowid) AS copy
                            FROM ingest_batch WHERE {repeated}))
                    WHERE seen = 1 AND (event_id IS NULL OR copy = 1)"""
            )
            con.execute("DROP TABLE ingest_batch")
            con.execute("ALTER TABLE ingest_numbered RENAME TO ingest_batch")
        con.execute("DROP TABLE ingest_dup_keys")

    def _insert_new(self, offset: int) -> None:
        """Append the valid batch rows the store does not hold yet.

        An id is new when no stored event has it. An id-less row numbered
        ``copy`` is new when the store holds fewer than ``copy`` events with
        its content: first copies by an anti join (the common case), further
        ones by counting.
        """
        same_content = """e.event_id IS NULL AND e.ts = b.ts AND e.user_id = b.user_id
                       AND e.category = b.category AND e.org IS NOT DISTINCT FROM b.org
                       AND e.end_us IS NOT DISTINCT FROM b.end_us"""
        self.con.execute(
            f"""INSERT INTO events
               SELECT ts, end_us, user_id, category, org, event_id, file_no + $offset
               FROM ingest_batch b
               WHERE problem IS NULL AND event_id IS NOT NULL
                 AND NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = b.event_id)
               UNION ALL
               SELECT ts, end_us, user_id, category, org, event_id, file_no + $offset
               FROM ingest_batch b
               WHERE problem IS NULL AND event_id IS NULL AND copy = 1
                 AND NOT EXISTS (SELECT 1 FROM events e WHERE {same_content})
               UNION ALL
               SELECT ts, end_us, user_id, category, org, event_id, file_no + $offset
               FROM ingest_batch b
               WHERE problem IS NULL AND event_id IS NULL AND copy > 1
                 AND copy > (SELECT count(*) FROM events e WHERE {same_content})""",
            {"offset": offset},
        ).fetchall()

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
                   FROM ingest_batch b JOIN ingest_files f USING (file_no)
                   WHERE b.problem IS NOT NULL
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
                       SELECT file_no FROM ingest_batch WHERE problem IS NOT NULL
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
