"""JSON with ``--engine spark``: byte for byte what the DuckDB engine says, from the local
Spark (which reads a Parquet copy made by DuckDB's JSON reader) and through a Spark
Connect server (``--spark-remote``, the test session's own server: the path a cluster
takes, where Spark's own readers parse the JSON and files are the server's to resolve).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from .conftest import Run, run_cli

#: A log with nested fields, and every kind of line the reader must tell apart.
LINES = [
    '{"at": 1793512680000, "actor": {"id": "alice", "org": "acme"}, "what": {"kind": "ssh"}}',
    "",
    "   ",
    '{"at": 1793514600000, "actor": {"id": "alice"}, "what": {"kind": "jetbrains"},}',
    "{not json",
    "[1, 2]",
    "null",
    "42",
    '{"at": 1793520000000, "actor": {"id": "bob", "org": "acme"}, "what": {"kind": "IDE"}}',
    '{"at": 1793520000000, "actor": {"id": "bob"}} {"at": 1}',
    '{"at": 1793520000000, "actor": {"id": "bob"}, "what": {"kind": "ide"}}] [',
    '{"at": nan, "actor": {"id": "carol"}, "what": {"kind": "ide"}}',
    '{"at": "1793521000000", "actor": {"id": 42}, "what": {"kind": "web terminal"}, "x": 1.5}',
    "\t",
    '{"at": 1793600000000, "actor": {"id": "carol", "org": null}, "what": {"kind": "rdp"}}',
    "{'at': 1793600000000}",
    '{"at": 1793628000000, "actor": {"id": "dave"}, "what": {"kind": "ide"}, "n": [1, {"a": 2}]}',
    '{"at": 1793628060000, "actor": {"id": "dave"}, "what": {"kind": "ide", "x": "{}"}}\r',
    '{"at": 1793628120000, "actor": {"id": "erin\\u00e9"}, "what": {"kind": "ide"}}',
]

OPTIONS = (
    *("--column", "time=at", "--column", "user=actor.id", "--column", "org=actor.org"),
    *("--column", "category=what.kind", "--time-format", "epoch-ms"),
    *("--category-map", "ssh=tunnel", "--category-map", "jetbrains=ide"),
    *("--start", "2026-10-01", "--end", "2026-12-01", "--interval", "1 week"),
    *("--format", "json", "--verbose"),
)


@pytest.fixture(scope="module")
def remote(spark: SparkSession) -> str:
    """The URL of the test session's Spark Connect server."""
    from activity_report.backends.spark.session import _local_server

    return _local_server()


@pytest.fixture(params=["local", "remote"])
def where(request: pytest.FixtureRequest, remote: str) -> tuple[str, ...]:
    """The options that run Spark locally, or through its server as a cluster's."""
    return () if request.param == "local" else ("--spark-remote", remote)


def assert_same(duck: Run, spark: Run) -> None:
    assert (spark.exit_code, spark.stderr) == (duck.exit_code, duck.stderr)
    assert spark.stdout == duck.stdout


def both(*args: str, where: tuple[str, ...]) -> tuple[Run, Run]:
    return run_cli(*args), run_cli(*args, "--engine", "spark", *where)


def write_lines(path: Path, lines: list[str], raw: bytes = b"") -> Path:
    data = ("\n".join(lines) + "\n").encode() + raw
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


@pytest.mark.parametrize("name", ["audit.jsonl", "audit.ndjson.gz"])
def test_spark_reads_json_lines_as_duckdb_does(
    spark: SparkSession, tmp_path: Path, name: str, where: tuple[str, ...]
) -> None:
    """Nested fields, blank lines, malformed lines and their numbers, trailing commas,
    non-finite words, lines that hold no object or go on past it, text not UTF-8."""
    path = write_lines(tmp_path / name, LINES, b'{"at": 1, "actor": {"id": "\xff"}}\n')
    duck, spark_run = both("--events", str(path), *OPTIONS, where=where)
    assert duck.exit_code == 0, duck.stderr
    assert "malformed JSON" in duck.stderr and "not a JSON object" in duck.stderr
    assert json.loads(duck.stdout)["users"]
    assert_same(duck, spark_run)
    strict = both("--events", str(path), *OPTIONS, "--strict", where=where)
    assert strict[0].exit_code == 1
    assert_same(*strict)


def test_spark_reads_a_json_array_as_duckdb_does(
    spark: SparkSession, tmp_path: Path, where: tuple[str, ...]
) -> None:
    elements = [json.loads(line) for line in LINES[:1] + LINES[8:9] + LINES[16:19]]
    text = json.dumps([elements[0], 7, None, "text", *elements[1:]], indent=2)
    for name in ("audit.json", "audit.json.gz"):
        path = tmp_path / name
        path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
        duck, spark_run = both("--events", str(path), *OPTIONS, where=where)
        assert duck.exit_code == 0, duck.stderr
        assert "not a JSON object" in duck.stderr
        assert_same(duck, spark_run)


def test_a_broken_json_array_is_one_line(
    spark: SparkSession, tmp_path: Path, where: tuple[str, ...]
) -> None:
    path = tmp_path / "events.json"
    path.write_text('[{"time": "2026-11-02T15:00:00Z", "user_id": "u1"},\n{oops}]')
    duck, spark_run = both("--events", str(path), where=where)
    assert duck.exit_code == spark_run.exit_code == 1
    prefix = f"activity-report: error: {path}: cannot read it as JSON: "
    assert spark_run.stderr.startswith(prefix) and spark_run.stderr.count("\n") == 1
    if not where:  # a local file: DuckDB's reader says where, as that engine does
        assert spark_run.stderr == duck.stderr


@pytest.mark.parametrize(
    ("text", "options"),
    [
        ("time,user_id,category\n2026-11-02T15:00:00Z,u1,ide\n", ()),
        ('{"when": "2026-11-02T15:00:00Z", "actor": {"name": "u1"}, "kind": "ide"}\n', ()),
        ('{"ts": "2026-11-02T15:00:00Z", "actor": {"name": "u1"}}\n', ("--column", "user=a.b.c")),
    ],
)
def test_spark_refuses_json_as_duckdb_does(
    spark: SparkSession, tmp_path: Path, where: tuple[str, ...], text: str, options: tuple[str]
) -> None:
    """A file that is not JSON; a missing column, listing the keys found in DuckDB's order."""
    path = tmp_path / "events.jsonl"
    path.write_text(text)
    duck, spark_run = both("--events", str(path), *options, where=where)
    assert duck.exit_code == 1, duck.stderr
    assert_same(duck, spark_run)


def test_spark_reads_local_and_strptime_times_in_json_as_duckdb_does(
    spark: SparkSession, tmp_path: Path, where: tuple[str, ...]
) -> None:
    lines = [
        '{"t": "03/08/2026 01:59", "u": {"id": "u1"}, "c": "ide", "e": "03/08/2026 03:30"}',
        '{"t": "03/08/2026 02:30", "u": {"id": "u1"}, "c": "ide"}',
        '{"t": "11/01/2026 01:15", "u": {"id": "u2"}, "c": "ide", "e": "11/01/2026 01:45"}',
        '{"t": 20260102, "u": {"id": "u2"}, "c": "ide"}',
        '{"t": "13/01/2026 01:15", "u": {"id": "u2"}, "c": "ide"}',
    ]
    path = write_lines(tmp_path / "local.jsonl", lines)
    options = (
        *("--column", "time=t", "--column", "user=u.id", "--column", "category=c"),
        *("--column", "end=e", "--time-format", "%m/%d/%Y %H:%M"),
        *("--input-tz", "America/New_York", "--start", "2026-03-01", "--end", "2026-11-30"),
        *("--format", "json", "--verbose"),
    )
    duck, spark_run = both("--events", str(path), *options, where=where)
    assert duck.exit_code == 0, duck.stderr
    assert "nonexistent local time" in duck.stderr
    assert_same(duck, spark_run)


@pytest.fixture
def small_splits(spark: SparkSession) -> Iterator[None]:
    """Spark reads a file in splits of 4 KiB, so a small file is read by several tasks."""
    key = "spark.sql.files.maxPartitionBytes"
    before = str(spark.conf.get(key))
    spark.conf.set(key, "4096")
    yield
    spark.conf.set(key, before)


def test_line_numbers_and_first_rows_hold_across_splits(
    spark: SparkSession, tmp_path: Path, where: tuple[str, ...], small_splits: None
) -> None:
    """Invalid rows in late splits get their line numbers; of rows sharing an id, the
    one on the first line is counted, whichever split holds it."""
    lines = []
    for n in range(1, 3001):
        minute = 1793512680000 + 60_000 * (n % 500)
        record = {"time": minute, "user": f"u{n % 7}", "category": "ide", "id": f"e{n % 1000}"}
        if n == 2000:
            record["category"] = None
        lines.append("{broken" if n in (2400, 2997) else json.dumps(record))
        if n % 400 == 0:
            lines.append("")
    first_bad = next(i for i, line in enumerate(lines, 1) if "null" in line or "broken" in line)
    path = write_lines(tmp_path / "big.jsonl", lines)
    blocks = spark.read.text(str(path)).select("_metadata.file_block_start").distinct().count()
    assert blocks > 10
    args = ("--events", str(path), "--time-format", "epoch-ms", "--format", "json", "--verbose")
    duck, spark_run = both(*args, "--interval", "1 day", where=where)
    assert duck.exit_code == 0, duck.stderr
    assert f"big.jsonl row {first_bad});" in duck.stderr
    assert_same(duck, spark_run)
    strict = both(*args, "--strict", where=where)
    assert_same(*strict)


def test_spark_refuses_a_time_format_that_reads_no_json_time_as_duckdb_does(
    spark: SparkSession, tmp_path: Path, where: tuple[str, ...]
) -> None:
    """Malformed lines, lines that are no object and objects without a time are passed over:
    the example is the first time there is, stripped."""
    path = write_lines(
        tmp_path / "events.jsonl",
        [
            "{not json",
            "[1, 2]",
            '{"actor": {"id": "u0"}, "what": {"kind": "ide"}}',
            '{"at": " 2026-11-02 15:00 ", "actor": {"id": "u1"}, "what": {"kind": "ide"}}',
            '{"at": "2026-11-02 16:00", "actor": {"id": "u2"}, "what": {"kind": "ide"}}',
            '{"at": "02/11/2026 17:00", "actor": {"id": "u3"}, "what": {"kind": "ide"}}',
        ],
    )
    options = (
        *("--column", "time=at", "--column", "user=actor.id", "--column", "category=what.kind"),
        *("--start", "2026-11-01", "--end", "2026-11-30", "--format", "json"),
    )
    duck, spark_run = both(
        "--events", str(path), *options, "--time-format", "%d/%m/%Y", where=where
    )
    assert (duck.exit_code, duck.stdout) == (2, "")
    assert duck.stderr == (
        "activity-report: error: invalid value for --time-format: '%d/%m/%Y' (it reads none "
        f"of the times of {path}, such as '2026-11-02 15:00')\n"
    )
    assert_same(duck, spark_run)
    some = both("--events", str(path), *options, "--time-format", "%d/%m/%Y %H:%M", where=where)
    assert some[0].exit_code == 0, some[0].stderr
    assert json.loads(some[0].stdout)["users"]
    assert_same(*some)
