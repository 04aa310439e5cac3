"""Coder's database as a source: ``--coder URL`` and ``ingest --coder URL``.

The rows are read as Arrow (:mod:`.sources.coder`). For a report they are
turned into per-minute events in DuckDB and written as a Parquet event file,
a user directory and an organization directory in the run's temporary
folder; from there the file path is the one every report already takes, so
each option works, and counts, as on files. An ingest stores runs of minutes
instead (:meth:`.store.Store.ingest_runs`), which every reader of the store
reads as those same minutes.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from . import resources
from .sources import coder as coder_mod
from .sources.coder_connection import redact

if TYPE_CHECKING:
    from .backends.duckdb import FileSource
    from .store import Store
    from .store.ingest import Progress
    from .store.orgs import OrgsResult
    from .store.results import IngestResult, UsersResult

#: The temporary folder and event file an export is written to (ingests name the file).
FOLDER_PREFIX = "activity-report-coder-"
EVENTS_NAME = "coder-events.parquet"
#: How far before the last ingest an ingest reads again (its minutes merge with those stored).
REREAD_US = 24 * 3600 * 1_000_000
#: How an ingest of Coder's runs of minutes names itself in the store's ``ingests`` table.
RUNS_LABEL = "coder:"


@contextlib.contextmanager
def exported(
    url: str,
    *,
    start_us: int | None = None,
    end_us: int | None = None,
    now: datetime | None = None,
    ide_apps: Sequence[str] = coder_mod.DEFAULT_IDE_APPS,
    temp_dir: str | None = None,
    with_ids: bool = False,
) -> Iterator[tuple[str, str, str]]:
    """The events, the users and the organizations (Parquet files) of Coder's database,
    in a temporary folder (under ``temp_dir``, if given)."""
    import duckdb

    data = coder_mod.read(url, start_us=start_us, end_us=end_us, now=now)
    with tempfile.TemporaryDirectory(prefix=FOLDER_PREFIX, dir=temp_dir) as folder:
        events = str(Path(folder) / EVENTS_NAME)
        users = str(Path(folder) / "coder-users.parquet")
        orgs = str(Path(folder) / "coder-orgs.parquet")
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            coder_mod.write_events(con, data, events, users, orgs, ide_apps, with_ids)
        finally:
            con.close()
        yield events, users, orgs


@contextlib.contextmanager
def open_coder(
    url: str,
    *,
    users_file: str | None = None,
    orgs_file: str | None = None,
    start_us: int | None = None,
    end_us: int | None = None,
    now: datetime | None = None,
    ide_apps: Sequence[str] = coder_mod.DEFAULT_IDE_APPS,
    limits: resources.Limits | None = None,
    context: resources.RunContext | None = None,
) -> Iterator[FileSource]:
    """The events of Coder's database at ``url`` (sessions overlapping ``[start, end)``).

    Its users and organizations name them unless ``users_file`` or
    ``orgs_file`` is given; ``now`` ends the sessions still open (default: the
    moment of reading).
    """
    from .backends.duckdb import open_files

    with (
        exported(
            url,
            start_us=start_us,
            end_us=end_us,
            now=now,
            ide_apps=ide_apps,
            temp_dir=None if limits is None else limits.temp_dir,
        ) as (events, users, orgs),
        open_files(
            [events],
            users_file=users_file or users,
            orgs_file=orgs_file or orgs,
            limits=limits,
            context=context,
        ) as src,
    ):
        yield src


def ingest_coder(
    path: str | os.PathLike[str],
    url: str,
    *,
    now: datetime | None = None,
    ide_apps: Sequence[str] = coder_mod.DEFAULT_IDE_APPS,
    limits: resources.Limits | None = None,
    wait: float = 0.0,
    context: resources.RunContext | None = None,
    progress: Progress | None = None,
) -> tuple[IngestResult, UsersResult, OrgsResult]:
    """Copy what is new in Coder's database into the store at ``path``, and its users and
    organizations (an organization renamed in Coder is renamed in the store).

    Reads the sessions that ended, or are still open, since a day before the
    last ingest from Coder: a session open then and closed since comes back
    whole. The store keeps runs of active minutes (see
    :mod:`.store.minute_runs`): the runs read merge with those stored, so the
    minutes stored the first time count once. The first ingest reads
    everything. The database is read before the store is opened for writing:
    a database that cannot be read leaves the store untouched.
    """
    from .store import Store

    since = None
    if Path(path).expanduser().exists():
        with Store.open(path, read_only=True, limits=limits, wait=wait, context=context) as old:
            since = last_ingest_us(old)
    start_us = None if since is None else since - REREAD_US
    data = coder_mod.read(url, start_us=start_us, now=now or datetime.now(UTC))
    temp_dir = None if limits is None else limits.temp_dir
    with tempfile.TemporaryDirectory(prefix=FOLDER_PREFIX, dir=temp_dir) as folder:
        users = str(Path(folder) / "coder-users.parquet")
        orgs = str(Path(folder) / "coder-orgs.parquet")
        with Store.open(path, limits=limits, wait=wait, context=context) as store:
            names = coder_mod.register(store.con, data, ide_apps)
            try:
                coder_mod.write_directories(store.con, users, orgs)
                # One transaction: an ingest stopped anywhere leaves no runs without
                # their users' and organizations' names.
                with store.staged_directories(users, orgs) as directories:
                    result = store.ingest_runs(
                        coder_mod.store_runs_sql(),
                        label=RUNS_LABEL + redact(url),
                        progress=progress,
                        also=directories.apply,
                    )
            finally:
                for name in names:
                    store.con.unregister(name)
    assert directories.imported is not None  # applied by the committed ingest
    users_result, orgs_result = directories.imported
    return result, users_result, orgs_result


def last_ingest_us(store: Store) -> int | None:
    """When ``store`` last ingested from Coder, in microseconds; None if never.

    An ingest of runs is recorded as :data:`RUNS_LABEL` and the URL; an earlier
    release recorded the event file it exported.
    """
    from .store.core import CATALOG

    store.events_view()  # attaches the store's file
    row = store.con.execute(
        f"SELECT epoch_us(max(ingested_at)) FROM {CATALOG}.main.ingests "
        "WHERE starts_with(file, $label) OR (ends_with(file, $name) AND contains(file, $folder))",
        {"label": RUNS_LABEL, "name": "/" + EVENTS_NAME, "folder": FOLDER_PREFIX},
    ).fetchone()
    return None if row is None or row[0] is None else int(row[0])
