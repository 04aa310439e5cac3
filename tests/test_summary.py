"""The check pass from grouped user ids and categories: the same answer as a pass over every row."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from activity_report import engine, sources
from activity_report.backends import duckdb as event_source
from activity_report.backends.protocol import Cell, Filters
from activity_report.reporting import connect
from activity_report.sources import diagnose, expand_paths, load_events

T0 = datetime(2022, 8, 1, 10, tzinfo=UTC)


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect()
    yield connection
    connection.close()


def parquet(path: Path, columns: dict[str, Any], time_type: pa.DataType | None = None) -> Path:
    n = len(next(iter(columns.values())))
    table = {
        "time": pa.array(columns.pop("time", [T0] * n), time_type or pa.timestamp("us", "UTC"))
    }
    table |= {name: pa.array(values, pa.string()) for name, values in columns.items()}
    pq.write_table(pa.table(table), path)
    return path


def both_passes(
    con: duckdb.DuckDBPyConnection, *paths: Path
) -> tuple[sources.LoadedEvents, bool, sources.Diagnostics, sources.Diagnostics]:
    """The load, whether its summary holds, and the check pass with and without it."""
    loaded = load_events(con, expand_paths([str(p) for p in paths]))
    holds = False
    if loaded.summary is not None:
        holds = con.execute(f"SELECT {loaded.summary.proof}").fetchall()[0][0] is True
    options: dict[str, Any] = {"every_column": False, "covered": loaded.has_coverage, "users": True}
    return loaded, holds, diagnose(con, summary=loaded.summary, **options), diagnose(con, **options)


MESSY = {
    "id": ["a", "b", "b", None, "c", "d", "e", "f", "g", "h"],
    "user_id": ["u1", " u1 ", "u2", "", "   ", None, "u3", "u3", "u4", "u\u3000"],
    "category": ["IDE", " web-terminal", "app", "ide", "ide", "ide", None, "  ", "deploy", "x y"],
    "organization_id": ["o"] * 10,
}


def test_the_summary_of_a_typed_parquet_log_gives_the_full_pass_answer(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """Blank, missing and padded user ids; categories missing, unknown, to normalise."""
    loaded, holds, summarised, full = both_passes(con, parquet(tmp_path / "m.parquet", dict(MESSY)))
    assert loaded.summary is not None and holds
    assert summarised == full
    assert (full.total_rows, full.invalid_rows, full.unknown_rows) == (10, 5, 2)
    assert full.user_ids == ("u", "u1", "u2", "u4")
    assert full.invalid_reasons == [("missing user_id", 3), ("missing category", 2)]
    assert full.unknown_values == [("deploy", 1), ("x_y", 1)]


def test_several_parquet_files_with_different_columns_share_one_summary(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    first = parquet(tmp_path / "a.parquet", dict(MESSY))
    second = parquet(tmp_path / "b.parquet", {"user_id": ["u9", ""], "category": ["login", "ide"]})
    third = parquet(
        tmp_path / "c.parquet",
        {"user": ["u1"], "type": ["ide"], "time": [T0]},
        pa.timestamp("ms"),
    )
    loaded, holds, summarised, full = both_passes(con, first, second, third)
    assert loaded.summary is not None and holds
    assert summarised == full
    assert full.total_rows == 13 and full.invalid_rows == 6
    assert full.user_ids == ("u", "u1", "u2", "u4", "u9")


@pytest.mark.parametrize(
    ("times", "reason"),
    [
        ([None], "missing time"),
        ([datetime(1899, 12, 31, 23, 59, 59, tzinfo=UTC)], "time out of range"),
        ([datetime(2200, 1, 1, tzinfo=UTC)], "time out of range"),
    ],
)
def test_a_time_at_fault_means_every_row_is_read(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, times: list[datetime | None], reason: str
) -> None:
    columns = {"user_id": ["a", "", "b"], "category": ["ide"] * 3, "time": [T0, T0, *times]}
    loaded, holds, summarised, full = both_passes(con, parquet(tmp_path / "t.parquet", columns))
    assert loaded.summary is not None and not holds
    assert summarised == full
    assert sorted(full.invalid_reasons) == sorted([(reason, 1), ("missing user_id", 1)])


def test_an_infinite_time_disproves_the_summary(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """DuckDB reads the largest microsecond count as infinity, which has no epoch."""
    table = pa.table(
        {
            "time": pa.array([0, 2**63 - 1], pa.timestamp("us")),
            "user_id": ["a", "b"],
            "category": ["ide", "ide"],
        }
    )
    pq.write_table(table, tmp_path / "inf.parquet")
    loaded, holds, summarised, full = both_passes(con, tmp_path / "inf.parquet")
    assert not holds
    assert summarised == full
    assert full.invalid_rows == 1


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("log.csv", "time,user_id,category\n2022-08-01T10:00:00Z,a,ide\n"),
        ("text-times.parquet", None),
        ("durations.parquet", None),
    ],
)
def test_no_summary_where_a_row_could_be_at_fault_elsewhere(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, name: str, text: str | None
) -> None:
    """CSV, times as text, and end times or durations are checked row by row."""
    path = tmp_path / name
    if text is not None:
        path.write_text(text, encoding="utf-8")
    elif name.startswith("text"):
        pq.write_table(
            pa.table({"time": ["2022-08-01T10:00:00Z"], "user_id": ["a"], "category": ["ide"]}),
            path,
        )
    else:
        pq.write_table(
            pa.table(
                {
                    "time": pa.array([T0], pa.timestamp("us", "UTC")),
                    "duration_s": [-5.0],
                    "user_id": ["a"],
                    "category": ["ide"],
                }
            ),
            path,
        )
    loaded, _, summarised, full = both_passes(con, path)
    assert loaded.summary is None
    assert summarised == full


def test_a_summary_next_to_a_csv_file_is_not_made(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    csv = tmp_path / "b.csv"
    csv.write_text("time,user_id,category\n2022-08-01T10:00:00Z,,ide\n", encoding="utf-8")
    loaded, _, summarised, full = both_passes(
        con, parquet(tmp_path / "a.parquet", dict(MESSY)), csv
    )
    assert loaded.summary is None
    assert summarised == full and full.invalid_rows == 6


def test_a_report_source_checks_through_its_summary(tmp_path: Path) -> None:
    path = parquet(tmp_path / "m.parquet", dict(MESSY))
    with event_source.open_files([str(path)]) as source:
        assert source.summary is not None
        checked = source.diagnostics()
        full = diagnose(source.con, source.view, every_column=False, covered=False, users=True)
    assert checked == full


# ----------------------------------------------- what the check proves spares the report


def test_a_filter_over_checked_rows_tests_neither_problem_nor_category() -> None:
    every = Filters(categories=list(sources.CATEGORIES), orgs=["o"])
    assert engine.filter_sql(every, valid_only=False, any_category=True) == (
        "list_contains($orgs, org)",
        {"orgs": ["o"]},
    )
    assert engine.filter_sql(Filters(["ide"]), valid_only=False, any_category=True) == (
        "true",
        {},
    )


def report_cells(
    path: Path, categories: Sequence[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[bool, list[Cell]]:
    """Whether the source told the engine its rows were checked, and its weekly cells."""
    told: list[bool] = []
    real = engine.compute

    def compute(*args: Any, **kwargs: Any) -> list[Cell]:
        told.append(kwargs["checked"])
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "compute", compute)
    edges = [int((T0.timestamp() - 86_400 + 7 * 86_400 * k) * 1e6) for k in range(3)]
    with event_source.open_files([str(path)]) as source:
        cells = list(source.cells(edges, Filters(categories), 60_000_000).cells)
    return told == [True], cells


def test_rows_at_fault_keep_the_full_filter_and_clean_rows_drop_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same events, with and without an invalid row and an unknown category, count alike."""
    clean: dict[str, list[Any]] = {
        "user_id": ["a", "a", "b", "c"],
        "category": ["ide", "app", "ide", "login"],
        "time": [T0, T0 + timedelta(seconds=30), T0, T0 + timedelta(days=8)],
    }
    at_fault = {key: list(values) for key, values in clean.items()}
    at_fault["user_id"] += ["", "d"]  # a missing user id, and a user of an unknown category only
    at_fault["category"] += ["ide", "deploy"]
    at_fault["time"] += [T0, T0]
    every = list(sources.CATEGORIES)
    clean_checked, clean_cells = report_cells(
        parquet(tmp_path / "c.parquet", clean), every, monkeypatch
    )
    fault_checked, fault_cells = report_cells(
        parquet(tmp_path / "f.parquet", at_fault), every, monkeypatch
    )
    assert clean_checked and not fault_checked
    assert clean_cells == fault_cells
    assert {c.user_id for c in clean_cells} == {"a", "b", "c"}
    assert sum(c.count for c in clean_cells) == 4
    some_checked, some = report_cells(tmp_path / "c.parquet", ["ide"], monkeypatch)
    assert not some_checked and sum(c.count for c in some) == 2
