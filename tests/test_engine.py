"""The counting of both engines (DuckDB's engine.compute, the Spark backend's) and
BucketLookup on small in-memory data, against exact values and against the
pure-Python model in tests/reference.py.

Every counting test runs once per engine (the ``backend`` fixture); the Spark
runs share the test session's one Spark session, and its property tests draw
fewer examples.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activity_report import engine
from activity_report.backends.protocol import Cell, Filters
from activity_report.intervals import bucket_edges, parse_interval
from activity_report.reporting import connect, to_micros
from tests import reference
from tests.reference import Event, RefFilters

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

VIEW = "events_canonical"
ALL = ("ide", "login", "app", "tunnel", "web_terminal")

S = 1_000_000
M = 60 * S
H = 60 * M
D = 24 * H
T0 = to_micros(datetime(2024, 1, 1, tzinfo=UTC))

Result = dict[tuple[int, str], tuple[int, int]]


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect()
    yield connection
    connection.close()


def load(
    con: duckdb.DuckDBPyConnection,
    events: Sequence[Event],
    invalid: Sequence[Event] = (),
) -> None:
    """(Re)create the canonical view's columns as a table; ``invalid`` rows carry a problem."""
    rows = [(e, None) for e in events] + [(e, "end_time before time") for e in invalid]
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {VIEW} AS
            SELECT CAST(unnest($ts) AS BIGINT) AS ts,
                   CAST(unnest($end_us) AS BIGINT) AS end_us,
                   CAST(unnest($user_id) AS VARCHAR) AS user_id,
                   CAST(unnest($category) AS VARCHAR) AS category,
                   CAST(unnest($org) AS VARCHAR) AS org,
                   CAST(unnest($event_id) AS VARCHAR) AS event_id,
                   CAST(unnest($problem) AS VARCHAR) AS problem,
                   'test.csv' AS source_file,
                   CAST(unnest($source_row) AS BIGINT) AS source_row""",
        {
            "ts": [e.ts_us for e, _ in rows],
            "end_us": [e.end_us for e, _ in rows],
            "user_id": [e.user for e, _ in rows],
            "category": [e.category for e, _ in rows],
            "org": [e.org for e, _ in rows],
            "event_id": [f"e{i}" for i in range(len(rows))],
            "problem": [p for _, p in rows],
            "source_row": list(range(1, len(rows) + 1)),
        },
    ).fetchall()


class Backend(Protocol):
    """One engine's counting over canonical rows made from :class:`Event` values."""

    def cells(
        self,
        events: Sequence[Event],
        invalid: Sequence[Event],
        edges: Sequence[int],
        filters: Filters,
        heartbeat: int,
    ) -> list[Cell]: ...

    def span(
        self,
        events: Sequence[Event],
        filters: Filters,
        heartbeat: int,
        start_us: int | None = None,
        end_us: int | None = None,
    ) -> tuple[int, int] | None: ...


class DuckDBBackend:
    """DuckDB's engine; ``heartbeats_only`` forces a plan, ``user_ids`` names the users."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        heartbeats_only: bool | None = None,
        user_ids: Sequence[str] | None = None,
    ) -> None:
        self.con = con
        self.heartbeats_only = heartbeats_only
        self.user_ids = user_ids

    def cells(
        self,
        events: Sequence[Event],
        invalid: Sequence[Event],
        edges: Sequence[int],
        filters: Filters,
        heartbeat: int,
    ) -> list[Cell]:
        load(self.con, events, invalid)
        return engine.compute(
            self.con,
            VIEW,
            edges,
            filters,
            heartbeat,
            heartbeats_only=self.heartbeats_only,
            user_ids=self.user_ids,
        )

    def span(
        self,
        events: Sequence[Event],
        filters: Filters,
        heartbeat: int,
        start_us: int | None = None,
        end_us: int | None = None,
    ) -> tuple[int, int] | None:
        load(self.con, events)
        return engine.data_span(self.con, VIEW, filters, heartbeat, start_us, end_us)


class SparkBackend:
    """The Spark backend's counting, on a DataFrame of the canonical columns."""

    SCHEMA = (
        "ts BIGINT, end_us BIGINT, user_id STRING, category STRING, org STRING, "
        "event_id STRING, problem STRING"
    )

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark

    def rows(self, events: Sequence[Event], invalid: Sequence[Event] = ()) -> DataFrame:
        data = [(e, None) for e in events] + [(e, "end_time before time") for e in invalid]
        return self.spark.createDataFrame(
            [
                (e.ts_us, e.end_us, e.user, e.category, e.org, f"e{i}", problem)
                for i, (e, problem) in enumerate(data)
            ],
            self.SCHEMA,
        )

    def cells(
        self,
        events: Sequence[Event],
        invalid: Sequence[Event],
        edges: Sequence[int],
        filters: Filters,
        heartbeat: int,
    ) -> list[Cell]:
        from activity_report.backends.spark import counting

        rows = self.rows(events, invalid)
        # Events without ends each cover one heartbeat: the backend then takes the
        # lag() plan (its source knows this from the files' columns).
        coverage = any(e.end_us is not None for e in (*events, *invalid))
        return counting.compute(self.spark, rows, edges, filters, heartbeat, coverage)

    def span(
        self,
        events: Sequence[Event],
        filters: Filters,
        heartbeat: int,
        start_us: int | None = None,
        end_us: int | None = None,
    ) -> tuple[int, int] | None:
        from activity_report.backends.spark import counting

        rows = self.rows(events)
        return counting.data_span(rows, filters, heartbeat, start_us, end_us)


@pytest.fixture(scope="module")
def duck(con: duckdb.DuckDBPyConnection) -> Backend:
    return DuckDBBackend(con)


@pytest.fixture(scope="module")
def spark_backend(spark: SparkSession) -> Backend:
    return SparkBackend(spark)


@pytest.fixture(params=["duckdb", "spark"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each engine in turn."""
    name = "duck" if request.param == "duckdb" else "spark_backend"
    chosen: Backend = request.getfixturevalue(name)
    return chosen


def compute(
    backend: Backend,
    events: Sequence[Event],
    edges: Sequence[int],
    *,
    categories: Sequence[str] = ALL,
    orgs: Sequence[str] | None = None,
    users: Sequence[str] | None = None,
    heartbeat: int = M,
    invalid: Sequence[Event] = (),
) -> Result:
    filters = Filters(categories, orgs, users)
    cells = backend.cells(events, invalid, edges, filters, heartbeat)
    result = {(c.bucket, c.user_id): (c.count, c.duration_us) for c in cells}
    assert len(result) == len(cells), "one cell per (bucket, user)"
    assert [(c.bucket, c.user_id) for c in cells] == sorted(result), "cells in order"
    return result


def ev(ts: int, end: int | None = None, user: str = "u", cat: str = "ide", org: str = "o") -> Event:
    return Event(ts, end, user, cat, org)


HOUR = [T0, T0 + H]
TWO_HOURS = [T0, T0 + H, T0 + 2 * H]


# ------------------------------------------------------------------ exact cases


def test_single_heartbeat_event(backend: Backend) -> None:
    assert compute(backend, [ev(T0 + 10 * M)], HOUR) == {(0, "u"): (1, M)}


def test_heartbeat_length_is_the_coverage(backend: Backend) -> None:
    events = [ev(T0 + 10 * M)]
    assert compute(backend, events, HOUR, heartbeat=5 * M) == {(0, "u"): (1, 5 * M)}
    assert compute(backend, events, HOUR, heartbeat=30 * S) == {(0, "u"): (1, 30 * S)}


def test_end_time_overrides_the_heartbeat(backend: Backend) -> None:
    events = [ev(T0 + 10 * M, T0 + 12 * M)]
    assert compute(backend, events, HOUR, heartbeat=30 * M) == {(0, "u"): (1, 2 * M)}


def test_zero_duration_covers_nothing_but_counts(backend: Backend) -> None:
    assert compute(backend, [ev(T0 + 10 * M, T0 + 10 * M)], HOUR) == {(0, "u"): (1, 0)}


def test_overlapping_sessions_count_once(backend: Backend) -> None:
    events = [ev(T0, T0 + 30 * M), ev(T0 + 10 * M, T0 + 50 * M)]
    assert compute(backend, events, HOUR) == {(0, "u"): (2, 50 * M)}


def test_touching_sessions_add_up(backend: Backend) -> None:
    events = [ev(T0, T0 + 20 * M), ev(T0 + 20 * M, T0 + 30 * M)]
    assert compute(backend, events, HOUR) == {(0, "u"): (2, 30 * M)}


def test_overlapping_heartbeats_count_once(backend: Backend) -> None:
    # Heartbeats every 30 s with a 1 minute coverage: 10 events cover 5.5 minutes.
    events = [ev(T0 + i * 30 * S) for i in range(10)]
    assert compute(backend, events, HOUR) == {(0, "u"): (10, 5 * M + 30 * S)}


def test_duplicate_events_count_twice_cover_once(backend: Backend) -> None:
    assert compute(backend, [ev(T0 + 5 * M)] * 2, HOUR) == {(0, "u"): (2, M)}
    session = ev(T0 + 5 * M, T0 + 25 * M)
    assert compute(backend, [session] * 3, HOUR) == {(0, "u"): (3, 20 * M)}


def test_nested_sessions(backend: Backend) -> None:
    events = [
        ev(T0, T0 + 40 * M),
        ev(T0 + 10 * M, T0 + 20 * M),
        ev(T0 + 15 * M),  # heartbeat inside
        ev(T0 + 30 * M, T0 + 40 * M),  # same end as the outer one
    ]
    assert compute(backend, events, HOUR) == {(0, "u"): (4, 40 * M)}


def test_same_start_longer_session_wins(backend: Backend) -> None:
    events = [ev(T0, T0 + 50 * M), ev(T0, T0 + 10 * M), ev(T0, T0 + 30 * M)]
    assert compute(backend, events, HOUR) == {(0, "u"): (3, 50 * M)}


def test_users_are_counted_apart(backend: Backend) -> None:
    events = [ev(T0, T0 + 30 * M, user="a"), ev(T0 + 10 * M, T0 + 50 * M, user="b")]
    assert compute(backend, events, HOUR) == {(0, "a"): (1, 30 * M), (0, "b"): (1, 40 * M)}


def test_session_crossing_one_edge_is_split(backend: Backend) -> None:
    events = [ev(T0 + 50 * M, T0 + 70 * M)]
    assert compute(backend, events, TWO_HOURS) == {(0, "u"): (1, 10 * M), (1, "u"): (0, 10 * M)}


def test_heartbeat_crossing_an_edge_is_split(backend: Backend) -> None:
    events = [ev(T0 + H - 20 * S)]
    assert compute(backend, events, TWO_HOURS) == {(0, "u"): (1, 20 * S), (1, "u"): (0, 40 * S)}


def test_session_crossing_several_edges_is_split(backend: Backend) -> None:
    edges = [T0 + k * H for k in range(5)]
    events = [ev(T0 + 45 * M, T0 + 3 * H + 5 * M)]
    assert compute(backend, events, edges) == {
        (0, "u"): (1, 15 * M),
        (1, "u"): (0, H),
        (2, "u"): (0, H),
        (3, "u"): (0, 5 * M),
    }


def test_session_ending_exactly_on_an_edge(backend: Backend) -> None:
    events = [ev(T0 + 30 * M, T0 + H), ev(T0 + H, T0 + H + 10 * M, user="v")]
    assert compute(backend, events, TWO_HOURS) == {(0, "u"): (1, 30 * M), (1, "v"): (1, 10 * M)}


def test_activity_around_the_range_is_clipped(backend: Backend) -> None:
    events = [
        ev(T0 - 30 * M, T0 + 2 * H, user="across"),  # starts before, ends after
        ev(T0 - 20 * S, user="early"),  # heartbeat that reaches into the range
        ev(T0 - 2 * M, user="before"),  # heartbeat that ends before the range
        ev(T0 + H - 15 * S, user="late"),  # heartbeat that runs past the end
    ]
    assert compute(backend, events, HOUR) == {
        (0, "across"): (0, H),
        (0, "early"): (0, 40 * S),
        (0, "late"): (1, 15 * S),
    }


def test_event_at_the_range_end_is_excluded(backend: Backend) -> None:
    assert compute(backend, [ev(T0 + H)], HOUR) == {}
    assert compute(backend, [ev(T0 + H, T0 + H)], HOUR) == {}
    assert compute(backend, [ev(T0 + H - 1)], HOUR) == {(0, "u"): (1, 1)}
    assert compute(backend, [ev(T0, T0)], HOUR) == {(0, "u"): (1, 0)}


def test_event_ending_at_the_range_start_is_excluded(backend: Backend) -> None:
    assert compute(backend, [ev(T0 - M)], HOUR) == {}
    assert compute(backend, [ev(T0 - 10 * M, T0)], HOUR) == {}


def test_partial_last_bucket(backend: Backend) -> None:
    edges = [T0, T0 + H, T0 + H + 10 * M]
    events = [ev(T0 + H + 5 * M, T0 + 3 * H), ev(T0 + H + 9 * M, user="v")]
    assert compute(backend, events, edges) == {(1, "u"): (1, 5 * M), (1, "v"): (1, M)}


def test_category_filter(backend: Backend) -> None:
    events = [ev(T0, cat="ide"), ev(T0 + 5 * M, cat="app"), ev(T0 + 10 * M, cat="other")]
    assert compute(backend, events, HOUR, categories=["ide"]) == {(0, "u"): (1, M)}
    assert compute(backend, events, HOUR, categories=["ide", "app"]) == {(0, "u"): (2, 2 * M)}
    # An unknown category is in no report, not even with every category asked for.
    assert compute(backend, events, HOUR) == {(0, "u"): (2, 2 * M)}


def test_filtered_out_events_do_not_cover(backend: Backend) -> None:
    # The app session would merge with the IDE heartbeats; filtered out, it covers nothing.
    events = [ev(T0, T0 + 30 * M, cat="app"), ev(T0 + 10 * M, cat="ide")]
    assert compute(backend, events, HOUR, categories=["ide"]) == {(0, "u"): (1, M)}


def test_org_filter(backend: Backend) -> None:
    events = [
        Event(T0, None, "u", "ide", "o1"),
        Event(T0 + 5 * M, None, "u", "ide", "o2"),
        Event(T0 + 10 * M, None, "u", "ide", None),
    ]
    assert compute(backend, events, HOUR, orgs=["o1"]) == {(0, "u"): (1, M)}
    assert compute(backend, events, HOUR, orgs=["o1", "o2"]) == {(0, "u"): (2, 2 * M)}
    assert compute(backend, events, HOUR, orgs=["o3"]) == {}
    assert compute(backend, events, HOUR) == {(0, "u"): (3, 3 * M)}


def test_user_filter(backend: Backend) -> None:
    events = [ev(T0, user="a"), ev(T0, user="b"), ev(T0, user="c")]
    assert compute(backend, events, HOUR, users=["a", "c"]) == {(0, "a"): (1, M), (0, "c"): (1, M)}
    assert compute(backend, events, HOUR, users=["nobody"]) == {}


def test_invalid_rows_are_not_counted(backend: Backend) -> None:
    valid = [ev(T0)]
    invalid = [ev(T0 + 10 * M, T0 + 5 * M), ev(T0 + 20 * M, T0 + 40 * M)]
    assert compute(backend, valid, HOUR, invalid=invalid) == {(0, "u"): (1, M)}


def test_no_events(backend: Backend) -> None:
    assert compute(backend, [], HOUR) == {}


def test_buckets_with_irregular_widths(backend: Backend) -> None:
    # A 10 minute bucket, then a 20 minute one: the wider bucket spans two cells.
    edges = [T0, T0 + 10 * M, T0 + 30 * M]
    events = [ev(T0 + 25 * M), ev(T0 + 5 * M, T0 + 12 * M, user="v")]
    assert compute(backend, events, edges) == {
        (1, "u"): (1, M),
        (0, "v"): (1, 5 * M),
        (1, "v"): (0, 2 * M),
    }


def test_data_span(backend: Backend) -> None:
    events = [ev(T0 + H), ev(T0 + 2 * H, T0 + 5 * H), ev(T0 + 9 * H, cat="app")]
    filters = Filters(["ide"])
    assert backend.span(events, filters, M) == (T0 + H, T0 + 5 * H)
    assert backend.span(events, Filters(ALL), M) == (T0 + H, T0 + 9 * H + M)
    # A zero-length event at the very end still lies inside [start, end).
    assert backend.span([ev(T0, T0)], filters, M) == (T0, T0 + 1)
    assert backend.span([ev(T0, T0)], Filters(["login"]), M) is None


def test_data_span_within_given_bounds(backend: Backend) -> None:
    events = [ev(T0, T0 + 2 * H), ev(T0 + 5 * H), ev(T0 + 9 * H)]
    filters = Filters(ALL)
    span = backend.span
    # From a given start: events that cover it or lie past it.
    assert span(events, filters, M, start_us=T0 + H) == (T0, T0 + 9 * H + M)
    assert span(events, filters, M, start_us=T0 + 2 * H) == (T0 + 5 * H, T0 + 9 * H + M)
    assert span(events, filters, M, start_us=T0 + 9 * H + M) is None
    # Up to a given end: events that start before it.
    assert span(events, filters, M, end_us=T0 + 9 * H) == (T0, T0 + 5 * H + M)
    assert span(events, filters, M, end_us=T0) is None
    assert span(events, filters, M, T0 + H, T0 + 5 * H + 1) == (T0, T0 + 5 * H + M)


# ------------------------------------------------------------------ BucketLookup


def oracle(edges: Sequence[int], instant: int) -> int:
    return bisect.bisect_right(edges, instant) - 1


def probes(edges: Sequence[int]) -> list[int]:
    """Every edge, its neighbours, and a few points inside each bucket."""
    points: set[int] = set()
    for a, b in zip(edges, edges[1:], strict=False):
        points |= {a, a + 1, b - 1, (a + b) // 2, a + (b - a) // 3}
    return sorted(p for p in points if edges[0] <= p < edges[-1])


def zone_edges(start: datetime, end: datetime, interval: str, zone: str) -> list[int]:
    tz = ZoneInfo(zone)
    return [
        to_micros(e)
        for e in bucket_edges(
            start.replace(tzinfo=tz), end.replace(tzinfo=tz), parse_interval(interval), tz
        )
    ]


EDGE_SHAPES = {
    "uniform": [T0 + k * H for k in range(25)],
    "uniform, short last": [T0, T0 + H, T0 + 2 * H, T0 + 2 * H + 7],
    "single bucket": [T0, T0 + 5],
    "wider bucket a multiple of the cell": [0, 10, 30],
    "multiples, short last": [0, 10, 30, 40, 41],
    "spring forward": zone_edges(
        datetime(2024, 3, 28), datetime(2024, 4, 3), "1 day", "Europe/Berlin"
    ),
    "fall back": zone_edges(
        datetime(2024, 10, 24), datetime(2024, 10, 30, 12), "1 day", "Europe/Berlin"
    ),
    "both DST changes, weekly": zone_edges(
        datetime(2024, 3, 4), datetime(2024, 11, 30), "1 week", "America/New_York"
    ),
    "months from Jan 31": zone_edges(
        datetime(2024, 1, 31), datetime(2025, 2, 10), "1 month", "UTC"
    ),
    "months in Berlin": zone_edges(
        datetime(2023, 12, 1), datetime(2025, 1, 1), "monthly", "Europe/Berlin"
    ),
    "quarters": zone_edges(datetime(2023, 1, 1), datetime(2026, 1, 1), "1 quarter", "UTC"),
    "Lord Howe half-hour DST": zone_edges(
        datetime(2024, 4, 5), datetime(2024, 4, 9), "1 day", "Australia/Lord_Howe"
    ),
}


@pytest.mark.parametrize("edges", EDGE_SHAPES.values(), ids=EDGE_SHAPES.keys())
def test_bucket_lookup_matches_bisect(edges: list[int]) -> None:
    lookup = engine.BucketLookup.from_edges(edges)
    points = probes(edges)
    assert [lookup.bucket_of(p) for p in points] == [oracle(edges, p) for p in points]


@pytest.mark.parametrize("edges", EDGE_SHAPES.values(), ids=EDGE_SHAPES.keys())
def test_bucket_lookup_sql_matches_bisect(con: duckdb.DuckDBPyConnection, edges: list[int]) -> None:
    lookup = engine.BucketLookup.from_edges(edges)
    points = probes(edges)
    rows = con.execute(
        f"""SELECT {lookup.sql("x")}
            FROM (SELECT unnest($points) AS x, generate_subscripts($points, 1) AS i)
            ORDER BY i""",
        lookup.params() | {"points": points},
    ).fetchall()
    assert [int(r[0]) for r in rows] == [oracle(edges, p) for p in points]


def test_edge_shapes_are_what_they_claim() -> None:
    spring = EDGE_SHAPES["spring forward"]
    assert [b - a for a, b in zip(spring, spring[1:], strict=False)] == [
        24 * H,
        24 * H,
        24 * H,
        23 * H,
        24 * H,
        24 * H,
    ]
    fall = EDGE_SHAPES["fall back"]
    assert [b - a for a, b in zip(fall, fall[1:], strict=False)] == [
        24 * H,
        24 * H,
        24 * H,
        25 * H,
        24 * H,
        24 * H,
        12 * H,
    ]
    months = EDGE_SHAPES["months from Jan 31"]
    days = [(b - a) // D for a, b in zip(months, months[1:], strict=False)]
    assert days[:4] == [29, 31, 30, 31]  # Jan 31 -> Feb 29 -> Mar 31 -> Apr 30 -> May 31


def test_bucket_lookup_needs_two_edges() -> None:
    with pytest.raises(ValueError, match="at least two edges"):
        engine.BucketLookup.from_edges([T0])


# ------------------------------------------------------------------ properties

USERS = ("a", "b", "c")
CATEGORIES = ("ide", "app", "login", "other")
ORGS = ("o1", "o2", None)


@st.composite
def edge_lists(draw: st.DrawFn) -> list[int]:
    """Sorted unique edges with irregular widths; the last bucket may be tiny."""
    origin = T0 + draw(st.integers(-10_000, 10_000))
    inner: list[int] = draw(st.lists(st.integers(5, 120), min_size=0, max_size=7))
    uniform: bool = draw(st.booleans())
    if inner and uniform:  # uniform buckets take the engine's fast path
        inner = [inner[0]] * len(inner)
    last = draw(st.integers(1, 120))
    edges = [origin]
    for width in [*inner, last]:
        edges.append(edges[-1] + width)
    return edges


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[list[int], list[Event], RefFilters, int]:
    edges = draw(edge_lists())
    start, end = edges[0], edges[-1]
    span = end - start
    heartbeat = draw(st.integers(1, 60))
    event = st.builds(
        Event,
        ts_us=st.integers(start - 80, end + 20),
        end_us=st.none(),
        user=st.sampled_from(USERS),
        category=st.sampled_from(CATEGORIES),
        org=st.sampled_from(ORGS),
    )
    length = st.one_of(st.none(), st.just(0), st.integers(1, 30), st.integers(0, span + 200))
    raw = draw(st.lists(st.tuples(event, length), max_size=25))
    events = [
        Event(e.ts_us, None if d is None else e.ts_us + d, e.user, e.category, e.org)
        for e, d in raw
    ]
    # Duplicates are common in real logs: repeat a few events exactly.
    if events:
        events += draw(st.lists(st.sampled_from(events), max_size=3))
    categories = draw(
        st.one_of(st.just(ALL), st.lists(st.sampled_from(ALL), min_size=1, unique=True))
    )
    orgs = draw(st.one_of(st.none(), st.lists(st.sampled_from(("o1", "o2")), unique=True)))
    users = draw(st.one_of(st.none(), st.lists(st.sampled_from(USERS), unique=True)))
    return edges, events, RefFilters(categories, orgs, users), heartbeat


#: Each example runs two plans through DuckDB: 40 of them (a new 40 each run, as Hypothesis
#: draws afresh) keep the suite's edit loop short.
PROPERTY_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
#: Each Spark example is a few Spark jobs: fewer of them, the same scenarios.
SPARK_PROPERTY_SETTINGS = settings(PROPERTY_SETTINGS, max_examples=12)


def compute_filtered(
    backend: Backend,
    edges: list[int],
    events: list[Event],
    filters: RefFilters,
    heartbeat: int,
) -> Result:
    return compute(
        backend,
        events,
        edges,
        categories=filters.categories,
        orgs=filters.orgs,
        users=filters.users,
        heartbeat=heartbeat,
    )


Scenario = tuple[list[int], list[Event], RefFilters, int]


def agrees_with_the_reference_model(backend: Backend, scenario: Scenario) -> None:
    edges, events, filters, heartbeat = scenario
    expected = reference.compute(events, edges, filters, heartbeat)
    assert compute_filtered(backend, edges, events, filters, heartbeat) == expected


def keeps_the_counting_invariants(backend: Backend, scenario: Scenario) -> None:
    edges, events, filters, heartbeat = scenario
    start, end = edges[0], edges[-1]
    # A user active over the whole range and beyond fills every bucket exactly.
    everywhere = Event(start - 5, end + 5, "everywhere", filters.categories[0], None)
    widened = RefFilters(
        filters.categories, None, None if filters.users is None else [*filters.users, "everywhere"]
    )
    matching = [e for e in events if reference.passes(e, widened)]
    result = compute_filtered(backend, edges, [*matching, everywhere], widened, heartbeat)

    widths = [b - a for a, b in zip(edges, edges[1:], strict=False)]
    assert sum(widths) == end - start
    for (bucket, _user), (count, duration) in result.items():
        assert 0 <= duration <= widths[bucket]
        assert count > 0 or duration > 0
    assert [result[(k, "everywhere")] for k in range(len(widths))] == [(0, w) for w in widths]
    for user in {e.user for e in matching}:
        total = sum(d for (_, u), (_, d) in result.items() if u == user)
        assert total == reference.union_length_in(matching, user, start, end, heartbeat)
        count = sum(n for (_, u), (n, _) in result.items() if u == user)
        assert count == sum(1 for e in matching if e.user == user and start <= e.ts_us < end)


@PROPERTY_SETTINGS
@given(scenario=scenarios())
def test_duckdb_agrees_with_the_reference_model(
    con: duckdb.DuckDBPyConnection, scenario: Scenario
) -> None:
    """Whichever plan the engine picks, and the general plan forced."""
    agrees_with_the_reference_model(DuckDBBackend(con), scenario)
    agrees_with_the_reference_model(DuckDBBackend(con, heartbeats_only=False), scenario)


@st.composite
def heartbeat_scenarios(draw: st.DrawFn) -> Scenario:
    """Scenarios whose events all cover exactly the heartbeat: no end, or one
    a heartbeat after the start (the heartbeat plan's domain), with many ties."""
    edges, events, filters, heartbeat = draw(scenarios())
    starts = st.integers(edges[0] - 80, edges[-1] + 20)
    ties = [e.ts_us for e in events] or [edges[0]]
    extra = draw(st.lists(st.one_of(starts, st.sampled_from(ties)), max_size=15))
    events = [*events, *(Event(ts, None, USERS[ts % 3], "ide", "o1") for ts in extra)]
    explicit = draw(st.booleans())  # some with an end exactly a heartbeat on
    events = [
        Event(e.ts_us, e.ts_us + heartbeat if explicit and e.ts_us % 2 else None, e.user,
              e.category, e.org)
        for e in events
    ]  # fmt: skip
    return edges, events, filters, heartbeat


@PROPERTY_SETTINGS
@given(scenario=heartbeat_scenarios(), named=st.booleans())
def test_heartbeat_plan_agrees_with_the_reference_model(
    con: duckdb.DuckDBPyConnection, scenario: Scenario, named: bool
) -> None:
    """The lead() plan, forced, on logs where it is exact: equal to the model
    and to the general plan; its names from a scan or from given ids (a
    superset of the matching users, as the check pass collects them)."""
    user_ids = [*USERS, "nobody"] if named else None
    lead = DuckDBBackend(con, heartbeats_only=True, user_ids=user_ids)
    agrees_with_the_reference_model(lead, scenario)
    agrees_with_the_reference_model(DuckDBBackend(con, heartbeats_only=False), scenario)


@SPARK_PROPERTY_SETTINGS
@given(scenario=scenarios())
def test_spark_agrees_with_the_reference_model(spark_backend: Backend, scenario: Scenario) -> None:
    agrees_with_the_reference_model(spark_backend, scenario)


@PROPERTY_SETTINGS
@given(scenario=scenarios())
def test_duckdb_keeps_the_counting_invariants(duck: Backend, scenario: Scenario) -> None:
    keeps_the_counting_invariants(duck, scenario)


@SPARK_PROPERTY_SETTINGS
@given(scenario=scenarios())
def test_spark_keeps_the_counting_invariants(spark_backend: Backend, scenario: Scenario) -> None:
    keeps_the_counting_invariants(spark_backend, scenario)


@settings(max_examples=150, deadline=None)
@given(edges=edge_lists(), data=st.data())
def test_bucket_lookup_property(edges: list[int], data: st.DataObject) -> None:
    lookup = engine.BucketLookup.from_edges(edges)
    points = data.draw(st.lists(st.integers(edges[0], edges[-1] - 1), max_size=20))
    for point in [*points, *probes(edges)]:
        assert lookup.bucket_of(point) == oracle(edges, point)


# ------------------------------------------------------------------ user key collisions


def test_colliding_user_keys_are_detected_and_recomputed(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Were two user ids to hash alike, the windows would merge them; the
    query counts such collisions and the report is computed again by text."""
    events = [
        ev(T0, T0 + 30 * M, user="a"),
        ev(T0 + 10 * M, T0 + 50 * M, user="b"),
        ev(T0 + 20 * M, user="b"),
    ]
    expected = {(0, "a"): (1, 30 * M), (0, "b"): (2, 40 * M)}
    load(con, events)
    filters = Filters(ALL)
    merged, collisions = engine._compute(con, VIEW, HOUR, filters, M, "0")  # every id alike
    assert collisions == 1
    assert {(c.bucket, c.user_id): (c.count, c.duration_us) for c in merged} != expected
    monkeypatch.setattr(engine, "USER_KEY", "0")
    assert compute(DuckDBBackend(con), events, HOUR) == expected


@pytest.mark.parametrize("named", [False, True])
def test_colliding_user_keys_in_the_heartbeat_plan(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch, named: bool
) -> None:
    """The heartbeat plan counts collisions too, and its fallback by text is exact."""
    events = [
        ev(T0, user="a"),
        ev(T0 + 30 * S, user="b"),
        ev(T0 + 2 * M, user="a"),
        ev(T0 + 2 * M + 30 * S, user="b"),
    ]
    expected = {(0, "a"): (2, 2 * M), (0, "b"): (2, 2 * M)}
    load(con, events)
    filters = Filters(ALL)
    names = ["a", "b"] if named else None
    merged, collisions = engine._compute(con, VIEW, HOUR, filters, M, "0", engine.HEARTBEATS, names)
    assert collisions == 1
    assert {(c.bucket, c.user_id): (c.count, c.duration_us) for c in merged} != expected
    monkeypatch.setattr(engine, "USER_KEY", "0")
    forced = DuckDBBackend(con, heartbeats_only=True, user_ids=names)
    assert compute(forced, events, HOUR) == expected


# ------------------------------------------------------------------ plan choice


def plans_taken(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records the plan of every query :func:`engine.compute` runs."""
    taken: list[str] = []
    real = engine._compute

    def spy(*args: object, **kwargs: object) -> tuple[list[Cell], int]:
        taken.append(str(args[6]))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "_compute", spy)
    return taken


@pytest.mark.parametrize(
    ("events", "categories", "plan"),
    [
        ([ev(T0), ev(T0 + 30 * S)], ALL, engine.HEARTBEATS),
        ([ev(T0), ev(T0 + M, T0 + 2 * M)], ALL, engine.HEARTBEATS),  # ends a heartbeat on
        ([ev(T0), ev(T0 + M, T0 + 3 * M)], ALL, engine.GENERAL),
        ([ev(T0), ev(T0 + M, T0 + M)], ALL, engine.GENERAL),  # zero-length
        ([ev(T0), ev(T0 + M, T0 + 3 * M, cat="app")], ["ide"], engine.HEARTBEATS),
    ],
)
def test_the_engine_asks_the_data_for_its_plan(
    con: duckdb.DuckDBPyConnection,
    monkeypatch: pytest.MonkeyPatch,
    events: list[Event],
    categories: Sequence[str],
    plan: str,
) -> None:
    taken = plans_taken(monkeypatch)
    result = compute(DuckDBBackend(con), events, HOUR, categories=categories)
    assert taken == [plan]
    assert result == reference.compute(events, HOUR, RefFilters(categories), M)


def test_a_forced_plan_is_taken(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = plans_taken(monkeypatch)
    compute(DuckDBBackend(con, heartbeats_only=False), [ev(T0)], HOUR)
    compute(DuckDBBackend(con, heartbeats_only=True), [ev(T0)], HOUR)
    assert taken == [engine.GENERAL, engine.HEARTBEATS]
