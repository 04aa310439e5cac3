"""Parquet timestamps in every unit, with or without a zone, read as the microsecond form.

pandas writes tz-aware datetimes as ``timestamp[ns, tz=...]``, Spark and older
pandas as INT96, other tools in milliseconds or seconds. Each variant of the
sample events below holds the same instants as ``sample_data/events.parquet``
(microseconds, UTC) in ``time`` and ``end_time``, so every report and every
ingest of it must give the same JSON, byte for byte.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from activity_report.backends.duckdb import connect
from activity_report.sources import diagnose, expand_paths, far_timestamps, load_events

from .conftest import FAR_MS, SAMPLE, run_cli, write_far_times

SAMPLE_PARQUET = SAMPLE / "events.parquet"
TIME_COLUMNS = ("time", "end_time")

#: name -> (unit, zone, write options): the variants the tests write.
VARIANTS: dict[str, tuple[str, str | None, dict[str, object]]] = {
    "ns_utc": ("ns", "UTC", {}),  # pandas' default for tz-aware datetimes
    "ns_berlin": ("ns", "Europe/Berlin", {}),
    "ns_naive": ("ns", None, {}),  # pandas' default for naive datetimes
    "ms_utc": ("ms", "UTC", {}),
    "ms_naive": ("ms", None, {}),
    "s_utc": ("s", "UTC", {}),  # Parquet has no seconds: pyarrow stores milliseconds
    "us_naive": ("us", None, {}),
    "us_new_york": ("us", "America/New_York", {}),
    "int96": ("ns", None, {"use_deprecated_int96_timestamps": True}),  # Spark, old pandas
}

REPORT = ("--start", "2022-07-25", "--end", "2022-09-05", "--interval", "1 week", "--json")


def variant(table: pa.Table, unit: str, zone: str | None) -> pa.Table:
    """``table`` with ``time`` and ``end_time`` cast to ``unit`` and ``zone``.

    The cast is safe: it fails rather than drop a digit, so the instants stay equal.
    """
    for name in TIME_COLUMNS:
        index = table.schema.get_field_index(name)
        cast = table.column(name).cast(pa.timestamp(unit, tz=zone), safe=True)
        table = table.set_column(index, pa.field(name, cast.type), cast)
    return table


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sample events written once in each variant."""
    folder = tmp_path_factory.mktemp("units")
    table = pq.read_table(SAMPLE_PARQUET)
    written = {}
    for name, (unit, zone, options) in VARIANTS.items():
        path = folder / f"events_{name}.parquet"
        pq.write_table(variant(table, unit, zone), path, **options)
        written[name] = path
    return written


@pytest.fixture(scope="module")
def reference() -> str:
    result = run_cli("--events", str(SAMPLE_PARQUET), *REPORT)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_the_variants_hold_what_their_names_say(files: dict[str, Path]) -> None:
    """DuckDB sees nanosecond columns, zoned and not, so the test is a real one."""
    con = duckdb.connect()
    types = {
        name: con.execute(
            "SELECT typeof(time), typeof(end_time) FROM read_parquet($path) LIMIT 1",
            {"path": str(path)},
        ).fetchall()[0]
        for name, path in files.items()
    }
    con.close()
    # DuckDB 2 keeps the nanoseconds of a zoned column; older releases convert it.
    assert types["ns_utc"][0] in ("TIMESTAMPTZ_NS", "TIMESTAMP WITH TIME ZONE")
    assert types["ns_naive"] == ("TIMESTAMP_NS",) * 2
    assert pq.read_schema(files["ns_berlin"]).field("time").type == pa.timestamp(
        "ns", tz="Europe/Berlin"
    )


@pytest.mark.parametrize("name", list(VARIANTS))
def test_a_report_reads_every_unit_as_microseconds(
    files: dict[str, Path], reference: str, name: str
) -> None:
    result = run_cli("--events", str(files[name]), *REPORT)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout == reference


@pytest.mark.parametrize("name", list(VARIANTS))
def test_an_ingest_reads_every_unit_as_microseconds(
    files: dict[str, Path],
    reference: str,
    name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ACTIVITY_REPORT_EVENTS", raising=False)
    db = str(tmp_path / "store.duckdb")
    ingested = run_cli("ingest", "--db", db, str(files[name]))
    assert ingested.exit_code == 0, ingested.stderr
    assert " 0 duplicates, 0 rejected" in ingested.stderr
    # The same instants: the microsecond file adds nothing to the store.
    again = run_cli("ingest", "--db", db, str(SAMPLE_PARQUET), "--json")
    assert again.exit_code == 0, again.stderr
    assert '"new": 0,' in again.stdout
    result = run_cli("--db", db, *REPORT)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == reference


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect()
    yield connection
    connection.close()


@pytest.mark.parametrize("zone", [None, "UTC", "Asia/Kolkata"])
def test_nanoseconds_are_floored_to_the_microsecond(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, zone: str | None
) -> None:
    """Digits below the microsecond are dropped toward the past, before 1970 too.

    (DuckDB before 2.0 converts a zoned nanosecond column itself while reading
    it, toward zero: the times before 1970 are checked without a zone.)
    """
    nanos = [1_659_348_000_000_001_999, 1_659_348_000_000_000_001, 999]
    expected = [
        (1_659_348_000_000_001, 1_659_348_000_000_004),
        (1_659_348_000_000_000, 1_659_348_000_000_002),
        (0, 3),
    ]
    if zone is None:
        nanos += [-1_999, -1_000]
        expected += [(-2, 0), (-1, 1)]
    users = [f"u{i}" for i in range(len(nanos))]
    path = tmp_path / "ns.parquet"
    pq.write_table(
        pa.table(
            {
                "time": pa.array(nanos, pa.timestamp("ns", tz=zone)),
                "user_id": users,
                "category": ["ide"] * len(nanos),
                "end_time": pa.array([n + 2_500 for n in nanos], pa.timestamp("ns", tz=zone)),
            }
        ),
        path,
    )
    load_events(con, expand_paths([str(path)]))
    assert diagnose(con).invalid_rows == 0
    got = con.execute("SELECT ts, end_us FROM events_input ORDER BY user_id").fetchall()
    assert got == expected


# --------------------------------------------------------------------------- beyond microseconds


def test_the_statistics_tell_which_columns_may_not_fit_microseconds(
    files: dict[str, Path], tmp_path: Path
) -> None:
    """Files whose every time fits are read as before; the check reads only the footers."""
    assert far_timestamps(expand_paths([str(path) for path in files.values()])) == {}
    far = write_far_times(tmp_path / "far.parquet")
    # Without statistics nothing says the values fit: the file is read the careful way.
    blind = tmp_path / "blind.parquet"
    table = variant(pq.read_table(SAMPLE_PARQUET), "ms", "UTC")
    pq.write_table(table, blind, write_statistics=False)
    # Microseconds and nanoseconds always fit, with statistics or without.
    micro = tmp_path / "micro.parquet"
    pq.write_table(pq.read_table(SAMPLE_PARQUET), micro, write_statistics=False)
    found = far_timestamps(expand_paths([str(far), str(blind), str(micro), str(SAMPLE_PARQUET)]))
    assert found == {
        str(far): {"time": "ms", "end_time": "ms"},
        str(blind): {"time": "ms", "end_time": "ms"},
    }


def test_the_careful_read_gives_the_same_report(
    reference: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without statistics a millisecond file is read through Arrow: every column,
    ids, organizations, durations and row order, must read as DuckDB reads them."""
    monkeypatch.delenv("ACTIVITY_REPORT_EVENTS", raising=False)
    table = variant(pq.read_table(SAMPLE_PARQUET), "ms", "UTC")
    table = table.append_column(
        "duration", pa.array([90_000_000] * table.num_rows, pa.duration("us"))
    ).drop_columns(["end_time"])
    blind = tmp_path / "blind.parquet"
    pq.write_table(table, blind, write_statistics=False)
    plain = tmp_path / "plain.parquet"
    pq.write_table(table, plain)
    assert far_timestamps(expand_paths([str(blind), str(plain)])) == {str(blind): {"time": "ms"}}
    careful, usual = (
        run_cli("--events", str(blind), *REPORT),
        run_cli("--events", str(plain), *REPORT),
    )
    assert careful.exit_code == usual.exit_code == 0, careful.stderr
    assert (careful.stdout, careful.stderr) == (usual.stdout, usual.stderr)
    assert careful.stdout != reference  # 90-second durations, no end times
    db = str(tmp_path / "store.duckdb")
    assert run_cli("ingest", "--db", db, str(blind)).exit_code == 0
    again = run_cli("ingest", "--db", db, str(plain), "--json")
    assert '"new": 0,' in again.stdout


def test_an_ordinary_report_does_not_load_pyarrow(files: dict[str, Path]) -> None:
    """The check costs ordinary files a footer read in DuckDB, not pyarrow's import
    (a third of a second and 50 MB, more than some whole reports).

    What the careful read uses is ``pyarrow.parquet`` and ``pyarrow.dataset``:
    pyarrow's core alone may come in with pandas, which DuckDB 1.4 imports to
    bind a list parameter when pandas is installed.
    """
    script = (
        "import sys\n"
        "from activity_report.cli import main\n"
        f"code = main(['--events', {str(files['ms_utc'])!r}, *{list(REPORT)!r}])\n"
        "print(code, any(m in sys.modules for m in ('pyarrow.parquet', 'pyarrow.dataset')),\n"
        "      file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.stderr.splitlines()[-1:] == ["0 False"], done.stderr


def test_a_far_time_deep_in_a_file_is_placed_by_its_row(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """Row numbers of the careful read count across row groups, as DuckDB's own do."""
    rows = 5_000
    ten = 1_659_348_000_000
    times = [ten + i * 1_000 for i in range(rows)]
    times[3_456] = FAR_MS
    path = tmp_path / "deep.parquet"
    pq.write_table(
        pa.table(
            {
                "time": pa.array(times, pa.timestamp("ms")),
                "user_id": [f"u{i % 7}" for i in range(rows)],
                "category": ["ide"] * rows,
            }
        ),
        path,
        row_group_size=1_000,
    )
    load_events(con, expand_paths([str(path)]))
    found = diagnose(con)
    assert (found.total_rows, found.invalid_rows) == (rows, 1)
    assert found.invalid_examples == [(str(path), 3_457, "time out of range")]
    valid = con.execute(
        "SELECT count(*), min(ts), max(ts) FROM events_input WHERE problem IS NULL"
    ).fetchall()
    assert valid == [(rows - 1, ten * 1_000, (ten + (rows - 1) * 1_000) * 1_000)]


@pytest.mark.slow  # the sample ingested
def test_an_ingest_keeps_far_times_as_rejects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACTIVITY_REPORT_EVENTS", raising=False)
    db = str(tmp_path / "store.duckdb")
    far = write_far_times(tmp_path / "far.parquet")
    ingested = run_cli("ingest", "--db", db, str(far), str(SAMPLE_PARQUET))
    assert ingested.exit_code == 0, ingested.stderr
    assert (
        "warning: kept 4 invalid rows in the store's rejects table (2 time out of range, "
        "1 coverage longer than a year, 1 end_time before time; first in "
        f"{far} row 1)"
    ) in ingested.stderr
    store = duckdb.connect(db, read_only=True)
    rejects = store.execute(
        "SELECT source_row, problem, ts, end_us, user_id FROM rejects ORDER BY source_row"
    ).fetchall()
    erin = store.execute("SELECT ts, end_us FROM events WHERE user_id = 'erin'").fetchall()
    store.close()
    ten = 1_659_348_000_000_000
    assert rejects == [
        (1, "time out of range", None, None, "alice"),
        (2, "time out of range", None, None, "bob"),
        (3, "coverage longer than a year", ten, None, "carol"),
        (4, "end_time before time", ten, None, "dave"),
    ]
    assert erin == [(ten, ten + 30 * 60_000_000)]
    # Every other row of both files is in the store: the report equals the files'.
    from_files = run_cli("--events", str(far), "--events", str(SAMPLE_PARQUET), *REPORT)
    from_store = run_cli("--db", db, *REPORT)
    assert from_files.exit_code == from_store.exit_code == 0, from_files.stderr
    assert from_store.stdout == from_files.stdout
    assert '"erin"' in from_store.stdout
