"""The same cases on every backend: DuckDB over files, the store, and Spark.

Each case is event files and the totals a person computes by hand; each
backend must give them. A rule a backend writes its own way (repeated rows,
coverage, heartbeats) is checked here once for all of them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from activity_report import reporting
from activity_report.backends.duckdb import open_files, open_store
from activity_report.backends.protocol import EventSource
from activity_report.intervals import parse_interval
from activity_report.query import Query
from activity_report.store import Store
from tests.conftest import write_csv

if TYPE_CHECKING:
    pass

Opener = Callable[[Sequence[Path]], contextlib.AbstractContextManager[EventSource]]
HEADER = ("id", "time", "user_id", "category", "end_time")
DAY = Query(
    interval=parse_interval("1 day"),
    start=datetime(2024, 1, 1, tzinfo=UTC),
    end=datetime(2024, 1, 2, tzinfo=UTC),
)


def from_files(tmp_path: Path) -> Opener:
    return lambda paths: open_files([str(p) for p in paths])


def from_store(tmp_path: Path) -> Opener:
    @contextlib.contextmanager
    def opened(paths: Sequence[Path]) -> Iterator[EventSource]:
        db = tmp_path / "store.duckdb"
        with Store.open(db) as store:
            store.ingest([str(p) for p in paths])
        with open_store(db) as source:
            yield source

    return opened


def from_spark(tmp_path: Path) -> Opener:
    from activity_report.backends import spark

    return lambda paths: contextlib.nullcontext(
        spark.open_source([str(p) for p in paths], heartbeat_us=DAY.heartbeat_us)
    )


@pytest.fixture(params=["files", "store", "spark"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    if request.param == "spark":
        request.getfixturevalue("spark")  # the session-wide local Spark, started once
        return from_spark(tmp_path)
    return from_files(tmp_path) if request.param == "files" else from_store(tmp_path)


def totals(backend: Opener, paths: Sequence[Path]) -> dict[str, tuple[int, float]]:
    """Per user: events counted and active seconds, over 2024-01-01."""
    with backend(paths) as source:
        report = reporting.run(DAY, source).report
    return {u.user.id: (u.total_count, u.total_duration / 1e9) for u in report.users}


def test_heartbeats_cover_a_minute_and_overlaps_count_once(backend: Opener, tmp_path: Path) -> None:
    events = write_csv(
        tmp_path / "a.csv",
        HEADER,
        [
            ("", "2024-01-01T10:00:00Z", "ann", "ide", ""),
            ("", "2024-01-01T10:00:30Z", "ann", "ide", ""),  # 30 s more, not 60
            ("", "2024-01-01T10:05:00Z", "bob", "login", ""),
        ],
    )
    assert totals(backend, [events]) == {"ann": (2, 90.0), "bob": (1, 60.0)}


def test_a_session_covers_its_span(backend: Opener, tmp_path: Path) -> None:
    events = write_csv(
        tmp_path / "a.csv",
        HEADER,
        [
            ("", "2024-01-01T09:00:00Z", "ann", "app", "2024-01-01T11:00:00Z"),
            ("", "2024-01-01T10:00:00Z", "ann", "ide", ""),  # inside the session
            ("", "2024-01-01T23:59:30Z", "bob", "web_terminal", ""),  # clipped at midnight
        ],
    )
    assert totals(backend, [events]) == {"ann": (2, 7200.0), "bob": (1, 30.0)}


def test_repeated_rows_count_by_one_rule(backend: Opener, tmp_path: Path) -> None:
    first = write_csv(
        tmp_path / "a.csv",
        HEADER,
        [
            ("e1", "2024-01-01T10:00:00Z", "ann", "ide", ""),
            ("", "2024-01-01T12:00:00Z", "bob", "ide", ""),
            ("", "2024-01-01T12:00:00Z", "bob", "ide", ""),  # a copy in the same file: twice
            ("", "2024-01-01T15:00:00Z", "cy", "ide", ""),
        ],
    )
    second = write_csv(
        tmp_path / "b.csv",
        HEADER,
        [
            ("e1", "2024-01-01T10:00:00Z", "ann", "ide", ""),  # the same id: one event
            ("", "2024-01-01T15:00:00Z", "cy", "ide", ""),  # in both files once: once
        ],
    )
    assert totals(backend, [first, second]) == {
        "ann": (1, 60.0),
        "bob": (2, 60.0),
        "cy": (1, 60.0),
    }


def test_a_repeated_id_is_its_first_files_first_row(backend: Opener, tmp_path: Path) -> None:
    """The row an id keeps decides whose event it is, even when the copies disagree."""
    first = write_csv(
        tmp_path / "a.csv",
        HEADER,
        [
            ("e1", "2024-01-01T10:00:00Z", "ann", "ide", ""),
            ("e1", "2024-01-01T11:00:00Z", "bob", "ide", ""),  # later in the file: dropped
            ("e2", "2024-01-01T12:00:00Z", "cy", "ide", ""),
        ],
    )
    second = write_csv(
        tmp_path / "b.csv",
        HEADER,
        [
            ("e2", "2024-01-01T13:00:00Z", "dan", "ide", ""),  # a later file: dropped
            ("e3", "2024-01-01T14:00:00Z", "dan", "ide", ""),
        ],
    )
    assert totals(backend, [first, second]) == {
        "ann": (1, 60.0),
        "cy": (1, 60.0),
        "dan": (1, 60.0),
    }


def test_copies_count_as_often_as_the_file_that_holds_most(backend: Opener, tmp_path: Path) -> None:
    """Id-less copies: two in one file and three in another are three events."""
    row = ("", "2024-01-01T10:00:00Z", "ann", "ide", "")
    other = ("", "2024-01-01T10:00:00Z", "ann", "ide", "2024-01-01T10:10:00Z")  # not a copy
    first = write_csv(tmp_path / "a.csv", HEADER, [row, row, other])
    second = write_csv(tmp_path / "b.csv", HEADER, [row, row, row])
    third = write_csv(tmp_path / "c.csv", HEADER, [row])
    assert totals(backend, [first, second, third]) == {"ann": (4, 600.0)}
