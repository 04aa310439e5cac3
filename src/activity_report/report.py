"""The main job as one call: a request in, a :class:`~.model.Report` out.

This is the seam a CLI, a notebook or a future HTTP API calls. It never
prints; what the caller should tell the user comes back as data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Protocol

from . import directory as directory_mod
from . import engine, resources, sources
from .errors import DataError, UsageError
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
    engine: str = "duckdb"  # or "spark": the same report computed by Apache Spark
    spark_remote: str | None = None  # a Spark Connect URL; None starts a local Spark


@dataclass
class ReportResult:
    report: Report
    diagnostics: sources.Diagnostics
    notes: list[str] = field(default_factory=list)


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
    if request.engine == "spark":
        return _count_with_spark(request)
    if not request.events:
        limits = resources.Limits(request.memory_limit, request.temp_dir)
        with Store.open(request.db or default_path(), read_only=True, limits=limits) as store:
            events = _DuckDBEvents(store.con, store.events_view(), every_column=False)
            return _count(request, events, store.users(), lambda: store.con)
    con = con or connect(request.memory_limit, request.temp_dir)
    loaded = sources.load_events(con, sources.expand_paths(request.events))
    has_csv = any(file.fmt == "csv" for file in loaded.files)
    duck = con
    return _count(request, _DuckDBEvents(duck, loaded.view, has_csv), {}, lambda: duck)


def _count_with_spark(request: ReportRequest) -> ReportResult:
    """The report from ``request.events`` read and counted by Spark."""
    from .backends import spark

    if not request.events:
        raise UsageError("--engine spark reads --events (files, folders or URLs), not a store")
    session = spark.connect(request.spark_remote)
    events = spark.open_events(
        session,
        request.events,
        local=request.spark_remote is None,
        window=spark.PruneWindow(
            None if request.start is None else to_micros(request.start),
            None if request.end is None else to_micros(request.end),
            request.heartbeat_us,
        ),
    )
    return _count(request, events, {}, lambda: connect(request.memory_limit, request.temp_dir))


class _DuckDBEvents:
    """The DuckDB engine's answers about one view, as the Spark engine gives them."""

    def __init__(self, con: duckdb.DuckDBPyConnection, view: str, every_column: bool) -> None:
        self.con, self.view, self.every_column = con, view, every_column

    def diagnose(self) -> sources.Diagnostics:
        return sources.diagnose(self.con, self.view, every_column=self.every_column)

    def data_span(
        self,
        filters: engine.Filters,
        heartbeat_us: int,
        start_us: int | None = None,
        end_us: int | None = None,
    ) -> tuple[int, int] | None:
        return engine.data_span(self.con, self.view, filters, heartbeat_us, start_us, end_us)

    def compute(
        self, edges: Sequence[int], filters: engine.Filters, heartbeat_us: int
    ) -> list[engine.Cell]:
        return engine.compute(self.con, self.view, edges, filters, heartbeat_us)


class _Events(Protocol):
    def diagnose(self) -> sources.Diagnostics: ...

    def data_span(
        self,
        filters: engine.Filters,
        heartbeat_us: int,
        start_us: int | None = None,
        end_us: int | None = None,
    ) -> tuple[int, int] | None: ...

    def compute(
        self, edges: Sequence[int], filters: engine.Filters, heartbeat_us: int
    ) -> list[engine.Cell]: ...


def _count(
    request: ReportRequest,
    events: _Events,
    directory: dict[str, UserInfo],
    users_con: Callable[[], duckdb.DuckDBPyConnection],
) -> ReportResult:
    diagnostics = events.diagnose()
    if request.strict and diagnostics.invalid_rows:
        raise DataError(
            f"{diagnostics.invalid_rows} invalid rows ({diagnostics.describe()}); "
            "fix them or run without --strict to skip and report them"
        )
    users = directory
    if request.users_file:
        users = directory_mod.index(
            directory_mod.read_directory_file(users_con(), request.users_file)
        )
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
        span = events.data_span(
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
    cells = events.compute([to_micros(e) for e in edges], filters, request.heartbeat_us)
    report = build_report(
        edges,
        [(c.bucket, c.user_id, c.count, c.duration_us) for c in cells],
        users,
        _meta(request, edges[0], edges[-1]),
    )
    if not report.users:
        notes.append("no activity in the range for these filters")
    return ReportResult(report, diagnostics, notes)


def _meta(request: ReportRequest, start: datetime | None, end: datetime | None) -> ReportMeta:
    return ReportMeta(
        start=start or EPOCH,
        end=end or EPOCH,
        interval=str(request.interval),
        category=request.category_label,
        orgs=tuple(request.orgs or ()),
        tz=request.tz_name,
    )
