"""The main job as one call: a query and an event source in, a :class:`~.model.Report` out.

This is the seam the CLI, the server and the Python API call. It never
prints; what the caller should tell the user comes back as data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import available_timezones as available_zones

from . import directory as directory_mod
from . import orgs as orgs_mod
from . import sources
from .backends.duckdb import connect as connect
from .backends.protocol import EventSource, Filters
from .errors import DataError, Notice, UsageError
from .intervals import bucket_edges, ceil_to_unit, floor_to_unit, skipped_buckets
from .model import Report, ReportMeta, UserInfo, build_report, to_api
from .query import Query
from .render.records import records

if TYPE_CHECKING:
    import pyarrow as pa

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class ReportResult:
    report: Report
    diagnostics: sources.Diagnostics
    notes: list[str] = field(default_factory=list)
    warnings: list[Notice] = field(default_factory=list)  # given filters that match nothing
    answered_by: str = "events"  # or "rollups": the store's precomputed slots

    def to_api(self) -> dict[str, Any]:
        """The Activity API's JSON object: what ``--format json`` prints."""
        return to_api(self.report)

    def to_arrow(self) -> pa.Table:
        """One row per bucket and user, as ``--format csv`` has them, typed.

        Columns: ``time`` (the bucket's start, in the report's zone),
        ``bucket_duration``, ``user_id``, ``name``, ``username``, ``count``
        and ``duration`` (the user's active time in the bucket).
        """
        import pyarrow as pa

        rows = list(records(self.report))
        zone = self.report.meta.tz if self.report.meta is not None else "UTC"
        times = [datetime.fromisoformat(r["time"]) for r in rows]  # a withheld bucket's too
        return pa.table(
            {
                "time": pa.array(times, pa.timestamp("us", tz=_arrow_zone(zone, times))),
                "bucket_duration": pa.array(
                    [r["bucket_duration"] for r in rows], pa.duration("ns")
                ),
                "user_id": pa.array([r["user_id"] for r in rows], pa.string()),
                "name": pa.array([r["name"] for r in rows], pa.string()),
                "username": pa.array([r["username"] for r in rows], pa.string()),
                "count": pa.array([r["count"] for r in rows], pa.int64()),
                "duration": pa.array([r["duration"] for r in rows], pa.duration("ns")),
            }
        )

    def to_pandas(self) -> Any:  # a pandas.DataFrame
        """:meth:`to_arrow` as a pandas DataFrame (needs pandas)."""
        return self.to_arrow().to_pandas()


def _arrow_zone(zone: str, times: list[datetime]) -> str:
    """The report's zone as Arrow names one: an IANA name, else the one offset of
    ``times`` (``+05:30``, also for ``local`` without a name), else UTC."""
    if zone in available_zones():
        return zone
    offsets = {moment.utcoffset() for moment in times}
    if len(offsets) != 1:
        return "UTC"
    (offset,) = offsets
    minutes = int((offset or timedelta(0)).total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def to_micros(moment: datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int, tz: tzinfo) -> datetime:
    return (EPOCH + timedelta(microseconds=micros)).astimezone(tz)


def window(query: Query) -> tuple[int | None, int | None, int]:
    """``(start_us, end_us, heartbeat_us)`` of ``query``: what a source may prune by."""
    start = None if query.start is None else to_micros(query.start)
    end = None if query.end is None else to_micros(query.end)
    return start, end, query.heartbeat_us


def run(query: Query, source: EventSource) -> ReportResult:
    """Check the events, bucket them and count, over ``source``.

    ``source`` is open and stays open: the caller owns it (:mod:`.backends`).
    """
    _announce_cells(query, source)
    diagnostics = source.diagnostics()
    if query.strict and diagnostics.invalid_rows:
        raise DataError(
            "{invalid} invalid {rows} ({what}); "
            "fix them or run without {strict} to skip and report them",
            params=("strict",),
            invalid=diagnostics.invalid_rows,
            rows="row" if diagnostics.invalid_rows == 1 else "rows",
            what=diagnostics.describe(),
        )
    if diagnostics.invalid_rows:
        source.refuse_files_without_valid_rows(diagnostics)
    users = source.directory()
    org_names = source.org_names()
    filters = Filters(
        categories=list(query.categories),
        orgs=orgs_mod.resolve(query.orgs, org_names) if query.orgs is not None else None,
        users=directory_mod.resolve_user_filters(query.users, users)
        if query.users is not None
        else None,
    )
    warnings = _unmatched_filters(source, query, filters, users, org_names)
    notes: list[str] = []
    start, end = query.start, query.end
    if start is None or end is None:
        span = source.span(
            filters,
            query.heartbeat_us,
            start_us=None if start is None else to_micros(start),
            end_us=None if end is None else to_micros(end),
        )
        if span is None:
            notes.append("no events match the filters; the report is empty")
            meta = _meta(query, start, end, filters, org_names)
            return ReportResult(Report((), (), meta), diagnostics, notes, warnings)
        tz = query.zone.info
        if start is None:
            start = floor_to_unit(from_micros(span[0], tz), query.interval, tz)
        if end is None:
            end = ceil_to_unit(from_micros(span[1], tz), query.interval, tz)
    tz = query.zone.info
    context = getattr(source, "context", None)  # a cancel ends the Python loops too
    check = None if context is None else context.check
    edges = bucket_edges(start, end, query.interval, tz, max_buckets=query.max_buckets, check=check)
    for day in skipped_buckets(edges, query.interval, tz):
        notes.append(
            f"{query.zone.name} skipped {day:%Y-%m-%d} entirely (its clocks jumped over the "
            "day), so the report has no bucket for that day"
        )
    if diagnostics.unknown_rows:  # only those of this range: an old one is not news every day
        diagnostics = source.unknown_in_range(diagnostics, to_micros(start), to_micros(end))
    counted = source.cells([to_micros(e) for e in edges], filters, query.heartbeat_us)
    report = build_report(
        edges,
        counted.columns(),
        users,
        _meta(query, edges[0], edges[-1], filters, org_names),
        check=check,
    )
    if not report.users:
        notes.append("no activity in the range for these filters")
    return ReportResult(report, diagnostics, notes, warnings, counted.answered_by)


def _announce_cells(query: Query, source: EventSource) -> None:
    """Tell a source that can check and count in one pass (``expect_cells``) which cells
    the report will ask for, when the query alone decides them (a range and no org or
    user filter). Nothing is raised here: a refused range is refused in its turn."""
    expect = getattr(source, "expect_cells", None)
    if expect is None or query.start is None or query.end is None:
        return
    if query.orgs is not None or query.users is not None:
        return
    try:
        edges = bucket_edges(
            query.start, query.end, query.interval, query.zone.info, max_buckets=query.max_buckets
        )
    except UsageError:
        return
    expect(
        [to_micros(e) for e in edges],
        Filters(categories=list(query.categories)),
        query.heartbeat_us,
    )


def _unmatched_filters(
    source: EventSource,
    query: Query,
    filters: Filters,
    directory: dict[str, UserInfo],
    org_names: dict[str, str],
) -> list[Notice]:
    """What to tell about given org and user values that match no event at all."""
    messages = []
    if filters.orgs:
        found = source.values_like("org", filters.orgs)
        messages += directory_mod.unmatched_filters("org", filters.orgs, found, org_names=org_names)
    if query.users and filters.users is not None:
        found = source.values_like("user_id", filters.users)
        messages += directory_mod.unmatched_filters("user", query.users, found, directory)
    return messages


def _meta(
    query: Query,
    start: datetime | None,
    end: datetime | None,
    filters: Filters,
    org_names: dict[str, str],
) -> ReportMeta:
    orgs = tuple(filters.orgs or ())
    return ReportMeta(
        start=start or EPOCH,
        end=end or EPOCH,
        interval=str(query.interval),
        category=query.category,
        orgs=orgs,
        tz=query.zone.name,
        org_labels=orgs_mod.labels(orgs, org_names),
    )
