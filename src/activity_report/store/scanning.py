"""Ingest, first part: the files scanned before the store is looked at.

The run's state (:class:`Scan`), its temporary tables, the rows counted per
file, the invalid rows and the CSV lines DuckDB could not parse kept, the
files' diagnostics, and the identities that occur more than once numbered
(see :mod:`.ingest` for the whole run).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .. import resources, sources
from ..errors import DataError, first_line
from .schema import is_interrupt

if TYPE_CHECKING:
    import numpy as np

    from .core import Store

#: The view ``ingest`` reads the files through (see :func:`sources.load_events`).
INPUT_VIEW = "ingest_input"

#: A row's identity for the in-batch duplicate search (a hash; compared on the real columns).
_KEY = sources.IDENTITY


class Scan:
    """One ingest run into ``store``: its state, and the scan of its files."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.con = store.con
        #: How to read the files' columns, times and categories (set by the caller).
        self.reading = sources.DEFAULT_READING
        #: Valid rows with an id, and without one (from :meth:`_tally`).
        self.with_id = 0
        self.without_id = 0
        #: The earliest and latest time of the valid id-less rows (None: no such row).
        self.idless_span: tuple[int, int] | None = None
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
                                 {touched},
                                 min(ts) FILTER (problem IS NULL AND event_id IS NULL),
                                 max(ts) FILTER (problem IS NULL AND event_id IS NULL)
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
        firsts = [int(row[8]) for row in tally if row[8] is not None]
        lasts = [int(row[9]) for row in tally if row[9] is not None]
        self.idless_span = (min(firsts), max(lasts)) if firsts else None
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
        times = sources.unparseable_times(self.con, INPUT_VIEW, first_bad[0]) if first_bad else []
        sources.refuse_no_valid_rows(first_bad, diagnostics, times=times)

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
        return sources.Diagnostics.of(
            total, reasons=reasons, examples=examples, unknown=unknown, unknown_rows=unknown_rows
        )

    def _number_copies(self) -> None:
        """Apply the repeated-row rule among the files, before the store is looked at.

        The rule and how its rows are found are :mod:`..sources.repeats`'.
        Usually no identity repeats, and the rows stay in the files. Else
        ``ingest_repeated`` keeps the rows the rule keeps of those behind a
        repeated hash, with ``copy`` numbering an id-less content's copies,
        and the other rows still stream from the files.
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
            keys = self.loaded.id_hashes
        else:
            keys = f"SELECT {_KEY} AS h FROM {source} WHERE problem IS NULL"
        total = int(con.execute("SELECT sum(rows) FROM ingest_files").fetchall()[0][0] or 0)
        repeats = self._repeated_hashes(keys, total)
        if repeats is None:
            return
        sources.hash_table(con, "ingest_dup_keys", repeats)
        behind = f"""(SELECT v.*, f.file_no
                     FROM {located} v JOIN ingest_files f ON f.display = v.source_file
                     WHERE v.problem IS NULL AND {_KEY} IN (SELECT h FROM ingest_dup_keys))"""
        con.execute(
            "CREATE OR REPLACE TEMP TABLE ingest_repeated AS "
            f"SELECT {sources.KEPT_COLUMNS} FROM ({sources.kept_rows(behind)})"
        )
        self.repeated = True

    def _repeated_hashes(self, query: str, rows: int) -> np.ndarray | None:
        """The hashes that ``query`` (column ``h``, at most ``rows`` rows) gives more than once.

        Up to :data:`_SORT_ROWS` rows, one sort in memory. Past it, a bulk
        load's hashes would take 8 bytes a row (and as much again while
        DuckDB hands them over): they stream instead into files, split by
        their top bits into parts of about :data:`_SORT_ROWS`, and each part
        is sorted on its own. Equal hashes land in the same part.
        """
        import numpy as np

        if rows <= _SORT_ROWS:
            return sources.repeated_hashes(sources.read_hashes(self.con, query))
        bits = (-(-rows // _SORT_ROWS) - 1).bit_length()
        shift = np.uint64(64 - bits)
        folder = str(self.con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0])
        base = os.path.abspath(folder.rstrip("/\\") or ".") + "-hashes"
        paths = [self.store.context.add_temp(f"{base}-{part}") for part in range(1 << bits)]
        found = []
        try:
            outs = [open(path, "wb") for path in paths]  # noqa: SIM115 (closed below)
            try:
                relation = self.con.sql(query)
                # DuckDB 1.4 calls it fetch_arrow_reader; later releases deprecate that name.
                reader = getattr(relation, "to_arrow_reader", None) or relation.fetch_arrow_reader
                for batch in reader(1 << 20):
                    hashes = batch.column(0).drop_null().to_numpy()
                    part = hashes >> shift
                    for index, out in enumerate(outs):
                        out.write(hashes[part == index].tobytes())
            finally:
                for out in outs:
                    out.close()
            for path in paths:
                repeats = sources.repeated_hashes(np.fromfile(path, np.uint64))
                os.remove(path)
                if repeats is not None:
                    found.append(repeats)
        finally:
            for path in paths:
                with contextlib.suppress(OSError):
                    os.remove(path)
        return np.concatenate(found) if found else None


#: Past this many rows, the duplicate search sorts its hashes in parts (see
#: :meth:`Scan._repeated_hashes`): 128 MB of hashes, twice that while sorted.
_SORT_ROWS = 1 << 24

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
