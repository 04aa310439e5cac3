"""The Python API: one report from a notebook or a script, as the command line makes it.

    import activity_report as ar

    r = ar.report("sample_data/events.parquet", users="sample_data/users.csv",
                  start="2022-08-01", end="2022-08-31", category="ide", interval="1 week")
    r.to_pandas()  # one row per bucket and user, with the user's name
    r.to_api()     # the dict `activity-report --format json` prints

The keywords are the report parameters of the command line, the HTTP API and
the parameter table (:data:`.query.PARAMS`), with the same names and defaults;
bad values raise :class:`.errors.UsageError` whose message names the keyword.

Reports may run side by side in threads. To stop one, give it a
:class:`.resources.RunContext` and call its ``cancel()`` from another thread:
the report raises :class:`.errors.Interrupted`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from . import reporting as core
from .backends import Engine, open_source
from .errors import InvalidValue, TooManyBuckets, UsageError
from .pseudonyms import KEY_ENV, key_from_text, shareable
from .query import DEFAULT_MAX_BUCKETS, parse_query
from .resources import Limits, RunContext, check_temp_dir, parse_memory_limit
from .sources import parse_reading
from .sources.coder import IDE_APPS_TEXT, ide_app_patterns
from .store import Store, default_path, keys

Instant = str | datetime | date  # a pandas.Timestamp is a datetime
Events = str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | Any  # or Arrow/DataFrame


def report(
    events: Events | None = None,
    *,
    db: str | os.PathLike[str] | None = None,
    coder: str | None = None,
    ide_apps: str | Sequence[str] = IDE_APPS_TEXT,
    users: str | os.PathLike[str] | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    interval: str | timedelta = "1 week",
    tz: str = "UTC",
    category: str = "any",
    org: str | Sequence[str] | None = None,
    user: str | Sequence[str] | None = None,
    heartbeat: str | timedelta = "1 minute",
    max_buckets: int = DEFAULT_MAX_BUCKETS,
    min_users: int | None = None,
    pseudonymize: bool = False,
    strict: bool = False,
    engine: Engine = "duckdb",
    spark_remote: str | None = None,
    now: datetime | None = None,
    memory_limit: str | None = None,
    temp_dir: str | None = None,
    context: RunContext | None = None,
    column: str | Sequence[str] | None = None,
    time_format: str = "iso",
    input_tz: str = "UTC",
    category_map: str | Sequence[str] | None = None,
    category_map_file: str | None = None,
    orgs_file: str | None = None,
) -> core.ReportResult:
    """The usage report of ``events``, else of Coder's database at the URL ``coder``
    (its web IDEs: ``ide_apps``), else of the store ``db``.

    ``events``: files, globs or folders of CSV, Parquet or JSON; or the
    events themselves as a pyarrow Table or a pandas or polars DataFrame
    (columns named as in a file: time, user_id, category, ...). Without
    them, the store ``db`` (default: the command line's store).

    ``users``: a user directory file (CSV, Parquet or JSON), else the store's.
    ``start``/``end``: ``datetime``, ``date``, ``pandas.Timestamp``, or text
    (ISO 8601, now, today, yesterday, 'N UNIT ago'); naive ones are in ``tz``.
    ``interval``/``heartbeat``: text ('1 week', daily, PT30M) or a
    ``timedelta`` (whole days and weeks count calendar days in ``tz``).
    ``category``: any, ide, login, app, tunnel or web_terminal.
    ``org``/``user``: keep only these organization ids, user ids or usernames.
    ``max_buckets``: refuse ranges with more buckets than this.
    ``min_users``: withhold every bucket with fewer active users (no user
    list, counts None). ``pseudonymize``: name users by pseudonym only, keyed
    by ``ACTIVITY_REPORT_PSEUDONYM_KEY`` (events) or the store's key.
    ``strict``: fail on invalid rows instead of skipping them.
    ``engine``: ``"duckdb"`` (this machine) or ``"spark"`` (Apache Spark over
    ``events``; ``spark_remote`` names a Spark Connect server).
    ``column`` (``"user=actor.id"``, ...), ``time_format``, ``input_tz``,
    ``category_map`` (``"ssh=tunnel"``, ...) and ``category_map_file`` say
    how to read event files whose columns, times or categories are not the
    canonical ones, as the command line's options of those names do.
    ``orgs_file``: an organization directory (else the store's, or Coder's,
    names organizations); ``org`` may then name organizations by name.
    ``now`` anchors 'now', 'today' and 'N UNIT ago'.
    ``memory_limit``/``temp_dir``: DuckDB's memory, and where it spills.
    ``context``: cancel the report from another thread (``context.cancel()``
    raises :class:`.errors.Interrupted`); its temporary files are removed when
    the caller closes it. Without one, the report has its own.

    Returns a :class:`~.reporting.ReportResult`: ``.to_pandas()``,
    ``.to_arrow()``, ``.to_api()``, and ``.diagnostics``, ``.notes`` and
    ``.warnings`` (what the command line adds on stderr).
    """
    query = parse_query(
        {
            "tz": tz,
            "category": category,
            "interval": _span(interval),
            "start": _instant(start),
            "end": _instant(end),
            "org": org,
            "user": user,
            "heartbeat": _span(heartbeat),
            "max_buckets": max_buckets,
            "min_users": min_users,
            "pseudonymize": pseudonymize,
        },
        now=now,
        strict=strict,
    )
    limits = Limits(
        parse_memory_limit(memory_limit) if memory_limit is not None else None,
        check_temp_dir(temp_dir) if temp_dir is not None else None,
    )
    users_file = None if users is None else os.fspath(users)
    reading = parse_reading(
        column=[column] if isinstance(column, str) else column,
        time_format=time_format,
        input_tz=input_tz,
        category_map=[category_map] if isinstance(category_map, str) else category_map,
        category_map_file=category_map_file,
    )
    with _files(events, temp_dir) as files:
        opened = open_source(
            files,
            None if files or coder else (db or default_path()),
            users_file=users_file,
            limits=limits,
            context=context,
            engine=engine,
            spark_remote=spark_remote,
            window=core.window(query),
            reading=reading,
            orgs_file=orgs_file,
            coder=None if files else coder,
            ide_apps=ide_app_patterns(ide_apps),
        )
        try:
            with opened as source:
                result = core.run(query, source)
        except TooManyBuckets as exc:  # max_buckets is a keyword here: offer it
            raise exc.offering("max_buckets") from None
        key = _pseudonym_key(bool(files), db) if query.pseudonymize else None
        if key is None and query.min_users is None:
            return result
        return replace(result, report=shareable(result.report, key, query.min_users))


def _pseudonym_key(files: bool, db: str | os.PathLike[str] | None) -> bytes:
    """The key of ``pseudonymize``: the variable's (for events), else the store's."""
    given = os.environ.get(KEY_ENV)
    if files and given:
        return key_from_text(given)
    path = db or default_path()
    key = None
    if os.path.exists(path):
        with Store.open(path, read_only=True) as store:
            key = keys.read(store.con)
    if key is None:
        raise UsageError(
            f"pseudonymize needs a key: set {KEY_ENV} to a long random secret "
            "(e.g. `openssl rand -hex 32`), or give db a store that has one "
            "(`activity-report pseudonyms rotate` makes it)"
        )
    return key


def _instant(value: Instant | None) -> str | None:
    """A start or end as the text the parameter takes: an ISO 8601 time or date."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):  # and pandas.Timestamp, to the microsecond
        moment = datetime(*value.timetuple()[:6], value.microsecond, tzinfo=value.tzinfo)
        return moment.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value  # the parser names the keyword and the value


_UNITS = (("week", 7 * 86_400), ("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1))


def _span(value: str | timedelta) -> str:
    """An interval or heartbeat as text: a ``timedelta`` in its largest whole unit."""
    if not isinstance(value, timedelta):
        return value
    if value.microseconds or value <= timedelta(0):
        return f"{value.total_seconds()} seconds"  # the parser refuses it in its words
    seconds = int(value.total_seconds())
    name, size = next((n, s) for n, s in _UNITS if seconds % s == 0)
    count = seconds // size
    return f"{count} {name}{'s' * (count != 1)}"


@contextmanager
def _files(events: Events | None, temp_dir: str | None) -> Iterator[list[str] | None]:
    """``events`` as the file forms the sources read; a table or DataFrame as a Parquet file."""
    if events is None:
        yield None
        return
    if isinstance(events, str | os.PathLike):
        yield [os.fspath(events)]
        return
    if isinstance(events, Sequence) and all(isinstance(e, str | os.PathLike) for e in events):
        yield [os.fspath(e) for e in events] or None
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = events if isinstance(events, pa.Table) else pa.table(events)
    except (TypeError, ValueError):
        raise InvalidValue(
            "events",
            type(events).__name__,
            "give a path, a list of paths, a pyarrow Table or a pandas or polars DataFrame",
        ) from None
    with tempfile.TemporaryDirectory(prefix="activity-report-", dir=temp_dir) as folder:
        path = os.path.join(folder, "events.parquet")
        pq.write_table(table, path)
        yield [path]
