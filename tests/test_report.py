"""report.run end to end through files: range, buckets, zones, users."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from activity_report import reporting as core
from activity_report.backends.duckdb import FileSource
from activity_report.errors import DataError, flag_name
from activity_report.intervals import parse_interval
from activity_report.model import to_api, to_json
from activity_report.query import Query, Zone
from activity_report.reporting import ReportResult, connect
from activity_report.sources import expand_paths, load_events
from activity_report.times import parse_instant, parse_tz
from tests.conftest import SAMPLE, write_csv

NS = 1_000_000_000
MIN = 60 * NS
HOUR = 3600 * NS
DAY = 24 * HOUR
WEEK = 7 * DAY
NOW = datetime(2024, 12, 1, tzinfo=UTC)

JOE = "6004ad77-a7a69a24d779dd9f44357014"
ALICE = "5f905429-ba6e4ac480eb4c0ead160b47"
BOB = "627935e2-838713a0437b43f006b26244"

HEADER = ("time", "user_id", "category", "end_time", "organization_id")


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect()
    yield connection
    connection.close()


@dataclass(frozen=True)
class Request:
    """A query and the files it runs over."""

    query: Query
    events: Sequence[str]
    users_file: str | None = None


def request(
    events: Sequence[Path | str],
    *,
    interval: str = "1 week",
    tz: str = "UTC",
    start: str | None = None,
    end: str | None = None,
    users_file: str | None = None,
    **options: Any,
) -> Request:
    """A query built the way the CLI builds one, and its event files."""
    zone = parse_tz(tz)
    query = Query(
        interval=parse_interval(interval),
        zone=Zone(tz, zone),
        start=parse_instant(start, tz=zone, now=NOW, param="start") if start else None,
        end=parse_instant(end, tz=zone, now=NOW, param="end") if end else None,
        **options,
    )
    return Request(query, [str(e) for e in events], users_file)


def run(req: Request, con: duckdb.DuckDBPyConnection) -> ReportResult:
    """The report over the request's files, loaded on ``con``."""
    loaded = load_events(con, expand_paths(req.events))
    every_column = any(file.fmt == "csv" for file in loaded.files)
    source = FileSource(
        con,
        loaded.view,
        every_column=every_column,
        users_file=req.users_file,
        has_coverage=loaded.has_coverage,
    )
    return core.run(req.query, source)


def report(con: duckdb.DuckDBPyConnection, req: Request) -> dict[str, Any]:
    """The report's JSON, parsed back (so the whole path to text is exercised)."""
    parsed: dict[str, Any] = json.loads(to_json(run(req, con).report))
    return parsed


def events_file(tmp_path: Path, rows: Sequence[Sequence[Any]], name: str = "e.csv") -> Path:
    """Rows of (time, user_id, category[, end_time[, organization_id]])."""
    padded = [[*row, *[None] * (len(HEADER) - len(row))] for row in rows]
    return write_csv(tmp_path / name, HEADER, padded)


def buckets(api: dict[str, Any]) -> list[tuple[str, int]]:
    return [(b["time"], b["duration"]) for b in api["activity"]]


def activity(api: dict[str, Any]) -> list[list[tuple[str, int, int]]]:
    """Per bucket: (user_id, duration ns, count) in the report's order."""
    return [
        [(u["user_id"], u["duration"], u["count"]) for u in b["user_activity"]]
        for b in api["activity"]
    ]


# ------------------------------------------------------------------ the seed


@pytest.mark.parametrize("name", ["events.parquet", "events.csv"])
def test_seed_query(con: duckdb.DuckDBPyConnection, name: str) -> None:
    req = request(
        [SAMPLE / name],
        users_file=str(SAMPLE / "users.csv"),
        start="2022-08-01",
        end="2022-08-31",
        category="ide",
    )
    api = report(con, req)
    assert buckets(api) == [
        ("2022-08-01T00:00:00Z", WEEK),
        ("2022-08-08T00:00:00Z", WEEK),
        ("2022-08-15T00:00:00Z", WEEK),
        ("2022-08-22T00:00:00Z", WEEK),
        ("2022-08-29T00:00:00Z", 172800000000000),
    ]
    assert activity(api)[0] == [
        (JOE, 72000000000000, 1200),
        (ALICE, 30780000000000, 513),
        (BOB, 2760000000000, 46),
    ]
    joe = api["users"][JOE]
    assert joe == {
        "id": JOE,
        "name": "Joe",
        "username": "joe2",
        "roles": ["site-member", "site-manager"],
        "avatar_hash": "671b4b1db753a55396036354ff526c8df02e0a53bb4ce4990010a96ab8782ffd",
        "total_count": sum(
            u["count"] for b in api["activity"] for u in b["user_activity"] if u["user_id"] == JOE
        ),
        "total_duration": sum(
            u["duration"]
            for b in api["activity"]
            for u in b["user_activity"]
            if u["user_id"] == JOE
        ),
    }
    assert list(api["users"])[0] == JOE
    for bucket in api["activity"]:
        for user in bucket["user_activity"]:
            assert 0 < user["duration"] <= bucket["duration"]


# ------------------------------------------------------------------ DST days


def test_berlin_spring_forward_day_lasts_23_hours(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = events_file(
        tmp_path,
        [
            # the whole local day of Mar 31 as one session: 23 hours
            ("2024-03-30T23:00:00Z", "whole", "ide", "2024-03-31T22:00:00Z"),
            ("2024-03-30T22:59:00Z", "edge", "ide"),  # 23:59+01:00 Mar 30
            ("2024-03-30T23:00:00Z", "edge", "ide"),  # 00:00+01:00 Mar 31
            ("2024-03-31T01:30:00Z", "edge", "ide"),  # 03:30+02:00, just after the gap
            ("2024-03-31T21:59:00Z", "edge", "ide"),  # 23:59+02:00 Mar 31
            ("2024-03-31T22:00:00Z", "edge", "ide"),  # 00:00+02:00 Apr 1
        ],
    )
    api = report(
        con,
        request([path], interval="1 day", tz="Europe/Berlin", start="2024-03-30", end="2024-04-02"),
    )
    assert buckets(api) == [
        ("2024-03-30T00:00:00+01:00", DAY),
        ("2024-03-31T00:00:00+01:00", 23 * HOUR),
        ("2024-04-01T00:00:00+02:00", DAY),
    ]
    assert activity(api) == [
        [("edge", MIN, 1)],
        [("whole", 23 * HOUR, 1), ("edge", 3 * MIN, 3)],
        [("edge", MIN, 1)],
    ]


def test_berlin_fall_back_day_lasts_25_hours(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = events_file(
        tmp_path,
        [
            ("2024-10-26T22:00:00Z", "whole", "ide", "2024-10-27T23:00:00Z"),
            ("2024-10-27T00:30:00Z", "twice", "ide"),  # 02:30+02:00
            ("2024-10-27T01:30:00Z", "twice", "ide"),  # 02:30+01:00, the repeated hour
            ("2024-10-27T22:59:00Z", "twice", "ide"),  # 23:59+01:00 Oct 27
            ("2024-10-27T23:00:00Z", "twice", "ide"),  # 00:00+01:00 Oct 28
        ],
    )
    api = report(
        con,
        request([path], interval="daily", tz="Europe/Berlin", start="2024-10-27", end="2024-10-29"),
    )
    assert buckets(api) == [
        ("2024-10-27T00:00:00+02:00", 25 * HOUR),
        ("2024-10-28T00:00:00+01:00", DAY),
    ]
    assert activity(api) == [
        [("whole", 25 * HOUR, 1), ("twice", 3 * MIN, 3)],
        [("twice", MIN, 1)],
    ]


def test_new_york_dst_days(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = events_file(
        tmp_path,
        [
            ("2024-03-10T06:59:00Z", "u", "ide"),  # 01:59-05:00, just before the gap
            ("2024-03-10T07:00:00Z", "u", "ide"),  # 03:00-04:00, just after
            ("2024-03-11T03:30:00Z", "u", "ide"),  # 23:30-04:00 Mar 10
            ("2024-03-11T04:30:00Z", "u", "ide"),  # 00:30-04:00 Mar 11
            ("2024-11-03T05:30:00Z", "u", "ide"),  # 01:30-04:00 Nov 3
            ("2024-11-03T06:30:00Z", "u", "ide"),  # 01:30-05:00 Nov 3, repeated
            ("2024-11-04T04:30:00Z", "u", "ide"),  # 23:30-05:00 Nov 3
            ("2024-11-04T05:00:00Z", "u", "ide"),  # 00:00-05:00 Nov 4
        ],
    )
    spring = report(
        con,
        request([path], interval="1d", tz="America/New_York", start="2024-03-10", end="2024-03-12"),
    )
    assert buckets(spring) == [
        ("2024-03-10T00:00:00-05:00", 23 * HOUR),
        ("2024-03-11T00:00:00-04:00", DAY),
    ]
    assert activity(spring) == [[("u", 3 * MIN, 3)], [("u", MIN, 1)]]
    fall = report(
        con,
        request(
            [path], interval="P1D", tz="America/New_York", start="2024-11-03", end="2024-11-05"
        ),
    )
    assert buckets(fall) == [
        ("2024-11-03T00:00:00-04:00", 25 * HOUR),
        ("2024-11-04T00:00:00-05:00", DAY),
    ]
    assert activity(fall) == [[("u", 3 * MIN, 3)], [("u", MIN, 1)]]


# ------------------------------------------------------------------ odd offsets


def test_kolkata_days(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = events_file(
        tmp_path,
        [
            ("2023-12-31T18:29:30Z", "u", "ide"),  # 23:59:30 Dec 31: before the range
            ("2023-12-31T18:30:00Z", "u", "ide"),  # 00:00 Jan 1
            ("2024-01-01T18:29:59Z", "u", "ide"),  # 23:59:59 Jan 1, runs into Jan 2
            ("2024-01-01T20:00:00+05:30", "u", "ide"),  # an offset in the data itself
        ],
    )
    api = report(
        con,
        request([path], interval="1 day", tz="Asia/Kolkata", start="2024-01-01", end="2024-01-03"),
    )
    assert buckets(api) == [
        ("2024-01-01T00:00:00+05:30", DAY),
        ("2024-01-02T00:00:00+05:30", DAY),
    ]
    # Jan 1: 00:00 for a minute (the 30 s left over from Dec 31 lie inside it), 20:00
    # for a minute, and one second of 23:59:59; Jan 2: the other 59 seconds.
    assert activity(api) == [[("u", (60 + 60 + 1) * NS, 3)], [("u", 59 * NS, 0)]]


def test_st_johns_weeks_across_dst(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = events_file(
        tmp_path,
        [
            ("2024-03-04T03:30:00Z", "u", "ide"),  # 00:00-03:30 Mon Mar 4
            ("2024-03-11T02:29:00Z", "u", "ide"),  # 23:59-02:30 Sun Mar 10
            ("2024-03-11T02:30:00Z", "u", "ide"),  # 00:00-02:30 Mon Mar 11
        ],
    )
    api = report(
        con,
        request(
            [path], interval="1 week", tz="America/St_Johns", start="2024-03-04", end="2024-03-18"
        ),
    )
    assert buckets(api) == [
        ("2024-03-04T00:00:00-03:30", WEEK - HOUR),
        ("2024-03-11T00:00:00-02:30", WEEK),
    ]
    assert activity(api) == [[("u", 2 * MIN, 2)], [("u", MIN, 1)]]
    winter = report(
        con,
        request(
            [path], interval="daily", tz="America/St_Johns", start="2024-03-04", end="2024-03-05"
        ),
    )
    assert buckets(winter) == [("2024-03-04T00:00:00-03:30", DAY)]
    assert activity(winter) == [[("u", MIN, 1)]]


@pytest.mark.parametrize("interval", ["1 week", "daily"])
def test_fixed_offset_0545(con: duckdb.DuckDBPyConnection, tmp_path: Path, interval: str) -> None:
    path = events_file(
        tmp_path,
        [
            ("2023-12-31T18:15:00Z", "u", "ide"),  # 00:00+05:45 Mon Jan 1
            ("2024-01-07T18:14:00Z", "u", "ide"),  # 23:59+05:45 Sun Jan 7
            ("2024-01-07T18:15:00Z", "u", "ide"),  # 00:00+05:45 Mon Jan 8
        ],
    )
    api = report(
        con, request([path], interval=interval, tz="+05:45", start="2024-01-01", end="2024-01-15")
    )
    if interval == "1 week":
        assert buckets(api) == [
            ("2024-01-01T00:00:00+05:45", WEEK),
            ("2024-01-08T00:00:00+05:45", WEEK),
        ]
        assert activity(api) == [[("u", 2 * MIN, 2)], [("u", MIN, 1)]]
    else:
        assert len(api["activity"]) == 14
        assert api["activity"][6]["time"] == "2024-01-07T00:00:00+05:45"
        assert [len(b["user_activity"]) for b in api["activity"]] == [1, 0, 0, 0, 0, 0, 1, 1] + [
            0
        ] * 6
        assert activity(api)[6] == [("u", MIN, 1)]
        assert activity(api)[7] == [("u", MIN, 1)]


# ------------------------------------------------------------------ calendar anchoring


def test_monthly_buckets_anchored_at_jan_31(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = events_file(
        tmp_path,
        [
            ("2024-02-28T23:59:00Z", "u", "ide"),  # bucket 0 (Jan 31 - Feb 29)
            ("2024-02-29T00:00:00Z", "u", "ide"),  # bucket 1 starts
            ("2024-03-30T23:59:00Z", "u", "ide"),  # still bucket 1
            ("2024-03-31T00:00:00Z", "u", "ide"),  # bucket 2
            ("2024-04-30T00:00:00Z", "u", "ide"),  # bucket 3, the short one
        ],
    )
    api = report(con, request([path], interval="1 month", start="2024-01-31", end="2024-05-15"))
    assert buckets(api) == [
        ("2024-01-31T00:00:00Z", 29 * DAY),
        ("2024-02-29T00:00:00Z", 31 * DAY),
        ("2024-03-31T00:00:00Z", 30 * DAY),
        ("2024-04-30T00:00:00Z", 15 * DAY),
    ]
    assert [[c for _, _, c in b] for b in activity(api)] == [[1], [2], [1], [1]]


def test_partial_last_bucket_and_activity_crossing_the_range(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = events_file(
        tmp_path,
        [
            ("2024-01-01T10:00:00Z", "u", "app", "2024-01-03T02:00:00Z"),
            ("2024-01-03T01:00:00Z", "u", "app", "2024-01-03T01:00:00Z"),  # zero length
            ("2024-01-03T02:00:00Z", "v", "app"),  # at the range end: excluded
        ],
    )
    api = report(
        con,
        request([path], interval="1 day", start="2024-01-01T12:00:00", end="2024-01-03T01:30:00"),
    )
    assert buckets(api) == [
        ("2024-01-01T12:00:00Z", DAY),
        ("2024-01-02T12:00:00Z", 13 * HOUR + 30 * MIN),
    ]
    assert activity(api) == [[("u", DAY, 0)], [("u", 13 * HOUR + 30 * MIN, 1)]]


# ------------------------------------------------------------------ default range


@pytest.mark.parametrize(
    ("interval", "tz", "first", "count", "last_duration"),
    [
        ("1 week", "UTC", "2024-01-01T00:00:00Z", 3, WEEK),  # Wed Jan 3 -> Mon Jan 1
        ("1 day", "UTC", "2024-01-03T00:00:00Z", 15, DAY),
        ("1 hour", "UTC", "2024-01-03T10:00:00Z", 335, HOUR),
        ("30 min", "UTC", "2024-01-03T10:20:00Z", 668, 30 * MIN),  # floored to the minute
        ("1 month", "UTC", "2024-01-01T00:00:00Z", 1, 31 * DAY),
        ("quarterly", "UTC", "2024-01-01T00:00:00Z", 1, 91 * DAY),
        ("1 year", "UTC", "2024-01-01T00:00:00Z", 1, 366 * DAY),
        ("1 day", "Asia/Kolkata", "2024-01-03T00:00:00+05:30", 15, DAY),
        ("1 week", "America/St_Johns", "2024-01-01T00:00:00-03:30", 3, WEEK),
    ],
)
def test_default_range_from_the_data(
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    interval: str,
    tz: str,
    first: str,
    count: int,
    last_duration: int,
) -> None:
    path = events_file(
        tmp_path,
        [
            ("2024-01-03T10:20:00Z", "u", "ide"),  # a Wednesday
            ("2024-01-17T08:00:00Z", "u", "ide", "2024-01-17T08:20:00Z"),
            ("2024-02-20T00:00:00Z", "u", "login"),  # filtered out below
        ],
    )
    api = report(
        con,
        request([path], interval=interval, tz=tz, category="ide"),
    )
    assert api["activity"][0]["time"] == first
    assert len(api["activity"]) == count
    assert api["activity"][-1]["duration"] == last_duration
    assert api["users"]["u"]["total_count"] == 2
    assert api["users"]["u"]["total_duration"] == 21 * MIN


def test_default_end_only(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = events_file(tmp_path, [("2024-01-03T10:20:00Z", "u", "ide")])
    api = report(con, request([path], interval="1 day", start="2024-01-02"))
    assert buckets(api) == [("2024-01-02T00:00:00Z", DAY), ("2024-01-03T00:00:00Z", DAY)]


def test_default_start_only(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = events_file(tmp_path, [("2024-01-03T10:20:00Z", "u", "ide")])
    api = report(con, request([path], interval="1 day", end="2024-01-05"))
    assert buckets(api) == [("2024-01-03T00:00:00Z", DAY), ("2024-01-04T00:00:00Z", DAY)]


def test_default_end_is_the_boundary_itself_when_activity_ends_on_it(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = events_file(tmp_path, [("2024-01-03T23:00:00Z", "u", "app", "2024-01-04T00:00:00Z")])
    api = report(con, request([path], interval="1 day"))
    assert buckets(api) == [("2024-01-03T00:00:00Z", DAY)]


def test_default_end_ignores_events_before_the_given_start(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = events_file(
        tmp_path,
        [
            ("2024-01-01T23:00:00Z", "u", "app", "2024-01-02T01:00:00Z"),  # reaches into Jan 2
            ("2024-01-01T10:00:00Z", "v", "ide"),
        ],
    )
    api = report(con, request([path], interval="1 day", start="2024-01-02"))
    assert buckets(api) == [("2024-01-02T00:00:00Z", DAY)]
    assert activity(api) == [[("u", HOUR, 0)]]


@pytest.mark.parametrize(
    "bounds", [{"start": "2024-02-01"}, {"end": "2023-12-01"}, {"end": "2024-01-03T10:20:00"}]
)
def test_given_bound_beyond_the_data_gives_an_empty_report(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, bounds: dict[str, str]
) -> None:
    # Not "--end must be after --start" about a bound the user never gave.
    path = events_file(tmp_path, [("2024-01-03T10:20:00Z", "u", "ide")])
    result = run(request([path], interval="1 day", **bounds), con)
    assert to_api(result.report) == {"activity": [], "users": {}}
    assert result.notes == ["no events match the filters; the report is empty"]


# ------------------------------------------------------------------ empty results


def test_no_matching_events_and_no_range(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = events_file(tmp_path, [("2024-01-03T10:20:00Z", "u", "login")])
    result = run(request([path], category="ide"), con)
    assert to_api(result.report) == {"activity": [], "users": {}}
    assert result.notes == ["no events match the filters; the report is empty"]


def test_no_activity_in_a_given_range(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = events_file(tmp_path, [("2024-01-03T10:20:00Z", "u", "ide")])
    result = run(request([path], interval="1 day", start="2024-02-01", end="2024-02-03"), con)
    assert to_api(result.report) == {
        "activity": [
            {"time": "2024-02-01T00:00:00Z", "duration": DAY, "user_activity": []},
            {"time": "2024-02-02T00:00:00Z", "duration": DAY, "user_activity": []},
        ],
        "users": {},
    }
    assert result.notes == ["no activity in the range for these filters"]


# ------------------------------------------------------------------ diagnostics


INVALID_ROWS = [
    ("2024-01-03T10:00:00Z", "u", "ide"),
    ("2024-01-03T10:05:00Z", "", "ide"),  # no user
    ("not a time", "u", "ide"),
    ("2024-01-03T10:10:00Z", "u", "ide", "2024-01-03T09:00:00Z"),  # ends before it starts
]


def test_strict_refuses_invalid_rows(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = events_file(tmp_path, INVALID_ROWS)
    with pytest.raises(DataError) as caught:
        run(request([path], interval="1 day", strict=True), con)
    assert str(caught.value).endswith("run without strict to skip and report them")
    message = caught.value.render(flag_name)  # as the command line says it
    assert message.startswith("3 invalid rows (")
    assert "1 missing user_id" in message
    assert "1 unparseable time" in message
    assert "1 end_time before time" in message
    assert message.endswith("fix them or run without --strict to skip and report them")
    assert "\n" not in message
    assert caught.value.exit_code == 1


def test_invalid_rows_are_counted_and_skipped(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = events_file(tmp_path, INVALID_ROWS)
    result = run(request([path], interval="1 day"), con)
    assert result.diagnostics.total_rows == 4
    assert result.diagnostics.invalid_rows == 3
    assert dict(result.diagnostics.invalid_reasons) == {
        "missing user_id": 1,
        "unparseable time": 1,
        "end_time before time": 1,
    }
    assert activity(to_api(result.report)) == [[("u", MIN, 1)]]


def test_unknown_categories_are_counted_not_reported(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = events_file(
        tmp_path,
        [
            ("2024-01-03T10:00:00Z", "u", "Web Terminal"),
            ("2024-01-03T10:10:00Z", "u", " web-terminal "),
            ("2024-01-03T10:20:00Z", "u", "deploy"),
            ("2024-01-03T10:30:00Z", "u", "deploy"),
            ("2024-01-03T10:40:00Z", "u", "build"),
        ],
    )
    result = run(request([path], interval="1 day"), con)
    assert result.diagnostics.unknown_rows == 3
    assert result.diagnostics.unknown_values == [("deploy", 2), ("build", 1)]
    assert result.diagnostics.invalid_rows == 0
    assert activity(to_api(result.report)) == [[("u", 2 * MIN, 2)]]


# ------------------------------------------------------------------ users


def test_user_directory(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = events_file(
        tmp_path,
        [
            ("2024-01-03T10:00:00Z", "id-1", "ide"),
            ("2024-01-03T10:00:00Z", "id-2", "ide", "2024-01-03T10:30:00Z"),
            ("2024-01-03T10:00:00Z", "stranger", "ide", "2024-01-03T10:10:00Z"),
        ],
    )
    users = write_csv(
        tmp_path / "users.csv",
        ("id", "name", "username", "roles", "avatar_hash", "email"),
        [
            ("id-1", "Jörg Ünal", "jorg", "owner; member", "", "  Jorg@Example.COM "),
            ("id-2", "Ann", "ann", '["a","b"]', "ff00", "ann@example.com"),
            ("id-3", "Nobody", "nobody", "", "", ""),
        ],
    )
    result = run(request([path], interval="1 day", users_file=str(users)), con)
    api = to_api(result.report)
    assert api["users"] == {
        "id-2": {
            "id": "id-2",
            "name": "Ann",
            "username": "ann",
            "roles": ["a", "b"],
            "avatar_hash": "ff00",
            "total_count": 1,
            "total_duration": 30 * MIN,
        },
        "stranger": {
            "id": "stranger",
            "name": None,
            "username": None,
            "roles": [],
            "avatar_hash": None,
            "total_count": 1,
            "total_duration": 10 * MIN,
        },
        "id-1": {
            "id": "id-1",
            "name": "Jörg Ünal",
            "username": "jorg",
            "roles": ["owner", "member"],
            "avatar_hash": hashlib.sha256(b"jorg@example.com").hexdigest(),
            "total_count": 1,
            "total_duration": MIN,
        },
    }
    assert list(api["users"]) == ["id-2", "stranger", "id-1"]
    assert '"name": "Jörg Ünal"' in to_json(result.report)


def test_user_filter_by_username_or_id(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = events_file(
        tmp_path,
        [
            ("2022-08-01T10:00:00Z", JOE, "ide"),
            ("2022-08-01T10:00:00Z", ALICE, "ide"),
            ("2022-08-01T10:00:00Z", BOB, "ide"),
        ],
    )
    users_file = str(SAMPLE / "users.csv")
    api = report(con, request([path], users_file=users_file, users=("joe2",)))
    assert list(api["users"]) == [JOE]
    api = report(con, request([path], users_file=users_file, users=("alice92", BOB)))
    assert list(api["users"]) == [ALICE, BOB]
    # Without a directory, a username is just an id that matches nobody.
    result = run(request([path], users=("joe2",)), con)
    assert to_api(result.report) == {"activity": [], "users": {}}


def test_org_filter(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = events_file(
        tmp_path,
        [
            ("2024-01-03T10:00:00Z", "a", "ide", None, "org-1"),
            ("2024-01-03T10:00:00Z", "b", "ide", None, "org-2"),
            ("2024-01-03T10:00:00Z", "c", "ide", None, None),
        ],
    )
    api = report(con, request([path], interval="1 day", orgs=("org-2",)))
    assert activity(api) == [[("b", MIN, 1)]]


# ------------------------------------------------------------------ ordering


def test_ordering_of_users_in_buckets_and_totals(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    day1, day2 = "2024-01-03T10:00:00Z", "2024-01-04T10:00:00Z"
    path = events_file(
        tmp_path,
        [
            # day 1: d longest; c, a, b tie on duration; c has more events; a < b by id
            (day1, "d", "app", "2024-01-03T10:20:00Z"),
            (day1, "b", "app", "2024-01-03T10:10:00Z"),
            (day1, "a", "app", "2024-01-03T10:10:00Z"),
            (day1, "c", "app", "2024-01-03T10:10:00Z"),
            (day1, "c", "app", "2024-01-03T10:05:00Z"),
            ("2024-01-03T11:00:00Z", "e", "login", "2024-01-03T11:00:00Z"),  # count, no time
            # day 2: b catches up with d in total duration, with more events
            (day2, "b", "app", "2024-01-04T10:10:00Z"),
            (day2, "b", "app", "2024-01-04T10:01:00Z"),
        ],
    )
    api = report(con, request([path], interval="1 day", start="2024-01-03", end="2024-01-05"))
    assert activity(api) == [
        [
            ("d", 20 * MIN, 1),
            ("c", 10 * MIN, 2),
            ("a", 10 * MIN, 1),
            ("b", 10 * MIN, 1),
            ("e", 0, 1),
        ],
        [("b", 10 * MIN, 2)],
    ]
    assert [(u["id"], u["total_duration"], u["total_count"]) for u in api["users"].values()] == [
        ("b", 20 * MIN, 3),
        ("d", 20 * MIN, 1),
        ("c", 10 * MIN, 2),
        ("a", 10 * MIN, 1),
        ("e", 0, 1),
    ]


def test_result_carries_meta(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = events_file(tmp_path, [("2024-01-03T10:00:00Z", "u", "ide")])
    result: ReportResult = run(
        request([path], interval="1 day", tz="+05:45", start="2024-01-03", end="2024-01-04"), con
    )
    meta = result.report.meta
    assert meta is not None
    assert (meta.interval, meta.category, meta.tz) == ("1 day", "any", "+05:45")
    assert meta.start.isoformat() == "2024-01-03T00:00:00+05:45"
    assert meta.end.isoformat() == "2024-01-04T00:00:00+05:45"


# ------------------------------------------------------------------ the engine's plan


def engine_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Records the keywords every engine.compute call gets, and the plan it takes."""
    from activity_report import engine

    calls: list[dict[str, Any]] = []
    real_compute, real_plan = engine.compute, engine._compute

    def compute(*args: Any, **kwargs: Any) -> Any:
        calls.append(dict(kwargs))
        return real_compute(*args, **kwargs)

    def plan(*args: Any, **kwargs: Any) -> Any:
        calls[-1]["plan"] = args[6]
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(engine, "compute", compute)
    monkeypatch.setattr(engine, "_compute", plan)
    return calls


def test_a_log_without_end_columns_takes_the_heartbeat_plan(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_csv(
        tmp_path / "hb.csv",
        ("time", "user_id", "category"),
        [
            ("2024-01-01T00:00:00Z", BOB, "ide"),
            ("2024-01-01T00:00:30Z", BOB, "ide"),
            ("2024-01-01T00:05:00Z", ALICE, "tunnel"),
            ("2024-01-01T00:06:00Z", "", "ide"),  # invalid: its user is no name
        ],
    )
    calls = engine_calls(monkeypatch)
    api = report(con, request([path], interval="1 day", start="2024-01-01", end="2024-01-02"))
    assert calls == [
        {
            "heartbeats_only": True,
            "user_ids": tuple(sorted((ALICE, BOB))),
            "checked": False,  # the invalid row must still be filtered out
            "plan": "heartbeats",
        }
    ]
    assert activity(api) == [[(BOB, 90 * NS, 2), (ALICE, MIN, 1)]]


@pytest.mark.parametrize(
    ("category", "plan"), [("any", "general"), ("app", "general"), ("ide", "heartbeats")]
)
def test_explicit_coverage_in_the_filtered_categories_takes_the_general_plan(
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    category: str,
    plan: str,
) -> None:
    path = events_file(
        tmp_path,
        [
            ("2024-01-01T00:00:00Z", BOB, "ide"),
            ("2024-01-01T00:00:30Z", BOB, "ide"),
            ("2024-01-01T00:00:10Z", BOB, "app", "2024-01-01T00:10:00Z"),
        ],
    )
    calls = engine_calls(monkeypatch)
    api = report(
        con,
        request([path], interval="1 day", start="2024-01-01", end="2024-01-02", category=category),
    )
    assert [call["plan"] for call in calls] == [plan]
    expected = {"any": (10 * MIN, 3), "app": (590 * NS, 1), "ide": (90 * NS, 2)}[category]
    assert activity(api) == [[(BOB, *expected)]]
