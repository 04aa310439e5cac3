"""``seats --engine spark``: the same JSON as DuckDB's, from the same files."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from .conftest import SAMPLE, run_cli
from .test_seats import write_log


@pytest.mark.parametrize(
    "flags",
    [
        ("--tz", "Europe/Berlin", "--start", "2022-03-20", "--end", "2022-04-10", "--growth"),
        ("--tz", "Europe/Berlin", "--org", "o2", "--category", "web_terminal"),
    ],
    ids=["berlin-growth", "filters"],
)
def test_spark_gives_duckdbs_seats(
    spark: SparkSession, tmp_path: Path, flags: tuple[str, ...]
) -> None:
    events, users = write_log(tmp_path)
    args = ("seats", "--events", str(events), "--users", str(users), "--json", *flags)
    duck, sparked = run_cli(*args), run_cli(*args, "--engine", "spark")
    assert duck.exit_code == sparked.exit_code == 0, sparked.stderr
    assert sparked.stdout == duck.stdout


def test_spark_gives_duckdbs_seats_of_the_sample(spark: SparkSession) -> None:
    args = (
        "seats", "--events", str(SAMPLE / "events.parquet"), "--users", str(SAMPLE / "users.csv"),
        "--start", "2022-08-01", "--end", "2022-09-01", "--format", "csv",
    )  # fmt: skip
    duck, sparked = run_cli(*args), run_cli(*args, "--engine", "spark")
    assert duck.exit_code == sparked.exit_code == 0, sparked.stderr
    assert sparked.stdout == duck.stdout
