"""Opening a store: the file lock, transactions and upgrades; reading it.

Modules: :mod:`.opening` (the paths refused, and the errors of attaching the
file) and :mod:`.reading` (the reading helpers, a mixin of :class:`Store`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING

from .. import resources, sources
from ..errors import DataError, NoStoreYet
from ..version import __version__
from . import info as info_mod
from . import orgs as orgs_store
from . import schema, writer_turn
from . import users as users_mod
from .ingest import Ingest, Progress
from .opening import CATALOG as CATALOG
from .opening import (
    _is_duckdb_file,
    _is_lock_error,
    _literal,
    _not_a_database,
    _open_error,
    _rollback,
)
from .opening import check_store_path as check_store_path
from .reading import EVENTS_VIEW as EVENTS_VIEW
from .reading import Reading
from .results import IngestResult, StoreInfo, UsersResult
from .runs_ingest import RunsIngest
from .schema import is_interrupt

if TYPE_CHECKING:
    import duckdb


@dataclass
class StagedDirectories:
    """Directories read by :meth:`Store.staged_directories`; :meth:`apply` writes them."""

    store: Store
    users: int
    orgs: int
    #: What :meth:`apply` did, once it has run.
    imported: tuple[UsersResult, orgs_store.OrgsResult] | None = None

    def apply(self) -> None:
        """Write the users and organizations, in the caller's transaction."""
        self.imported = (
            users_mod.apply(self.store, self.users),
            orgs_store.apply(self.store, self.orgs),
        )


class Store(Reading):
    """An open store. Use :meth:`open`; close it (or use ``with``) to release the file.

    The connection (``con``) is an in-memory DuckDB with the store's file
    attached as :data:`CATALOG` and made the default catalog. A reader holds
    the file from :meth:`open` to :meth:`close`. A writer takes it only while
    it writes: an ingest reads and checks its files, compares them with the
    store and prepares its rollups with the store attached read-only
    (:meth:`peeking`), then holds it for writing only to copy the result in
    and commit, so readers are locked out for as short a time as possible.
    While another process holds the file, opening (or a write) retries for up
    to ``wait`` seconds.
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
        #: The run the store belongs to (see :meth:`open`); its own unless given one.
        self.context = resources.RunContext()
        self._owns_context = True
        #: The connection's ``--memory-limit``, if one was given (else DuckDB's default).
        self.memory_limit: str | None = None
        #: What a read-only store's reports read again and again, read once while it is
        #: held (:meth:`.reading.Reading.held`); shared with its :meth:`through` copies.
        self.memo: dict[str, object] = {}

    # ----------------------------------------------------------------- opening

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        read_only: bool = False,
        limits: resources.Limits | None = None,
        wait: float = 0.0,
        context: resources.RunContext | None = None,
    ) -> Store:
        """Open (read-write: create if need be, and upgrade) the store at ``path``.

        ``limits`` bound DuckDB's memory and say where it spills (:mod:`.resources`).
        ``wait``: how long to retry, in seconds, while another process holds the file.
        ``context``: the run the store's work belongs to: its cancel interrupts the
        store's queries, it records the commits and removes an ingest's copy of
        stdin. Without one, the store has its own, closed with the store.

        A writer applies the pending :data:`.schema.MIGRATIONS` at once. A reader
        never writes: it reads a store made by an older release as it is
        (:attr:`pending` lists what the next writer will apply).

        Errors, each one line naming the file: a read-only open of a store
        that does not exist; a file that is not a DuckDB database; a DuckDB
        database that is not a store; a store made by a newer release; a
        store another process is writing (or, for a writer, reading) for
        longer than ``wait``.
        """
        check_store_path(path)
        where = Path(path).expanduser()
        if where.is_dir():
            raise DataError(
                "{where}: is a directory; {db} takes the store's file name",
                params=("db",),
                where=where,
            )
        if where.exists() and not _is_duckdb_file(where):
            # DuckDB itself would open a CSV or Parquet file as an empty
            # in-memory database and let an ingest "succeed" into nothing.
            raise _not_a_database(where)
        if read_only and not where.exists():
            raise NoStoreYet(
                "{where}: no store here yet; fill it with `activity-report ingest FILE "
                "--db {where}`",
                where=where,
            )
        if not read_only:
            try:
                where.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DataError(
                    f"{where}: cannot create the folder {where.parent}: {exc.strerror or exc}"
                ) from None
        owned = context is None
        context = context or resources.RunContext()
        try:  # in memory; the run's cancel interrupts its queries
            con = resources.connect(limits=limits, context=context)
        except BaseException:
            if owned:
                context.close()
            raise
        store = cls(where, con, read_only, wait)
        store.context, store._owns_context = context, owned
        store.memory_limit = limits.memory_limit if limits is not None else None
        try:
            con.execute("SET enable_progress_bar = false")  # DuckDB draws it on stdout
            con.execute("SET TimeZone = 'UTC'")
            if read_only:
                store._attach()
            else:
                with store.writing():
                    pass
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        self.con.close()
        if self._owns_context:
            self.context.close()

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
    def atomic(self, done: str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction: committed when the block ends, rolled back if it raises.

        An interrupt (Python's or DuckDB's) comes out as :class:`KeyboardInterrupt`.
        The COMMIT itself runs shielded from the run's cancel (see
        :meth:`.resources.RunContext.shielded`), so an interrupt either comes
        before it (nothing changed) or after it; ``done`` then says what was
        committed (see :meth:`.resources.RunContext.committed`).
        """
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
            with self.context.shielded():
                con.execute("COMMIT")
                if done is not None:
                    self.context.committed(done)
        except BaseException as exc:
            _rollback(con)
            if is_interrupt(exc):
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
    def peeking(self) -> Iterator[None]:
        """Attach the store read-only while the block runs, even a store open for writing.

        An ingest compares its rows with the store and prepares its rollups
        so, then holds the store for writing only for its merge: readers go on
        meanwhile.
        """
        if self.attached:
            yield
            return
        writer, self.read_only = self.read_only, True
        try:
            self._attach()
        finally:
            self.read_only = writer
        try:
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
        # A writer kept out says so beside the store, or a busy server could keep it out.
        mark = None if self.read_only else writer_turn.Mark(self.path)
        try:
            while True:
                try:
                    self.con.execute(statement)
                    break
                except duckdb.Error as exc:
                    left = deadline - time.monotonic()
                    if not _is_lock_error(exc) or left <= 0:
                        raise _open_error(self.path, exc, self.wait) from None
                if mark is not None:
                    mark.touch()
                time.sleep(min(pause, left))
                pause = min(pause * 2, 0.5 if mark is None else writer_turn.ATTEMPTS_EVERY)
        finally:
            if mark is not None:
                mark.remove()
        if mark is not None and mark.touched:
            writer_turn.remove_stale(self.path)  # marks of writers killed while they waited
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
        known = [m.name for m in schema.MIGRATIONS]
        if not tables - {"migrations"}:
            if self.read_only:
                raise DataError(
                    f"{self.path}: the store is empty; fill it with `activity-report ingest FILE`"
                )
            self.applied, self.pending = (), tuple(known)
            return
        if "meta" not in tables:
            raise DataError(
                "{path}: a DuckDB database, but not an activity-report store (it has "
                "no meta table); give {db} a new file name or a store made by "
                "`activity-report ingest`",
                params=("db",),
                path=self.path,
            )
        if "migrations" in tables:  # the one record of the schema's steps
            applied = [
                str(n) for (n,) in self.con.execute("SELECT name FROM migrations").fetchall()
            ]
            found = str(len(applied))
        else:  # made by 0.1.0, before steps were recorded: its meta row has the version
            rows = self.con.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'"
            ).fetchall()
            found = str(rows[0][0]) if rows else "none"
            applied = ["0001_initial"] if found == "1" else [found]
        if any(name not in known for name in applied):
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
        steps = schema.MIGRATIONS
        # The rollups are computed once, by the last pending step that makes them anew.
        refills = [s.name for s in steps if s.refills_rollups and s.name not in self.applied]
        last_refill = refills[-1] if refills else None
        for step in steps:
            if step.name in self.applied:
                continue
            with self.atomic():
                step.apply(con, refill=step.name == last_refill)
                con.execute(
                    "INSERT INTO migrations VALUES ($name, $now)",
                    {"name": step.name, "now": datetime.now(UTC)},
                )
            self.applied += (step.name,)
        self.pending = ()
        by = f"activity-report {__version__}"
        if con.execute("SELECT value FROM meta WHERE key = 'written_by'").fetchall() != [(by,)]:
            with self.atomic():  # which release last wrote the store, for `info`
                con.execute("DELETE FROM meta WHERE key = 'written_by'")
                con.execute("INSERT INTO meta VALUES ('written_by', $by)", {"by": by})

    def _writable(self) -> None:
        if self.read_only:
            raise DataError(f"{self.path}: the store is open read-only; open it for writing")

    # ----------------------------------------------------------------- ingest

    # ----------------------------------------------------------------- writing

    def ingest(
        self,
        specs: Sequence[str],
        *,
        strict: bool = False,
        progress: Progress | None = None,
        stdin: IO[bytes] | None = None,
        reading: sources.Reading | None = None,
    ) -> IngestResult:
        """Add the events of ``specs`` (the forms of ``--events``) in one transaction.

        Valid rows not in the store yet are added; duplicates (of the store or
        of each other) are counted; invalid rows go to the rejects table. Any
        failure, or ``strict`` with invalid rows, leaves the store unchanged.
        The files are read and checked before the store is held (see :mod:`.ingest`).
        ``reading`` says how to read their columns, times and categories.
        """
        self._writable()
        files = sources.expand_paths(specs, stdin=stdin, context=self.context)
        if not files:
            raise DataError("no event files given; name the files to ingest")
        run = Ingest(self)
        run.reading = reading or sources.DEFAULT_READING
        return run.run(files, strict, progress)

    def ingest_runs(
        self,
        sql: str,
        params: dict[str, object] | None = None,
        *,
        label: str,
        progress: Progress | None = None,
        also: Callable[[], object] | None = None,
    ) -> IngestResult:
        """Add the runs of minutes ``sql`` gives (columns ``ts``, ``end_us``, ``user_id``,
        ``category``, ``org``: whole minutes, each one event) in one transaction.

        They merge with the stored runs, and no minute counts twice (see
        :mod:`.runs_ingest`). ``label`` names them in the ``ingests`` table and
        the result. ``also``: more writes of the same source (such as
        :meth:`staged_directories`' ``apply``), made in the same transaction.
        """
        self._writable()
        return RunsIngest(self).run(sql, params, label, progress, also)

    @contextmanager
    def staged_directories(self, users: str, orgs: str) -> Iterator[StagedDirectories]:
        """A user and an organization directory file, read and ready to be written by
        their ``apply`` inside another write's transaction (see :meth:`ingest_runs`)."""
        self._writable()
        try:
            staged = users_mod.stage(self, users), orgs_store.stage(self, orgs)
            yield StagedDirectories(self, *staged)
        finally:
            users_mod.drop(self)
            orgs_store.drop(self)

    def import_users(self, path: str) -> UsersResult:
        """Load a user directory file; users already in the store are updated."""
        self._writable()
        return users_mod.import_users(self, path)

    def import_orgs(self, path: str) -> orgs_store.OrgsResult:
        """Load an organization directory file; organizations already there are renamed."""
        self._writable()
        return orgs_store.import_orgs(self, path)

    def orgs(self) -> dict[str, str]:
        """The organization directory held by the store: id -> name."""

        def read() -> dict[str, str]:
            with self._reading():
                return orgs_store.stored_orgs(self)

        return dict(self.held("orgs", read))

    # ----------------------------------------------------------------- reading

    def through(self, con: duckdb.DuckDBPyConnection) -> Store:
        """This open store, read through ``con``: a cursor of its connection.

        DuckDB connections are not shared between threads; a server gives each
        request a cursor, and this store object over it.
        """
        con.execute(f"USE {CATALOG}")
        other = Store(self.path, con, self.read_only, self.wait)
        other.attached, other.applied, other.pending = self.attached, self.applied, self.pending
        other.context, other._owns_context = self.context, False
        other.memo = self.memo
        return other

    def info(self) -> StoreInfo:
        """Counts and spans of the store, for ``activity-report info``."""
        with self._reading():
            return info_mod.info(self)
