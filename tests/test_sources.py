"""sources/: paths, column mapping, the canonical view and its diagnostics."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from activity_report import sources
from activity_report.errors import DataError, UsageError, flag_name
from activity_report.reporting import connect
from activity_report.resources import RunContext
from activity_report.sources import (
    Column,
    EventFile,
    data_row,
    diagnose,
    expand_paths,
    glob_escape,
    load_events,
    map_columns,
)
from activity_report.sources.mapping import epoch_formats

HEADER = "time,user_id,category\n"
T0 = 1_659_348_000_000_000  # 2022-08-01T10:00:00Z in epoch microseconds
HOUR_US = 3_600_000_000


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect()
    yield connection
    connection.close()


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def rows(
    con: duckdb.DuckDBPyConnection, columns: str = "user_id, ts, end_us, problem"
) -> list[tuple[Any, ...]]:
    return con.execute(
        f"SELECT {columns} FROM events_input ORDER BY source_file, user_id NULLS FIRST, ts"
    ).fetchall()


def load(con: duckdb.DuckDBPyConnection, *paths: Path | str) -> sources.Diagnostics:
    load_events(con, expand_paths([str(p) for p in paths]))
    return diagnose(con)


# --------------------------------------------------------------------------- paths


def test_glob_escape_brackets_every_glob_character() -> None:
    assert glob_escape("logs/a*b?[c].csv") == "logs/a[*]b[?][[]c].csv"
    assert glob_escape("plain name's.csv") == "plain name's.csv"


def test_an_existing_path_with_glob_characters_is_taken_literally(tmp_path: Path) -> None:
    literal = write(tmp_path / "ev[1].csv", HEADER + "2022-08-01T10:00:00Z,literal,ide\n")
    write(tmp_path / "ev1.csv", HEADER + "2022-08-01T10:00:00Z,decoy,ide\n")
    files = expand_paths([str(literal)])
    assert [f.path for f in files] == [str(literal)]
    assert files[0].pattern == str(tmp_path / "ev[[]1].csv")


@pytest.mark.parametrize("name", ["it's here.csv", "a*b?.csv", "ev[1].csv", 'say "hi".csv'])
def test_names_with_quotes_spaces_and_glob_characters_are_read(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, name: str
) -> None:
    folder = tmp_path / "we ird [dir]"
    folder.mkdir()
    path = write(folder / name, HEADER + "2022-08-01T10:00:00Z,alice,ide\n")
    write(folder / "ev1.csv", HEADER + "2022-08-01T10:00:00Z,decoy,ide\n")
    load(con, path)
    assert con.execute("SELECT user_id, source_file FROM events_input").fetchall() == [
        ("alice", str(path))
    ]


def test_a_glob_expands_and_a_file_named_twice_is_read_once(tmp_path: Path) -> None:
    a = write(tmp_path / "a.csv", HEADER)
    b = write(tmp_path / "b.csv", HEADER)
    write(tmp_path / "notes.txt", "not events")
    files = expand_paths([str(a), str(tmp_path / "*.csv"), str(a)])
    assert [f.path for f in files] == [str(a), str(b)]


def test_a_directory_is_searched_for_event_files(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    a = write(tmp_path / "sub" / "a.parquet", b"PAR1")
    b = write(tmp_path / "b.CSV", HEADER)
    write(tmp_path / "README.md", "# not events")
    files = expand_paths([str(tmp_path)])
    assert [(f.path, f.fmt) for f in files] == [(str(b), "csv"), (str(a), "parquet")]


def test_a_file_without_a_known_suffix_is_told_by_its_magic_bytes(tmp_path: Path) -> None:
    pq.write_table(pa.table({"x": [1]}), tmp_path / "export")
    write(tmp_path / "dump", HEADER)
    assert [f.fmt for f in expand_paths([str(tmp_path / "export"), str(tmp_path / "dump")])] == [
        "parquet",
        "csv",
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nope.csv", "nope.csv: no such file or directory"),
        (
            "*.nomatch",
            "*.nomatch: the pattern matches no file; check the path (quote the pattern so "
            "the shell does not expand it)",
        ),
        (
            "empty_dir",
            "empty_dir: is a directory that holds no event files (.parquet, .pq, .csv, .tsv, "
            ".csv.gz, .tsv.gz, .jsonl, .ndjson, .jsonl.gz, .ndjson.gz); name the files instead",
        ),
        (
            "folder.csv",
            "folder.csv: is a directory that holds no event files (.parquet, .pq, .csv, .tsv, "
            ".csv.gz, .tsv.gz, .jsonl, .ndjson, .jsonl.gz, .ndjson.gz); name the files instead",
        ),
        (
            "empty.csv",
            "empty.csv: the file is empty; an event file needs at least a header row "
            "(time, user_id, category)",
        ),
        (
            "utf16.csv",
            "utf16.csv: the file is UTF-16 text; convert it to UTF-8 "
            "(iconv -f utf-16 -t utf-8 FILE > FILE.utf8.csv)",
        ),
    ],
)
def test_paths_that_name_no_events_are_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spec: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "folder.csv").mkdir()
    write(tmp_path / "folder.csv" / "notes.txt", "no events here")
    write(tmp_path / "empty.csv", b"")
    write(tmp_path / "utf16.csv", HEADER.encode("utf-16"))
    with pytest.raises(DataError) as caught:
        expand_paths([spec])
    assert str(caught.value) == message


def test_an_empty_path_is_a_usage_error_not_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "a.csv", HEADER)
    with pytest.raises(UsageError) as caught:
        expand_paths([""])
    assert str(caught.value) == (
        "invalid event path '': give a file, a glob, a directory or - for stdin"
    )


def test_an_unreadable_file_is_an_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = write(tmp_path / "secret.csv", HEADER)
    real_access = os.access

    def access(path: Any, mode: int, **kwargs: Any) -> bool:
        if str(path) == str(secret):
            return False
        return real_access(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)  # tests run as root, who can read anything
    with pytest.raises(DataError) as caught:
        expand_paths([str(secret)])
    assert str(caught.value) == f"{secret}: permission denied; make the file readable (chmod +r)"


def test_an_os_error_while_opening_is_an_error_naming_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "a.csv", HEADER)

    def fail(self: Path, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", fail)
    with pytest.raises(DataError) as caught:
        expand_paths([str(path)])
    assert str(caught.value) == f"{path}: cannot read it: Permission denied"


def test_stdin_is_spooled_named_and_cleaned_up() -> None:
    with RunContext() as context:
        files = expand_paths(["-"], stdin=io.BytesIO(HEADER.encode()), context=context)
        assert [(f.display, f.fmt) for f in files] == [("<stdin>", "csv")]
        assert os.path.exists(files[0].path)
        assert context.temp_files() == [files[0].path]
    assert not os.path.exists(files[0].path)


def test_json_lines_on_stdin_is_an_error_and_its_spool_is_cleaned_up() -> None:
    with RunContext() as context:
        with pytest.raises(DataError) as caught:
            expand_paths(["-"], stdin=io.BytesIO(b'\xef\xbb\xbf {"time": 1}\r\n'), context=context)
        assert str(caught.value) == (
            "<stdin>: its first line is a JSON object, but stdin is read as CSV; save JSON "
            "Lines to a .jsonl file and pass its path"
        )
        spooled = context.temp_files()
        assert len(spooled) == 1
    assert not os.path.exists(spooled[0])


@pytest.mark.parametrize(
    "first_line", [b"{time},user,category\n", b'"{""a"": 1}",user\n', b"time,user,category\n"]
)
def test_csv_on_stdin_is_not_taken_for_json(first_line: bytes) -> None:
    with RunContext() as context:
        files = expand_paths(["-"], stdin=io.BytesIO(first_line), context=context)
        assert [f.fmt for f in files] == ["csv"]


def test_empty_stdin_is_an_error_and_its_spool_is_cleaned_up() -> None:
    with RunContext() as context:
        with pytest.raises(DataError) as caught:
            expand_paths(["-"], stdin=io.BytesIO(b""), context=context)
        assert str(caught.value) == (
            "<stdin>: the file is empty; an event file needs at least a header row "
            "(time, user_id, category)"
        )
        spooled = context.temp_files()  # the spool is the run's, so closing it removes it
        assert len(spooled) == 1 and os.path.exists(spooled[0])
    assert not os.path.exists(spooled[0])
    assert context.temp_files() == []


def test_stdin_without_a_run_to_remove_its_copy_is_refused() -> None:
    with pytest.raises(TypeError, match="pass expand_paths a context"):
        expand_paths(["-"], stdin=io.BytesIO(HEADER.encode()))


# --------------------------------------------------------------------------- columns

CSV_FILE = EventFile(path="x.csv", display="x.csv", fmt="csv")


def columns(*names: str, kind: str = "VARCHAR") -> list[Column]:
    return [Column(name, kind) for name in names]


def test_names_match_ignoring_case_and_blanks_and_the_first_alias_wins() -> None:
    mapping = map_columns(
        CSV_FILE, columns(" Created_At ", "TIME", "User", "Action", "Org", "filename")
    )
    assert (mapping.time.name, mapping.user_id.name, mapping.category.name) == (
        "TIME",
        "User",
        "Action",
    )
    assert mapping.organization_id == Column("Org", "VARCHAR")


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (
            ("when", "user_id", "category"),
            "x.csv: no time column (accepted names: time, timestamp, ts, created_at, "
            "started_at, start_time); columns found: when, user_id, category; name the one to "
            "use with column time=NAME",
        ),
        (
            ("time", "login", "category"),
            "x.csv: no user_id column (accepted names: user_id, user, user_uuid); "
            "columns found: time, login, category; name the one to use with column user=NAME",
        ),
        (
            ("time", "user_id", "kind", "filename"),
            "x.csv: no category column (accepted names: category, action, type); "
            "columns found: time, user_id, kind; name the one to use with column category=NAME",
        ),
    ],
)
def test_each_missing_required_column_is_named_with_the_columns_found(
    names: Sequence[str], message: str
) -> None:
    with pytest.raises(DataError) as caught:
        map_columns(CSV_FILE, columns(*names))
    assert str(caught.value) == message


def test_a_time_column_of_numbers_is_refused() -> None:
    cols = [Column("time", "BIGINT"), *columns("user_id", "category")]
    with pytest.raises(DataError) as caught:
        map_columns(EventFile("e.parquet", "e.parquet", "parquet"), cols)
    # No statistics to tell the unit by (the file is not there): every unit is offered.
    assert str(caught.value) == (
        "e.parquet: column 'time' (time) has type BIGINT; it must hold timestamps or ISO 8601 "
        "text, or epoch numbers read with time_format epoch-s, epoch-ms, epoch-us or epoch-ns "
        "(the unit they count)"
    )


@pytest.mark.parametrize(
    ("values", "formats"),
    [
        (["1659348000"], ("epoch-s",)),
        ([" 1659348000.75 ", "-1659348000", "+100000000"], ("epoch-s",)),
        (["1659348000123", "99999999999999"], ("epoch-ms",)),
        (["1659348000123456"], ("epoch-us",)),
        (["1659348000123456789", 10**17], ("epoch-ns",)),
        # No unit by size: under 1973 in seconds, over 5138 in nanoseconds, or two units.
        (["42"], ("epoch-s", "epoch-ms", "epoch-us", "epoch-ns")),
        (["0"], ("epoch-s", "epoch-ms", "epoch-us", "epoch-ns")),
        (["1" + "0" * 20], ("epoch-s", "epoch-ms", "epoch-us", "epoch-ns")),
        (["9" * 5000], ("epoch-s", "epoch-ms", "epoch-us", "epoch-ns")),
        (["1659348000", "1659348000123"], ("epoch-s", "epoch-ms", "epoch-us", "epoch-ns")),
        # Not all numbers: no epoch format.
        (["1659348000", "soon"], ()),
        (["1.6e9"], ()),
        (["2022-08-01"], ()),
        (["", "1659348000"], ()),
        ([], ()),
    ],
)
def test_epoch_formats_are_told_by_the_size_of_the_numbers(
    values: list[object], formats: tuple[str, ...]
) -> None:
    assert epoch_formats(values) == formats


def test_a_bare_duration_number_is_refused_asking_for_a_unit() -> None:
    with pytest.raises(DataError) as caught:
        map_columns(CSV_FILE, columns("time", "user_id", "category", "duration"))
    assert str(caught.value) == (
        "x.csv: column 'duration' is a bare number with no unit; rename it duration_s, "
        "duration_ms, duration_us or duration_ns, or name its unit with column "
        "duration_s=duration (or duration_ms, duration_us, duration_ns)"
    )


# --------------------------------------------------------------------------- the view


def test_a_bom_and_a_semicolon_delimiter_still_map(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    bom = write(tmp_path / "bom.csv", "\ufefftime,user_id,category\n2022-08-01T10:00:00Z,a,ide\n")
    semi = write(tmp_path / "semi.csv", "time;user_id;category\n2022-08-01T10:00:00Z;b;app\n")
    diagnostics = load(con, bom, semi)
    assert rows(con, "user_id, category, ts") == [("a", "ide", T0), ("b", "app", T0)]
    assert diagnostics.invalid_rows == 0


def test_csv_files_with_different_headers_are_never_read_by_position(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    a = write(tmp_path / "a.csv", HEADER + "2022-08-01T10:00:00Z,alice,ide\n")
    b = write(tmp_path / "b.csv", "user_id,time,category\nbob,2022-08-01T11:00:00Z,app\n")
    c = write(tmp_path / "c.csv", "time;user_id;category\n2022-08-01T12:00:00Z;carol;login\n")
    diagnostics = load(con, a, b, c)
    assert rows(con, "user_id, ts, category") == [
        ("alice", T0, "ide"),
        ("bob", T0 + HOUR_US, "app"),
        ("carol", T0 + 2 * HOUR_US, "login"),
    ]
    assert diagnostics.invalid_rows == 0


def test_csv_files_with_the_same_header_share_one_scan(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    for day in range(1, 31):
        write(tmp_path / f"d{day:02}.csv", HEADER + f"2022-08-{day:02}T10:00:00Z,u{day},ide\n")
    load(con, tmp_path)
    scans = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE view_name LIKE 'events_input_raw_%'"
    ).fetchall()
    assert scans == [(1,)]
    assert con.execute("SELECT count(DISTINCT user_id) FROM events_input").fetchall() == [(30,)]


def test_rows_are_numbered_and_malformed_lines_counted_with_their_lines(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    text = (
        HEADER
        + "2022-08-01T10:00:00Z,a,ide\n"  # row 1
        + "not a time,b,ide\n"  # row 2: unparseable
        + "2022-08-01T10:00:00Z,c\n"  # row 3: too few fields
        + "2022-08-01T10:00:00Z,d,ide,x\n"  # row 4: too many fields
        + "also not a time,e,ide\n"  # row 5: unparseable
    )
    one = write(tmp_path / "one.csv", text)
    diagnostics = load(con, one)
    assert diagnostics.total_rows == 5
    assert diagnostics.invalid_rows == 4
    assert diagnostics.invalid_reasons == [
        ("unparseable time", 2),
        ("too few fields", 1),
        ("too many fields", 1),
    ]
    assert diagnostics.invalid_examples == [
        (str(one), 2, "unparseable time"),
        (str(one), 3, "too few fields"),
        (str(one), 4, "too many fields"),
    ]
    # A single-file scan numbers its rows in the view itself (parsed rows only).
    assert con.execute(
        "SELECT user_id, source_row FROM events_input ORDER BY source_row"
    ).fetchall() == [("a", 1), ("b", 2), ("e", 3)]
    assert data_row(con, "events_input", str(one), 3) == 5


def test_rows_of_a_multi_file_scan_are_placed_in_their_own_file(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    good = HEADER + "2022-08-01T10:00:00Z,a,ide\n" * 3
    bad = HEADER + "2022-08-01T10:00:00Z,a,ide\nbad,b,ide\n2022-08-01T10:00:00Z,c\nbad,d,ide\n"
    write(tmp_path / "a.csv", good)
    second = write(tmp_path / "b.csv", bad)
    write(tmp_path / "c.csv", good)
    diagnostics = load(con, tmp_path)
    assert diagnostics.invalid_examples == [
        (str(second), 2, "unparseable time"),
        (str(second), 3, "too few fields"),
        (str(second), 4, "unparseable time"),
    ]
    # Several files in one scan: the view leaves CSV rows unnumbered rather than wrong.
    assert con.execute("SELECT count(source_row) FROM events_input").fetchall() == [(0,)]


def test_rejected_lines_are_counted_once_however_often_the_view_is_read(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "r.csv", HEADER + "2022-08-01T10:00:00Z,a\n2022-08-01T10:00:00Z,b,ide\n"
    )
    first = load(con, path)
    con.execute("SELECT count(*) FROM events_input").fetchall()
    assert diagnose(con) == first
    assert (first.total_rows, first.invalid_rows) == (2, 1)
    clean = write(tmp_path / "clean.csv", HEADER + "2022-08-01T10:00:00Z,c,ide\n")
    assert load(con, clean).invalid_rows == 0  # a new load forgets the old rejects


def test_bytes_that_are_not_utf8_fail_naming_file_and_line(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = write(tmp_path / "l.csv", HEADER.encode() + b"2022-08-01T10:00:00Z,Jos\xe9,ide\n")
    with pytest.raises(DataError) as caught:
        load(con, path)
    assert str(caught.value) == (
        f"{path}: line 2 is not UTF-8 text; convert the file to UTF-8 (iconv -f latin1 "
        "-t utf-8 FILE > FILE.utf8.csv, with the file's real encoding)"
    )


def test_bytes_that_are_not_utf8_in_an_ignored_column_do_not_matter(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    text = b"time,user_id,category,note\n2022-08-01T10:00:00Z,a,ide,caf\xe9\n"
    diagnostics = load(con, write(tmp_path / "n.csv", text))
    assert (diagnostics.total_rows, diagnostics.invalid_rows) == (1, 0)


@pytest.mark.parametrize(
    ("time", "problem"),
    [
        ("", "missing time"),
        ("   ", "missing time"),
        ("yesterday", "unparseable time"),
        ("2022-02-30T00:00:00Z", "unparseable time"),
        ("infinity", "unparseable time"),
        ("1659348000", "unparseable time"),
        ("1899-12-31T23:59:59Z", "time out of range"),
        ("2200-01-01T00:00:00Z", "time out of range"),
        ("294246-01-01T00:00:00Z", "time out of range"),
        ("1900-01-01T00:00:00Z", None),
        ("2199-12-31T23:59:59Z", None),
        ("2022-08-01 12:00:00+02:00", None),
    ],
)
def test_time_values(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, time: str, problem: str | None
) -> None:
    load(con, write(tmp_path / "t.csv", HEADER + f"{time},a,ide\n"))
    assert con.execute("SELECT problem FROM events_input").fetchall() == [(problem,)]


@pytest.mark.parametrize(
    ("duration", "end", "problem"),
    [
        ("", None, None),
        ("0", T0, None),
        ("1800", T0 + HOUR_US // 2, None),
        ("-5", None, "negative duration"),
        ("soon", None, "unparseable duration"),
        ("nan", None, "unparseable duration"),
        ("inf", None, "unparseable duration"),
        ("1e300", None, "coverage longer than a year"),
        ("3155760000", None, "coverage longer than a year"),  # 100 years
        ("31622400", T0 + 31_622_400_000_000, None),  # 366 days: the longest allowed
    ],
)
def test_duration_values_never_overflow(
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    duration: str,
    end: int | None,
    problem: str | None,
) -> None:
    text = "time,user_id,category,duration_s\n" + f"2022-08-01T10:00:00Z,a,ide,{duration}\n"
    load(con, write(tmp_path / "d.csv", text))
    assert con.execute("SELECT end_us, problem FROM events_input").fetchall() == [(end, problem)]


@pytest.mark.parametrize(
    ("time", "end", "problem"),
    [
        ("2022-08-01T10:00:00Z", "2022-08-01T09:59:59Z", "end_time before time"),
        ("2022-08-01T10:00:00Z", "2122-08-01T10:00:00Z", "coverage longer than a year"),
        ("2022-08-01T10:00:00Z", "294246-01-01T00:00:00Z", "coverage longer than a year"),
        ("2022-08-01T10:00:00Z", "later", "unparseable end_time"),
        ("294246-01-01T00:00:00Z", "294246-01-01T01:00:00Z", "time out of range"),
    ],
)
def test_end_time_values_never_overflow(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, time: str, end: str, problem: str
) -> None:
    text = "time,user_id,category,end_time\n" + f"{time},a,ide,{end}\n"
    load(con, write(tmp_path / "e.csv", text))
    assert con.execute("SELECT end_us, problem FROM events_input").fetchall() == [(None, problem)]


def test_nulls_in_each_field(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    text = (
        "id,time,user_id,category,organization_id,end_time\n"
        ",2022-08-01T10:00:00Z,a,ide,acme,2022-08-01T11:00:00Z\n"
        "e2,,b,ide,acme,\n"
        "e3,2022-08-01T10:00:00Z,,ide,acme,\n"
        "e4,2022-08-01T10:00:00Z,c,,acme,\n"
        "e5,2022-08-01T10:00:00Z,d,ide,,\n"
        "e6,2022-08-01T10:00:00Z,e,ide,acme,\n"
    )
    load(con, write(tmp_path / "n.csv", text))
    assert con.execute(
        "SELECT event_id, user_id, org, end_us, problem FROM events_input ORDER BY source_row"
    ).fetchall() == [
        (None, "a", "acme", T0 + HOUR_US, None),
        ("e2", "b", "acme", None, "missing time"),
        ("e3", None, "acme", None, "missing user_id"),
        ("e4", "c", "acme", None, "missing category"),
        ("e5", "d", None, None, None),
        ("e6", "e", "acme", None, None),
    ]


# Every character DuckDB's trim removes (the Unicode space separators), and some it keeps.
ID_SPACES = [" ", "\u00a0", "\u1680", "\u2000", "\u200a", "\u202f", "\u205f", "\u3000"]
ID_KEPT = ["\t", "\n", "\u200b", "\u00e9"]


def test_event_ids_are_trimmed_like_every_other_text(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """Ids skip trim when it could change nothing; the result is trim's, always."""
    values = ["", "a", "a b", "\u00e9t\u00e9", *ID_SPACES, *(c * 2 for c in ID_SPACES)]
    values += [f"{c}a" for c in ID_SPACES + ID_KEPT] + [f"a{c}" for c in ID_SPACES + ID_KEPT]
    values += [f"{c}a{c}" for c in ID_SPACES + ID_KEPT] + [f" \u00e9{c}" for c in ID_SPACES]
    table = pa.table(
        {
            "id": values,
            "time": pa.array([T0] * len(values), pa.timestamp("us", tz="UTC")),
            "user_id": ["u"] * len(values),
            "category": ["ide"] * len(values),
        }
    )
    path = tmp_path / "ids.parquet"
    pq.write_table(table, path)
    load(con, path)
    ids = con.execute("SELECT event_id FROM events_input ORDER BY source_row").fetchall()
    got = [v for (v,) in ids]
    expected = con.execute("SELECT nullif(trim(unnest($v)), '')", {"v": values}).fetchall()
    assert got == [v for (v,) in expected]
    assert got[values.index("\u3000a\u3000")] == "a"
    assert got[values.index("\ta\t")] == "\ta\t"


def test_the_ids_hashes_are_those_of_the_views_ids(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """The repeated-id search hashes the raw ids: the same hashes as the view's trimmed ids."""
    values = [None, "", "a", "a b", "!", "~x", "\x7fx", "\u00e9t\u00e9", "a\u00e9", *ID_SPACES]
    values += [f"{c}a" for c in ID_SPACES + ID_KEPT] + [f"a{c}" for c in ID_SPACES + ID_KEPT]
    values += [f"{c}a{c}" for c in ID_SPACES + ID_KEPT] + [f" \u00e9{c}" for c in ID_SPACES]
    parquet = tmp_path / "ids.parquet"
    pq.write_table(
        pa.table(
            {
                "id": values,
                "time": pa.array([T0] * len(values), pa.timestamp("us", tz="UTC")),
                "user_id": ["u"] * len(values),
                "category": ["ide"] * len(values),
            }
        ),
        parquet,
    )
    csv = write(tmp_path / "ids.csv", "id,time,user_id,category\n  x ,2022-08-01T10:00:00Z,u,ide\n")
    loaded = load_events(con, expand_paths([str(parquet), str(csv)]))
    assert loaded.id_hashes is not None
    got = con.execute(f"SELECT h FROM ({loaded.id_hashes}) ORDER BY h NULLS FIRST").fetchall()
    expected = con.execute(
        "SELECT CASE WHEN event_id IS NOT NULL THEN hash(event_id) END AS h "
        "FROM events_input ORDER BY h NULLS FIRST"
    ).fetchall()
    assert got == expected
    assert sum(h is None for (h,) in got) == 1 + len(ID_SPACES) + 1  # None, "" and the blanks


def test_repeated_ids_in_one_file_are_one_event(tmp_path: Path) -> None:
    """The first row of an id counts; an invalid row with the same id takes nothing away."""
    text = (
        "id,time,user_id,category\n"
        "x,2022-08-01T10:00:00Z,a,ide\n"
        " x ,2022-08-01T11:00:00Z,b,ide\n"  # the same id, trimmed: not counted
        "y,2022-08-01T10:00:00Z,a,ide\n"
        "y,not a time,a,ide\n"  # invalid: reported, and y still counts once
        "z,2022-08-01T12:00:00Z,c,ide\n"
    )
    con = connect()
    try:
        loaded = load_events(con, expand_paths([str(write(tmp_path / "r.csv", text))]))
        counted = sources.counted_view(con, loaded)
        got = con.execute(
            f"SELECT event_id, user_id, problem IS NULL FROM {counted} ORDER BY ALL"
        ).fetchall()
    finally:
        con.close()
    assert got == [("x", "a", True), ("y", "a", False), ("y", "a", True), ("z", "c", True)]


def test_a_file_whose_ids_never_repeat_is_counted_as_it_is(tmp_path: Path) -> None:
    """Ids repeated only by invalid rows, or not at all: no grouping by id."""
    text = "id,time,user_id,category\nx,2022-08-01T10:00:00Z,a,ide\ny,2022-08-01T10:00:00Z,a,\n"
    con = connect()
    try:
        loaded = load_events(con, expand_paths([str(write(tmp_path / "u.csv", text))]))
        assert sources.counted_view(con, loaded) == loaded.view
    finally:
        con.close()


def test_rows_without_an_id_are_left_out_of_the_search_and_counted(tmp_path: Path) -> None:
    """Blank ids hash to nothing (not to one shared hash): those rows all count."""
    text = (
        "id,time,user_id,category\n"
        ",2022-08-01T10:00:00Z,a,ide\n"
        " ,2022-08-01T10:00:00Z,a,ide\n"
        "x,2022-08-01T10:00:00Z,b,ide\n"
        "x,2022-08-01T11:00:00Z,c,ide\n"
    )
    con = connect()
    try:
        loaded = load_events(con, expand_paths([str(write(tmp_path / "n.csv", text))]))
        counted = sources.counted_view(con, loaded)
        got = con.execute(f"SELECT event_id, user_id FROM {counted} ORDER BY ALL").fetchall()
    finally:
        con.close()
    assert got == [("x", "b"), (None, "a"), (None, "a")]


def test_numpy_is_imported_in_the_sorts_thread_while_the_ids_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NumPy's import (a tenth of a second) runs beside DuckDB's reading, not before it."""
    import importlib
    import threading

    imports: list[tuple[str, str]] = []
    real_import = importlib.import_module

    def spy_import(name: str, package: str | None = None) -> Any:
        imports.append((name, threading.current_thread().name))
        return real_import(name, package)

    monkeypatch.setattr(importlib, "import_module", spy_import)
    text = "id,time,user_id,category\nx,2022-08-01T10:00:00Z,a,ide\ny,2022-08-01T11:00:00Z,b,ide\n"
    con = connect()
    try:
        loaded = load_events(con, expand_paths([str(write(tmp_path / "i.csv", text))]))
        assert sources.counted_view_later(con, loaded)() == loaded.view
    finally:
        con.close()
    assert ("numpy", "id-sort_0") in imports


def test_the_ids_sort_runs_beside_other_queries_and_hands_back_its_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The view is made when asked for, once; a failure of the sort's thread is raised there."""
    import threading

    from activity_report.sources import repeats

    text = "id,time,user_id,category\nx,2022-08-01T10:00:00Z,a,ide\nx,2022-08-01T11:00:00Z,b,ide\n"
    path = str(write(tmp_path / "r.csv", text))
    sorted_in: list[str] = []
    real_sort = repeats.repeated_hashes

    def spy(hashes: Any) -> Any:
        sorted_in.append(threading.current_thread().name)
        return real_sort(hashes)

    monkeypatch.setattr(repeats, "repeated_hashes", spy)
    con = connect()
    try:
        loaded = load_events(con, expand_paths([path]))
        later = sources.counted_view_later(con, loaded)
        # Another query on the connection while the sort may still run.
        assert con.execute(f"SELECT count(*) FROM {loaded.view}").fetchall() == [(2,)]
        name = later()
        assert later() == name != loaded.view
        assert con.execute(f"SELECT user_id FROM {name}").fetchall() == [("a",)]
        assert sorted_in == ["id-sort_0"]

        def broken(hashes: Any) -> Any:
            raise MemoryError("no room for the sort")

        monkeypatch.setattr(repeats, "repeated_hashes", broken)
        failing = sources.counted_view_later(con, loaded)
        with pytest.raises(MemoryError, match="no room for the sort"):
            failing()
    finally:
        con.close()


def test_categories_are_normalised_and_unknown_ones_counted(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    values = ["IDE", " Web Terminal ", "web-terminal", "deploy", "Deploy", "build", "x"]
    text = HEADER + "".join(f"2022-08-01T10:00:00Z,u,{v}\n" for v in values)
    diagnostics = load(con, write(tmp_path / "c.csv", text))
    assert con.execute("SELECT category FROM events_input ORDER BY source_row").fetchall() == [
        ("ide",),
        ("web_terminal",),
        ("web_terminal",),
        ("deploy",),
        ("deploy",),
        ("build",),
        ("x",),
    ]
    assert diagnostics.unknown_rows == 4
    assert diagnostics.unknown_values == [("deploy", 2), ("build", 1), ("x", 1)]


def test_quoted_column_names_are_quoted_not_spliced(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    text = (
        '"Time","user_id","category","x""); DROP TABLE t; --"\n'
        '2022-08-01T10:00:00Z,a,ide,"y\'); DROP TABLE t; --"\n'
    )
    con.execute("CREATE TABLE t AS SELECT 1 AS kept")
    assert load(con, write(tmp_path / "q.csv", text)).invalid_rows == 0
    assert rows(con, "user_id, ts") == [("a", T0)]
    assert con.execute("SELECT kept FROM t").fetchall() == [(1,)]


# --------------------------------------------------------------------------- Parquet


def parquet(path: Path, columns: dict[str, Any], schema: pa.Schema | None = None) -> Path:
    pq.write_table(pa.table(columns, schema=schema), path)
    return path


def stamp(hour: int) -> Any:
    from datetime import UTC, datetime

    return datetime(2022, 8, 1, hour, tzinfo=UTC)


def test_parquet_files_whose_schemas_differ_are_read_by_name(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    parquet(
        tmp_path / "a.parquet",
        {
            "time": [stamp(10)],
            "user_id": ["a"],
            "category": ["ide"],
            "end_time": [stamp(11)],
        },
    )
    parquet(  # columns in another order, an extra column, no end_time
        tmp_path / "b.parquet",
        {"category": ["app"], "extra": [1.5], "user_id": ["b"], "time": [stamp(12)]},
    )
    parquet(  # the same mapping as a.parquet but another order: one scan with it
        tmp_path / "c.parquet",
        {
            "end_time": [stamp(14)],
            "user_id": ["c"],
            "time": [stamp(13)],
            "category": ["login"],
        },
    )
    diagnostics = load(con, tmp_path)
    assert rows(con, "user_id, ts, end_us, category, source_row") == [
        ("a", T0, T0 + HOUR_US, "ide", 1),
        ("b", T0 + 2 * HOUR_US, None, "app", 1),
        ("c", T0 + 3 * HOUR_US, T0 + 4 * HOUR_US, "login", 1),
    ]
    assert diagnostics.invalid_rows == 0
    scans = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE view_name LIKE 'events_input_raw_%'"
    ).fetchall()
    assert scans == [(2,)]


def test_a_parquet_time_of_integers_is_refused(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = parquet(
        tmp_path / "int.parquet", {"time": [1659348000], "user_id": ["a"], "category": ["ide"]}
    )
    with pytest.raises(DataError) as caught:
        load(con, path)
    assert str(caught.value) == (
        f"{path}: column 'time' (time) has type BIGINT; its numbers look like seconds since "
        "the epoch, such as 1659348000: read them with time_format epoch-s"
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            pa.array([1659348000123, 1659348060123], pa.int64()),
            "its numbers look like milliseconds since the epoch, such as 1659348000123: read "
            "them with time_format epoch-ms",
        ),
        (
            pa.array([1659348000.5, 1659348001.0], pa.float64()),
            "its numbers look like seconds since the epoch, such as 1659348000.5: read them with "
            "time_format epoch-s",
        ),
        (
            pa.array([7, 1659348000], pa.int32()),
            "it must hold timestamps or ISO 8601 text, or epoch numbers read with time_format "
            "epoch-s, epoch-ms, epoch-us or epoch-ns (the unit they count)",
        ),
        (
            pa.array([True, False]),
            "it must hold timestamps or ISO 8601 text",
        ),
    ],
)
def test_a_parquet_time_of_numbers_is_told_its_unit_by_the_statistics(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, values: pa.Array, message: str
) -> None:
    path = tmp_path / "n.parquet"
    pq.write_table(pa.table({"time": values, "user_id": ["a", "b"], "category": ["ide"] * 2}), path)
    kind = {"int64": "BIGINT", "double": "DOUBLE", "int32": "INTEGER", "bool": "BOOLEAN"}
    with pytest.raises(DataError) as caught:
        load(con, path)
    assert str(caught.value) == (
        f"{path}: column 'time' (time) has type {kind[str(values.type)]}; {message}"
    )


def test_a_truncated_parquet_file_is_an_error_naming_it(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = parquet(
        tmp_path / "cut.parquet",
        {"time": [stamp(10)] * 1000, "user_id": ["a"] * 1000, "category": ["ide"] * 1000},
    )
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError) as caught:
        load(con, path)
    message = str(caught.value)
    assert message.startswith(f"{path}: cannot read it as PARQUET: ")
    assert "\n" not in message


def test_a_parquet_file_damaged_inside_is_an_error_naming_it(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """The footer (the schema) is intact; the scan finds the damage, diagnose names the file."""
    n = 20_000
    path = tmp_path / "damaged.parquet"
    pq.write_table(
        pa.table(
            {
                "time": [stamp(10)] * n,
                "user_id": [f"u{i}" for i in range(n)],
                "category": ["ide"] * n,
            }
        ),
        path,
        compression="none",
    )
    data = bytearray(path.read_bytes())
    for i in range(1000, len(data) // 2, 7):
        data[i] = 0xFF
    path.write_bytes(bytes(data))
    load_events(con, expand_paths([str(path)]))  # the schema reads fine
    with pytest.raises(DataError) as caught:
        diagnose(con)
    assert str(caught.value).startswith(f"cannot read {path}: ")
    assert "\n" not in str(caught.value)


def test_parquet_nulls_and_bad_values_become_problems(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    schema = pa.schema(
        [
            ("time", pa.timestamp("us", tz="UTC")),
            ("user_id", pa.string()),
            ("category", pa.string()),
            ("duration_ms", pa.float64()),
        ]
    )
    parquet(
        tmp_path / "p.parquet",
        {
            "time": [stamp(10), None, stamp(10), stamp(10), stamp(10)],
            "user_id": ["a", "b", None, "d", "e"],
            "category": ["ide", "ide", "ide", "ide", "ide"],
            "duration_ms": [1000.0, 1000.0, 1000.0, float("nan"), -1.0],
        },
        schema,
    )
    load(con, tmp_path / "p.parquet")
    assert con.execute(
        "SELECT source_row, end_us, problem FROM events_input ORDER BY source_row"
    ).fetchall() == [
        (1, T0 + 1_000_000, None),
        (2, None, "missing time"),
        (3, None, "missing user_id"),
        (4, None, "unparseable duration"),
        (5, None, "negative duration"),
    ]


def test_load_events_without_files_is_an_error(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(DataError) as caught:
        load_events(con, [])
    assert caught.value.render(flag_name) == "no event files given; pass --events PATH or --db PATH"
    assert str(caught.value) == "no event files given; pass events PATH or db PATH"


def test_the_view_keeps_its_columns(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    load(con, write(tmp_path / "v.csv", HEADER + "2022-08-01T10:00:00Z,a,ide\n"))
    described = con.execute("DESCRIBE events_input").fetchall()
    assert [(name, kind) for name, kind, *_ in described] == [
        ("ts", "BIGINT"),
        ("end_us", "BIGINT"),
        ("user_id", "VARCHAR"),
        ("category", "VARCHAR"),
        ("org", "VARCHAR"),
        ("event_id", "VARCHAR"),
        ("problem", "VARCHAR"),
        ("source_file", "VARCHAR"),
        ("source_row", "BIGINT"),
    ]


def test_a_query_that_reads_no_file_name_joins_nothing_for_it(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """A scan of one file names it with a constant; a scan of several looks names up."""
    one = write(tmp_path / "it's.csv", HEADER + "2022-08-01T10:00:00Z,a,ide\n")
    load(con, one)

    def plan(sql: str) -> str:
        return "\n".join(str(row[-1]) for row in con.execute(f"EXPLAIN {sql}").fetchall()).lower()

    assert "join" not in plan("SELECT ts, user_id FROM events_input")
    assert rows(con, "source_file, user_id") == [(str(one), "a")]
    folder = tmp_path / "several"
    folder.mkdir()
    a = write(folder / "a.csv", HEADER + "2022-08-01T10:00:00Z,a,ide\n")
    b = write(folder / "b.csv", HEADER + "2022-08-01T10:00:00Z,b,ide\n")
    load(con, folder)
    assert "join" in plan("SELECT ts, user_id FROM events_input")
    assert rows(con, "source_file, user_id") == [(str(a), "a"), (str(b), "b")]


def test_a_load_leaves_nothing_in_a_database_file(tmp_path: Path) -> None:
    """The store loads files on its own connection: nothing may persist in its file."""
    events = write(tmp_path / "e.csv", HEADER + "2022-08-01T10:00:00Z,a\n")
    pq.write_table(
        pa.table({"time": [stamp(10)], "user_id": ["b"], "category": ["ide"]}),
        tmp_path / "e.parquet",
    )
    database = tmp_path / "store.duckdb"
    con = duckdb.connect(str(database))
    assert load(con, events, tmp_path / "e.parquet").invalid_rows == 1
    con.close()
    con = duckdb.connect(str(database))
    kept = con.execute(
        "SELECT (SELECT count(*) FROM duckdb_views() WHERE NOT internal), "
        "(SELECT count(*) FROM duckdb_tables())"
    ).fetchall()
    con.close()
    assert kept == [(0, 0)]
