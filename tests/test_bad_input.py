"""Hostile and broken input: every bad input gets a clear answer.

The corpus is ``tests/bad_inputs/`` (small files, each a case below) plus the
files the fixtures generate (Parquet, paths, permissions). Each case has its
exact exit code, stdout and stderr. Then: bad option values, values that try
to get into SQL, fuzzed parsers, Ctrl-C, and memory bounded by DuckDB.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activity_report.backends.duckdb import open_files
from activity_report.errors import UsageError
from activity_report.intervals import parse_heartbeat, parse_interval
from activity_report.query import Query
from activity_report.reporting import run
from activity_report.resources import Limits, parse_memory_limit
from activity_report.sources import normalise_category
from activity_report.times import parse_instant, parse_tz

from .conftest import invoke as cli_invoke
from .conftest import write_far_times

BAD = Path(__file__).resolve().parent / "bad_inputs"
PROG = "activity-report"
DAY_NS = 86_400_000_000_000
MIN_NS = 60_000_000_000
ONE_DAY = ("--start", "2022-08-01", "--end", "2022-08-02", "--interval", "1d", "--format", "csv")
HEADER = "time,bucket_duration,user_id,name,username,count,duration\n"


def report(*users: tuple[str, int, int]) -> str:
    """The CSV report of one day (ONE_DAY) listing ``(user, count, duration_ns)``."""
    body = "".join(f"2022-08-01T00:00:00Z,{DAY_NS},{u},,,{c},{d}\n" for u, c, d in users)
    return HEADER + body


def warning(invalid: str) -> str:
    return f"{PROG}: warning: skipped {invalid}; --strict makes this an error\n"


def error(message: str) -> str:
    return f"{PROG}: error: {message}\n"


@dataclass(frozen=True)
class Result:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None


def invoke(*args: str, input: str | None = None) -> Result:
    result = cli_invoke(args, input=input)
    return Result(result.exit_code, result.stdout, result.stderr, result.exception)


@dataclass(frozen=True)
class Case:
    file: str
    exit_code: int
    stdout: str
    stderr: str
    args: tuple[str, ...] = ONE_DAY


NOT_UTF8 = (
    "latin1.csv: line 3 is not UTF-8 text; convert the file to UTF-8 (iconv -f latin1 "
    "-t utf-8 FILE > FILE.utf8.csv, with the file's real encoding)"
)

HOSTILE_ID = "\x1b[2J\x1b[31mroot\x1b]0;owned\x07"  # clear, red, retitle, bell

#: The corpus in tests/bad_inputs/, one case per file (and some with --strict).
CORPUS = [
    Case(
        "empty.csv",
        1,
        "",
        error(
            "empty.csv: the file is empty; an event file needs at least a header row "
            "(time, user_id, category)"
        ),
    ),
    Case(
        "header_only.csv",
        0,
        HEADER,
        f"{PROG}: note: no activity in the range for these filters\n",
    ),
    Case(
        "header_only.csv",
        0,
        '{\n  "activity": [],\n  "users": {}\n}\n',
        f"{PROG}: note: no events match the filters; the report is empty\n",
        ("--json",),
    ),
    Case(
        "ragged.csv",
        0,
        report(("alice", 1, MIN_NS), ("dave", 1, MIN_NS)),
        warning("2 invalid rows (1 too few fields, 1 too many fields; first in ragged.csv row 2)"),
    ),
    Case(
        "ragged.csv",
        1,
        "",
        error(
            "2 invalid rows (1 too few fields, 1 too many fields; first in ragged.csv row 2); "
            "fix them or run without --strict to skip and report them"
        ),
        (*ONE_DAY, "--strict"),
    ),
    Case("semicolon.csv", 0, report(("alice", 1, MIN_NS), ("bob", 1, MIN_NS)), ""),
    Case("bom.csv", 0, report(("alice", 1, MIN_NS)), ""),
    Case("latin1.csv", 1, "", error(NOT_UTF8)),
    Case("multiline.csv", 0, report(("alice", 1, MIN_NS), ("bob", 1, MIN_NS)), ""),
    Case(
        "missing_time.csv",
        1,
        "",
        error(
            "missing_time.csv: no time column (accepted names: time, timestamp, ts, "
            "created_at, started_at, start_time); columns found: timestamp_utc, user_id, "
            "category; name the one to use with --column time=NAME"
        ),
    ),
    Case(
        "missing_user_id.csv",
        1,
        "",
        error(
            "missing_user_id.csv: no user_id column (accepted names: user_id, user, "
            "user_uuid); columns found: time, username, category; name the one to use with "
            "--column user=NAME"
        ),
    ),
    Case(
        "missing_category.csv",
        1,
        "",
        error(
            "missing_category.csv: no category column (accepted names: category, action, "
            "type); columns found: time, user_id, kind; name the one to use with --column "
            "category=NAME"
        ),
    ),
    Case(
        "bad_times.csv",
        0,
        report(("alice", 1, MIN_NS), ("frank", 1, MIN_NS)),
        warning(
            "4 invalid rows (3 unparseable time, 1 time out of range; first in bad_times.csv row 2)"
        ),
    ),
    Case(
        "bad_times.csv",
        1,
        "",
        error(
            "4 invalid rows (3 unparseable time, 1 time out of range; first in bad_times.csv "
            "row 2); fix them or run without --strict to skip and report them"
        ),
        (*ONE_DAY, "--strict"),
    ),
    Case(
        "nulls.csv",
        0,
        report(("alice", 1, 30 * MIN_NS), ("dave", 1, MIN_NS), ("erin", 1, MIN_NS)),
        warning(
            "3 invalid rows (1 missing category, 1 missing time, 1 missing user_id; "
            "first in nulls.csv row 2)"
        ),
    ),
    Case(
        "end_before_time.csv",
        0,
        report(("carol", 1, 120 * MIN_NS), ("bob", 1, 0)),
        warning("1 invalid row (1 end_time before time; first in end_before_time.csv row 1)"),
    ),
    Case(
        "durations.csv",
        0,
        report(("carol", 1, 30 * MIN_NS)),
        warning(
            "4 invalid rows (2 unparseable duration, 1 coverage longer than a year, "
            "1 negative duration; first in durations.csv row 1)"
        ),
    ),
    Case(
        "century.csv",
        0,
        report(("bob", 1, 60 * MIN_NS)),
        warning("1 invalid row (1 coverage longer than a year; first in century.csv row 1)"),
    ),
    Case(
        "unknown_categories.csv",
        0,
        report(("alice", 1, MIN_NS), ("bob", 1, MIN_NS)),
        f"{PROG}: warning: 5 events have an unknown category and are in no report; "
        "commonest: 'deploy' (3), 'build' (2)\n",
    ),
    # Rows sharing an id are one event, in files as in the store.
    Case("duplicates.csv", 0, report(("alice", 2, 90_000_000_000)), ""),
    Case(
        "utf16.csv",
        1,
        "",
        error(
            "utf16.csv: the file is UTF-16 text; convert it to UTF-8 "
            "(iconv -f utf-16 -t utf-8 FILE > FILE.utf8.csv)"
        ),
    ),
    # A line that starts with # is no comment: DuckDB's sniffer must not drop it.
    Case(
        "comment_like.csv",
        0,
        report(("a", 1, MIN_NS), ("c", 1, MIN_NS)),
        warning("1 invalid row (1 unparseable time; first in comment_like.csv row 2)"),
    ),
    # DuckDB reads 'epoch' as 1970 and takes offsets no clock has (+25:00, -99).
    Case(
        "words_as_times.csv",
        0,
        report(("alice", 1, MIN_NS), ("frank", 1, MIN_NS), ("gina", 1, MIN_NS), ("hal", 1, MIN_NS)),
        warning("4 invalid rows (4 unparseable time; first in words_as_times.csv row 2)"),
    ),
    # Machine formats keep the data as it is; the formats for people escape it (below).
    Case(
        "escapes.csv",
        0,
        report((HOSTILE_ID, 1, MIN_NS)),
        f"{PROG}: warning: 1 event has an unknown category and is in no report; "
        "commonest: '[/bold]' (1)\n",
    ),
]


def test_every_corpus_file_has_a_case() -> None:
    assert {p.name for p in BAD.iterdir()} == {c.file for c in CORPUS}


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: f"{c.file}{' '.join(c.args[8:])}")
def test_corpus(case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BAD)
    result = invoke("--events", case.file, *case.args)
    assert (result.exit_code, result.stdout, result.stderr) == (
        case.exit_code,
        case.stdout,
        case.stderr,
    )


# --------------------------------------------------------------------------- generated corpus


def stamp(hour: int, minute: int = 0) -> datetime:
    return datetime(2022, 8, 1, hour, minute, tzinfo=UTC)


def write_parquet(path: Path, columns: dict[str, Any]) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


@pytest.fixture
def generated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Bad inputs too binary or too odd for files in git; the cwd is their folder."""
    monkeypatch.chdir(tmp_path)
    write_parquet(
        tmp_path / "int_time.parquet",
        {"time": [1_659_348_000], "user_id": ["alice"], "category": ["ide"]},
    )
    cut = write_parquet(
        tmp_path / "truncated.parquet",
        {"time": [stamp(10)] * 500, "user_id": ["alice"] * 500, "category": ["ide"] * 500},
    )
    cut.write_bytes(cut.read_bytes()[:700])
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    write_parquet(
        schemas / "a.parquet",
        {"time": [stamp(10)], "user_id": ["alice"], "category": ["ide"], "end_time": [stamp(11)]},
    )
    write_parquet(  # another order, an extra column, no end_time (the heartbeat applies)
        schemas / "b.parquet",
        {"category": ["app"], "extra": [1], "user_id": ["bob"], "time": [stamp(12)]},
    )
    write_parquet(
        schemas / "c.parquet",
        {
            "end_time": [stamp(13, 30)],
            "organization_id": ["acme"],
            "user_id": ["carol"],
            "time": [stamp(13)],
            "category": ["login"],
        },
    )
    # Seconds as pandas writes them (pyarrow stores milliseconds): bob's is 9e15 s.
    write_parquet(
        tmp_path / "far_time.parquet",
        {
            "time": pa.array(
                [1_659_348_000, 9_000_000_000_000_000, 1_659_351_600], pa.timestamp("s")
            ),
            "user_id": ["alice", "bob", "carol"],
            "category": ["ide"] * 3,
        },
    )
    write_far_times(tmp_path / "far_times.parquet")
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "dir.csv").mkdir()
    (tmp_path / "secret.csv").write_text("time,user_id,category\n")
    return tmp_path


GENERATED = [
    Case(
        "int_time.parquet",
        1,
        "",
        error(
            "int_time.parquet: column 'time' (time) has type BIGINT; its numbers look like "
            "seconds since the epoch, such as 1659348000: read them with --time-format epoch-s"
        ),
    ),
    Case(
        "truncated.parquet",
        1,
        "",
        error(
            "truncated.parquet: cannot read it as PARQUET: Invalid Input Error: No magic bytes "
            "found at end of file 'truncated.parquet'"
        ),
    ),
    # A time too far from today for microseconds is one invalid row, not a failed file.
    Case(
        "far_time.parquet",
        0,
        report(("alice", 1, MIN_NS), ("carol", 1, MIN_NS)),
        warning("1 invalid row (1 time out of range; first in far_time.parquet row 2)"),
    ),
    Case(
        "far_time.parquet",
        1,
        "",
        error(
            "1 invalid row (1 time out of range; first in far_time.parquet row 2); "
            "fix them or run without --strict to skip and report them"
        ),
        (*ONE_DAY, "--strict"),
    ),
    Case(
        "far_times.parquet",
        0,
        report(("erin", 1, 30 * MIN_NS)),
        warning(
            "4 invalid rows (2 time out of range, 1 coverage longer than a year, "
            "1 end_time before time; first in far_times.parquet row 1)"
        ),
    ),
    Case(
        "schemas",
        0,
        report(("alice", 1, 60 * MIN_NS), ("carol", 1, 30 * MIN_NS), ("bob", 1, MIN_NS)),
        "",
    ),
    Case("nope.csv", 1, "", error("nope.csv: no such file or directory")),
    Case(
        "empty_dir",
        1,
        "",
        error(
            "empty_dir: is a directory that holds no event files (.parquet, .pq, .csv, .tsv, "
            ".csv.gz, .tsv.gz, .jsonl, .ndjson, .jsonl.gz, .ndjson.gz); name the files instead"
        ),
    ),
    Case(
        "dir.csv",
        1,
        "",
        error(
            "dir.csv: is a directory that holds no event files (.parquet, .pq, .csv, .tsv, "
            ".csv.gz, .tsv.gz, .jsonl, .ndjson, .jsonl.gz, .ndjson.gz); name the files instead"
        ),
    ),
    Case(
        "*.nothing",
        1,
        "",
        error(
            "*.nothing: the pattern matches no file; check the path (quote the pattern so the "
            "shell does not expand it)"
        ),
    ),
    Case(
        "",
        2,
        "",
        error("invalid event path '': give a file, a glob, a directory or - for stdin"),
    ),
]


@pytest.mark.parametrize(
    "case", GENERATED, ids=lambda c: f"{c.file or 'empty'}{' '.join(c.args[8:])}"
)
def test_generated_corpus(case: Case, generated: Path) -> None:
    result = invoke("--events", case.file, *case.args)
    assert (result.exit_code, result.stdout, result.stderr) == (
        case.exit_code,
        case.stdout,
        case.stderr,
    )


def deny_reading(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Tests run as root, who reads anything: make os.access say no for ``name``."""
    real = os.access

    def access(path: Any, mode: int, **kwargs: Any) -> bool:
        return False if Path(path).name == name else real(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)


def test_a_file_without_read_permission(generated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deny_reading(monkeypatch, "secret.csv")
    result = invoke("--events", "secret.csv", *ONE_DAY)
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        error("secret.csv: permission denied; make the file readable (chmod +r)"),
    )


def test_empty_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    result = invoke("--events", "-", *ONE_DAY, input="")
    assert (result.exit_code, result.stderr) == (
        1,
        error(
            "<stdin>: the file is empty; an event file needs at least a header row "
            "(time, user_id, category)"
        ),
    )


EMPTY = "the file is empty; an event file needs at least a header row (time, user_id, category)"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("blank.csv", b"\n\n"),
        ("blank.csv", b"\r\n \t\r\n"),
        ("blank.csv", b"\xef\xbb\xbf\n"),  # a byte order mark, then a blank line
        ("blank.csv", b"\xef\xbb\xbf"),
        ("blank.jsonl", b"\n\n"),
        ("blank.csv", b"\n" * 100_000),  # blank past the first read
    ],
)
@pytest.mark.parametrize("command", ["report", "ingest"])
def test_a_file_of_blank_lines_is_empty_for_report_and_ingest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, content: bytes, command: str
) -> None:
    # DuckDB's CSV reader finds no column in it ("Binder Error: read_csv requires
    # at least a single column"): the message is that of a file of no bytes.
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_bytes(content)
    args = ("--events", name) if command == "report" else ("ingest", name, "--db", "x.duckdb")
    result = invoke(*args)
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", error(f"{name}: {EMPTY}"))


def test_blank_lines_on_stdin_are_empty_input() -> None:
    result = invoke("--events", "-", *ONE_DAY, input="\n\n")
    assert (result.exit_code, result.stderr) == (1, error(f"<stdin>: {EMPTY}"))


JSON_LINES = '{"when": "2022-08-01T09:00:00Z", "user": "alice", "category": "ide"}\n'
JSON_ON_STDIN = (
    "<stdin>: its first line is a JSON object, but stdin is read as CSV; save JSON Lines "
    "to a .jsonl file and pass its path"
)


@pytest.mark.parametrize(
    "args",
    [
        ("--events", "-", "--column", "time=when"),
        ("--events", "-"),
        ("ingest", "-", "--db", "x.duckdb", "--column", "time=when"),
    ],
)
def test_json_lines_on_stdin_is_told_that_stdin_is_csv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    # Read as CSV, the object was one column named after it: "no column 'when' for
    # the time field (columns found: {"when":...})".
    monkeypatch.chdir(tmp_path)
    result = invoke(*args, input=JSON_LINES)
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", error(JSON_ON_STDIN))


def test_the_same_json_lines_in_a_jsonl_file_are_read(tmp_path: Path) -> None:
    (tmp_path / "x.jsonl").write_text(JSON_LINES)
    result = invoke("--events", str(tmp_path / "x.jsonl"), "--column", "time=when", *ONE_DAY)
    assert (result.exit_code, result.stdout, result.stderr) == (0, report(("alice", 1, MIN_NS)), "")


def test_json_lines_from_a_fifo_without_a_jsonl_name_is_told_so(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    writer = subprocess.Popen(
        ["sh", "-c", f"printf '%s' '{JSON_LINES}' > {shlex.quote(str(fifo))}"]
    )
    try:
        result = invoke("--events", str(fifo), "--column", "time=when")
    finally:
        writer.wait(timeout=10)
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        error(
            f"{fifo}: its first line is a JSON object, but a stream without a .jsonl name is "
            "read as CSV; save JSON Lines to a .jsonl file and pass its path"
        ),
    )


def test_a_file_that_only_starts_like_a_byte_order_mark_is_not_blank(tmp_path: Path) -> None:
    (tmp_path / "two.csv").write_bytes(b"\xef\xbb")
    result = invoke("--events", str(tmp_path / "two.csv"))
    assert result.exit_code == 1
    assert "the file is empty" not in result.stderr


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    "name", ["it's here.csv", 'say "hi".csv', "ev[1].csv", "a*b?.csv", "semi;colon.csv"]
)
def test_a_path_with_quotes_spaces_or_glob_characters_is_read_literally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    folder = tmp_path / "my [events] it's"
    folder.mkdir()
    shutil.copy(BAD / "bom.csv", folder / name)
    (folder / "ev1.csv").write_text("time,user_id,category\n2022-08-01T10:00:00Z,decoy,ide\n")
    monkeypatch.chdir(tmp_path)
    for spec in (str(folder / name), f"my [events] it's/{name}"):
        result = invoke("--events", spec, *ONE_DAY)
        assert (result.exit_code, result.stdout, result.stderr) == (
            0,
            report(("alice", 1, MIN_NS)),
            "",
        )


def test_a_glob_can_match_glob_characters_when_escaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(BAD / "bom.csv", tmp_path / "ev[1].csv")
    (tmp_path / "ev1.csv").write_text("time,user_id,category\n2022-08-01T10:00:00Z,decoy,ide\n")
    monkeypatch.chdir(tmp_path)
    result = invoke("--events", "ev[[]1]*", *ONE_DAY)
    assert (result.exit_code, result.stdout) == (0, report(("alice", 1, MIN_NS)))


def test_a_file_named_twice_is_counted_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BAD)
    result = invoke("--events", "bom.csv", "--events", "./bom.csv", "--events", "bo?.csv", *ONE_DAY)
    assert (result.exit_code, result.stdout) == (0, report(("alice", 1, MIN_NS)))


# --------------------------------------------------------------------------- bad option values

#: (arguments, what the one-line message must name); every one is exit 2.
BAD_OPTIONS: list[tuple[tuple[str, ...], tuple[str, ...]]] = [
    (("--interval", "0 day"), ("--interval", "'0 day'")),
    (("--interval", "-1 week"), ("--interval", "'-1 week'")),
    (("--interval", "1.5 hour"), ("--interval", "'1.5 hour'")),
    (("--interval", "1 fortnight"), ("--interval", "'1 fortnight'")),
    (("--interval", ""), ("--interval", "''")),
    (("--interval", "P0D"), ("--interval", "'P0D'")),
    (("--interval", "99999999999999999999 years"), ("--interval", "99999999999999999999")),
    (("--heartbeat", "1 month"), ("--heartbeat", "'1 month'")),
    (("--heartbeat", "0s"), ("--heartbeat", "'0s'")),
    (("--start", "2022-13-01"), ("--start", "'2022-13-01'")),
    (("--start", "tomorrowish"), ("--start", "'tomorrowish'")),
    (("--start", "2022-08-01T25:00"), ("--start", "'2022-08-01T25:00'")),
    (("--start", ""), ("--start", "''")),
    (("--end", ""), ("--end", "''")),
    (("--end", "99999-01-01"), ("--end", "'99999-01-01'")),
    (("--start", "10000000000 years ago"), ("--start", "'10000000000 years ago'")),
    (("--tz", "Mars/Olympus"), ("--tz", "'Mars/Olympus'")),
    (("--tz", "+25:00"), ("--tz", "'+25:00'")),
    (("--tz", ""), ("--tz", "''")),
    (("--category", "nope"), ("--category", "'nope'")),
    (("--category", ""), ("--category", "''")),
    (("--category", "ide' OR '1'='1"), ("--category", "\"ide' OR '1'='1\"")),
    (
        ("--start", "2022-08-02", "--end", "2022-08-01"),
        ("--end", "2022-08-01T00:00:00+00:00", "--start", "2022-08-02T00:00:00+00:00"),
    ),
    (
        ("--start", "2022-08-01", "--end", "2022-08-01"),
        ("--end", "--start", "2022-08-01T00:00:00+00:00"),
    ),
    (
        ("--start", "2000-01-01", "--end", "2022-01-01", "--interval", "1s"),
        ("694,310,400 buckets", "--max-buckets (100,000)"),
    ),
    (("--max-buckets", "0"), ("--max-buckets", "0")),
    (("--json", "--format", "csv"), ("--json", "--format csv")),
    (("--format", "bogus"), ("--format", "'bogus'")),
    (("--memory-limit", "lots"), ("--memory-limit", "'lots'")),
    (("--memory-limit", ""), ("--memory-limit", "''")),
    (("--memory-limit", "0MB"), ("--memory-limit", "'0MB'")),
    (("--memory-limit", "2GB'; SET threads=1; --"), ("--memory-limit", "SET threads=1")),
    (("--temp-dir", ""), ("--temp-dir", "''")),
    (("--temp-dir", "/nonexistent/spill/here"), ("--temp-dir", "'/nonexistent/spill/here'")),
    (("--temp-dir", "semicolon.csv"), ("--temp-dir", "'semicolon.csv'", "not a folder")),
    (("-o", "/nonexistent/out.json"), ("-o", "/nonexistent/out.json")),
    (("--no-such-option",), ("--no-such-option",)),
]


@pytest.mark.parametrize(("args", "named"), BAD_OPTIONS, ids=lambda v: " ".join(v)[:40])
def test_bad_option_values_are_usage_errors_naming_option_and_value(
    args: tuple[str, ...], named: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(BAD)
    result = invoke("--events", "semicolon.csv", *args)
    assert result.exit_code == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith(f"{PROG}: error: ")
    assert result.stderr.count("\n") == 1 and result.stderr.endswith("\n")
    for part in named:
        assert part in result.stderr


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("0s", "a heartbeat must be longer than zero, such as '30s' or '1 minute'"),
        ("-5s", "a heartbeat must be longer than zero, such as '30s' or '1 minute'"),
        (
            "1 month",
            "a heartbeat takes seconds, minutes or hours, such as '1 minute', '30s', '2h' or PT5M",
        ),
    ],
)
def test_a_heartbeat_of_no_length_is_told_so_not_that_it_needs_seconds(
    value: str, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # '0s' is seconds: the message names what is wrong with it, its length.
    monkeypatch.chdir(BAD)
    result = invoke("--events", "semicolon.csv", "--heartbeat", value)
    assert (result.exit_code, result.stdout, result.stderr) == (
        2,
        "",
        error(f"invalid value for --heartbeat: {value!r} ({reason})"),
    )


@pytest.mark.slow  # every case of the corpus again, and every bad option
def test_nothing_ends_in_a_traceback(generated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole corpus and every bad option value: one line per error, never a traceback."""
    for name in sorted(os.listdir(BAD)):
        shutil.copy(BAD / name, generated / name)
    deny_reading(monkeypatch, "secret.csv")
    runs: list[tuple[str, ...]] = []
    for case in [*CORPUS, *GENERATED]:
        runs.append(("--events", case.file, *case.args))
        if case.exit_code == 0:
            runs.append(("--events", case.file, "--strict", "--json"))
    runs.append(("--events", "secret.csv"))
    runs.extend(("--events", "semicolon.csv", *args) for args, _ in BAD_OPTIONS)
    seen_codes = set()
    for args in runs:
        result = invoke(*args)
        seen_codes.add(result.exit_code)
        assert "Traceback" not in result.stderr, args
        assert result.exception is None or isinstance(result.exception, SystemExit), args
        assert result.exit_code in (0, 1, 2), args
        if result.exit_code:
            assert result.stderr.startswith(f"{PROG}: error: "), args
            assert result.stderr.count("\n") == 1, (args, result.stderr)
    assert seen_codes == {0, 1, 2}


# --------------------------------------------------------------------------- SQL injection


@pytest.mark.parametrize(
    "args",
    [
        ("--org", "x' OR '1'='1"),
        ("--org", 'acme" OR "1"="1'),
        ("--user", "'; DROP TABLE events; --"),
        ("--user", "alice' --"),
        ("--org", "acme\x00"),
    ],
)
def test_filter_values_are_bound_never_spliced(
    args: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(BAD)
    result = invoke("--events", "semicolon.csv", *ONE_DAY, *args)
    option, value = args
    unmatched = f"{option} {value!r} matches no organization id in the data"
    if option == "--user":
        unmatched = (
            f"{option} {value!r} matches no user id in the data; to give a username, pass "
            "the user directory with --users FILE (or import it into the store with "
            "`activity-report users import FILE`)"
        )
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        HEADER,
        f"{PROG}: warning: {unmatched}\n{PROG}: note: no activity in the range for these filters\n",
    )


def test_the_filters_still_match_real_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """The injection tests' empty reports are no accident: real values do match."""
    monkeypatch.chdir(BAD)
    result = invoke("--events", "semicolon.csv", *ONE_DAY, "--org", "acme", "--user", "bob")
    assert (result.exit_code, result.stdout) == (0, report(("bob", 1, MIN_NS)))


# --------------------------------------------------------------------------- fuzzing

NOW = datetime(2024, 2, 29, 12, 30, tzinfo=UTC)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

UNITS = st.sampled_from(
    "s sec second seconds m min minute minutes h hr hour hours d day days w wk week weeks "
    "mon month months q quarter quarters y yr year years ago hourly daily weekly monthly "
    "quarterly yearly now today yesterday utc local z t P PT".split()
)
NUMBERS = st.one_of(
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
    st.sampled_from(["0", "00", "1.5", "1e3", "١", "²", "∞", "nan", "-0", "+1"]),
)
SEPARATORS = st.sampled_from(["", " ", "  ", "\t", "-", ":", "T", "+", "/", "_", "\n"])
#: Texts near the grammars: numbers, units, separators and ISO-ish fragments.
GRAMMARISH = st.lists(st.one_of(NUMBERS, UNITS, SEPARATORS), max_size=8).map("".join)
ISOISH = st.builds(
    lambda y, mo, d, h, mi, s, frac, off: f"{y}-{mo}-{d}T{h}:{mi}:{s}{frac}{off}",
    st.integers(-1, 100_000),
    st.integers(-1, 99).map(lambda v: f"{v:02}"),
    st.integers(-1, 99).map(lambda v: f"{v:02}"),
    st.integers(-1, 99).map(lambda v: f"{v:02}"),
    st.integers(-1, 99).map(lambda v: f"{v:02}"),
    st.integers(-1, 99).map(lambda v: f"{v:02}"),
    st.sampled_from(["", ".5", ".123456789", ".", ",1"]),
    st.sampled_from(["", "Z", "+00:00", "-23:59", "+24:00", "+99", "+05:30", "+0530", "-1"]),
)
ISO_DURATIONS = st.builds(
    lambda parts: "P" + "".join(parts),
    st.lists(
        st.one_of(
            st.builds(lambda n, u: f"{n}{u}", NUMBERS, st.sampled_from(list("YMWDHS"))),
            st.just("T"),
        ),
        max_size=5,
    ),
)
TEXTS = st.one_of(st.text(max_size=40), GRAMMARISH, ISOISH, ISO_DURATIONS)
ZONES = st.sampled_from(["UTC", "Europe/Berlin", "+14:00", "-12:00", "America/St_Johns"])


def usage_error_or(call: Any, *args: Any, **kwargs: Any) -> None:
    """The call returns, or raises the project's UsageError; nothing else."""
    try:
        call(*args, **kwargs)
    except UsageError as exc:
        message = str(exc)
        assert message.startswith("invalid value for ") or "--" in message
        assert "\n" not in message


@FUZZ
@given(TEXTS)
def test_fuzz_parse_interval(text: str) -> None:
    usage_error_or(parse_interval, text)


@FUZZ
@given(TEXTS)
def test_fuzz_parse_heartbeat(text: str) -> None:
    usage_error_or(parse_heartbeat, text)


@FUZZ
@given(st.one_of(TEXTS, st.sampled_from(["Etc/GMT+5", "etc/gmt-14", "UTC+05:30", "posixrules"])))
def test_fuzz_parse_tz(text: str) -> None:
    usage_error_or(parse_tz, text)


@FUZZ
@given(TEXTS, ZONES)
def test_fuzz_parse_instant(text: str, zone: str) -> None:
    usage_error_or(parse_instant, text, tz=parse_tz(zone), now=NOW, param="start")


@FUZZ
@given(TEXTS)
def test_fuzz_parse_memory_limit(text: str) -> None:
    usage_error_or(parse_memory_limit, text)


@FUZZ
@given(st.text(max_size=30))
def test_fuzz_normalise_category_is_total(text: str) -> None:
    assert isinstance(normalise_category(text), str)


# --------------------------------------------------------------------------- big inputs


@pytest.fixture(scope="module")
def big_parquet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Two million events of 2,000 users over 28 days: a few seconds of work."""
    path = tmp_path_factory.mktemp("big") / "events.parquet"
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(
        """COPY (
            SELECT TIMESTAMPTZ '2022-08-01 00:00:00+00' + to_seconds(i * 1208 // 1000) AS time,
                   'u' || (hash(i) % 2000) AS user_id,
                   (['ide', 'app', 'login', 'tunnel', 'web_terminal'])[1 + i % 5] AS category
            FROM range(2000000) t(i)
        ) TO '"""
        + str(path).replace("'", "''")
        + "' (FORMAT parquet)"
    )
    con.close()
    yield path


def wait_until_open(pid: int, path: Path, timeout: float = 30.0) -> None:
    """Until process ``pid`` has ``path`` open (Linux /proc): then it is reading events."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            links = []
        if str(path) in links:
            return
        time.sleep(0.02)
    raise AssertionError(f"process {pid} never opened {path}")


@pytest.mark.slow  # a signal to the CLI in a child
def test_sigint_during_a_report_exits_130_and_writes_nothing(
    big_parquet: Path, tmp_path: Path
) -> None:
    output = tmp_path / "out" / "report.json"
    output.parent.mkdir()
    command = [sys.executable, "-m", "activity_report", "--events", str(big_parquet)]
    command += ["--interval", "1 hour", "--heartbeat", "5 minutes", "-o", str(output)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    wait_until_open(process.pid, big_parquet)
    time.sleep(0.3)  # inside DuckDB's queries by now
    assert process.poll() is None, "the report ended before the interrupt: make the input bigger"
    interrupted = time.monotonic()
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert time.monotonic() - interrupted < 10  # the running query stopped; it did not finish
    assert (process.returncode, stdout, stderr) == (130, "", f"{PROG}: error: interrupted\n")
    assert list(output.parent.iterdir()) == []  # no report, no temporary file


#: Runs argv[1:] and prints its exit code and peak RSS (KiB). A child forked
#: straight from pytest would start with pytest's own resident set counted in
#: its ru_maxrss (it survives exec); forked from this small launcher, it does not.
LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def child_peak_rss_mb(command: Sequence[str], cwd: Path) -> tuple[int, float, str]:
    """Run ``command``; its exit code, peak resident memory (MiB) and stderr."""
    result = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *command],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=True,
    )
    code, peak_kib = result.stdout.split()
    return int(code), int(peak_kib) / 1024, result.stderr


@pytest.mark.slow  # two million events, in a child
def test_memory_stays_within_the_limit_duckdb_is_given(big_parquet: Path, tmp_path: Path) -> None:
    """With --memory-limit 64MB, two million events take under 250 MiB in all.

    Measured here: 170 MiB with the limit, 280 MiB without (DuckDB uses what it may).
    """
    command = [sys.executable, "-m", "activity_report", "--events", str(big_parquet)]
    command += ["--interval", "1 day", "--format", "csv", "-o", str(tmp_path / "r.csv")]
    command += ["--memory-limit", "64MB", "--temp-dir", str(tmp_path / "spill")]
    code, peak_mb, stderr = child_peak_rss_mb(command, tmp_path)
    assert (code, stderr) == (0, "")
    assert peak_mb < 250, peak_mb
    lines = (tmp_path / "r.csv").read_text().splitlines()
    assert sum(int(line.split(",")[5]) for line in lines[1:]) == 2_000_000
    assert not (tmp_path / "spill").exists()


@pytest.mark.slow  # two million events, traced
def test_events_never_come_into_python(big_parquet: Path, tmp_path: Path) -> None:
    """Python's own allocations do not grow with the number of events (DuckDB's do not count)."""
    small = tmp_path / "small.parquet"
    pq.write_table(pq.read_table(big_parquet).slice(0, 200_000), small)

    def peak(path: Path) -> int:
        query = Query(interval=parse_interval("1 week"))
        tracemalloc.start()
        try:
            with open_files([str(path)], limits=Limits("256MB")) as source:
                result = run(query, source)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            assert result.diagnostics.total_rows in (200_000, 2_000_000)

    small_peak, big_peak = peak(small), peak(big_parquet)
    assert big_peak < 2 * small_peak + 1_000_000, (small_peak, big_peak)
    assert big_peak < 16 * 1024 * 1024, big_peak  # two million events are ~50 MiB as tuples


def test_csv_bytes_in_a_column_the_report_does_not_use_are_still_found(tmp_path: Path) -> None:
    """The checking pass reads every column of CSV input, so a file in another
    encoding is refused even when its bad bytes sit in the id column."""
    path = tmp_path / "bad_id.csv"
    path.write_bytes(
        b"time,user_id,category,id\n"
        b"2024-01-01T10:00:00Z,u1,ide,a\n"
        b"2024-01-01T10:01:00Z,u1,ide,\xff\xfe\n"
    )
    run = invoke("--events", str(path), "--json")
    assert run.exit_code == 1
    assert run.stdout == ""
    assert run.stderr.startswith(f"activity-report: error: {path}: line 3 is not UTF-8 text;")


# --------------------------------------------------------------------------- every line counted


def many_rows(path: Path, rows: int, *, extra: str = "", at: int | None = None) -> Path:
    """A CSV file of ``rows`` plain rows, with the line ``extra`` after row ``at``."""
    with path.open("w", encoding="utf-8") as handle:
        handle.write("time,user_id,category,note\n")
        for i in range(rows):
            handle.write(f"2022-08-01T10:00:00Z,u{i % 7},ide,x\n")
            if i == at:
                handle.write(extra)
    return path


def counted(result: Result) -> int:
    """The events a one-day CSV report counts."""
    return sum(int(line.split(",")[-2]) for line in result.stdout.splitlines()[1:])


def test_a_line_longer_than_duckdbs_buffer_is_refused_not_dropped(tmp_path: Path) -> None:
    long_line = "2022-08-01T10:00:00Z,ulong,ide," + "y" * (33 * 1024 * 1024) + "\n"
    path = many_rows(tmp_path / "long.csv", 30_001, extra=long_line, at=25_000)
    result = invoke("--events", str(path), *ONE_DAY, "--strict")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == error(
        f"{path}: line 25003 is longer than 4 MiB; no event takes that much, so the file "
        "is damaged or not an event log: fix or remove that line"
    )


def test_a_long_line_among_the_first_rows_is_rejected_with_its_line(tmp_path: Path) -> None:
    long_line = "2022-08-01T10:00:00Z,ulong,ide," + "y" * (3 * 1024 * 1024) + "\n"
    path = many_rows(tmp_path / "top.csv", 300, extra=long_line, at=100)
    result = invoke("--events", str(path), *ONE_DAY)
    assert result.exit_code == 0
    assert counted(result) == 300
    assert result.stderr == warning(f"1 invalid row (1 line too long; first in {path} row 102)")


def test_a_quoted_field_past_the_sniffers_sample_is_read(tmp_path: Path) -> None:
    path = many_rows(
        tmp_path / "late.csv", 30_000, extra='2022-08-01T10:00:00Z,"u3,x",ide,x\n', at=29_999
    )
    result = invoke("--events", str(path), *ONE_DAY, "--strict")
    assert (result.exit_code, result.stderr) == (0, "")
    assert counted(result) == 30_001
    assert '"u3,x",,,1,' in result.stdout


def test_each_file_of_a_shared_header_is_read_with_its_own_quoting(tmp_path: Path) -> None:
    plain = many_rows(tmp_path / "a.csv", 10, extra="2022-08-01T10:00:00Z,'u1',ide,x\n", at=0)
    quoted = tmp_path / "b.csv"
    quoted.write_text('time,user_id,category,note\n2022-08-01T10:00:00Z,"u3,x",ide,"a ""b"""\n')
    result = invoke("--events", str(plain), "--events", str(quoted), *ONE_DAY, "--strict")
    assert (result.exit_code, result.stderr) == (0, "")
    assert counted(result) == 12
    assert "'u1',,,1," in result.stdout


# --------------------------------------------------------------------------- what -o may touch

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "events.parquet"
SAMPLE_DAY = ("--events", str(SAMPLE), *ONE_DAY)


def test_o_dash_is_stdout_and_makes_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(*SAMPLE_DAY, "-o", "-")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == invoke(*SAMPLE_DAY).stdout
    assert result.stdout.startswith(HEADER)
    assert list(tmp_path.iterdir()) == []


def test_o_writes_through_a_link_to_its_target(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    target = reports / "2022-08.csv"
    target.write_text("last month\n")
    target.chmod(0o640)
    link = tmp_path / "latest.csv"
    link.symlink_to(target)
    result = invoke(*SAMPLE_DAY, "-o", str(link))
    assert (result.exit_code, result.stderr) == (0, "")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text().startswith(HEADER)
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.csv", "reports"]
    assert [p.name for p in reports.iterdir()] == ["2022-08.csv"]  # no temporary file left


def test_o_onto_a_fifo_writes_into_it(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader is there: no wait
    try:
        result = invoke(*SAMPLE_DAY, "-o", str(fifo))
        received = os.read(reader, 1 << 16)  # a day's report fits the pipe's buffer
    finally:
        os.close(reader)
    assert (result.exit_code, result.stderr) == (0, "")
    assert received.decode().startswith(HEADER)
    assert fifo.is_fifo()
    assert os.listdir(tmp_path) == ["pipe.csv"]


def test_o_onto_a_device_writes_into_it_and_leaves_it_a_device(tmp_path: Path) -> None:
    device = tmp_path / "null"
    os.mknod(device, 0o666 | 0o020000, os.makedev(1, 3))  # a /dev/null of our own
    result = invoke(*SAMPLE_DAY, "-o", str(device), "--format", "csv")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    assert device.is_char_device()
    assert os.listdir(tmp_path) == ["null"]


def test_o_onto_a_directory_or_its_link_is_a_usage_error(tmp_path: Path) -> None:
    folder = tmp_path / "out.csv"
    folder.mkdir()
    link = tmp_path / "link.csv"
    link.symlink_to(folder)
    result = invoke(*SAMPLE_DAY, "-o", str(link))
    assert (result.exit_code, result.stdout) == (2, "")
    assert "is a directory" in result.stderr
    assert link.is_symlink() and folder.is_dir() and list(folder.iterdir()) == []


# --------------------------------------------------------------------------- SIGTERM


@pytest.mark.slow  # a signal to the CLI in a child
def test_sigterm_while_reading_stdin_removes_its_copy(tmp_path: Path) -> None:
    spool = tmp_path / "tmp"
    spool.mkdir()
    command = [sys.executable, "-m", "activity_report", "--events", "-", *ONE_DAY]
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env={**os.environ, "TMPDIR": str(spool)},
    )
    assert process.stdin is not None
    process.stdin.write(b"time,user_id,category\n" + b"2022-08-01T10:00:00Z,a,ide\n" * 1000)
    process.stdin.flush()  # stdin stays open: the tool is still copying it
    deadline = time.monotonic() + 30
    while not list(spool.glob("activity-report-stdin-*")) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert list(spool.glob("activity-report-stdin-*")), "the copy of stdin never appeared"
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=30)
    assert (process.returncode, stdout, stderr) == (
        143,
        b"",
        b"activity-report: error: terminated\n",
    )
    assert list(spool.iterdir()) == []


@pytest.mark.slow  # a signal to the CLI in a child
def test_sigterm_during_a_report_leaves_no_temporary_file(
    big_parquet: Path, tmp_path: Path
) -> None:
    output = tmp_path / "out" / "report.json"
    output.parent.mkdir()
    command = [sys.executable, "-m", "activity_report", "--events", str(big_parquet)]
    command += ["--interval", "1 hour", "--heartbeat", "5 minutes", "-o", str(output)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    wait_until_open(process.pid, big_parquet)
    time.sleep(0.3)
    assert process.poll() is None, "the report ended before the signal: make the input bigger"
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert (process.returncode, stdout, stderr) == (143, "", f"{PROG}: error: terminated\n")
    assert list(output.parent.iterdir()) == []


# --------------------------------------------------------------------------- closed streams


def shell(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in sh, with $AR the tool: redirections as a user types them."""
    tool = f"{shlex.quote(sys.executable)} -m activity_report"
    return subprocess.run(
        ["sh", "-c", f"AR={shlex.quote(tool)}; {script}"],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


UNKNOWN_CSV = "time,user_id,category\n2022-08-01T10:00:00Z,a,deploy\n2022-08-01T11:00:00Z,b,ide\n"


@pytest.mark.slow  # the CLI in shell pipelines
def test_a_closed_stdout_is_an_error_that_says_so(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text(UNKNOWN_CSV)
    done = shell("$AR --events e.csv --json >&-", tmp_path)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == error(
        "stdout is closed: nowhere to write the report; redirect stdout (> FILE) or give -o FILE"
    )
    to_file = shell("$AR --events e.csv -o r.json 2>/dev/null >&-", tmp_path)
    assert to_file.returncode == 0
    assert (tmp_path / "r.json").read_text().startswith('{\n  "activity"')


@pytest.mark.slow  # the CLI in a shell
def test_a_closed_stderr_keeps_stdout_the_report_alone(tmp_path: Path) -> None:
    import json

    (tmp_path / "e.csv").write_text(UNKNOWN_CSV)
    done = shell("$AR --events e.csv --json 2>&-", tmp_path)
    assert (done.returncode, done.stderr) == (0, "")
    assert set(json.loads(done.stdout)) == {"activity", "users"}  # nothing else in it


@pytest.mark.slow  # the CLI in shell pipelines
def test_a_full_stdout_fails_a_report_but_not_a_committed_ingest(tmp_path: Path) -> None:
    import json

    (tmp_path / "e.csv").write_text(UNKNOWN_CSV)
    report_run = shell("$AR --events e.csv --json > /dev/full", tmp_path)
    assert (report_run.returncode, report_run.stderr) == (
        1,
        error("cannot write the report to stdout: No space left on device"),
    )
    ingest = shell("$AR ingest --db s.duckdb e.csv --json > /dev/full", tmp_path)
    assert ingest.returncode == 0
    assert ingest.stderr.startswith(
        f"{PROG}: warning: the ingest is committed, but its counts could not be written to "
        "stdout: No space left on device\n"
    )
    info = shell("$AR info --db s.duckdb --json", tmp_path)
    assert json.loads(info.stdout)["events"] == 2


# --------------------------------------------------------------------------- data is never markup


@pytest.mark.parametrize(
    "args", [("--color", "never"), ("--color", "always"), ("--format", "markdown")]
)
def test_escape_sequences_in_data_never_reach_the_terminal(args: tuple[str, ...]) -> None:
    result = invoke("--events", str(BAD / "escapes.csv"), *ONE_DAY[:6], *args)
    assert result.exit_code == 0
    assert "\x1b[2J" not in result.stdout and "\x07" not in result.stdout
    assert "\x1b]0;" not in result.stdout
    shown = "\\x1b\\[2J" if "markdown" in args else "\\x1b[2J\\x1b[31mroot"
    assert shown in result.stdout


def test_info_shows_markup_like_values_as_text(tmp_path: Path) -> None:
    store = str(tmp_path / "s.duckdb")
    assert invoke("ingest", "--db", store, str(BAD / "escapes.csv")).exit_code == 0
    result = invoke("info", "--db", store)
    assert (result.exit_code, result.stderr) == (0, "")
    assert "[/bold]" in result.stdout and "[red]x" in result.stdout


# --------------------------------------------------------------------------- what --db may be


@pytest.mark.parametrize(
    "db", [":memory:", "md:", "md:events", "s3://bucket/x.duckdb", "http://h/x"]
)
@pytest.mark.parametrize("command", [("ingest", str(SAMPLE)), ("--json",)])
def test_a_db_that_is_no_local_file_is_refused_at_once(
    db: str, command: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(*command, "--db", db)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == error(
        f"invalid value for --db: {db!r}; a store is a local DuckDB file (in-memory databases "
        "and URLs are not stores; a file whose name has a colon needs its full path)"
    )
    assert list(tmp_path.iterdir()) == []  # no stray s3:/bucket folder


def test_a_sqlite_file_as_db_is_refused_and_left_alone(tmp_path: Path) -> None:
    import sqlite3

    lite = tmp_path / "users.db"
    with contextlib.closing(sqlite3.connect(lite)) as con:
        con.execute("CREATE TABLE t (a)")
        con.commit()
    before = lite.read_bytes()
    for args in (("ingest", str(SAMPLE)), ("info",), ("--json",)):
        result = invoke(*args, "--db", str(lite))
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr == error(
            f"{lite}: is a SQLite database, not a store (a DuckDB file); give another --db"
        )
    assert lite.read_bytes() == before


def test_no_connection_may_load_or_install_extensions(tmp_path: Path) -> None:
    from activity_report import resources
    from activity_report.store import Store

    settings = "SELECT current_setting('autoinstall_known_extensions'), " + (
        "current_setting('autoload_known_extensions')"
    )
    con = resources.connect()
    assert con.execute(settings).fetchall() == [(False, False)]
    con.close()
    with Store.open(tmp_path / "s.duckdb") as store:
        assert store.con.execute(settings).fetchall() == [(False, False)]


# --------------------------------------------------------------------------- the users directory

USERS_JSON = """[
 {"id": "u1", "name": "Sam One", "username": "sam",
  "roles": [{"name": "owner", "display_name": "Owner"}, {"name": "auditor"}]},
 {"id": "u2", "name": 42, "username": "sam", "roles": ["member"]},
 {"id": "u3", "name": null, "username": "kim", "roles": "auditor"}
]
"""
USERS_EVENTS = (
    "time,user_id,category\n2022-08-01T10:00:00Z,u1,ide\n"
    "2022-08-01T11:00:00Z,u2,ide\n2022-08-01T12:00:00Z,u3,ide\n"
)


@pytest.fixture
def directory_files(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "users.json").write_text(USERS_JSON)
    (tmp_path / "events.csv").write_text(USERS_EVENTS)
    return tmp_path / "events.csv", tmp_path / "users.json"


def test_a_username_two_users_share_is_an_error_listing_both(
    directory_files: tuple[Path, Path],
) -> None:
    events, users = directory_files
    result = invoke("--events", str(events), "--users", str(users), "--user", "sam", "--json")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == error(
        "--user sam: 2 users have this username (ids: u1, u2); give the id instead"
    )
    by_id = invoke("--events", str(events), "--users", str(users), "--user", "u2", "--json")
    assert by_id.exit_code == 0 and '"u2"' in by_id.stdout and '"u1"' not in by_id.stdout


def test_directory_values_of_mixed_json_types_and_role_objects(
    directory_files: tuple[Path, Path],
) -> None:
    import json

    events, users = directory_files
    result = invoke("--events", str(events), "--users", str(users), "--json")
    assert result.exit_code == 0
    shown = json.loads(result.stdout)["users"]
    assert shown["u1"]["name"] == "Sam One" and shown["u1"]["username"] == "sam"
    assert shown["u1"]["roles"] == ["owner", "auditor"]
    assert shown["u2"]["name"] == "42"
    assert shown["u3"]["roles"] == ["auditor"]


# --------------------------------------------------------------------------- small ones


def test_a_parquet_time_list_column_is_refused_by_name(tmp_path: Path) -> None:
    path = write_parquet(
        tmp_path / "lists.parquet",
        {"time": [[stamp(10)]], "user_id": ["alice"], "category": ["ide"]},
    )
    result = invoke("--events", str(path), "--json")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == error(
        f"{path}: column 'time' (time) has type TIMESTAMP WITH TIME ZONE[]; it must hold "
        "timestamps or ISO 8601 text"
    )


def test_a_file_named_with_a_backslash_and_brackets_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copy(BAD / "ragged.csv", tmp_path / "back\\slash[1].csv")
    result = invoke("--events", "back\\slash[1].csv", *ONE_DAY)
    assert (result.exit_code, result.stdout) == (
        0,
        report(("alice", 1, MIN_NS), ("dave", 1, MIN_NS)),
    )
    assert result.stderr == warning(
        "2 invalid rows (1 too few fields, 1 too many fields; first in back\\slash[1].csv row 2)"
    )
    ingest = invoke("ingest", "--db", "s.duckdb", "back\\slash[1].csv", "--json")
    assert ingest.exit_code == 0 and '"new": 2' in ingest.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["back\\slash[1].csv", "s.duckdb"]


@pytest.mark.parametrize("limit", ["1048576TB", "99999999999999TB", "2000000PB"])
def test_a_huge_memory_limit_is_a_usage_error(limit: str) -> None:
    result = invoke("--events", str(SAMPLE), "--memory-limit", limit, "--json")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.startswith(f"{PROG}: error: invalid value for --memory-limit: {limit!r}")


# --------------------------------------------------------------------------- loops and FIFOs


@pytest.mark.slow  # the CLI in a child
@pytest.mark.parametrize("spec", ["g/**/*.csv", "g"])
def test_links_back_up_the_tree_are_followed_once(spec: str, tmp_path: Path) -> None:
    deep = tmp_path / "g" / "a" / "b"
    deep.mkdir(parents=True)
    shutil.copy(BAD / "ragged.csv", deep / "x.csv")
    # Another file, other users: under the rule for repeated rows, a second
    # copy of x.csv would not show in the counts, a second read of top.csv would.
    top = (BAD / "ragged.csv").read_text(encoding="utf-8")
    (tmp_path / "g" / "top.csv").write_text(
        top.replace("alice", "erin").replace("dave", "finn"), encoding="utf-8"
    )
    (deep / "up").symlink_to("..")
    (deep / "up2").symlink_to("../..")
    (tmp_path / "g" / "self").symlink_to(".")
    command = [sys.executable, "-m", "activity_report", "--events", spec, *ONE_DAY]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    expected = report(*((user, 1, MIN_NS) for user in ("alice", "dave", "erin", "finn")))
    assert (done.returncode, done.stdout) == (0, expected)


@pytest.mark.slow  # the CLI in a shell
@pytest.mark.parametrize(
    "script",
    [
        "mkfifo pipe.csv; cat semicolon.csv > pipe.csv & $AR --events pipe.csv {args}",
        'bash -c "$AR --events <(cat semicolon.csv) {args}"',
    ],
    ids=["fifo", "process-substitution"],
)
def test_a_fifo_or_process_substitution_is_read_as_a_stream(script: str, tmp_path: Path) -> None:
    shutil.copy(BAD / "semicolon.csv", tmp_path)
    done = shell(script.format(args=" ".join(ONE_DAY)), tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        report(("alice", 1, MIN_NS), ("bob", 1, MIN_NS)),
        "",
    )
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "pipe.csv") == ["semicolon.csv"]


# --------------------------------------------------------------------------- Ctrl-C and the commit


class SignalsAfterCommit:
    """A store connection that gets SIGINT the moment its COMMIT returns.

    Python runs a signal's handler only between its own instructions, so a
    Ctrl-C during DuckDB's COMMIT is handled right after it: here, exactly then.
    """

    def __init__(self, con: Any) -> None:
        self._con = con

    def execute(self, sql: str, *args: Any) -> Any:
        result = self._con.execute(sql, *args)
        if sql == "COMMIT":
            os.kill(os.getpid(), signal.SIGINT)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


@pytest.fixture
def ctrl_c_handler() -> Iterator[None]:
    from activity_report.cli import runs

    kept = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    runs.install_signal_handlers()
    yield
    signal.signal(signal.SIGINT, kept[0])
    signal.signal(signal.SIGTERM, kept[1])


def test_ctrl_c_during_the_commit_says_the_ingest_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ctrl_c_handler: None
) -> None:
    import json

    from activity_report import store as store_mod

    store = str(tmp_path / "s.duckdb")
    assert invoke("ingest", "--db", store, str(BAD / "semicolon.csv")).exit_code == 0
    real_init = store_mod.Store.__init__

    def init(self: Any, path: Path, con: Any, read_only: bool, wait: float) -> None:
        real_init(self, path, cast(Any, SignalsAfterCommit(con)), read_only, wait)

    monkeypatch.setattr(store_mod.Store, "__init__", init)
    result = invoke("ingest", "--db", store, str(BAD / "ragged.csv"))
    monkeypatch.undo()
    assert result.exit_code == 0, result.stderr
    assert result.stderr.endswith(
        f"{PROG}: note: interrupted during the commit, which finished: the ingest is committed\n"
    )
    info = json.loads(invoke("info", "--db", store, "--json").stdout)
    assert info["events"] == 4  # 2 + the 2 valid rows of ragged.csv: the commit is whole


# --------------------------------------------------------------------------- directories as events


@pytest.mark.parametrize(
    ("header", "what"),
    [
        (("id", "name", "username", "email", "roles"), "a user directory"),
        (("user_id", "email"), "a user directory"),
        (("organization_id", "name"), "an organization directory"),
        (("id", "name"), "a user or organization directory"),
    ],
)
def test_a_directory_given_as_events_is_named_with_where_it_goes(
    tmp_path: Path, header: tuple[str, ...], what: str
) -> None:
    from .conftest import run_cli, write_csv

    path = write_csv(tmp_path / "names.csv", header, [tuple(f"v{i}" for i in range(len(header)))])
    store = tmp_path / "folder.duckdb"
    for args in (["--events", str(path)], ["ingest", str(tmp_path), "--db", str(store)]):
        result = run_cli(*args)
        assert (result.exit_code, result.stdout) == (1, ""), result.stderr
        assert result.stderr.startswith(f"activity-report: error: {path}: is {what} (columns ")
        goes = {
            "a user directory": "--users",
            "an organization directory": "--orgs",
            "a user or organization directory": "--users or --orgs",
        }[what]
        assert result.stderr.endswith(
            f"not an event log: give it to {goes} (or import it: `activity-report users import` "
            "or `orgs import`), and keep it out of the events' files and folders\n"
        )


def test_an_event_log_without_its_time_column_is_still_told_to_name_it(tmp_path: Path) -> None:
    """A log with a user and its category (but its time named otherwise) is no directory."""
    from .conftest import run_cli, write_csv

    path = write_csv(tmp_path / "log.csv", ("when", "user_id", "username", "category"), [])
    result = run_cli("--events", str(path))
    assert result.exit_code == 1
    assert "no time column" in result.stderr and "--column time=NAME" in result.stderr
