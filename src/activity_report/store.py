"""The persistent store (``--db``): a DuckDB file of deduplicated events.

Users run ``activity-report ingest`` from cron each night and reports over
months of history read the store instead of every log file again. The store
holds, in schema version :data:`SCHEMA_VERSION`:

==========  =================================================================
table       what it holds
==========  =================================================================
meta        ``key``/``value`` pairs: ``schema_version``, ``created_by``
migrations  the schema steps applied: ``name``, ``applied_at``
events      the canonical columns of :mod:`.sources` (``ts``, ``end_us``,
            ``user_id``, ``category``, ``org``, ``event_id``) and
            ``ingest_file``, the :data:`ingests` row of the file it came from
rejects     invalid rows: file, row, reason, when, and the values read
users       the user directory: ``id``, ``name``, ``username``,
            ``roles`` (VARCHAR[]), ``avatar_hash``
ingests     one row per file per run: ``file``, ``rows``, ``new``,
            ``duplicates``, ``rejected``, ``ingested_at``
==========  =================================================================

Duplicates. An event with an id is the same event as any other with that
id. Id-less events with equal canonical content (time, user, category,
organization, end of coverage) are copies: the store keeps, per content, as
many copies as the most any one ingested file held, so a file's own repeats
are kept and a re-ingest or an overlapping export adds only the copies
beyond those stored. Every comparison is on the real columns, so no hash
collision can ever drop an event. The batch of one run is first copied into
a temporary table (one scan of the files); a 64-bit hash of each row's
identity only finds the few keys that occur more than once in the batch, so
the common case (no duplicates inside the batch) costs one hash aggregate.
The rows not already in the store are then appended by two anti joins (by
id, and by content), which DuckDB runs as hash joins built on the smaller
side. There is no index: an ART index on the id made inserts about 3x and
re-ingests about 6x slower in measurements, and the anti join needs none.

Schema. :data:`MIGRATIONS` lists named steps, applied in order by the first
writer, each in its own transaction (:meth:`Store.atomic`), and recorded in
the ``migrations`` table. Readers read an older shape as it is.

Atomicity. A run is one transaction: any failure (a file that cannot be
read, ``--strict`` with invalid rows, an interrupt) rolls it back and the
store is exactly as it was.

Concurrency. DuckDB lets one process write a database file, or several read
it. An ingest reads and checks its files before it takes the store, and
holds it only for the merge and commit. A store held by another process is
waited for, up to ``wait`` seconds, then a :class:`~.errors.DataError`
naming that process, never a traceback.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from . import __version__, engine, resources, rollups, sources
from . import directory as directory_mod
from .errors import DataError
from .model import UserInfo

if TYPE_CHECKING:
    import duckdb

SCHEMA_VERSION = 1
APP_DIR = "activity-report"
DEFAULT_NAME = "events.duckdb"
ENV_VAR = "ACTIVITY_REPORT_DB"

#: The view ``ingest`` reads the files through (see :func:`sources.load_events`).
INPUT_VIEW = "ingest_input"
#: The view reports read (the columns of :data:`sources.VIEW`).
EVENTS_VIEW = "store_events"

#: Called as ``progress(label, done, total)`` while an ingest runs.
Progress = Callable[[str, int, int], None]

_SCHEMA = (
    "CREATE TABLE meta (key VARCHAR NOT NULL, value VARCHAR NOT NULL)",
    """CREATE TABLE events (
        ts BIGINT NOT NULL,
        end_us BIGINT,
        user_id VARCHAR NOT NULL,
        category VARCHAR NOT NULL,
        org VARCHAR,
        event_id VARCHAR,
        ingest_file BIGINT NOT NULL
    )""",
    """CREATE TABLE rejects (
        ingest_file BIGINT NOT NULL,
        source_file VARCHAR NOT NULL,
        source_row BIGINT,
        problem VARCHAR NOT NULL,
        ingested_at TIMESTAMPTZ NOT NULL,
        ts BIGINT,
        end_us BIGINT,
        user_id VARCHAR,
        category VARCHAR,
        org VARCHAR,
        event_id VARCHAR,
        raw VARCHAR
    )""",
    """CREATE TABLE users (
        id VARCHAR NOT NULL,
        name VARCHAR,
        username VARCHAR,
        roles VARCHAR[] NOT NULL,
        avatar_hash VARCHAR
    )""",
    """CREATE TABLE ingests (
        id BIGINT NOT NULL,
        file VARCHAR NOT NULL,
        rows BIGINT NOT NULL,
        new BIGINT NOT NULL,
        duplicates BIGINT NOT NULL,
        rejected BIGINT NOT NULL,
        ingested_at TIMESTAMPTZ NOT NULL
    )""",
)

#: A row's identity for the in-batch duplicate search (a hash; compared on the real columns).
_KEY = (
    "CASE WHEN event_id IS NOT NULL THEN hash(event_id) "
    "ELSE hash(ts, user_id, category, org, end_us) END"
)

_NOT_UTF8 = "INVALID ENCODING"


# --------------------------------------------------------------------------- paths


def default_path(
    env: Mapping[str, str] | None = None, platform: str | None = None, home: Path | None = None
) -> Path:
    """Where the store lives when neither ``--db`` nor ``ACTIVITY_REPORT_DB`` says.

    Linux and other Unix: ``$XDG_DATA_HOME/activity-report/events.duckdb``,
    ``~/.local/share/activity-report/events.duckdb`` when XDG_DATA_HOME is unset
    or not absolute (the XDG Base Directory rule). macOS:
    ``~/Library/Application Support/activity-report/events.duckdb``. Windows:
    ``%LOCALAPPDATA%\\activity-report\\events.duckdb``.
    """
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    home = Path.home() if home is None else home
    if platform == "win32" and env.get("LOCALAPPDATA"):
        base = Path(env["LOCALAPPDATA"])
    elif platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        xdg = env.get("XDG_DATA_HOME", "")
        base = Path(xdg) if xdg and os.path.isabs(xdg) else home / ".local" / "share"
    return base / APP_DIR / DEFAULT_NAME


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class FileCounts:
    """What one file brought to one ingest run."""

    file: str
    rows: int
    new: int
    duplicates: int
    rejected: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "rows": self.rows,
            "new": self.new,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
        }


@dataclass(frozen=True)
class IngestResult:
    """The counts of one ingest run, per file and in total."""

    path: Path
    files: tuple[FileCounts, ...]
    diagnostics: sources.Diagnostics

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def new(self) -> int:
        return sum(f.new for f in self.files)

    @property
    def duplicates(self) -> int:
        return sum(f.duplicates for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        diagnostics = self.diagnostics
        return {
            "db": str(self.path),
            "files": [f.to_dict() for f in self.files],
            "rows": self.rows,
            "new": self.new,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "rejected_reasons": dict(diagnostics.invalid_reasons),
            "unknown_categories": dict(diagnostics.unknown_values),
        }


@dataclass(frozen=True)
class UsersResult:
    """What one ``users import`` did."""

    path: Path
    users: int  # distinct ids in the file
    added: int
    updated: int
    unchanged: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "db": str(self.path),
            "users": self.users,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
        }


@dataclass(frozen=True)
class StoreInfo:
    """What ``activity-report info`` shows."""

    path: Path
    size_bytes: int
    schema_version: int
    events: int
    first_event: datetime | None
    last_event: datetime | None
    categories: list[tuple[str, int]]
    organizations: list[tuple[str | None, int]]
    users: int
    rejects: int
    reject_reasons: list[tuple[str, int]]
    ingested_files: int
    last_ingest: datetime | None
    created_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "db": str(self.path),
            "size_bytes": self.size_bytes,
            "schema_version": self.schema_version,
            "events": self.events,
            "first_event": iso_utc(self.first_event),
            "last_event": iso_utc(self.last_event),
            "categories": [{"category": c, "events": n} for c, n in self.categories],
            "organizations": [{"organization_id": o, "events": n} for o, n in self.organizations],
            "users": self.users,
            "rejects": self.rejects,
            "reject_reasons": [{"problem": p, "rows": n} for p, n in self.reject_reasons],
            "ingested_files": self.ingested_files,
            "last_ingest": iso_utc(self.last_ingest),
        }


def iso_utc(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC (``Z``), or None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _from_micros(micros: int | None) -> datetime | None:
    if micros is None:
        return None
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(micros))


# --------------------------------------------------------------------------- migrations


@dataclass(frozen=True)
class Migration:
    """One named step of the schema; :data:`MIGRATIONS` lists them in order."""

    name: str
    apply: Callable[[duckdb.DuckDBPyConnection], None]


def _initial(con: duckdb.DuckDBPyConnection) -> None:
    """The tables of the first release (0.1.0)."""
    for statement in _SCHEMA:
        con.execute(statement)
    con.execute(
        "INSERT INTO meta VALUES ('schema_version', '1'), ('created_by', $by)",
        {"by": f"activity-report {__version__}"},
    )


#: The schema, step by step. To change it, append a step (never edit or
#: reorder one that has shipped): a name that sorts after the last one and a
#: function that takes the connection, inside the step's transaction, and
#: brings the tables from the previous step's shape to the new one, data
#: included. :attr:`Store.open` applies the missing steps, oldest first, each
#: in its own transaction, when a writer opens the store; readers read a
#: store whose steps are pending as it is. A new step must therefore leave
#: every table a reader of an older shape queries (``events``, ``users``)
#: readable, or reads must check :attr:`Store.applied`.
def _add_rollups(con: duckdb.DuckDBPyConnection) -> None:
    """Rollups per 15-minute slot (:mod:`.rollups`), filled from the stored events."""
    con.execute(rollups.TABLE)
    rollups.refresh(con, _scope("SELECT * FROM events"))


MIGRATIONS: tuple[Migration, ...] = (
    Migration("0001_initial", _initial),
    Migration("0002_rollups", _add_rollups),
)

SCHEMA_VERSION = len(MIGRATIONS)

#: The catalog name the store is attached under, in the store's connection.
CATALOG = "ar_store"


# --------------------------------------------------------------------------- the store


class Store:
    """An open store. Use :meth:`open`; close it (or use ``with``) to release the file.

    The connection (``con``) is an in-memory DuckDB with the store's file
    attached as :data:`CATALOG` and made the default catalog. A reader holds
    the file from :meth:`open` to :meth:`close`. A writer takes it only while
    it writes: an ingest reads and checks its files first, then attaches the
    store for the short merge and commit, so readers are locked out for as
    short a time as possible. While another process holds the file, opening
    (or a write) retries for up to ``wait`` seconds.
    """

    def __init__(
        self, path: Path, con: duckdb.DuckDBPyConnection, read_only: bool, wait: float
    ) -> None:
        self.path = path
        self.con = con
        self.read_only = read_only
        self.wait = wait
        self.attached = False
        #: The migration steps the store has, and those it still needs.
        self.applied: tuple[str, ...] = ()
        self.pending: tuple[str, ...] = ()

    # ----------------------------------------------------------------- opening

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        read_only: bool = False,
        limits: resources.Limits | None = None,
        wait: float = 0.0,
    ) -> Store:
        """Open (read-write: create if need be, and upgrade) the store at ``path``.

        ``limits`` bound DuckDB's memory and say where it spills (:mod:`.resources`).
        ``wait``: how long to retry, in seconds, while another process holds the file.

        A writer applies the pending :data:`MIGRATIONS` at once. A reader
        never writes: it reads a store made by an older release as it is
        (:attr:`pending` lists what the next writer will apply).

        Errors, each one line naming the file: a read-only open of a store
        that does not exist; a file that is not a DuckDB database; a DuckDB
        database that is not a store; a store made by a newer release; a
        store another process is writing (or, for a writer, reading) for
        longer than ``wait``.
        """
        where = Path(path).expanduser()
        if where.is_dir():
            raise DataError(f"{where}: is a directory; --db takes the store's file name")
        if read_only and not where.exists():
            raise DataError(
                f"{where}: no store here yet; fill it with `activity-report ingest FILE "
                f"--db {where}`, or read files with --events"
            )
        if not read_only:
            try:
                where.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DataError(
                    f"{where}: cannot create the folder {where.parent}: {exc.strerror or exc}"
                ) from None
        con = resources.connect(limits=limits)  # in memory; Ctrl-C interrupts its queries
        store = cls(where, con, read_only, wait)
        try:
            con.execute("SET enable_progress_bar = false")  # DuckDB draws it on stdout
            con.execute("SET TimeZone = 'UTC'")
            if read_only:
                store._attach()
            else:
                with store.writing():
                    pass
        except BaseException:
            con.close()
            raise
        return store

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def atomic(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction: committed when the block ends, rolled back if it raises.

        An interrupt (Python's or DuckDB's) comes out as :class:`KeyboardInterrupt`.
        """
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
            con.execute("COMMIT")
        except BaseException as exc:
            _rollback(con)
            if _is_interrupt(exc):
                raise KeyboardInterrupt from None
            raise

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the store for writing (upgraded to this release) while the block runs."""
        self._writable()
        if self.attached:
            yield
            return
        self._attach()
        try:
            self._migrate()
            yield
        finally:
            self._detach()

    @contextmanager
    def _reading(self) -> Iterator[None]:
        if self.attached:
            yield
            return
        self._attach()
        try:
            yield
        finally:
            self._detach()

    def _attach(self) -> None:
        """Attach the store's file, retrying for up to :attr:`wait` seconds while it is held."""
        import duckdb

        mode = " (READ_ONLY)" if self.read_only else ""
        # ATTACH takes no bound parameter: the path is a SQL string literal.
        statement = f"ATTACH {_literal(str(self.path))} AS {CATALOG}{mode}"
        deadline = time.monotonic() + self.wait
        pause = 0.02
        while True:
            try:
                self.con.execute(statement)
                break
            except duckdb.Error as exc:
                left = deadline - time.monotonic()
                if not _is_lock_error(exc) or left <= 0:
                    raise _open_error(self.path, exc, self.wait) from None
                time.sleep(min(pause, left))
                pause = min(pause * 2, 0.5)
        self.con.execute(f"USE {CATALOG}")
        self.attached = True
        try:
            self._inspect()
        except BaseException:
            self._detach()
            raise

    def _detach(self) -> None:
        if self.attached:
            self.con.execute("USE memory")
            self.con.execute(f"DETACH {CATALOG}")
            self.attached = False

    def _tables(self) -> set[str]:
        return {
            str(name)
            for (name,) in self.con.execute(
                "SELECT table_name FROM duckdb_tables() "
                "WHERE database_name = $db AND schema_name = 'main'",
                {"db": CATALOG},
            ).fetchall()
        }

    def _inspect(self) -> None:
        """Read which migrations the store has; refuse what is not a store of ours."""
        tables = self._tables()
        known = [m.name for m in MIGRATIONS]
        if not tables - {"migrations"}:
            if self.read_only:
                raise DataError(
                    f"{self.path}: the store is empty; fill it with `activity-report ingest FILE`"
                )
            self.applied, self.pending = (), tuple(known)
            return
        if "meta" not in tables:
            raise DataError(
                f"{self.path}: a DuckDB database, but not an activity-report store (it has "
                "no meta table); give --db a new file name or a store made by "
                "`activity-report ingest`"
            )
        rows = self.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
        found = str(rows[0][0]) if rows else "none"
        if "migrations" in tables:
            applied = [
                str(n) for (n,) in self.con.execute("SELECT name FROM migrations").fetchall()
            ]
        elif found == "1":
            applied = ["0001_initial"]  # made by 0.1.0, before steps were recorded
        else:
            applied = [found]
        newer = [name for name in applied if name not in known]
        if newer or not found.isdigit() or int(found) > len(known):
            raise DataError(
                f"{self.path}: the store has schema version {found}, newer than activity-report "
                f"{__version__} knows (version {len(known)}); use the release that made the "
                "store, or ingest into a new one"
            )
        self.applied = tuple(name for name in known if name in applied)
        self.pending = tuple(name for name in known if name not in applied)

    def _migrate(self) -> None:
        """Apply the pending steps, oldest first, each in its own transaction."""
        con = self.con
        if "migrations" not in self._tables():
            with self.atomic():
                con.execute(
                    "CREATE TABLE migrations (name VARCHAR NOT NULL, "
                    "applied_at TIMESTAMPTZ NOT NULL)"
                )
                # A store made before steps were recorded has the first one.
                for name in self.applied:
                    con.execute(
                        "INSERT INTO migrations VALUES ($name, $now)",
                        {"name": name, "now": datetime.now(UTC)},
                    )
        for step in MIGRATIONS:
            if step.name in self.applied:
                continue
            with self.atomic():
                step.apply(con)
                con.execute(
                    "INSERT INTO migrations VALUES ($name, $now)",
                    {"name": step.name, "now": datetime.now(UTC)},
                )
                con.execute(
                    "UPDATE meta SET value = $v WHERE key = 'schema_version'",
                    {"v": str(MIGRATIONS.index(step) + 1)},
                )
            self.applied += (step.name,)
        self.pending = ()

    def _writable(self) -> None:
        if self.read_only:
            raise DataError(f"{self.path}: the store is open read-only; open it for writing")

    # ----------------------------------------------------------------- ingest

    def ingest(
        self,
        specs: Sequence[str],
        *,
        strict: bool = False,
        progress: Progress | None = None,
        stdin: IO[bytes] | None = None,
    ) -> IngestResult:
        """Add the events of ``specs`` (the forms of ``--events``) in one transaction.

        Valid rows not in the store yet are added; duplicates (of the store or
        of each other) are counted; invalid rows go to the rejects table. Any
        failure, or ``strict`` with invalid rows, leaves the store unchanged.
        """
        self._writable()
        files = sources.expand_paths(specs, stdin=stdin)
        if not files:
            raise DataError("no event files given; name the files to ingest")
        try:
            return self._ingest(files, strict, progress)
        except BaseException as exc:
            if _is_interrupt(exc):
                raise KeyboardInterrupt from None
            raise
        finally:
            for table in ("ingest_batch", "ingest_malformed", "ingest_files"):
                self.con.execute(f"DROP TABLE IF EXISTS temp.main.{table}")

    def _ingest(
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
                f"{diagnostics.invalid_rows} invalid rows ({diagnostics.describe()}); "
                "nothing was ingested: fix them, or ingest without --strict to keep them in "
                "the store's rejects table"
            )
        self._number_copies()
        phases.start("waiting for the store", 780)
        with self.writing(), self.atomic():
            phases.start("adding new events", 800)
            # File numbers of this run follow the store's last one.
            offset = int(con.execute("SELECT coalesce(max(id), 0) FROM ingests").fetchall()[0][0])
            now = datetime.now(UTC)
            self._insert_new(offset)
            phases.start("updating rollups", 900)
            rollups.refresh(con, _scope(f"SELECT * FROM events WHERE ingest_file > {int(offset)}"))
            self._insert_rejects(now, offset)
            counts = self._file_counts(offset)
            con.executemany(
                "INSERT INTO ingests VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    [no, path, c.rows, c.new, c.duplicates, c.rejected, now]
                    for no, path, c in counts
                ],
            )
        phases.done()
        return IngestResult(self.path, tuple(c for _, _, c in counts), diagnostics)

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
                    "<stdin>" if file.display == "<stdin>" else os.path.abspath(file.path),
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
            if _is_interrupt(exc):
                raise
            raise DataError(f"cannot read the event files: {_first_line(exc)}") from None
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

        :func:`sources.load_events` has the CSV reader set them aside in the
        tables ``{view}_rejects`` and ``{view}_rejects_scans``; a line can be
        listed once per error. A line that is not UTF-8 fails the run, as it
        fails a report: the whole file is in another encoding.
        """
        con = self.con
        errors = f"{INPUT_VIEW}_rejects"
        if not sources.has_rejects(con, INPUT_VIEW):
            return
        lines = f"""
            SELECT f.file_no, f.display, e.line, min(e.error_type) AS kind,
                   any_value(e.csv_line) AS raw,
                   bool_or(e.error_type = '{_NOT_UTF8}') AS not_utf8
            FROM {sources.quote_ident(errors)} e
            JOIN {sources.quote_ident(errors + "_scans")} s USING (scan_id, file_id)
            JOIN ingest_files f ON f.path = s.file_path
            GROUP BY ALL
        """
        bad = con.execute(
            f"SELECT display, line FROM ({lines}) WHERE not_utf8 ORDER BY file_no, line LIMIT 1"
        ).fetchall()
        if bad:
            raise DataError(
                f"{bad[0][0]}: line {bad[0][1]} is not UTF-8 text; convert the file to UTF-8 "
                "(iconv -f latin1 -t utf-8 FILE > FILE.utf8.csv, with the file's real encoding)"
            )
        con.execute(
            f"""INSERT INTO ingest_malformed
                SELECT file_no, line - 1, row_number() OVER (PARTITION BY file_no ORDER BY line),
                       coalesce($reasons[list_position($kinds, CAST(kind AS VARCHAR))],
                                lower(CAST(kind AS VARCHAR))),
                       raw
                FROM ({lines})""",
            {
                "kinds": list(sources.REJECT_REASONS),
                "reasons": list(sources.REJECT_REASONS.values()),
            },
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

    def _insert_rejects(self, now: datetime, offset: int) -> None:
        """Keep the invalid rows; a row already kept by an earlier run is not kept twice."""
        self.con.execute(
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

    def import_users(self, path: str) -> UsersResult:
        """Load a user directory file; users already in the store are updated."""
        self._writable()
        con = self.con
        users = list(directory_mod.index(directory_mod.read_directory_file(con, path)).values())
        con.execute(
            """CREATE OR REPLACE TEMP TABLE users_incoming AS
               SELECT unnest($ids) AS id, unnest($names) AS name,
                      unnest($usernames) AS username,
                      unnest($roles) AS roles, unnest($avatars) AS avatar_hash""",
            {
                "ids": [u.id for u in users],
                "names": [u.name for u in users],
                "usernames": [u.username for u in users],
                "roles": [list(u.roles) for u in users],
                "avatars": [u.avatar_hash for u in users],
            },
        )
        try:
            with self.writing(), self.atomic():
                added, updated = con.execute(
                    """SELECT count(*) FILTER (u.id IS NULL),
                              count(*) FILTER (u.id IS NOT NULL AND (
                                  i.name IS DISTINCT FROM u.name
                                  OR i.username IS DISTINCT FROM u.username
                                  OR CAST(i.roles AS VARCHAR[]) IS DISTINCT FROM u.roles
                                  OR i.avatar_hash IS DISTINCT FROM u.avatar_hash))
                       FROM users_incoming i LEFT JOIN users u USING (id)"""
                ).fetchall()[0]
                con.execute("DELETE FROM users WHERE id IN (SELECT id FROM users_incoming)")
                con.execute(
                    """INSERT INTO users
                       SELECT id, name, username, coalesce(CAST(roles AS VARCHAR[]), []),
                              avatar_hash
                       FROM users_incoming"""
                )
        finally:
            con.execute("DROP TABLE IF EXISTS temp.main.users_incoming")
        added, updated = int(added), int(updated)
        return UsersResult(self.path, len(users), added, updated, len(users) - added - updated)

    def users(self) -> dict[str, UserInfo]:
        """The user directory held by the store, by id."""
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

    def events_view(self, name: str = EVENTS_VIEW) -> str:
        """Register the temporary view ``name`` with the columns of :data:`sources.VIEW`.

        Stored events are all valid (invalid ones are in ``rejects``), so
        ``problem``, ``source_file`` and ``source_row`` are NULL. The view reads
        the attached store, so a writer's store stays held until it is closed.
        """
        if not self.attached:
            self._attach()
        self.con.execute(
            f"""CREATE OR REPLACE TEMP VIEW {sources.quote_ident(name)} AS
                SELECT ts, end_us, user_id, category, org, event_id,
                       CAST(NULL AS VARCHAR) AS problem,
                       CAST(NULL AS VARCHAR) AS source_file,
                       CAST(NULL AS BIGINT) AS source_row
                FROM {CATALOG}.main.events"""
        )
        return name

    def rollup_cells(
        self, edges: Sequence[int], filters: engine.Filters, heartbeat_us: int
    ) -> list[engine.Cell] | None:
        """The report's cells from the rollups, or None when they cannot answer it exactly."""
        if "0002_rollups" not in self.applied:
            return None  # an older store, read before its upgrade
        if not rollups.answerable(edges, filters, heartbeat_us):
            return None
        with self._reading():
            return rollups.cells(self.con, edges, filters)

    def info(self) -> StoreInfo:
        """Counts and spans of the store, for ``activity-report info``."""
        with self._reading():
            return self._info()

    def _info(self) -> StoreInfo:
        con = self.con
        events, first, last = con.execute(
            "SELECT count(*), min(ts), max(ts) FROM events"
        ).fetchall()[0]
        categories = [
            (str(c), int(n))
            for c, n in con.execute(
                "SELECT category, count(*) FROM events GROUP BY category "
                "ORDER BY count(*) DESC, category"
            ).fetchall()
        ]
        organizations = [
            (None if o is None else str(o), int(n))
            for o, n in con.execute(
                "SELECT org, count(*) FROM events GROUP BY org "
                "ORDER BY count(*) DESC, org NULLS LAST"
            ).fetchall()
        ]
        reasons = [
            (str(p), int(n))
            for p, n in con.execute(
                "SELECT problem, count(*) FROM rejects GROUP BY problem "
                "ORDER BY count(*) DESC, problem"
            ).fetchall()
        ]
        users = int(con.execute("SELECT count(*) FROM users").fetchall()[0][0])
        files, last_ingest = con.execute(
            "SELECT count(DISTINCT file), max(ingested_at) FROM ingests"
        ).fetchall()[0]
        created = con.execute("SELECT value FROM meta WHERE key = 'created_by'").fetchall()
        size = sum(p.stat().st_size for p in (self.path, Path(f"{self.path}.wal")) if p.exists())
        return StoreInfo(
            path=self.path,
            size_bytes=size,
            schema_version=len(self.applied),
            events=int(events),
            first_event=_from_micros(first),
            last_event=_from_micros(last),
            categories=categories,
            organizations=organizations,
            users=users,
            rejects=sum(n for _, n in reasons),
            reject_reasons=reasons,
            ingested_files=int(files),
            last_ingest=last_ingest,
            created_by=str(created[0][0]) if created else None,
        )


# --------------------------------------------------------------------------- helpers


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


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    import duckdb

    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass  # no transaction left to roll back: DuckDB already ended it


def _is_interrupt(exc: BaseException) -> bool:
    """A Ctrl-C: Python's, or DuckDB's ("Query interrupted", raised as a RuntimeError)."""
    import duckdb

    if isinstance(exc, KeyboardInterrupt | duckdb.InterruptException):
        return True
    return isinstance(exc, RuntimeError) and "interrupted" in str(exc).lower()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _scope(events: str) -> str:
    """The users and time ranges whose rollups the events of ``events`` touch."""
    return f"""SELECT user_id, ts AS lo,
                      greatest(coalesce(end_us, ts + {rollups.HEARTBEAT_US}), ts + 1) AS hi
               FROM ({events})"""


def _literal(text: str) -> str:
    """``text`` as a SQL string literal (DuckDB's: quotes doubled, nothing else escaped)."""
    return "'" + text.replace("'", "''") + "'"


def _is_lock_error(exc: Exception) -> bool:
    message = _first_line(exc)
    return "Could not set lock" in message or "different configuration" in message


def _open_error(path: Path, exc: Exception, waited: float = 0.0) -> DataError:
    message = _first_line(exc)
    if _is_lock_error(exc):
        holder = re.search(r"\(PID (\d+)\)", message)
        who = f"process {holder.group(1)}" if holder else "another connection"
        if waited > 0:
            return DataError(
                f"{path}: the store is in use by {who}; waited {waited:g} s for it (one "
                "process can write a store, or several read it); try again later, or wait "
                "longer with --wait"
            )
        return DataError(
            f"{path}: the store is in use by {who}; try again when it has finished "
            "(one process can write a store, or several read it)"
        )
    if "not a valid DuckDB database" in message:
        return DataError(
            f"{path}: not a DuckDB database; give --db a store made by `activity-report "
            "ingest`, or a new file name"
        )
    return DataError(f"{path}: cannot open the store: {message}")


__all__ = [
    "DEFAULT_NAME",
    "ENV_VAR",
    "SCHEMA_VERSION",
    "FileCounts",
    "IngestResult",
    "Store",
    "StoreInfo",
    "UsersResult",
    "default_path",
]
