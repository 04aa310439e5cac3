"""The main job as one call: a request in, a :class:`~.model.Report` out.

This is the seam a CLI, a notebook or a future HTTP API calls. It never
prints; what the caller should tell the user comes back as data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
    answered_by: str = "events"  # or "rollups": the store's precomputed slots


def to_micros(moment: datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int, tz: tzinfo) -> datetime:
    return (EPOCH + timedelta(microseconds=micros)).astimezone(tz)


def connect(
    memory_limit: str | None = None, temp_dir: str | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection set up for reports.

    UTC session time zone: text timestamps without an offset are UTC (SPEC §1).
    No progress bar: DuckDB draws it on stdout, which carries only the report.
    Memory is bounded by ``memory_limit``; what does not fit spills to
    ``temp_dir`` (see :mod:`.resources`), and Ctrl-C interrupts its queries.
    """
    con = resources.connect(limits=resources.Limits(memory_limit, temp_dir))
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")
    return con


def run(request: ReportRequest, con: duckdb.DuckDBPyConnection | None = None) -> ReportResult:
    """Load the events, check them, bucket them and count (SPEC §1-§5).

    The events are the files of ``request.events``, else the store's
    (``request.db``), whose user directory then names the users unless
    ``request.users_file`` is given.
    """
    if not request.events:
        limits = resources.Limits(request.memory_limit, request.temp_dir)
        with Store.open(request.db or default_path(), read_only=True, limits=limits) as store:
            return _count(
                request,
                store.con,
                store.events_view(),
                store.users(),
                every_column=False,
                rollup=store.rollup_cells,
            )
    con = con or connect(request.memory_limit, request.temp_dir)
    loaded = sources.load_events(con, sources.expand_paths(request.events))
    has_csv = any(file.fmt == "csv" for file in loaded.files)
    counted = sources.counted_view(con, loaded)
    return _count(request, con, loaded.view, {}, every_column=has_csv, counted=counted)


def _count(
    request: ReportRequest,
    con: duckdb.DuckDBPyConnection,
    view: str,
    directory: dict[str, UserInfo],
    *,
    every_column: bool,
    counted: str | None = None,
    rollup: Callable[[list[int], engine.Filters, int], list[engine.Cell] | None] | None = None,
) -> ReportResult:
    """``view`` is checked; ``counted`` (by default ``view`` itself) is counted."""
    diagnostics = sources.diagnose(con, view, every_column=every_column)
    view = counted or view
    if request.strict and diagnostics.invalid_rows:
        raise DataError(
            f"{diagnostics.invalid_rows} invalid rows ({diagnostics.describe()}); "
            "fix them or run without --strict to skip and report them"
        )
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
            return ReportResult(Report((), (), meta), diagnostics, notes)
        if start is None:
            start = floor_to_unit(from_micros(span[0], request.tz), request.interval, request.tz)
        if end is None:
            end = ceil_to_unit(from_micros(span[1], request.tz), request.interval, request.tz)
    edges = bucket_edges(start, end, request.interval, request.tz, max_buckets=request.max_buckets)
    edges_us = [to_micros(e) for e in edges]
    cells = None if rollup is None else rollup(edges_us, filters, request.heartbeat_us)
    answered_by = "events" if cells is None else "rollups"
    if cells is None:
        cells = engine.compute(con, view, edges_us, filters, request.heartbeat_us)
    report = build_report(
        edges,
        [(c.bucket, c.user_id, c.count, c.duration_us) for c in cells],
        users,
        _meta(request, edges[0], edges[-1]),
    )
    if not report.users:
        notes.append("no activity in the range for these filters")
    return ReportResult(report, diagnostics, notes, answered_by)


def _meta(request: ReportRequest, start: datetime | None, end: datetime | None) -> ReportMeta:
    return ReportMeta(
        start=start or EPOCH,
        end=end or EPOCH,
        interval=str(request.interval),
        category=request.category_label,
        orgs=tuple(request.orgs or ()),
        tz=request.tz_name,
    )
