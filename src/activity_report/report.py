"""The main job as one call: a request in, a :class:`~.model.Report` out.

This is the seam a CLI, a notebook or a future HTTP API calls. It never
prints; what the caller should tell the user comes back as data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from . import directory as directory_mod
from . import engine, resources, sources
from .errors import DataError
from .intervals import Interval, bucket_edges, ceil_to_unit, floor_to_unit
from .model import Report, ReportMeta, UserInfo, build_report
from .store import Store, default_path

if TYPE_CHECKING:
    import duckdb

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ReportRequest:
    interval: Interval
    tz: tzinfo
    tz_name: str = "UTC"
    events: Sequence[str] = ()
    db: str | None = None  # the store read when no events are given (default: default_path())
    users_file: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    categories: Sequence[str] = sources.CATEGORIES
    category_label: str = "any"
    orgs: Sequence[str] | None = None
    users: Sequence[str] | None = None
    heartbeat_us: int = 60_000_000
    max_buckets: int = 100_000
    strict: bool = False
    memory_limit: str | None = None  # DuckDB's, e.g. '2GB' (resources.parse_memory_limit)
    temp_dir: str | None = None  # where DuckDB spills (resources.check_temp_dir)


@dataclass
class ReportResult:
    report: Report
    diagnostics: sources.Diagnostics
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # given filters that match nothing


def to_micros(moment: datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int, tz: tzinfo) -> datetime:
    return (EPOCH + timedelta(microseconds=micros)).astimezone(tz)


def connect(
    memory_limit: str | None = None, temp_dir: str | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection set up for reports.

    UTC session time zone: text timestamps without an offset are UTC.
    No progress bar: DuckDB draws it on stdout, which carries only the report.
    Memory is bounded by ``memory_limit``; what does not fit spills to
    ``temp_dir`` (see :mod:`.resources`), and Ctrl-C interrupts its queries.
    """
    con = resources.connect(limits=resources.Limits(memory_limit, temp_dir))
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")
    return con


def run(request: ReportRequest, con: duckdb.DuckDBPyConnection | None = None) -> ReportResult:
    """Load the events, check them, bucket them and count.

    The events are the files of ``request.events``, else the store's
    (``request.db``), whose user directory then names the users unless
    ``request.users_file`` is given.
    """
    if not request.events:
        limits = resources.Limits(request.memory_limit, request.temp_dir)
        with Store.open(request.db or default_path(), read_only=True, limits=limits) as store:
            return _count(
                request, store.con, store.events_view(), store.users(), every_column=False
            )
    con = con or connect(request.memory_limit, request.temp_dir)
    loaded = sources.load_events(con, sources.expand_paths(request.events))
    has_csv = any(file.fmt == "csv" for file in loaded.files)
    return _count(request, con, loaded.view, {}, every_column=has_csv)


def _count(
    request: ReportRequest,
    con: duckdb.DuckDBPyConnection,
    view: str,
    directory: dict[str, UserInfo],
    *,
    every_column: bool,
) -> ReportResult:
    diagnostics = sources.diagnose(con, view, every_column=every_column)
    if request.strict and diagnostics.invalid_rows:
        raise DataError(
            f"{diagnostics.invalid_rows} invalid row{'s' * (diagnostics.invalid_rows != 1)} "
            f"({diagnostics.describe()}); "
            "fix them or run without --strict to skip and report them"
        )
    if diagnostics.invalid_rows:
        _refuse_files_without_valid_rows(con, view, diagnostics)
    users = directory
    if request.users_file:
        users = directory_mod.index(directory_mod.read_directory_file(con, request.users_file))
    filters = engine.Filters(
        categories=list(request.categories),
        orgs=list(request.orgs) if request.orgs is not None else None,
        users=directory_mod.resolve_user_filters(request.users, users)
        if request.users is not None
        else None,
    )
    warnings = _unmatched_filters(con, view, request, filters, users)
    notes: list[str] = []
    start, end = request.start, request.end
    if start is None or end is None:
        span = engine.data_span(
            con,
            view,
            filters,
            request.heartbeat_us,
            start_us=None if start is None else to_micros(start),
            end_us=None if end is None else to_micros(end),
        )
        if span is None:
            notes.append("no events match the filters; the report is empty")
            meta = _meta(request, start, end)
            return ReportResult(Report((), (), meta), diagnostics, notes, warnings)
        if start is None:
            start = floor_to_unit(from_micros(span[0], request.tz), request.interval, request.tz)
        if end is None:
            end = ceil_to_unit(from_micros(span[1], request.tz), request.interval, request.tz)
    edges = bucket_edges(start, end, request.interval, request.tz, max_buckets=request.max_buckets)
    if diagnostics.unknown_rows:  # only those of this range: an old one is not news every day
        diagnostics = _unknown_in_range(con, view, diagnostics, to_micros(start), to_micros(end))
    cells = engine.compute(con, view, [to_micros(e) for e in edges], filters, request.heartbeat_us)
    report = build_report(
        edges,
        [(c.bucket, c.user_id, c.count, c.duration_us) for c in cells],
        users,
        _meta(request, edges[0], edges[-1]),
    )
    if not report.users:
        notes.append("no activity in the range for these filters")
    return ReportResult(report, diagnostics, notes, warnings)


def _unknown_in_range(
    con: duckdb.DuckDBPyConnection,
    view: str,
    diagnostics: sources.Diagnostics,
    start_us: int,
    end_us: int,
) -> sources.Diagnostics:
    """``diagnostics`` with only the unknown categories of events in ``[start, end)``."""
    rows = con.execute(
        f"""SELECT category, count(*) FROM {view}
            WHERE problem IS NULL AND NOT list_contains($known, category)
              AND ts >= $start AND ts < $end
            GROUP BY category ORDER BY count(*) DESC, category""",
        {"known": list(sources.CATEGORIES), "start": start_us, "end": end_us},
    ).fetchall()
    values = [(str(c), int(n)) for c, n in rows]
    return dataclasses.replace(
        diagnostics, unknown_rows=sum(n for _, n in values), unknown_values=values[:5]
    )


def _refuse_files_without_valid_rows(
    con: duckdb.DuckDBPyConnection, view: str, diagnostics: sources.Diagnostics
) -> None:
    """A file none of whose rows is valid is an error, not an empty report.

    Such a file is in a form the tool does not read (epoch numbers as times,
    another export's columns): a cron job must not mail an empty report as
    a success. A file whose every line is malformed CSV has no rows in the
    view; it is caught when it is the only source.
    """
    rows = con.execute(
        f"""WITH bad AS (
                SELECT source_file FROM {view} GROUP BY source_file
                HAVING count(*) FILTER (problem IS NULL) = 0
                ORDER BY source_file LIMIT 1)
            SELECT source_file, problem, count(*) FROM {view}
            WHERE source_file IN (SELECT source_file FROM bad)
            GROUP BY ALL ORDER BY count(*) DESC, problem"""
    ).fetchall()
    if rows:
        total = sum(int(n) for _, _, n in rows)
        reasons = ", ".join(f"{n} {problem}" for _, problem, n in rows)
        file = str(rows[0][0])
        many = f"none of its {total:,} rows is"
        subject = f"{file}: {'its only row is not' if total == 1 else many}"
    elif diagnostics.total_rows and diagnostics.invalid_rows == diagnostics.total_rows:
        reasons, subject = diagnostics.describe(), "no row of the events is"
    else:
        return
    hint = ""
    if "unparseable time" in reasons:
        hint = "; times must be ISO 8601 text such as 2022-08-01T09:00:00Z"
    raise DataError(f"{subject} valid ({reasons}){hint}; fix the file or leave it out")


def _unmatched_filters(
    con: duckdb.DuckDBPyConnection,
    view: str,
    request: ReportRequest,
    filters: engine.Filters,
    directory: dict[str, UserInfo],
) -> list[str]:
    """What to tell about given --org and --user values that match no event at all."""
    messages = []
    if request.orgs:
        found = engine.values_like(con, view, "org", request.orgs)
        messages += directory_mod.unmatched_filters("--org", request.orgs, found)
    if request.users and filters.users is not None:
        found = engine.values_like(con, view, "user_id", filters.users)
        messages += directory_mod.unmatched_filters("--user", request.users, found, directory)
    return messages


def _meta(request: ReportRequest, start: datetime | None, end: datetime | None) -> ReportMeta:
    return ReportMeta(
        start=start or EPOCH,
        end=end or EPOCH,
        interval=str(request.interval),
        category=request.category_label,
        orgs=tuple(request.orgs or ()),
        tz=request.tz_name,
    )
