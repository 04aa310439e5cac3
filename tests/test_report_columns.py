"""Reports built and written from columns say what one object per cell said.

:func:`build_report` sorts and sums cells as arrays and :func:`to_json`
writes the buckets from their columns. :func:`reference_json` is the way a
report was built before, kept here as the rule: one tuple per cell, sorted
by Python, written by ``json.dumps``. Random cells, and the cells the
store's rollups give for random stores, must come out byte for byte as it
writes them.
"""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activity_report import engine
from activity_report.backends.protocol import Cell, CellTable, Counted, Filters
from activity_report.model import (
    Bucket,
    Buckets,
    CellColumns,
    Report,
    UserActivity,
    UserInfo,
    build_report,
    rfc3339,
    to_api,
    to_json,
    to_json_bytes,
)
from activity_report.sources import CATEGORIES
from activity_report.store import Store
from activity_report.store.rollups import HEARTBEAT_US, SLOT_US

from .test_rollups import BASE, csv_rows, ingest, rows_strategy, write

Row = tuple[int, str, int, int]


def reference_buckets(edges: Sequence[datetime], cells: Sequence[Row]) -> list[Bucket]:
    """The buckets, one object per cell, each bucket's users sorted by Python."""
    per_bucket: list[list[UserActivity]] = [[] for _ in edges[:-1]]
    for bucket, user, count, micros in cells:
        if count > 0 or micros > 0:
            per_bucket[bucket].append(UserActivity(user, micros * 1000, count))
    return [
        Bucket(
            start,
            (end.astimezone(UTC) - start.astimezone(UTC)) // timedelta(microseconds=1) * 1000,
            tuple(sorted(users, key=lambda u: (-u.duration, -u.count, u.user_id))),
        )
        for start, end, users in zip(edges, edges[1:], per_bucket, strict=False)
    ]


def reference_json(
    edges: Sequence[datetime], cells: Sequence[Row], directory: Mapping[str, UserInfo]
) -> str:
    """The report's JSON as it was written before the columns: ``json.dumps`` of dicts."""
    buckets = reference_buckets(edges, cells)
    totals: dict[str, list[int]] = {}
    for bucket in buckets:
        for u in bucket.user_activity:
            total = totals.setdefault(u.user_id, [0, 0])
            total[0] += u.count
            total[1] += u.duration
    ranked = sorted(totals.items(), key=lambda item: (-item[1][1], -item[1][0], item[0]))
    value = {
        "activity": [
            {
                "time": rfc3339(b.time),
                "duration": b.duration,
                "user_activity": [
                    {"user_id": u.user_id, "duration": u.duration, "count": u.count}
                    for u in b.user_activity
                ],
            }
            for b in buckets
        ],
        "users": {
            uid: {
                "id": uid,
                "name": directory[uid].name if uid in directory else None,
                "username": directory[uid].username if uid in directory else None,
                "roles": list(directory[uid].roles) if uid in directory else [],
                "avatar_hash": directory[uid].avatar_hash if uid in directory else None,
                "total_count": count,
                "total_duration": duration,
            }
            for uid, (count, duration) in ranked
        },
    }
    return json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


# Few values, so that ties on duration and count are common; the largest is
# more microseconds than an int64 holds as nanoseconds.
MICROS = st.sampled_from([0, 1, 7, 60_000_000, 60_000_000, 3_600_000_000, 9_300_000_000_000_000])


@st.composite
def reports(draw: st.DrawFn) -> tuple[list[datetime], list[Row], dict[str, UserInfo]]:
    zone = draw(st.sampled_from([UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("Asia/Kathmandu")]))
    start = datetime(2024, 3, 30, tzinfo=zone)
    steps = draw(st.lists(st.integers(1, 30 * 3600), min_size=1, max_size=6))
    edges = [start]
    for seconds in steps:
        edges.append(edges[-1] + timedelta(seconds=seconds, microseconds=draw(st.integers(0, 1))))
    users = draw(st.lists(st.text(min_size=1, max_size=4), min_size=1, max_size=6, unique=True))
    cells = draw(
        st.lists(
            st.tuples(
                st.integers(0, len(edges) - 2),
                st.sampled_from(users),
                st.integers(0, 3),
                MICROS,
            ),
            max_size=40,
        )
    )
    named = draw(st.lists(st.sampled_from(users), unique=True))
    directory = {
        uid: UserInfo(uid, f"Name {uid}", uid[:2], ("member",), "ab" if i % 2 else None)
        for i, uid in enumerate(named)
    }
    return edges, cells, directory


@settings(max_examples=300, deadline=None)
@given(reports())
def test_reports_from_columns_are_written_as_from_one_object_per_cell(
    case: tuple[list[datetime], list[Row], dict[str, UserInfo]],
) -> None:
    edges, cells, directory = case
    expected = reference_json(edges, cells, directory)
    report = build_report(edges, cells, directory)
    assert isinstance(report.activity, Buckets)
    assert to_json(report) == expected
    try:  # what a server sends: the same text in UTF-8, which a lone surrogate has not
        encoded = expected.encode()
    except UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            to_json_bytes(report)
    else:
        assert to_json_bytes(report) == encoded
    # The same cells as columns, and the buckets read as objects, say the same.
    columns = CellColumns.of(cells)
    assert to_json(build_report(edges, columns, directory)) == expected
    assert list(report.activity) == reference_buckets(edges, cells)
    as_objects = Report(tuple(report.activity), report.users)
    assert to_api(as_objects) == to_api(report) == json.loads(expected)


def test_a_cell_outside_the_buckets_is_refused() -> None:
    edges = [datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC)]
    with pytest.raises(IndexError, match="not one of the 1 buckets"):
        build_report(edges, [(1, "u", 1, 1)], {})


def test_cells_given_as_rows_or_columns_are_the_same_columns() -> None:
    rows = [Cell(0, "b", 2, 5), Cell(1, "a", 0, 7)]
    columns = Counted(rows).columns()
    assert columns.bucket.tolist() == [0, 1]
    assert list(columns.user_id) == ["b", "a"]
    assert columns.count.tolist() == [2, 0]
    assert columns.duration_us.tolist() == [5, 7]
    table = CellTable(columns)
    assert Counted(table, "rollups").columns() is columns
    assert list(table) == rows
    assert table[1:] == rows[1:]
    assert len(Counted([]).columns()) == 0


# ------------------------------------------------------------------ random stores


def micros(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


@pytest.mark.slow  # stores ingested per example
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(rows=rows_strategy, seed=st.integers(0, 2**32))
def test_the_rollups_columns_report_as_the_events_rows(
    rows: list[tuple[Any, ...]], seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store's columns (whole slots, and ranges that cut slots) and the events' rows."""
    monkeypatch.delenv("ACTIVITY_REPORT_DB", raising=False)
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        db = tmp / "s.duckdb"
        ingest(db, write(tmp / "log.csv", [r for _, r in csv_rows(rows)]))
        with Store.open(db, read_only=True) as store:
            view = store.events_view()
            for _ in range(4):
                unit = rng.choice([SLOT_US, 4 * SLOT_US, 24 * 4 * SLOT_US])
                first = micros(BASE) + rng.randrange(-4, 12) * SLOT_US
                if rng.random() < 0.5:  # off the slot edges: cut slots from the events
                    first += rng.randrange(1, SLOT_US)
                edges_us = [first + k * unit for k in range(rng.randint(2, 7))]
                categories = rng.choice([list(CATEGORIES), ["ide"], ["login"]])
                orgs = rng.choice([None, ["o1"], ["o2"]])
                filters = Filters(categories, orgs)
                columns = store.rollup_cells(edges_us, filters, HEARTBEAT_US)
                assert columns is not None
                cells = engine.compute(store.con, view, edges_us, filters, HEARTBEAT_US)
                edges = [
                    datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=e) for e in edges_us
                ]
                rows_of_events = [(c.bucket, c.user_id, c.count, c.duration_us) for c in cells]
                expected = reference_json(edges, rows_of_events, {})
                assert to_json(build_report(edges, columns, {})) == expected
                assert np.asarray(columns.count).dtype == np.int64
