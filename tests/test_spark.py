"""``--engine spark``: the CLI's output must be byte for byte the DuckDB engine's.

Every Spark run here reuses the test session's one local Spark (the ``spark``
fixture): the CLI's ``getOrCreate`` finds it running.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession

from .conftest import SAMPLE, Run, run_cli, write_csv, write_far_times

BAD_INPUTS = Path(__file__).resolve().parent / "bad_inputs"

MAIN_JOB = (
    "--events", str(SAMPLE / "events.parquet"), "--users", str(SAMPLE / "users.csv"),
    "--start", "2022-08-01", "--end", "2022-08-31", "--category", "ide", "--interval", "1 week",
)  # fmt: skip


def both(*args: str) -> tuple[Run, Run]:
    """The same command with each engine."""
    return run_cli(*args), run_cli(*args, "--engine", "spark")


def assert_same(duck: Run, spark: Run) -> None:
    assert spark.exit_code == duck.exit_code, spark.stderr
    assert spark.stdout == duck.stdout
    assert spark.stderr == duck.stderr


@pytest.fixture(scope="module")
def hive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample events as a Hive-partitioned folder: ``date=YYYY-MM-DD/*.parquet``."""
    folder = tmp_path_factory.mktemp("lake") / "events"
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    source = con.read_parquet(str(SAMPLE / "events.parquet"))
    con.register("sample", source)
    con.execute(
        f"""COPY (SELECT *, strftime(time, '%Y-%m-%d') AS date FROM sample)
            TO '{folder}' (FORMAT parquet, PARTITION_BY (date))"""
    )
    con.close()
    return folder


# --------------------------------------------------------------------------- same output


@pytest.mark.parametrize("fmt", ["json", "csv", "table"])
def test_main_job_is_byte_identical(spark: SparkSession, fmt: str) -> None:
    duck, spark_run = both(*MAIN_JOB, "--format", fmt)
    assert duck.exit_code == 0, duck.stderr
    assert_same(duck, spark_run)


def test_sample_csv_whole_range_in_berlin_is_byte_identical(spark: SparkSession) -> None:
    # No --start/--end: the range comes from the data span; a zone with DST.
    args = ("--events", str(SAMPLE / "events.csv"), "--interval", "1 day", "--tz", "Europe/Berlin")
    duck, spark_run = both(*args, "--json")
    assert duck.exit_code == 0, duck.stderr
    assert duck.stdout.count('"time"') > 30
    assert_same(duck, spark_run)


def test_hive_partitioned_copy_is_byte_identical(spark: SparkSession, hive: Path) -> None:
    assert len(list(hive.glob("date=*/*.parquet"))) > 30
    duck, spark_run = both(MAIN_JOB[0], str(hive), *MAIN_JOB[2:], "--json")
    assert duck.exit_code == 0, duck.stderr
    assert_same(duck, spark_run)
    whole, _ = both(*MAIN_JOB, "--json")
    assert spark_run.stdout == whole.stdout  # the folder holds the sample's events


def test_hive_partitions_outside_the_range_are_not_read(
    spark: SparkSession, hive: Path, tmp_path: Path
) -> None:
    """A partition years before --start holds an invalid row: pruned, it is never
    read, so no warning; without --start it is read and reported."""
    lake = tmp_path / "lake"
    shutil.copytree(hive, lake)
    old = lake / "date=2019-01-01"
    old.mkdir()
    con = duckdb.connect()
    con.execute(
        f"""COPY (SELECT 'x' AS id, TIMESTAMPTZ '2019-01-01 10:00:00+00' AS time,
                         CAST(NULL AS VARCHAR) AS user_id, 'ide' AS category,
                         'o' AS organization_id, CAST(NULL AS TIMESTAMPTZ) AS end_time
                  UNION ALL  -- a valid row too: a file with none is refused, not skipped
                  SELECT 'y', TIMESTAMPTZ '2019-01-01 11:00:00+00', 'old-user', 'ide',
                         'o', CAST(NULL AS TIMESTAMPTZ))
            TO '{old / "part.parquet"}' (FORMAT parquet)"""
    )
    con.close()
    ranged = ("--events", str(lake), "--start", "2022-08-01", "--end", "2022-08-31", "--json")
    pruned = run_cli(*ranged, "--engine", "spark")
    assert pruned.exit_code == 0, pruned.stderr
    assert pruned.stderr == ""
    everything = run_cli(
        "--events", str(lake), "--end", "2022-08-31", "--json", "--engine", "spark"
    )
    assert everything.exit_code == 0
    assert "skipped 1 invalid row (1 missing user_id; first in" in everything.stderr
    assert "date=2019-01-01/part.parquet row 1)" in everything.stderr
    duck = run_cli(*ranged)
    assert pruned.stdout == duck.stdout


@pytest.mark.parametrize("name", sorted(p.name for p in BAD_INPUTS.glob("*.csv")))
def test_bad_inputs_are_told_alike(spark: SparkSession, name: str) -> None:
    """Invalid rows, malformed lines, encodings, unknown categories: the same
    exit code, report and messages from both engines."""
    duck, spark_run = both("--events", str(BAD_INPUTS / name), "--json", "--interval", "1 day")
    assert_same(duck, spark_run)


@pytest.mark.parametrize("name", sorted(p.name for p in BAD_INPUTS.glob("*.csv")))
def test_bad_inputs_in_a_given_range_are_told_alike(spark: SparkSession, name: str) -> None:
    """With --start and --end the Spark engine observes the diagnostics during its
    counting job: the same exit code, report and messages as DuckDB's all the same."""
    args = ("--events", str(BAD_INPUTS / name), "--json", "--interval", "1 day")
    assert_same(*both(*args, "--start", "2022-07-30", "--end", "2022-08-03"))


@pytest.mark.parametrize("strict", [False, True])
def test_a_report_with_a_range_checks_and_counts_in_one_job(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, strict: bool
) -> None:
    """Invalid rows, unknown categories in and out of the range: told as DuckDB tells them,
    with no diagnostics job of their own (the counting job observes them)."""
    from activity_report.backends.spark import diagnostics

    rows = [
        ("2024-01-01T10:00:00Z", "u", "IDE"),
        ("2024-01-01T10:00:30Z", "u", " web-Terminal "),
        ("2024-01-01T11:00:00Z", "v", "deploy"),
        ("2024-01-01T11:00:00Z", "v", "deploy"),
        ("2023-12-01T11:00:00Z", "v", "build"),
        ("yesterday", "w", "app"),
        ("2024-01-01T12:00:00Z", "", "app"),
        ("2024-01-01T12:00:00Z", "w", ""),
    ]
    path = write_csv(tmp_path / "events.csv", ("time", "user_id", "category"), rows)
    args = ("--events", str(path), "--start", "2024-01-01", "--end", "2024-01-02", "--json")
    args += ("--interval", "1 hour", *(("--strict",) if strict else ()))
    duck = run_cli(*args)

    def separate_job(events: object) -> None:
        raise AssertionError("the diagnostics ran a job of their own")

    monkeypatch.setattr(diagnostics, "diagnose", separate_job)
    assert duck.exit_code == (1 if strict else 0), duck.stderr
    assert "invalid" in duck.stderr
    assert_same(duck, run_cli(*args, "--engine", "spark"))


def test_the_local_server_records_no_python_call_sites(spark: SparkSession) -> None:
    """PySpark's call-site capture (a stack inspection per function) is off locally."""
    from pyspark.errors.utils import is_debugging_enabled

    assert spark.conf.get("spark.python.sql.dataFrameDebugging.enabled") == "false"
    assert not is_debugging_enabled()


def test_cells_come_back_alike_from_arrow_and_from_rows(spark: SparkSession) -> None:
    """The cells are read from the Arrow table Spark Connect sends; a DataFrame without
    one (another pyspark) gives the same cells through ``collect()``."""
    from activity_report.backends.protocol import Cell
    from activity_report.backends.spark import counting

    rows = [(1, "v", 2, 60), (0, "w", 1, 30), (0, "v", 5, 90)]
    frame = spark.createDataFrame(rows, "bucket long, user_id string, n long, duration long")

    class RowsOnly:
        def collect(self) -> list[Any]:
            return frame.collect()

    expected = [Cell(0, "v", 5, 90), Cell(0, "w", 1, 30), Cell(1, "v", 2, 60)]
    assert counting.collect(frame) == expected
    assert counting.collect(RowsOnly()) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("strict", [False, True])
def test_times_beyond_microseconds_are_told_alike(
    spark: SparkSession, tmp_path: Path, strict: bool
) -> None:
    """Spark's Parquet reader, like DuckDB's, fails a file on such a time: both read it as an
    integer, and the row is invalid alike."""
    far = write_far_times(tmp_path / "far.parquet")
    args = ("--events", str(far), "--events", str(SAMPLE / "events.parquet"), "--json")
    duck, spark_run = both(*args, *(("--strict",) if strict else ()))
    assert duck.exit_code == (1 if strict else 0), duck.stderr
    assert "(2 time out of range, 1 coverage longer than a year, 1 end_time before time;" in (
        duck.stderr
    )
    assert_same(duck, spark_run)


def test_several_csv_files_and_strict(spark: SparkSession, tmp_path: Path) -> None:
    header = ("time", "user_id", "category", "duration_s")
    write_csv(tmp_path / "a.csv", header, [("2024-01-01T10:00:00Z", "u", "IDE", "90")])
    write_csv(
        tmp_path / "b.csv",
        header,
        [("2024-01-01T10:00:30+01:00", "v", "web-terminal", ""), ("bad", "v", "app", "1")],
    )
    write_csv(tmp_path / "c.csv", ("ts", "user", "action"), [("2024-01-02", "w", "Login")])
    args = ("--events", str(tmp_path), "--interval", "1 hour", "--format", "csv")
    assert_same(*both(*args))
    assert_same(*both(*args, "--strict"))
    assert run_cli(*args, "--strict", "--engine", "spark").exit_code == 1


# --------------------------------------------------------------------------- errors


def test_without_pyspark_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for module in ("pyspark", "pyspark.sql", "pyspark.errors"):
        monkeypatch.setitem(sys.modules, module, None)
    result = run_cli("--events", str(SAMPLE / "events.parquet"), "--engine", "spark")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "activity-report: error: --engine spark needs pyspark; install it with: "
        "pip install 'pyspark[connect]>=4,<5' (or pip install -e '.[spark]' in a checkout; "
        "Spark also needs Java 17 or newer)\n"
    )


def test_spark_remote_must_be_a_spark_connect_url() -> None:
    result = run_cli(
        "--events", str(SAMPLE / "events.parquet"), "--engine", "spark",
        "--spark-remote", "http://spark:8080",
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr == (
        "activity-report: error: invalid value for --spark-remote: 'http://spark:8080' "
        "(give a Spark Connect URL such as sc://spark-host:15002)\n"
    )


def test_a_spark_connect_server_that_takes_no_connection_fails_at_once() -> None:
    """PySpark would retry for minutes, past an interrupt; one TCP connection tells."""
    import socket

    with socket.socket() as closed:  # a port of this machine that nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    result = run_cli(
        "--events", str(SAMPLE / "events.parquet"), "--engine", "spark",
        "--spark-remote", f"sc://127.0.0.1:{port}",
    )  # fmt: skip
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"activity-report: error: cannot reach sc://127.0.0.1:{port}: Connection refused; "
        "check the host and port, and that a Spark Connect server runs there\n"
    )


def test_spark_reads_event_files_not_a_store(tmp_path: Path) -> None:
    result = run_cli("--db", str(tmp_path / "x.duckdb"), "--engine", "spark")
    assert result.exit_code == 2
    assert result.stderr == (
        "activity-report: error: --engine spark reads --events (files, folders or URLs), "
        "not a store\n"
    )


def test_a_missing_file_is_named_as_duckdb_names_it(spark: SparkSession, tmp_path: Path) -> None:
    assert_same(*both("--events", str(tmp_path / "nope.parquet")))


def test_a_missing_file_is_told_before_spark_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from activity_report.backends.spark import session

    def no_spark(remote: str | None = None) -> None:
        raise AssertionError("Spark was started for a file that does not exist")

    monkeypatch.setattr(session, "connect", no_spark)
    run = run_cli("--events", str(tmp_path / "nope.parquet"), "--engine", "spark")
    duck = run_cli("--events", str(tmp_path / "nope.parquet"))
    assert (run.exit_code, run.stderr) == (duck.exit_code, duck.stderr)
    assert duck.exit_code != 0


def test_a_relative_path_is_made_absolute_for_a_remote_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from activity_report.backends.spark.reading import plan

    monkeypatch.chdir(tmp_path)
    (read,) = plan(["logs/events.parquet"], local=False)
    assert read.paths == [str(tmp_path / "logs" / "events.parquet")]
    assert read.displays == {str(tmp_path / "logs" / "events.parquet"): "logs/events.parquet"}
    (url,) = plan(["s3a://bucket/events/"], local=False)
    assert url.paths == ["s3a://bucket/events/"]


def test_the_local_driver_memory_is_a_share_of_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    from activity_report.backends.spark.session import driver_memory

    monkeypatch.delenv("ACTIVITY_REPORT_SPARK_MEMORY", raising=False)
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert driver_memory() == f"{max(1, min(4, total // 4 // 2**30))}g"
    monkeypatch.setenv("ACTIVITY_REPORT_SPARK_MEMORY", "6g")
    assert driver_memory() == "6g"


# --------------------------------------------------------------------------- random logs

DST_DAYS = ("2024-03-31", "2024-10-27", "2024-03-10", "2024-11-03", "2024-04-07")
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "+05:30")
SPELLINGS = ("ide", "IDE", "web-terminal", "Web Terminal", "app", "login", "tunnel", "other")


@st.composite
def random_logs(draw: st.DrawFn) -> tuple[list[tuple[str, ...]], list[str]]:
    """CSV rows around a DST change, and the report's options."""
    day = datetime.fromisoformat(draw(st.sampled_from(DST_DAYS))).replace(tzinfo=UTC)
    rows: list[tuple[str, ...]] = []
    for _ in range(draw(st.integers(1, 40))):
        moment = day + timedelta(minutes=draw(st.integers(-3 * 1440, 3 * 1440)))
        offset = draw(st.sampled_from((0, 60, -330)))
        shown = moment.astimezone(timezone(timedelta(minutes=offset)))
        stamp = shown.isoformat().replace("+00:00", "Z")
        kind = draw(st.sampled_from(("heartbeat", "end_time", "duration")))
        length = draw(st.integers(0, 36 * 60))
        end = (moment + timedelta(minutes=length)).isoformat() if kind == "end_time" else ""
        duration = str(length * 60) if kind == "duration" else ""
        user = draw(st.sampled_from(("ann", "bob", "cy")))
        rows.append((stamp, user, draw(st.sampled_from(SPELLINGS)), end, duration))
    options = [
        "--tz", draw(st.sampled_from(ZONES)),
        "--interval", draw(st.sampled_from(("1 hour", "90 min", "1 day", "1 week", "monthly"))),
        "--heartbeat", draw(st.sampled_from(("1 minute", "5 minutes", "30 seconds"))),
        "--category", draw(st.sampled_from(("any", "ide", "web_terminal"))),
    ]  # fmt: skip
    if draw(st.booleans()):
        options += ["--start", (day - timedelta(days=1)).date().isoformat()]
        options += ["--end", (day + timedelta(days=2)).date().isoformat()]
    return rows, options


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(log=random_logs())
def test_random_logs_are_byte_identical(
    spark: SparkSession, tmp_path: Path, log: tuple[list[tuple[str, ...]], list[str]]
) -> None:
    """Zones, DST days, interval kinds, categories, heartbeats, durations, end times."""
    rows, options = log
    path = write_csv(
        tmp_path / "random.csv", ("time", "user_id", "category", "end_time", "duration_s"), rows
    )
    duck, spark_run = both("--events", str(path), *options, "--json")
    assert duck.exit_code == 0, duck.stderr
    assert_same(duck, spark_run)


def test_the_jvms_start_up_chatter_is_kept_off_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    """What the JVM says before logging is set up is dropped; anything else gets through."""
    from activity_report.backends.spark.jvm_stderr import without_chatter

    said = (
        "WARNING: Using incubator modules: jdk.incubator.vector\n"
        'Setting default log level to "WARN".\n'
        "To adjust logging level use sc.setLogLevel(newLevel). For SparkR, use "
        "setLogLevel(newLevel).\n"
        "spark: ERROR SparkContext: something real\n"
    )
    with without_chatter() as relay:
        child = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=2)
    print("the tool's own line", file=sys.stderr)
    child.communicate(said.encode())
    relay.join(timeout=30)
    assert capfd.readouterr().err == (
        "the tool's own line\nspark: ERROR SparkContext: something real\n"
    )


@pytest.mark.slow  # its own JVM
def test_a_local_spark_run_says_nothing_on_stderr(tmp_path: Path) -> None:
    """In its own process, as a user runs it: the JVM starts, and stderr stays empty."""
    # A fresh user's environment: not the Spark Connect settings of this test process's Spark.
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SPARK_CONNECT")}
    run = subprocess.run(
        [sys.executable, "-m", "activity_report", *MAIN_JOB, "--engine", "spark", "--json"],
        capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path, env=environ,
    )  # fmt: skip
    assert (run.returncode, run.stderr) == (0, "")
    assert run.stdout == run_cli(*MAIN_JOB, "--json").stdout


@pytest.mark.parametrize(
    ("submit_args", "sets"),
    [
        ("", False),
        ("--driver-memory 6g pyspark-shell", True),
        ("--driver-memory=6g pyspark-shell", True),
        ("--conf spark.ui.enabled=false --executor-memory 2g pyspark-shell", False),
        ("--name 'driver-memory' pyspark-shell", False),
    ],
)
def test_driver_memory_given_to_spark_submit_is_left_alone(
    monkeypatch: pytest.MonkeyPatch, submit_args: str, sets: bool
) -> None:
    from activity_report.backends.spark.session import _submit_sets

    monkeypatch.setenv("PYSPARK_SUBMIT_ARGS", submit_args)
    assert _submit_sets("driver-memory") is sets
