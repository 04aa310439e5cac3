"""A log as it is: named columns, time formats, input zones, category maps, JSON, a config file.

The same five events are written the way real exports write them: the
canonical CSV, an audit export with other column names and epoch-ms times,
JSON Lines with nested fields, local US times across the November DST change,
and Parquet. Read with the right options, every one gives the same report,
byte for byte.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession

import activity_report as ar
from activity_report.errors import InvalidValue
from activity_report.sources import parse_reading

from .conftest import Run, run_cli, write_csv

# (UTC time, user, source category, canonical category, org, UTC end or None)
EVENTS = [
    ("2026-10-31T12:00:00Z", "u1", "ide", "ide", "o1", "2026-10-31T12:30:00Z"),
    # 01:30 in New York happens twice this night: the first one (EDT) is meant.
    ("2026-11-01T05:30:00Z", "u1", "ssh", "tunnel", "o1", None),
    # 02:30 EST, after the clocks went back.
    ("2026-11-01T07:30:00Z", "u2", "jetbrains", "ide", "o2", "2026-11-01T08:00:00Z"),
    ("2026-11-02T15:00:00Z", "u2", "web-terminal", "web_terminal", "o2", None),
    ("2026-11-02T15:10:00Z", "u1", "App", "app", "o1", None),
]
LOCAL = [  # the same times on a New York wall clock
    ("10/31/2026 08:00 AM", "10/31/2026 08:30 AM"),
    ("11/01/2026 01:30 AM", None),
    ("11/01/2026 02:30 AM", "11/01/2026 03:00 AM"),
    ("11/02/2026 10:00 AM", None),
    ("11/02/2026 10:10 AM", None),
]
REPORT = ("--format", "json", "--interval", "1 hour")
RANGE = ("--start", "2026-10-31T00:00:00Z", "--end", "2026-11-03T00:00:00Z")
MAPS = ("--category-map", "ssh=tunnel", "--category-map", "jetbrains=ide")


def _ms(text: str | None) -> int | None:
    if text is None:
        return None
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def canonical_csv(path: Path) -> Path:
    rows = [(t, u, c, o, e) for t, u, _, c, o, e in EVENTS]
    return write_csv(path, ("time", "user_id", "category", "organization_id", "end_time"), rows)


def export_csv(path: Path) -> Path:
    rows = [(_ms(t), u, s, o, _ms(e)) for t, u, s, _, o, e in EVENTS]
    return write_csv(path, ("createdAt", "username", "eventType", "orgId", "finishedAt"), rows)


EXPORT_OPTIONS = (
    *("--column", "time=createdAt", "--column", "user=username"),
    *("--column", "category=eventType", "--column", "org=orgId"),
    *("--column", "end=finishedAt", "--time-format", "epoch-ms", *MAPS),
)


def json_lines(path: Path) -> Path:
    lines = []
    for t, u, s, _, o, e in EVENTS:
        record: dict[str, object] = {"ts": _ms(t), "actor": {"id": u, "org": o}}
        record["event"] = {"type": s, **({"until": _ms(e)} if e else {})}
        lines.append(json.dumps(record))
    text = "\n".join(lines) + "\n"
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


JSON_OPTIONS = (
    *("--column", "time=ts", "--column", "user=actor.id", "--column", "org=actor.org"),
    *("--column", "category=event.type", "--column", "end=event.until"),
    *("--time-format", "epoch-ms", *MAPS),
)


def local_csv(path: Path) -> Path:
    rows = [
        (w, u, s, o, until) for (w, until), (_, u, s, _, o, _) in zip(LOCAL, EVENTS, strict=True)
    ]
    return write_csv(path, ("When", "Who", "What", "Org", "Until"), rows)


LOCAL_OPTIONS = (
    *("--column", "time=When", "--column", "user=Who", "--column", "category=What"),
    *("--column", "org=Org", "--column", "end=Until"),
    *("--time-format", "%m/%d/%Y %I:%M %p", "--input-tz", "America/New_York", *MAPS),
)


def parquet_file(path: Path) -> Path:
    def stamp(text: str | None) -> datetime | None:
        return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))

    table = pa.table(
        {
            "at": pa.array([stamp(t) for t, *_ in EVENTS], pa.timestamp("us", tz="UTC")),
            "uid": [u for _, u, *_ in EVENTS],
            "kind": [s for _, _, s, *_ in EVENTS],
            "org_id": [o for *_, o, _ in EVENTS],
            "end_time": pa.array([stamp(e) for *_, e in EVENTS], pa.timestamp("us", tz="UTC")),
        }
    )
    pq.write_table(table, path)
    return path


PARQUET_OPTIONS = (
    "--column",
    "time=at",
    "--column",
    "user=uid",
    "--column",
    "category=kind",
    *MAPS,
)


def report(*args: str) -> str:
    run = run_cli(*REPORT, *RANGE, *args)
    assert run.exit_code == 0, run.stderr
    assert run.stderr == ""
    return run.stdout


def test_the_canonical_csv_gives_the_expected_numbers(tmp_path: Path) -> None:
    out = json.loads(report("--events", str(canonical_csv(tmp_path / "events.csv"))))
    minute = 60 * 10**9
    assert {u: (v["total_count"], v["total_duration"]) for u, v in out["users"].items()} == {
        "u1": (3, 32 * minute),
        "u2": (2, 31 * minute),
    }
    busy = {b["time"]: [a["user_id"] for a in b["user_activity"]] for b in out["activity"]}
    assert busy["2026-11-01T05:00:00Z"] == ["u1"]  # 01:30 EDT, the first of the two
    assert busy["2026-11-01T07:00:00Z"] == ["u2"]


@pytest.mark.parametrize(
    ("name", "write", "options"),
    [
        ("export.csv", export_csv, EXPORT_OPTIONS),
        ("events.jsonl", json_lines, JSON_OPTIONS),
        ("events.ndjson.gz", json_lines, JSON_OPTIONS),
        ("local.csv", local_csv, LOCAL_OPTIONS),
        ("events.parquet", parquet_file, PARQUET_OPTIONS),
    ],
)
def test_every_form_of_the_log_gives_the_same_report(
    tmp_path: Path, name: str, write: object, options: Sequence[str]
) -> None:
    expected = report("--events", str(canonical_csv(tmp_path / "canonical.csv")))
    path = write(tmp_path / name)  # type: ignore[operator]
    assert report("--events", str(path), *options) == expected


def test_ingest_reads_a_mapped_export_as_reports_do(tmp_path: Path) -> None:
    expected = report("--events", str(canonical_csv(tmp_path / "canonical.csv")))
    db = str(tmp_path / "store.duckdb")
    ingest = run_cli(
        "ingest", str(export_csv(tmp_path / "export.csv")), "--db", db, *EXPORT_OPTIONS
    )
    assert ingest.exit_code == 0, ingest.stderr
    assert ingest.stderr == (
        f"activity-report: ingested 1 file into {db}: 5 rows, 5 new, 0 duplicates, 0 rejected\n"
    )
    assert report("--db", db) == expected


def test_the_python_api_takes_the_same_options(tmp_path: Path) -> None:
    expected = json.loads(report("--events", str(canonical_csv(tmp_path / "canonical.csv"))))
    result = ar.report(
        events=str(json_lines(tmp_path / "events.jsonl")),
        interval="1 hour",
        start="2026-10-31T00:00:00Z",
        end="2026-11-03T00:00:00Z",
        column=["time=ts", "user=actor.id", "org=actor.org", "category=event.type"]
        + ["end=event.until"],
        time_format="epoch-ms",
        category_map=["ssh=tunnel", "jetbrains=ide"],
    )
    assert result.to_api() == expected


def test_a_category_map_file_maps_values(tmp_path: Path) -> None:
    expected = report("--events", str(canonical_csv(tmp_path / "canonical.csv")))
    mapping = tmp_path / "categories.csv"
    mapping.write_text("value,category\nssh,tunnel\nJetBrains,IDE\n")
    path = str(export_csv(tmp_path / "export.csv"))
    options = [o for o in EXPORT_OPTIONS if o not in MAPS]
    assert report("--events", path, *options, "--category-map-file", str(mapping)) == expected


def test_values_still_unknown_are_warned_about(tmp_path: Path) -> None:
    path = str(export_csv(tmp_path / "export.csv"))
    options = [o for o in EXPORT_OPTIONS if o not in MAPS]
    run = run_cli(*REPORT, *RANGE, "--events", path, *options, "--category-map", "ssh=tunnel")
    assert run.exit_code == 0
    assert run.stderr == (
        "activity-report: warning: 1 event has an unknown category and is in no report; "
        "commonest: 'jetbrains' (1)\n"
    )


def test_a_local_time_the_clock_skips_is_an_invalid_row(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "spring.csv",
        ("When", "user_id", "category"),
        [("03/08/2026 01:59 AM", "u1", "ide"), ("03/08/2026 02:30 AM", "u1", "ide")]
        + [("03/08/2026 03:00 AM", "u2", "ide")],
    )
    options = ("--column", "time=When", "--time-format", "%m/%d/%Y %I:%M %p")
    run = run_cli(
        "--events", str(path), *options, "--input-tz", "America/New_York", "--format", "csv"
    )
    assert run.exit_code == 0, run.stderr
    assert run.stderr == (
        "activity-report: warning: skipped 1 invalid row (1 nonexistent local time; "
        f"first in {path} row 2); --strict makes this an error\n"
    )
    assert run.stdout.splitlines()[1:] == [
        "2026-03-02T00:00:00Z,604800000000000,u1,,,1,60000000000",
        "2026-03-02T00:00:00Z,604800000000000,u2,,,1,60000000000",
    ]


def test_iso_times_without_an_offset_are_read_in_the_input_zone(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "iso.csv",
        ("time", "user_id", "category"),
        [("2026-07-01 09:00:00", "u1", "ide"), ("2026-07-01T09:00:00Z", "u2", "ide")],
    )
    run = run_cli(
        "--events", str(path), "--input-tz", "Europe/Berlin", "--interval", "1 hour",
        "--format", "csv",
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert [line.split(",")[:3] for line in run.stdout.splitlines()[1:]] == [
        ["2026-07-01T07:00:00Z", "3600000000000", "u1"],
        ["2026-07-01T09:00:00Z", "3600000000000", "u2"],
    ]


def test_parquet_wall_clock_timestamps_are_read_in_the_input_zone(tmp_path: Path) -> None:
    expected = report("--events", str(canonical_csv(tmp_path / "canonical.csv")))

    def wall(text: str | None) -> datetime | None:
        return None if text is None else datetime.strptime(text, "%m/%d/%Y %I:%M %p")

    path = tmp_path / "wall.parquet"
    pq.write_table(
        pa.table(
            {
                "time": pa.array([wall(w) for w, _ in LOCAL], pa.timestamp("us")),
                "user_id": [u for _, u, *_ in EVENTS],
                "category": [s for _, _, s, *_ in EVENTS],
                "org": [o for *_, o, _ in EVENTS],
                "end_time": pa.array([wall(e) for _, e in LOCAL], pa.timestamp("ms")),
            }
        ),
        path,
    )
    assert report("--events", str(path), "--input-tz", "America/New_York", *MAPS) == expected


def test_epoch_seconds_as_numbers_and_text(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "epoch.csv",
        ("time", "user_id", "category"),
        [
            ("1793448000", "u1", "ide"),
            (" 1793448060.75 ", "u2", "ide"),
            ("1.79344812e9", "u3", "ide"),
        ]
        + [("soon", "u4", "ide"), ("99999999999999999999", "u5", "ide")],
    )
    run = run_cli("--events", str(path), "--time-format", "EPOCH-S", "--interval", "1 minute",
                  "--format", "csv")  # fmt: skip
    assert run.exit_code == 0, run.stderr
    # The fraction of a second counts: 12:01:00.75 plus a minute reaches into 12:02.
    assert run.stdout.splitlines()[1:] == [
        "2026-10-31T12:00:00Z,60000000000,u1,,,1,60000000000",
        "2026-10-31T12:01:00Z,60000000000,u2,,,1,59000000000",
        "2026-10-31T12:02:00Z,60000000000,u3,,,1,60000000000",
        "2026-10-31T12:02:00Z,60000000000,u2,,,0,1000000000",
    ]
    assert run.stderr == (
        "activity-report: warning: skipped 2 invalid rows (1 time out of range, "
        f"1 unparseable time; first in {path} row 4); --strict makes this an error\n"
    )


def test_a_malformed_json_line_is_an_invalid_row_with_its_line_number(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(
        '{"time": "2026-11-02T15:00:00Z", "user_id": "u1", "category": "ide"}\n'
        "\n"
        '{"time": "2026-11-02T15:05:00Z", "user_id": "u1", "category": "ide"\n'
        "[1, 2]\n"
        '{"time": "2026-11-02T15:10:00Z", "user_id": "u2", "category": "app"}\n'
    )
    run = run_cli("--events", str(path), "--format", "csv")
    assert run.exit_code == 0
    assert run.stderr == (
        "activity-report: warning: skipped 2 invalid rows (1 malformed JSON, "
        f"1 not a JSON object; first in {path} row 3); --strict makes this an error\n"
    )
    assert len(run.stdout.splitlines()) == 3


def test_a_json_array_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_text(
        json.dumps(
            [
                {"time": t, "user_id": u, "category": c, "org": o, **({"end_time": e} if e else {})}
                for t, u, _, c, o, e in EVENTS
            ]
        )
    )
    expected = report("--events", str(canonical_csv(tmp_path / "canonical.csv")))
    assert report("--events", str(path)) == expected


# --------------------------------------------------------------------------- errors


def one_error(run: object, code: int, message: str) -> None:
    assert run.exit_code == code  # type: ignore[attr-defined]
    assert run.stdout == ""  # type: ignore[attr-defined]
    assert run.stderr == f"activity-report: error: {message}\n"  # type: ignore[attr-defined]


def test_an_unknown_field_is_a_usage_error(tmp_path: Path) -> None:
    path = str(export_csv(tmp_path / "export.csv"))
    one_error(
        run_cli("--events", path, "--column", "tim=createdAt"),
        2,
        "invalid value for --column: 'tim=createdAt' (no field 'tim'; did you mean time? the "
        "fields are time, user, category, org, end, duration_s, duration_ms, duration_us, "
        "duration_ns, id)",
    )


def test_a_column_the_file_lacks_is_named_with_the_closest(tmp_path: Path) -> None:
    path = str(export_csv(tmp_path / "export.csv"))
    one_error(
        run_cli("--events", path, "--column", "time=created_at"),
        1,
        f"{path}: no column 'created_at' for the time field (columns found: createdAt, "
        "username, eventType, orgId, finishedAt); did you mean 'createdAt'?",
    )


def test_a_json_path_the_file_lacks_is_named_with_the_closest(tmp_path: Path) -> None:
    path = str(json_lines(tmp_path / "events.jsonl"))
    one_error(
        run_cli("--events", path, "--column", "time=ts", "--column", "user=actor.name"),
        1,
        f"{path}: no column 'actor.name' for the user field (columns found: actor, event, ts, "
        "actor.id, actor.org, event.type, event.until); did you mean 'actor.id'?",
    )


def test_a_time_format_that_reads_no_time_is_an_error(tmp_path: Path) -> None:
    path = str(local_csv(tmp_path / "local.csv"))
    options = ("--column", "time=When", "--column", "user=Who", "--column", "category=What")
    one_error(
        run_cli("--events", path, *options, "--time-format", "%Y-%m-%d %H:%M"),
        2,
        "invalid value for --time-format: '%Y-%m-%d %H:%M' (it reads none of the times of "
        f"{path}, such as '10/31/2026 08:00 AM')",
    )


def test_a_time_format_that_is_no_format_is_a_usage_error() -> None:
    one_error(
        run_cli("--events", "x.csv", "--time-format", "unix"),
        2,
        "invalid value for --time-format: 'unix' (use iso, epoch-s, epoch-ms, epoch-us, "
        "epoch-ns or a strptime pattern such as '%m/%d/%Y %I:%M %p')",
    )


def test_a_bad_category_map_value_is_a_usage_error(tmp_path: Path) -> None:
    path = str(export_csv(tmp_path / "export.csv"))
    one_error(
        run_cli("--events", path, "--category-map", "ssh=tunel"),
        2,
        "invalid value for --category-map: 'ssh=tunel' ('tunel' is no category; map to one of "
        "ide, login, app, tunnel, web_terminal)",
    )
    mapping = tmp_path / "map.csv"
    mapping.write_text("ssh,tunnel\nrdp,remote\n")
    one_error(
        run_cli("--events", path, "--category-map-file", str(mapping)),
        2,
        f"invalid value for --category-map-file: '{mapping}' ('remote' is no category; map "
        "to one of ide, login, app, tunnel, web_terminal)",
    )


def test_a_file_that_is_not_json_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("time,user_id,category\n2026-11-02T15:00:00Z,u1,ide\n")
    one_error(
        run_cli("--events", str(path)),
        1,
        f"{path}: is not JSON (it starts with 'time,user_id,category'); a JSON Lines file "
        "holds one object per line, a .json file an array of objects",
    )


def test_a_broken_json_array_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_text('[{"time": "2026-11-02T15:00:00Z", "user_id": "u1"},\n{oops}]')
    run = run_cli("--events", str(path))
    assert run.exit_code == 1
    assert run.stderr.startswith(f"activity-report: error: {path}: cannot read it as JSON: ")
    assert run.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("name", "write", "options"),
    [("export.csv", export_csv, EXPORT_OPTIONS), ("events.parquet", parquet_file, PARQUET_OPTIONS)],
)
def test_spark_reads_named_columns_epoch_times_and_category_maps(
    spark: SparkSession, tmp_path: Path, name: str, write: object, options: Sequence[str]
) -> None:
    expected = report("--events", str(canonical_csv(tmp_path / "canonical.csv")))
    path = str(write(tmp_path / name))  # type: ignore[operator]
    assert report("--events", path, *options, "--engine", "spark") == expected


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "write", "options"),
    [
        ("local.csv", local_csv, LOCAL_OPTIONS),
        ("events.jsonl", json_lines, JSON_OPTIONS),
        ("events.ndjson.gz", json_lines, JSON_OPTIONS),
    ],
)
def test_spark_reads_local_times_and_json_lines(
    spark: SparkSession, tmp_path: Path, name: str, write: object, options: Sequence[str]
) -> None:
    expected = report("--events", str(canonical_csv(tmp_path / "canonical.csv")))
    path = str(write(tmp_path / name))  # type: ignore[operator]
    assert report("--events", path, *options) == expected
    assert report("--events", path, *options, "--engine", "spark") == expected


def test_spark_tells_skipped_local_times_and_bad_json_lines_as_duckdb_does(
    spark: SparkSession, tmp_path: Path
) -> None:
    local = write_csv(
        tmp_path / "spring.csv",
        ("When", "Who", "What"),
        [
            ("03/08/2026 01:59 AM", "u1", "ide"),
            ("03/08/2026 02:30 AM", "u1", "ide"),  # the clocks skip it: invalid
            ("03/08/2026 03:00 AM", "u2", "ide"),
            ("11/01/2026 1:15 AM", "u2", "ide"),  # twice that night: the first one
            ("11/1/2026 13:15 PM", "u2", "ide"),  # no such hour
            ("11/01/2026 01:15", "u2", "ide"),  # no AM or PM
        ],
    )
    lines = tmp_path / "events.jsonl"
    lines.write_text(
        '{"at": "2026-03-08T06:00:00Z", "who": {"id": "u1"}, "what": "ssh"}\n'
        "\n"
        "{not json\n"
        "[1, 2]\n"
        '{"at": "2026-03-08 01:30", "who": {"id": "u2"}, "what": "ide"}\n'
        '{"at": "2026-03-08 02:30", "who": {"id": "u2"}, "what": "ide"}\n'
    )
    cases = [
        (str(local), "--column", "time=When", "--column", "user=Who", "--column", "category=What",
         "--time-format", "%m/%d/%Y %I:%M %p", "--input-tz", "America/New_York"),
        (str(lines), "--column", "time=at", "--column", "user=who.id", "--column", "category=what",
         "--input-tz", "America/Chicago"),
    ]  # fmt: skip
    for path, *options in cases:
        args = ("--events", path, *options, "--format", "json", "--verbose")
        duck = run_cli(*args, "--start", "2026-03-01", "--end", "2026-11-30")
        spark_run = run_cli(
            *args, "--start", "2026-03-01", "--end", "2026-11-30", "--engine", "spark"
        )
        assert duck.exit_code == 0, duck.stderr
        assert "nonexistent local time" in duck.stderr
        assert (spark_run.exit_code, spark_run.stdout) == (duck.exit_code, duck.stdout)
        assert spark_run.stderr == duck.stderr


#: (text, strptime pattern): what DuckDB parses, refuses or reads oddly.
STRPTIME_CASES = [
    ("1/2/2026 1:05 AM", "%m/%d/%Y %I:%M %p"),
    ("01/02/2026  01:05 am", "%m/%d/%Y %I:%M %p"),
    ("01/02/2026 01:05 AMX", "%m/%d/%Y %I:%M %p"),
    ("001/02/2026 01:05 AM", "%m/%d/%Y %I:%M %p"),
    ("01/02/2026 12:05 AM", "%m/%d/%Y %I:%M %p"),
    ("01/02/2026 12:05 PM", "%m/%d/%Y %I:%M %p"),
    ("01/02/2026 00:05 AM", "%m/%d/%Y %I:%M %p"),
    ("01/02/2026 13:05 PM", "%m/%d/%Y %I:%M %p"),
    ("01/02/2026 01:05AM", "%m/%d/%Y %I:%M %p"),
    ("02/30/2026 01:05 AM", "%m/%d/%Y %I:%M %p"),
    ("02/29/2028 01:05 AM", "%m/%d/%Y %I:%M %p"),
    ("13/02/2026 01:05 AM", "%m/%d/%Y %I:%M %p"),
    ("01/02/26 13:05", "%m/%d/%y %H:%M"),
    ("01/02/68 13:05", "%m/%d/%y %H:%M"),
    ("01/02/69 13:05", "%m/%d/%y %H:%M"),
    ("2026-01-02 13:05:06.123456", "%Y-%m-%d %H:%M:%S.%f"),
    ("2026-01-02 13:05:06.12", "%Y-%m-%d %H:%M:%S.%f"),
    ("2026-01-02 13:05:06.1234567", "%Y-%m-%d %H:%M:%S.%f"),
    ("2026-01-02 13:05:06.123456789", "%Y-%m-%d %H:%M:%S.%n"),
    ("2026-01-02 24:00", "%Y-%m-%d %H:%M"),
    ("2026-01-02 23:60", "%Y-%m-%d %H:%M"),
    ("2026-01-02 23:59:60", "%Y-%m-%d %H:%M:%S"),
    ("2026-1-02 9:5:7", "%Y-%m-%d %H:%M:%S"),
    ("2026-01-02 13", "%Y-%m-%d %H:%M"),
    ("2026/01/02", "%Y-%m-%d"),
    ("20260102", "%Y%m%d"),
    ("2026112", "%Y%m%d"),
    ("12026-1-2", "%Y-%m-%d"),
    ("jAN 2 2026 1:05", "%b %d %Y %H:%M"),
    ("January 02 2026", "%B %d %Y"),
    ("January 02 2026", "%b %d %Y"),
    ("2026-01-02T13:05:06+0200", "%Y-%m-%dT%H:%M:%S%z"),
    ("2026-01-02T13:05:06-02:30", "%Y-%m-%dT%H:%M:%S%z"),
    ("2026-01-02T13:05:06+02", "%Y-%m-%dT%H:%M:%S%z"),
    ("2026-01-02T13:05:06Z", "%Y-%m-%dT%H:%M:%S%z"),
    ("2026-01-02\t13:05", "%Y-%m-%d %H:%M"),
    ("2026-01-02x", "%Y-%m-%dX"),
    ("100% 2026-01-02", "100%% %Y-%m-%d"),
]


def test_spark_parses_strptime_patterns_as_duckdb_does(spark: SparkSession) -> None:
    import duckdb
    from pyspark.sql import functions as F

    from activity_report.backends.spark.times import strptime

    con = duckdb.connect()
    expected = [
        con.execute("SELECT epoch_us(try_strptime($t, $f))", {"t": t, "f": f}).fetchone()[0]  # type: ignore[index]
        for t, f in STRPTIME_CASES
    ]
    frame = spark.createDataFrame([(t,) for t, _ in STRPTIME_CASES], "t string")
    columns = [strptime(F.col("t"), f)[0].alias(f"c{i}") for i, (_, f) in enumerate(STRPTIME_CASES)]
    rows = frame.select(*columns).collect()
    got = [rows[i][f"c{i}"] for i in range(len(STRPTIME_CASES))]
    assert dict(zip(STRPTIME_CASES, got, strict=True)) == dict(
        zip(STRPTIME_CASES, expected, strict=True)
    )


def test_spark_refuses_a_directive_it_cannot_read(tmp_path: Path) -> None:
    path = str(local_csv(tmp_path / "local.csv"))
    one_error(
        run_cli("--events", path, *LOCAL_OPTIONS[:10], "--time-format", "%a %m/%d/%Y",
                "--engine", "spark"),
        2,
        "--engine spark reads the --time-format directives %Y %y %m %d %H %I %M %S %f %n %p "
        "%b %B %z, not %a; use --engine duckdb",
    )  # fmt: skip


def times_csv(path: Path, times: Sequence[str | None]) -> Path:
    return write_csv(
        path, ("At", "Who", "What"), [(t, f"u{i}", "ide") for i, t in enumerate(times)]
    )


def times_parquet(path: Path, times: Sequence[str | None]) -> Path:
    users = [f"u{i}" for i in range(len(times))]
    pq.write_table(pa.table({"At": times, "Who": users, "What": ["ide"] * len(times)}), path)
    return path


TIMES_OPTIONS = ("--column", "time=At", "--column", "user=Who", "--column", "category=What")


def both_engines(*args: str) -> tuple[Run, Run]:
    args = (*args, *TIMES_OPTIONS, *REPORT, "--start", "2026-11-01", "--end", "2026-12-01")
    return run_cli(*args), run_cli(*args, "--engine", "spark")


def refused(fmt: str, path: Path, example: str) -> str:
    return (
        f"invalid value for --time-format: {fmt!r} (it reads none of the times of {path}, "
        f"such as {example!r})"
    )


@pytest.mark.parametrize(("name", "write"), [("t.csv", times_csv), ("t.parquet", times_parquet)])
def test_spark_refuses_a_time_format_that_reads_no_time_as_duckdb_does(
    spark: SparkSession, tmp_path: Path, name: str, write: Callable[[Path, list[str | None]], Path]
) -> None:
    """A row without a time is passed over; the example is the first time, stripped."""
    times = [None, " 2026-11-15 10:00 ", "2026-11-15 11:00", "15/11/2026 12:00"]
    path = write(tmp_path / name, times)
    for run in both_engines("--events", str(path), "--time-format", "%d/%m/%Y"):
        one_error(run, 2, refused("%d/%m/%Y", path, "2026-11-15 10:00"))
    duck, spark_run = both_engines("--events", str(path), "--time-format", "%d/%m/%Y %H:%M")
    assert duck.exit_code == 0, duck.stderr
    assert json.loads(duck.stdout)["users"]
    assert spark_run == duck


def test_spark_judges_files_with_one_header_together_as_duckdb_does(
    spark: SparkSession, tmp_path: Path
) -> None:
    """CSV files with one header line are one scan: a format refused only when it reads
    none of their times, named by the first file and its first time."""
    first = times_csv(tmp_path / "a.csv", ["2026-11-15 10:00"])
    second = times_csv(tmp_path / "b.csv", ["2026-11-16 10:00"])
    files = ("--events", str(first), "--events", str(second))
    for run in both_engines(*files, "--time-format", "%d/%m/%Y"):
        one_error(run, 2, refused("%d/%m/%Y", first, "2026-11-15 10:00"))
    times_csv(second, ["16/11/2026"])
    duck, spark_run = both_engines(*files, "--time-format", "%d/%m/%Y")
    assert duck.exit_code == 1, duck.stderr  # a.csv has no valid row: not a usage error
    assert spark_run == duck


@pytest.mark.slow
def test_spark_reads_the_whole_file_when_its_first_thousand_times_fail(
    spark: SparkSession, tmp_path: Path
) -> None:
    times = [f"2026-11-15 10:{i % 60:02d}" for i in range(1200)]
    path = times_csv(tmp_path / "events.csv", times)
    for run in both_engines("--events", str(path), "--time-format", "%d/%m/%Y %H:%M"):
        one_error(run, 2, refused("%d/%m/%Y %H:%M", path, "2026-11-15 10:00"))
    path = times_csv(tmp_path / "events.csv", [*times, "15/11/2026 12:00"])
    duck, spark_run = both_engines("--events", str(path), "--time-format", "%d/%m/%Y %H:%M")
    assert duck.exit_code == 0, duck.stderr
    assert spark_run == duck


def test_errors_name_the_parameter_not_the_flag() -> None:
    with pytest.raises(InvalidValue) as caught:
        parse_reading(column=["who=user"])
    assert str(caught.value).startswith("invalid value for column: 'who=user'")
    with pytest.raises(InvalidValue) as zone:
        parse_reading(input_tz="Mars/Olympus")
    assert str(zone.value).startswith("invalid value for input_tz: 'Mars/Olympus'")


# --------------------------------------------------------------------------- config file


def test_a_config_file_holds_the_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = report("--events", str(canonical_csv(tmp_path / "canonical.csv")))
    export_csv(tmp_path / "export.csv")
    (tmp_path / "activity-report.toml").write_text(
        'events = "export.csv"\n'
        'column = ["time=createdAt", "user=username", "category=eventType", "org=orgId",'
        ' "end=finishedAt"]\n'
        'time-format = "epoch-ms"\n'
        'category-map = ["ssh=tunnel", "jetbrains=ide"]\n'
        'interval = "1 day"\n'
    )
    monkeypatch.chdir(tmp_path)
    assert report() == expected  # the command line's --interval wins over the file's
    verbose = run_cli(*REPORT, *RANGE, "--verbose")
    assert verbose.stderr == (
        "activity-report: read options from activity-report.toml\n"
        "activity-report: answered from the events of the files\n"
    )


def test_config_names_a_file_and_ingest_reads_it(tmp_path: Path) -> None:
    expected = report("--events", str(canonical_csv(tmp_path / "canonical.csv")))
    export = export_csv(tmp_path / "export.csv")
    db = tmp_path / "store.duckdb"
    config = tmp_path / "nightly.toml"
    config.write_text(
        f"events = [{json.dumps(str(export))}]\ndb = {json.dumps(str(db))}\n"
        'column = ["time=createdAt", "user=username", "category=eventType", "org=orgId",'
        ' "end=finishedAt"]\n'
        'time-format = "epoch-ms"\ncategory-map = ["ssh=tunnel", "jetbrains=ide"]\n'
    )
    ingest = run_cli("ingest", "--config", str(config))
    assert ingest.exit_code == 0, ingest.stderr
    # --db typed here wins over the file's events: the report reads the store.
    assert report("--config", str(config), "--db", str(db)) == expected
    # The file's reading options serve the store's report without complaint.
    store = run_cli(*REPORT, *RANGE, "--config", str(config), "--db", str(db), "--verbose")
    assert store.stderr.endswith("of the store\n")


SEATS = ("seats", "--json", "--start", "2026-10-31", "--end", "2026-11-03")
EXPORT_CONFIG = (
    'column = ["time=createdAt", "user=username", "category=eventType", "org=orgId",'
    ' "end=finishedAt"]\n'
    'time-format = "epoch-ms"\ncategory-map = ["ssh=tunnel", "jetbrains=ide"]\n'
)


def seats(*args: str) -> Run:
    run = run_cli(*SEATS, *args)
    assert run.exit_code == 0, run.stderr
    return run


def test_seats_take_the_reading_options_typed_or_from_the_config_file(tmp_path: Path) -> None:
    expected = seats("--events", str(canonical_csv(tmp_path / "canonical.csv"))).stdout
    assert json.loads(expected)["days"][0]["active_1d"] == 1
    export = export_csv(tmp_path / "export.csv")
    assert seats("--events", str(export), *EXPORT_OPTIONS).stdout == expected
    config = tmp_path / "nightly.toml"
    config.write_text(f"events = [{json.dumps(str(export))}]\n" + EXPORT_CONFIG)
    verbose = seats("--config", str(config), "--verbose")
    assert verbose.stdout == expected
    assert verbose.stderr == (
        f"activity-report: read options from {config}\n"
        "activity-report: answered from the events of the files\n"
    )


def test_a_typed_db_wins_over_the_config_file_s_events_for_seats_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = seats("--events", str(canonical_csv(tmp_path / "canonical.csv"))).stdout
    export_csv(tmp_path / "export.csv")
    (tmp_path / "activity-report.toml").write_text('events = "export.csv"\n' + EXPORT_CONFIG)
    monkeypatch.chdir(tmp_path)
    ingest = run_cli("ingest", "--db", "activity.duckdb")
    assert ingest.exit_code == 0, ingest.stderr
    store = seats("--db", "activity.duckdb", "--verbose")
    assert store.stdout == expected
    assert store.stderr == (
        "activity-report: read options from activity-report.toml\n"
        "activity-report: answered from the rollups of the store\n"
    )
    # As for the report: reading options typed for the store are refused.
    one_error(
        run_cli(*SEATS, "--db", "activity.duckdb", "--time-format", "epoch-ms"),
        2,
        "--column, --time-format, --input-tz and --category-map say how to read event files: "
        "give them to ingest, or with --events",
    )


def test_an_unknown_config_key_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "activity-report.toml").write_text('time_fromat = "epoch-ms"\n')
    monkeypatch.chdir(tmp_path)
    one_error(
        run_cli("--events", "x.csv"),
        2,
        "activity-report.toml: unknown key 'time_fromat': the keys are options' long names; "
        "did you mean 'time-format'?",
    )


def test_a_missing_config_file_is_a_usage_error(tmp_path: Path) -> None:
    one_error(
        run_cli("--config", str(tmp_path / "none.toml")),
        2,
        f"invalid value for --config: '{tmp_path / 'none.toml'}' (no such file)",
    )


def test_reading_options_typed_for_a_store_report_are_refused(tmp_path: Path) -> None:
    one_error(
        run_cli("--db", str(tmp_path / "s.duckdb"), "--time-format", "epoch-ms"),
        2,
        "--column, --time-format, --input-tz and --category-map say how to read event files: "
        "give them to ingest, or with --events",
    )
