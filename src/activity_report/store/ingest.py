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

Modules: :mod:`.scanning` (the run's state and the scan of its files),
:mod:`.staging` (the comparison with the store) and this one (the run, the
merge and commit).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from .. import sources
from ..errors import DataError
from . import rollups
from .results import FileCounts, IngestResult
from .scanning import INPUT_VIEW as INPUT_VIEW
from .scanning import _stamps
from .schema import is_interrupt
from .staging import Staging

#: Called as ``progress(label, done, total)`` while an ingest runs.
Progress = Callable[[str, int, int], None]


class Ingest(Staging):
    """One ingest run into ``store``."""

    def run(
        self, files: Sequence[sources.EventFile], strict: bool, progress: Progress | None
    ) -> IngestResult:
        """The whole run; an interrupt comes out as :class:`KeyboardInterrupt`."""
        # Without --memory-limit, DuckDB's share of the run stays within this:
        # its cache of the store's blocks, the semi joins and the rollups'
        # sorts are evicted or spill past it (DuckDB's default, 80% of the
        # RAM, would let a nightly ingest's memory grow with the store).
        limited = self.store.memory_limit is None
        if limited:
            self.con.execute("SET memory_limit = $limit", {"limit": rollups.MEMORY_LIMIT})
        try:
            return self._run(files, strict, progress)
        except BaseException as exc:
            if is_interrupt(exc):
                raise KeyboardInterrupt from None
            raise
        finally:
            self._drop_new()
            for table in _TABLES:
                self.con.execute(f"DROP TABLE IF EXISTS temp.main.{table}")
            self._detach_stage()
            if limited:
                self.con.execute("RESET memory_limit")

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
            self._stage(on_disk=True)
        phases.start("waiting for the store", 880)
        with self.store.writing(), self.store.atomic(done="the ingest is committed"):
            phases.start("adding new events", 900)
            now = datetime.now(UTC)
            if self._last_file() != offset:  # another ingest committed meanwhile
                offset = self._last_file()
                # In the merge's transaction, which may write to the store only.
                self._stage(on_disk=False)
            # File numbers of this run follow the store's last one. A first
            # ingest streams them from the files (see Staging._stage).
            self._guarded(
                "INSERT INTO events SELECT ts, end_us, user_id, category, org, event_id, "
                f"file_no + $offset FROM {self.new}",
                {"offset": offset},
            )
            if self.streamed:  # the files were read once more
                self._check_unchanged()
                self.prepare_streamed()
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

    def _last_file(self) -> int:
        """The number of the store's last ingested file (0 for none)."""
        return int(self.con.execute("SELECT coalesce(max(id), 0) FROM ingests").fetchall()[0][0])

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
    *rollups.PREPARED,
)


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
