"""The Python API as a notebook user meets it: a real signature, Python values, DataFrames."""

from __future__ import annotations

import inspect
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import activity_report as ar
from activity_report.errors import UsageError
from activity_report.render.records import records
from tests.conftest import SAMPLE, run_cli

EVENTS = str(SAMPLE / "events.parquet")
USERS = str(SAMPLE / "users.csv")
AUGUST: dict[str, Any] = {
    "start": "2022-08-01",
    "end": "2022-09-01",
    "category": "ide",
    "interval": "1 week",
}


def test_help_shows_a_typed_signature_and_a_docstring() -> None:
    signature = inspect.signature(ar.report)
    assert "kwargs" not in signature.parameters
    assert signature.parameters["interval"].default == "1 week"
    assert signature.parameters["engine"].default == "duckdb"
    assert ar.report.__doc__ is not None and "to_pandas" in ar.report.__doc__


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(2022, 8, 1, tzinfo=UTC), datetime(2022, 9, 1, tzinfo=UTC)),
        (date(2022, 8, 1), date(2022, 9, 1)),
        (pd.Timestamp("2022-08-01", tz="UTC"), pd.Timestamp("2022-09-01")),
    ],
)
def test_python_times_and_a_timedelta_make_the_same_report_as_text(start: date, end: date) -> None:
    text = ar.report(EVENTS, **AUGUST).to_api()
    given = ar.report(
        EVENTS,
        start=start,
        end=end,
        category="ide",
        interval=timedelta(weeks=1),
    ).to_api()
    assert given == text


def test_a_bad_value_names_its_keyword() -> None:
    with pytest.raises(UsageError, match="invalid value for interval"):
        ar.report(EVENTS, interval=timedelta(seconds=-1))


def test_arrow_and_pandas_events_make_the_files_report(tmp_path: Path) -> None:
    expected = ar.report(EVENTS, users=USERS, **AUGUST).to_api()
    table = pq.read_table(EVENTS)
    assert ar.report(table, users=USERS, **AUGUST).to_api() == expected
    assert ar.report(table.to_pandas(), users=USERS, **AUGUST).to_api() == expected


def test_a_report_as_a_dataframe_has_a_row_per_bucket_and_user_with_names() -> None:
    result = ar.report(EVENTS, users=USERS, **AUGUST)
    frame = result.to_pandas()
    api = result.to_api()
    rows = [(b["time"], u["user_id"]) for b in api["activity"] for u in b["user_activity"]]
    assert len(frame) == len(rows) > 0
    assert list(frame.columns) == [
        "time",
        "bucket_duration",
        "user_id",
        "name",
        "username",
        "count",
        "duration",
    ]
    first = api["activity"][0]["user_activity"][0]
    row = frame.iloc[0]
    assert row["user_id"] == first["user_id"]
    assert row["count"] == first["count"]
    assert row["duration"] == pd.Timedelta(first["duration"], unit="ns")
    assert row["name"] == api["users"][first["user_id"]]["name"]
    assert row["time"] == pd.Timestamp(api["activity"][0]["time"])
    assert result.to_arrow().schema.field("time").type == pa.timestamp("us", tz="UTC")


def test_a_withheld_bucket_is_one_row_of_the_dataframe_as_of_the_csv() -> None:
    result = ar.report(
        EVENTS, start="2022-07-25", end="2022-09-05", interval="1 week", category="ide",
        min_users=14,
    )  # fmt: skip
    table = result.to_arrow()
    csv_rows = list(records(result.report))
    assert table.num_rows == len(csv_rows) > 0
    withheld = [b["time"] for b in result.to_api()["activity"] if b["withheld"]]
    times, users = table["time"].to_pylist(), table["user_id"].to_pylist()
    nulls = [t for t, u in zip(times, users, strict=True) if u is None]
    assert [t.isoformat().replace("+00:00", "Z") for t in nulls] == withheld != []


@pytest.mark.parametrize(("tz", "arrow_tz"), [("+05:30", "+05:30"), ("-03:30", "-03:30"),
                                             ("Asia/Kathmandu", "Asia/Kathmandu")])  # fmt: skip
def test_a_dataframes_times_are_in_the_reports_zone(tz: str, arrow_tz: str) -> None:
    result = ar.report(
        EVENTS, start="2022-08-01", end="2022-08-03", interval="daily", tz=tz, category="ide"
    )
    table = result.to_arrow()
    assert table.schema.field("time").type == pa.timestamp("us", tz=arrow_tz)
    frame = result.to_pandas()
    assert str(frame["time"].iloc[0].date()) == "2022-08-01"
    assert frame["time"].iloc[0] == pd.Timestamp(result.to_api()["activity"][0]["time"])


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"events": EVENTS, "engine": "SPARK"},
         "invalid value for engine: 'SPARK' (give one of duckdb, spark)"),
        ({"events": 42}, "invalid value for events: 'int' (give a path, a list of paths, "
                         "a pyarrow Table or a pandas or polars DataFrame)"),
        ({"events": [{"time": "2022-08-01T00:00:00Z"}]}, "invalid value for events: 'list'"),
    ],
)  # fmt: skip
def test_an_engine_or_events_of_no_known_kind_is_refused(
    given: dict[str, Any], message: str
) -> None:
    with pytest.raises(UsageError) as refused:
        ar.report(**given)
    assert str(refused.value).startswith(message)


def test_the_readmes_python_example_runs_and_plots(monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    import matplotlib

    matplotlib.use("Agg")
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## From Python") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    monkeypatch.chdir(root)
    names: dict[str, Any] = {}
    exec(code.group(1), names)
    frame = names["df"]
    assert list(frame.columns)[:3] == ["time", "bucket_duration", "user_id"]
    assert frame["name"].notna().all()  # the directory names every user of the sample


def test_reading_keywords_over_a_store_are_refused_not_ignored(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    assert run_cli("ingest", str(SAMPLE / "events.parquet"), "--db", str(db)).exit_code == 0
    with pytest.raises(UsageError, match="say how to read event files") as caught:
        ar.report(db=db, time_format="epoch-ms")
    assert "give them to ingest, or with events" in str(caught.value)
    assert ar.report(db=db).report.activity  # the defaults are not "given"
